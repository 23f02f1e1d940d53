package pkcs11hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/strongroom/strongroom/hsm"
)

// The digest GenerateWrapped takes while the key exists equals the one
// DigestKey computes from the blob, and the key's real SHA-256.
func TestDigestOfGeneratedKey(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	tests := []struct {
		name string
		kind hsm.KeyKind
		bits int
	}{
		{"AES-128", hsm.KindAES, 128},
		{"AES-256", hsm.KindAES, 256},
		{"generic 512", hsm.KindGeneric, 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ks.GenerateWrapped(ctx, tt.kind, tt.bits)
			if err != nil {
				t.Fatal(err)
			}
			key := hsm.Key{Kind: tt.kind, Wrapped: w}
			memo, err := ks.DigestKey(ctx, key, crypto.SHA256) // from the memo
			if err != nil {
				t.Fatal(err)
			}
			again, err := ks.DigestKey(ctx, key, crypto.SHA256) // taken: unwraps and hashes
			if err != nil {
				t.Fatal(err)
			}
			material, err := ks.Unwrap(ctx, tt.kind, w)
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(material)
			if !bytes.Equal(memo, want[:]) || !bytes.Equal(again, want[:]) {
				t.Fatal("digests differ from the key's SHA-256 (values not printed)")
			}
		})
	}
}
