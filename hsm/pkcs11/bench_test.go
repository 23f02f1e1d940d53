package pkcs11hsm_test

import (
	"context"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
)

// The benchmarks measure what the KMIP Create (generate + wrap + destroy)
// and Get (unwrap + read + destroy, or one read when the key is cached)
// paths need from the token, serially and from GOMAXPROCS goroutines
// sharing a pool of 4.
func BenchmarkGenerateWrapped(b *testing.B) {
	ks, _ := newKeystore(b, 4)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkUnwrap measures what a Get of a key costs in the token: cold,
// with the key cache off (C_UnwrapKey + C_GetAttributeValue +
// C_DestroyObject), and warm, the same key again with the cache on (one
// C_GetAttributeValue of the object the first call left in the token).
func BenchmarkUnwrap(b *testing.B) {
	for _, mode := range []struct {
		name      string
		cacheSize int
	}{{"cold", -1}, {"warm", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			ks, _ := newKeystoreWith(b, 4, func(cfg *pkcs11hsm.Config) { cfg.KeyCacheSize = mode.cacheSize })
			ctx := context.Background()
			w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
			if err != nil {
				b.Fatal(err)
			}
			runSerialAndParallel(b, func() error {
				_, err := ks.Unwrap(ctx, hsm.KindAES, w)
				return err
			})
		})
	}
}

// BenchmarkMAC measures the HMAC-SHA-256 with the token's MAC key that
// seals the audit record every KMIP request writes.
func BenchmarkMAC(b *testing.B) {
	ks, _ := newKeystore(b, 4)
	ctx := context.Background()
	rec := make([]byte, 200)
	runSerialAndParallel(b, func() error {
		_, err := ks.MAC(ctx, rec)
		return err
	})
}

// runSerialAndParallel runs f as sub-benchmarks serial and parallel
// (GOMAXPROCS goroutines).
func runSerialAndParallel(b *testing.B, f func() error) {
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := f(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := f(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
