package softhsmtests

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/kmip"
)

// TestDatabaseHoldsNoKeyMaterial creates and registers keys, reads them
// back with Get, then searches a full pg_dump for every key as raw bytes,
// hex (both cases) and base64, and finds none.
func TestDatabaseHoldsNoKeyMaterial(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	c := s.dial(t, "admin", kmip.ProtocolVersion{Major: 1, Minor: 2})
	var keys [][]byte
	for i := 0; i < 10; i++ {
		uid, err := c.CreateAES(ctx, 256)
		if err != nil {
			t.Fatal(err)
		}
		k, err := c.GetKey(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	for i := 0; i < 5; i++ {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			t.Fatal(err)
		}
		uid, err := c.RegisterAES(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.GetKey(ctx, uid); err != nil || !bytes.Equal(got, k) {
			t.Fatalf("get registered key: %v", err)
		}
		keys = append(keys, k)
	}
	out, err := exec.Command(filepath.Join(s.pg.BinDir, "pg_dump"), "--dbname", s.dbURL).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if len(out) < 1000 {
		t.Fatalf("pg_dump output is only %d bytes", len(out))
	}
	dump := string(out)
	lower := strings.ToLower(dump)
	for i, k := range keys {
		// Also search 16-byte halves, in case a dump splits a value.
		for _, part := range [][]byte{k, k[:16], k[16:]} {
			forms := map[string]string{
				"raw":    string(part),
				"hex":    hex.EncodeToString(part),
				"base64": base64.StdEncoding.EncodeToString(part),
				"b64url": base64.RawURLEncoding.EncodeToString(part),
			}
			for name, f := range forms {
				hay := dump
				if name == "hex" {
					hay = lower
				}
				if strings.Contains(hay, f) {
					t.Fatalf("key %d found in pg_dump as %s", i, name)
				}
			}
		}
	}
	t.Logf("searched a %d-byte pg_dump for %d keys: none found", len(out), len(keys))
}
