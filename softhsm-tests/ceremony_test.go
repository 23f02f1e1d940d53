package softhsmtests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// kekByCeremony checks that cluster.sh gave node b its own token (its own
// PINs, its own token folder) and the KEK through the ceremony's files,
// rather than a copy of a's token; CreatedOnAFetchedOnB shows b unwrapping
// a's keys with it.
func kekByCeremony(t *testing.T, c *devCluster) {
	read := func(p ...string) []byte {
		b, err := os.ReadFile(filepath.Join(append([]string{c.dir}, p...)...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if bytes.Equal(read("a", "token.sopin"), read("b", "token.sopin")) || bytes.Equal(read("a", "token.pin"), read("b", "token.pin")) {
		t.Fatal("node b's token has node a's PINs: a copy, not a token of its own")
	}
	for _, f := range []string{"kek.imported", "kek.bundle", "transport.pem"} {
		read("b", f)
	}
	if !bytes.Contains(read("b", "ceremony.log"), []byte("imported")) {
		t.Fatalf("b/ceremony.log:\n%s", read("b", "ceremony.log"))
	}
}
