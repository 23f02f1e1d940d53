package pkcs11hsm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
)

func TestGenerateUnwrap(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	tests := []struct {
		name    string
		kind    hsm.KeyKind
		bits    int
		blobLen int // RFC 5649: padded length + 8
	}{
		{"AES-128", hsm.KindAES, 128, 24},
		{"AES-192", hsm.KindAES, 192, 32},
		{"AES-256", hsm.KindAES, 256, 40},
		{"generic 160 bits", hsm.KindGeneric, 160, 32},
		{"generic 256 bits", hsm.KindGeneric, 256, 40},
		{"generic 768 bits", hsm.KindGeneric, 768, 104},
		{"Triple-DES", hsm.KindDES3, 192, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w1, err := ks.GenerateWrapped(ctx, tc.kind, tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			want := hsm.Wrapped{KEK: pkcs11hsm.DefaultKEKLabel, Mechanism: pkcs11hsm.MechAESKeyWrapPad, Length: tc.bits / 8}
			if w1.KEK != want.KEK || w1.Mechanism != want.Mechanism || w1.Length != want.Length || len(w1.Blob) != tc.blobLen {
				t.Errorf("wrapped = {KEK:%q Mechanism:0x%X Length:%d blob:%d bytes}, want {%q 0x%X %d %d bytes}",
					w1.KEK, w1.Mechanism, w1.Length, len(w1.Blob), want.KEK, want.Mechanism, want.Length, tc.blobLen)
			}
			w2, err := ks.GenerateWrapped(ctx, tc.kind, tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			k1, err := ks.Unwrap(ctx, tc.kind, w1)
			if err != nil {
				t.Fatal(err)
			}
			k2, err := ks.Unwrap(ctx, tc.kind, w2)
			if err != nil {
				t.Fatal(err)
			}
			if len(k1) != tc.bits/8 || len(k2) != tc.bits/8 {
				t.Fatalf("unwrapped %d and %d bytes, want %d", len(k1), len(k2), tc.bits/8)
			}
			if bytes.Equal(k1, k2) {
				t.Error("two generated keys are equal")
			}
			if bytes.Equal(w1.Blob, w2.Blob) {
				t.Error("two blobs are equal")
			}
			again, err := ks.Unwrap(ctx, tc.kind, w1)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, k1) {
				t.Error("unwrapping the same blob twice gave different keys")
			}
		})
	}
}

func TestGenerateRejects(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	tests := []struct {
		name string
		kind hsm.KeyKind
		bits int
	}{
		{"AES-512", hsm.KindAES, 512},
		{"AES-64", hsm.KindAES, 64},
		{"zero bits", hsm.KindAES, 0},
		{"not whole bytes", hsm.KindGeneric, 100},
		{"negative", hsm.KindGeneric, -8},
		{"too large", hsm.KindGeneric, 8 * (64<<10 + 1)},
		{"unknown kind", hsm.KeyKind(0), 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ks.GenerateWrapped(context.Background(), tc.kind, tc.bits); err == nil {
				t.Error("GenerateWrapped succeeded")
			}
		})
	}
}

// TestImportUnwrap covers the SoftHSM2 2.6.1 KWP bug: lengths that are not
// a multiple of 8 (20 and 1 bytes) come back padded from the token and must
// be trimmed to exactly the imported bytes.
func TestImportUnwrap(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	tests := []struct {
		name string
		kind hsm.KeyKind
		n    int
	}{
		{"AES-128", hsm.KindAES, 16},
		{"AES-192", hsm.KindAES, 24},
		{"AES-256", hsm.KindAES, 32},
		{"generic 1 byte", hsm.KindGeneric, 1},
		{"generic 20 bytes", hsm.KindGeneric, 20},
		{"generic 32 bytes", hsm.KindGeneric, 32},
		{"generic 96 bytes", hsm.KindGeneric, 96},
		{"generic 100 bytes", hsm.KindGeneric, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			material := randomBytes(t, tc.n)
			orig := bytes.Clone(material)
			w, err := ks.ImportWrapped(ctx, tc.kind, material)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(material, orig) {
				t.Error("ImportWrapped modified its input")
			}
			if w.Length != tc.n {
				t.Errorf("Length = %d, want %d", w.Length, tc.n)
			}
			got, err := ks.Unwrap(ctx, tc.kind, w)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, material) {
				t.Errorf("unwrapped %d bytes that differ from the %d imported", len(got), len(material))
			}
			if cap(got) != len(got) {
				t.Errorf("unwrapped slice has capacity %d > length %d (padding reachable)", cap(got), len(got))
			}
		})
	}
}

