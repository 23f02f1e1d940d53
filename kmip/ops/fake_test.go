package ops

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"

	"github.com/strongroom/strongroom/hsm"
)

// fakeKeys is an in-memory stand-in for the HSM in unit tests: a "blob" is
// a random handle for a copy of the key kept in memory. Behaviour that
// matters is proven against SoftHSM2 in softhsm-tests.
type fakeKeys struct {
	mu   sync.Mutex
	keys map[string][]byte
	// forgotten records the blobs Forget was called for.
	forgotten map[string]bool
}

var (
	_ hsm.Keystore  = (*fakeKeys)(nil)
	_ hsm.Forgetter = (*fakeKeys)(nil)
)

func (f *fakeKeys) Forget(ctx context.Context, w hsm.Wrapped) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forgotten == nil {
		f.forgotten = map[string]bool{}
	}
	f.forgotten[string(w.Blob)] = true
}

func (f *fakeKeys) wasForgotten(w hsm.Wrapped) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forgotten[string(w.Blob)]
}

func newFakeKeys() *fakeKeys { return &fakeKeys{keys: map[string][]byte{}} }

func (f *fakeKeys) put(material []byte) hsm.Wrapped {
	h := make([]byte, 40)
	rand.Read(h)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[string(h)] = append([]byte(nil), material...)
	return hsm.Wrapped{KEK: "fake", Mechanism: 0x210A, Blob: h, Length: len(material)}
}

func (f *fakeKeys) GenerateWrapped(ctx context.Context, kind hsm.KeyKind, bits int) (hsm.Wrapped, error) {
	k := make([]byte, bits/8)
	rand.Read(k)
	return f.put(k), nil
}

func (f *fakeKeys) ImportWrapped(ctx context.Context, kind hsm.KeyKind, material []byte) (hsm.Wrapped, error) {
	return f.put(material), nil
}

func (f *fakeKeys) Unwrap(ctx context.Context, kind hsm.KeyKind, w hsm.Wrapped) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[string(w.Blob)]
	if !ok {
		return nil, hsm.ErrIntegrity
	}
	return append([]byte(nil), k...), nil
}

// fakeMACKey stands in for the token's non-extractable HMAC key.
const fakeMACKey = "fake token MAC key"

func (f *fakeKeys) MAC(ctx context.Context, data []byte) ([]byte, error) {
	m := hmac.New(sha256.New, []byte(fakeMACKey))
	m.Write(data)
	return m.Sum(nil), nil
}

func (f *fakeKeys) VerifyMAC(ctx context.Context, data, mac []byte) error {
	want, _ := f.MAC(ctx, data)
	if !hmac.Equal(want, mac) {
		return hsm.ErrIntegrity
	}
	return nil
}

func (f *fakeKeys) Random(ctx context.Context, n int) ([]byte, error) {
	b := make([]byte, n)
	rand.Read(b)
	return b, nil
}
