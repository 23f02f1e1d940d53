package pkcs11hsm_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
)

// openCacheKeystore opens a keystore on a fresh token with the key cache
// configured as given.
func openCacheKeystore(t *testing.T, size int, ttl time.Duration) *pkcs11hsm.Keystore {
	t.Helper()
	ks, _ := newKeystoreWith(t, 4, func(cfg *pkcs11hsm.Config) { cfg.KeyCacheSize, cfg.KeyCacheTTL = size, ttl })
	return ks
}

// sessionSecrets counts the secret-key session objects in the token: the
// cached keys (nothing else outlives a call).
func sessionSecrets(t *testing.T, ks *pkcs11hsm.Keystore) int {
	t.Helper()
	var n int
	err := ks.WithTokenForTest(context.Background(), func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, _, _ pkcs11.ObjectHandle) error {
		if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		}); err != nil {
			return err
		}
		defer func() { _ = p.FindObjectsFinal(sh) }()
		hs, _, err := p.FindObjects(sh, 100)
		n = len(hs)
		return err
	})
	if err != nil {
		t.Fatalf("count session objects: %v", err)
	}
	return n
}

// importKeys registers n distinct AES-256 keys and returns their blobs and
// values.
func importKeys(t *testing.T, ks *pkcs11hsm.Keystore, n int) ([]hsm.Wrapped, [][]byte) {
	t.Helper()
	var ws []hsm.Wrapped
	var vs [][]byte
	for range n {
		v := randomBytes(t, 32)
		w, err := ks.ImportWrapped(context.Background(), hsm.KindAES, v)
		if err != nil {
			t.Fatalf("ImportWrapped: %v", err)
		}
		ws, vs = append(ws, w), append(vs, v)
	}
	return ws, vs
}

func mustUnwrap(t *testing.T, ks *pkcs11hsm.Keystore, w hsm.Wrapped, want []byte) {
	t.Helper()
	got, err := ks.Unwrap(context.Background(), hsm.KindAES, w)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("Unwrap returned another key's value")
	}
}

func TestKeyCache(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		size int
		ttl  time.Duration
		run  func(t *testing.T, ks *pkcs11hsm.Keystore)
	}{
		{"second Get is a hit and leaves one object", 8, time.Minute, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 1)
			mustUnwrap(t, ks, ws[0], vs[0])
			mustUnwrap(t, ks, ws[0], vs[0])
			if size, hits, misses := ks.CacheStats(); size != 1 || hits != 1 || misses != 1 {
				t.Errorf("CacheStats = %d entries, %d hits, %d misses; want 1, 1, 1", size, hits, misses)
			}
			if n := sessionSecrets(t, ks); n != 1 {
				t.Errorf("%d secret session objects in the token, want 1", n)
			}
		}},
		{"Forget destroys the object", 8, time.Minute, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 2)
			mustUnwrap(t, ks, ws[0], vs[0])
			mustUnwrap(t, ks, ws[1], vs[1])
			ks.Forget(ctx, ws[0])
			if n := sessionSecrets(t, ks); n != 1 {
				t.Errorf("%d secret session objects after Forget, want 1", n)
			}
			mustUnwrap(t, ks, ws[0], vs[0])
		}},
		{"idle keys leave the token after the TTL", 8, 50 * time.Millisecond, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 3)
			for i := range ws {
				mustUnwrap(t, ks, ws[i], vs[i])
			}
			deadline := time.Now().Add(5 * time.Second)
			for sessionSecrets(t, ks) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d cached keys still in the token 5 s after a 50 ms TTL", sessionSecrets(t, ks))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if size, _, _ := ks.CacheStats(); size != 0 {
				t.Errorf("cache holds %d entries after the TTL", size)
			}
		}},
		{"the oldest go beyond the size", 2, time.Minute, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 5)
			for i := range ws {
				mustUnwrap(t, ks, ws[i], vs[i])
			}
			if n := sessionSecrets(t, ks); n != 2 {
				t.Errorf("%d secret session objects with a cache of 2, want 2", n)
			}
			mustUnwrap(t, ks, ws[0], vs[0])
		}},
		{"a handle that names another key is not used", 8, time.Minute, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 2)
			mustUnwrap(t, ks, ws[0], vs[0])
			mustUnwrap(t, ks, ws[1], vs[1])
			if !ks.SwapCachedHandleForTest(ws[0], ws[1]) {
				t.Fatal("both keys should be cached")
			}
			mustUnwrap(t, ks, ws[0], vs[0])
			mustUnwrap(t, ks, ws[1], vs[1])
		}},
		{"a cached object destroyed behind the cache is unwrapped again", 8, time.Minute, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 1)
			mustUnwrap(t, ks, ws[0], vs[0])
			err := ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, _, _ pkcs11.ObjectHandle) error {
				if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY)}); err != nil {
					return err
				}
				hs, _, err := p.FindObjects(sh, 10)
				_ = p.FindObjectsFinal(sh)
				if err != nil {
					return err
				}
				for _, h := range hs {
					if err := p.DestroyObject(sh, h); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			mustUnwrap(t, ks, ws[0], vs[0])
		}},
		{"off: nothing stays in the token", -1, time.Minute, func(t *testing.T, ks *pkcs11hsm.Keystore) {
			ws, vs := importKeys(t, ks, 2)
			for i := range ws {
				mustUnwrap(t, ks, ws[i], vs[i])
				mustUnwrap(t, ks, ws[i], vs[i])
			}
			if n := sessionSecrets(t, ks); n != 0 {
				t.Errorf("%d secret session objects with the cache off, want 0", n)
			}
			ks.Forget(ctx, ws[0])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, openCacheKeystore(t, tc.size, tc.ttl))
		})
	}
}
