package pkcs11hsm_test

import (
	"context"
	"testing"

	"github.com/strongroom/strongroom/hsm"
)

// BenchmarkEncrypt32 measures Encrypt of 32 bytes with an AES-256 key
// given wrapped: unwrap into a session object, encrypt, destroy, as every
// KMIP Encrypt does. CBC uses a token-generated IV (one more call).
func BenchmarkEncrypt32(b *testing.B) {
	ks, _ := newKeystore(b, 4)
	ctx := context.Background()
	w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		b.Fatal(err)
	}
	key := hsm.Key{Kind: hsm.KindAES, Wrapped: w}
	data := make([]byte, 32)
	for _, tc := range []struct {
		name string
		c    hsm.Cipher
	}{
		{"CBC-PKCS5-server-IV", hsm.Cipher{Mode: hsm.ModeCBC, Pad: true}},
		{"GCM", hsm.Cipher{Mode: hsm.ModeGCM, TagLen: 16}},
	} {
		b.Run(tc.name+"/serial", func(b *testing.B) {
			for b.Loop() {
				if _, err := ks.Encrypt(ctx, key, tc.c, data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ks.Encrypt(ctx, key, tc.c, data); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
