package pkcs11hsm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strongroom/strongroom/hsm"
)

func TestMAC(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	ctx := context.Background()
	data := []byte("7f0c…|AES|256|active|version=3")
	mac, err := ks.MAC(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(mac) != 32 {
		t.Fatalf("MAC is %d bytes, want 32", len(mac))
	}
	again, err := ks.MAC(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mac, again) {
		t.Error("MAC is not deterministic")
	}
	if err := ks.VerifyMAC(ctx, data, mac); err != nil {
		t.Errorf("VerifyMAC of a good MAC: %v", err)
	}
	empty, err := ks.MAC(ctx, nil)
	if err != nil {
		t.Fatalf("MAC of empty data: %v", err)
	}
	if err := ks.VerifyMAC(ctx, nil, empty); err != nil {
		t.Errorf("VerifyMAC of empty data: %v", err)
	}

	flipped := bytes.Clone(mac)
	flipped[31] ^= 0x80
	otherData := bytes.Clone(data)
	otherData[0] ^= 0x01
	tests := []struct {
		name      string
		data, mac []byte
	}{
		{"data changed", otherData, mac},
		{"data extended", append(bytes.Clone(data), '!'), mac},
		{"MAC bit flipped", data, flipped},
		{"MAC truncated", data, mac[:16]},
		{"MAC empty", data, nil},
		{"MAC of other data", data, empty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ks.VerifyMAC(ctx, tc.data, tc.mac); !errors.Is(err, hsm.ErrIntegrity) {
				t.Errorf("VerifyMAC = %v, want ErrIntegrity", err)
			}
		})
	}
}

func TestRandom(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	ctx := context.Background()
	for _, n := range []int{0, 1, 32, 4096} {
		b, err := ks.Random(ctx, n)
		if err != nil {
			t.Fatalf("Random(%d): %v", n, err)
		}
		if len(b) != n {
			t.Errorf("Random(%d) returned %d bytes", n, len(b))
		}
	}
	a, _ := ks.Random(ctx, 32)
	b, _ := ks.Random(ctx, 32)
	if bytes.Equal(a, b) {
		t.Error("two 32-byte random draws are equal")
	}
	if _, err := ks.Random(ctx, -1); err == nil {
		t.Error("Random(-1) succeeded")
	}
}

// TestSealMACOwnSession: SealMAC gives the same MAC as MAC, and still
// answers when every pooled session is held (the audit writer must not
// queue behind the requests that wait for it).
func TestSealMACOwnSession(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	data := []byte("audit record")
	want, err := ks.MAC(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		release, err := ks.HoldSessionForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := ks.SealMAC(ctx2, data)
	if err != nil {
		t.Fatalf("SealMAC with the pool exhausted: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("SealMAC and MAC differ")
	}
}
