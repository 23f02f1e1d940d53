package pkcs11hsm_test

import (
	"context"
	"testing"

	"github.com/strongroom/strongroom/hsm"
)

// The benchmarks measure the KMIP Create (generate + wrap + destroy) and
// Get (unwrap + read + destroy) paths, serially and from GOMAXPROCS
// goroutines sharing a pool of 4.
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

func BenchmarkUnwrap(b *testing.B) {
	ks, _ := newKeystore(b, 4)
	ctx := context.Background()
	w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := ks.Unwrap(ctx, hsm.KindAES, w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ks.Unwrap(ctx, hsm.KindAES, w); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
