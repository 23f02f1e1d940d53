// Package hsm is Strongroom's narrow view of a hardware security module.
//
// Key material is born in the token, wrapped there under a key-encryption key
// (KEK) that never leaves it, and only the wrapped blob comes out. The one
// exception is Unwrap, which the operations layer calls to answer an
// authorized KMIP Get over TLS. The PKCS#11 implementation lives in
// hsm/pkcs11; the operations layer depends only on the Keystore interface.
package hsm

import (
	"context"
	"errors"
)

// KeyKind says what kind of secret a wrapped blob holds, so that the token
// creates objects of the right PKCS#11 key type.
type KeyKind int

const (
	// KindAES is an AES key (CKK_AES): 16, 24 or 32 bytes.
	KindAES KeyKind = iota + 1
	// KindGeneric is any other secret (CKK_GENERIC_SECRET): Secret Data,
	// HMAC keys, keys of algorithms the token does not know.
	KindGeneric
)

// Wrapped is a secret wrapped under the token's KEK. None of its fields is
// secret: it is what goes to the database.
type Wrapped struct {
	// KEK is the label of the key-encryption key the blob is wrapped under.
	KEK string
	// Mechanism is the PKCS#11 wrapping mechanism (CKM_AES_KEY_WRAP_PAD).
	Mechanism uint
	// Blob is the wrapped key.
	Blob []byte
	// Length is the length of the plaintext in bytes; SoftHSM2 2.6.1 pads
	// lengths that are not a multiple of 8 before wrapping, so Unwrap trims
	// to it.
	Length int
}

// Keystore is what the operations layer asks of the HSM. Every method may
// block on the token and takes a context.
type Keystore interface {
	// GenerateWrapped generates a secret of the kind and size (bits) inside
	// the token as a session object, wraps it under the KEK, destroys the
	// session object and returns the wrapped blob.
	GenerateWrapped(ctx context.Context, kind KeyKind, bits int) (Wrapped, error)
	// ImportWrapped moves client-supplied key bytes (KMIP Register) into the
	// token and returns them wrapped under the KEK.
	ImportWrapped(ctx context.Context, kind KeyKind, material []byte) (Wrapped, error)
	// Unwrap unwraps a blob inside the token and returns the plaintext, for
	// an authorized Get only. The caller must not log or store it.
	Unwrap(ctx context.Context, kind KeyKind, w Wrapped) ([]byte, error)
	// MAC computes an HMAC-SHA-256 over data with a non-extractable token
	// key; it binds database rows to their identity and attributes.
	MAC(ctx context.Context, data []byte) ([]byte, error)
	// VerifyMAC checks a MAC made by MAC; it returns ErrIntegrity on mismatch.
	VerifyMAC(ctx context.Context, data, mac []byte) error
	// Random returns n bytes from the token's random number generator.
	Random(ctx context.Context, n int) ([]byte, error)
}

// ErrIntegrity means a wrapped blob or a MAC did not verify: the stored data
// was altered or belongs to another key.
var ErrIntegrity = errors.New("hsm: integrity check failed")

// ErrBusy means no session became free before the context ended.
var ErrBusy = errors.New("hsm: no session available")

// Forgetter is implemented by keystores that keep recently unwrapped keys
// inside the token between calls (hsm/pkcs11's Get cache): Forget drops the
// token's copy of w's key at once, so that a destroyed key does not linger
// in the token until the cache's idle limit. Calling it for a key that is
// not cached does nothing.
type Forgetter interface {
	Forget(ctx context.Context, w Wrapped)
}