func TestImportRejects(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	tests := []struct {
		name string
		kind hsm.KeyKind
		n    int
	}{
		{"AES 20 bytes", hsm.KindAES, 20},
		{"AES 64 bytes", hsm.KindAES, 64},
		{"generic empty", hsm.KindGeneric, 0},
		{"generic too large", hsm.KindGeneric, 64<<10 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ks.ImportWrapped(context.Background(), tc.kind, make([]byte, tc.n)); err == nil {
				t.Error("ImportWrapped succeeded")
			}
		})
	}
}

func TestUnwrapTampered(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	ctx := context.Background()
	aes, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		t.Fatal(err)
	}
	gen20, err := ks.ImportWrapped(ctx, hsm.KindGeneric, randomBytes(t, 20))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ks.GenerateWrapped(ctx, hsm.KindAES, 128)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(w hsm.Wrapped, i int) hsm.Wrapped {
		w.Blob = bytes.Clone(w.Blob)
		w.Blob[i] ^= 0x01
		return w
	}
	tests := []struct {
		name string
		kind hsm.KeyKind
		w    hsm.Wrapped
	}{
		{"first byte flipped", hsm.KindAES, flip(aes, 0)},
		{"middle byte flipped", hsm.KindAES, flip(aes, 20)},
		{"last byte flipped", hsm.KindAES, flip(aes, len(aes.Blob)-1)},
		{"padded generic flipped", hsm.KindGeneric, flip(gen20, 9)},
		{"truncated", hsm.KindAES, hsm.Wrapped{KEK: aes.KEK, Mechanism: aes.Mechanism, Blob: aes.Blob[:32], Length: 32}},
		{"empty blob", hsm.KindAES, hsm.Wrapped{KEK: aes.KEK, Mechanism: aes.Mechanism, Length: 32}},
		{"other key's blob spliced", hsm.KindAES, hsm.Wrapped{KEK: aes.KEK, Mechanism: aes.Mechanism, Blob: append(bytes.Clone(other.Blob), aes.Blob[24:]...), Length: 32}},
		{"length shrunk", hsm.KindGeneric, hsm.Wrapped{KEK: gen20.KEK, Mechanism: gen20.Mechanism, Blob: gen20.Blob, Length: 12}},
		{"length cuts into the key", hsm.KindGeneric, hsm.Wrapped{KEK: gen20.KEK, Mechanism: gen20.Mechanism, Blob: gen20.Blob, Length: 17}},
		{"length grown", hsm.KindGeneric, hsm.Wrapped{KEK: gen20.KEK, Mechanism: gen20.Mechanism, Blob: gen20.Blob, Length: 28}},
		{"AES length on generic blob", hsm.KindAES, hsm.Wrapped{KEK: gen20.KEK, Mechanism: gen20.Mechanism, Blob: gen20.Blob, Length: 20}},
		{"other KEK", hsm.KindAES, hsm.Wrapped{KEK: "old-kek", Mechanism: aes.Mechanism, Blob: aes.Blob, Length: 32}},
		{"other mechanism", hsm.KindAES, hsm.Wrapped{KEK: aes.KEK, Mechanism: 0x2109, Blob: aes.Blob, Length: 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ks.Unwrap(ctx, tc.kind, tc.w)
			if !errors.Is(err, hsm.ErrIntegrity) {
				t.Fatalf("Unwrap = %d bytes, %v; want ErrIntegrity", len(got), err)
			}
			if got != nil {
				t.Errorf("Unwrap returned %d bytes with an error", len(got))
			}
		})
	}
	// The untouched blobs still unwrap: nothing above damaged the session.
	if _, err := ks.Unwrap(ctx, hsm.KindAES, aes); err != nil {
		t.Errorf("Unwrap of the original blob: %v", err)
	}
}
