package pkcs11hsm_test

import (
	"context"
	"crypto/rand"
	"testing"

	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/softhsmtest"
)

// newKeystore creates a token with both keys and opens a keystore on it
// with the given pool size; the keystore is closed at cleanup.
func newKeystore(t testing.TB, sessions int) (*pkcs11hsm.Keystore, softhsmtest.Token) {
	t.Helper()
	return newKeystoreWith(t, sessions, nil)
}

// newKeystoreWith is newKeystore with the Config adjusted first (adjust may
// be nil).
func newKeystoreWith(t testing.TB, sessions int, adjust func(*pkcs11hsm.Config)) (*pkcs11hsm.Keystore, softhsmtest.Token) {
	t.Helper()
	tok := softhsmtest.NewToken(t)
	cfg := tok.Config(sessions)
	cfg.AllowMissingKeys = true
	if adjust != nil {
		adjust(&cfg)
	}
	ks, err := pkcs11hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := ks.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	created, err := ks.EnsureKeys(context.Background())
	if err != nil {
		t.Fatalf("EnsureKeys: %v", err)
	}
	if !created {
		t.Fatal("EnsureKeys on a fresh token reported created=false")
	}
	return ks, tok
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
