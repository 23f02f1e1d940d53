package softhsmtests

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/conformance"
)

// vectorsDir is where the OASIS test cases are: ../shared/kmip-vectors
// beside the repository (CI puts shared/ beside the clone).
func vectorsDir(t *testing.T) string {
	t.Helper()
	repoRoot, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repoRoot, "..", "shared", "kmip-vectors")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("the OASIS KMIP test cases are missing: %s should be a folder (shared/ beside the repository clone): %v", dir, err)
	}
	return dir
}

// passList reads testdata/conformance-pass.txt: one path per line, relative
// to the vectors folder; blank lines and # comments are skipped.
func passList(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "conformance-pass.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConformance replays, against a node on SoftHSM2 and PostgreSQL, every
// OASIS test case listed in testdata/conformance-pass.txt, in the list's
// order (some cases use what an earlier one left: TL-M-3 after TL-M-2).
// Each must pass; add a file to the list once its operations work.
func TestConformance(t *testing.T) {
	dir := vectorsDir(t)
	files := passList(t)
	if len(files) == 0 {
		t.Fatal("testdata/conformance-pass.txt lists no file")
	}
	s := newStack(t)
	tlsCfg := s.tlsConfig(t, "admin")
	r := &conformance.Runner{
		Dial: func(ctx context.Context) (conformance.RoundTripper, error) {
			return client.Dial(ctx, s.addr, tlsCfg)
		},
		StepTimeout: 30 * time.Second,
	}
	ctx := context.Background()
	for _, f := range files {
		res := r.RunFile(ctx, filepath.Join(dir, filepath.FromSlash(f)))
		if !res.Passed {
			t.Errorf("FAIL %s: %s", f, res.Reason())
		}
	}
}
