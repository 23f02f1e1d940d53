package hsm

import (
	"context"
	"crypto"
	"errors"
)

// More key kinds, for the cryptographic operations. A private key's kind
// follows from the KMIP object type and algorithm, so it is never stored
// separately.
const (
	// KindDES3 is a Triple-DES key (CKK_DES3): 24 bytes with parity.
	KindDES3 KeyKind = iota + 10
	// KindRSAPrivate is an RSA private key. The token wraps it as PKCS#8;
	// ImportWrapped takes and Unwrap returns PKCS#8 DER. Its Wrapped.Length
	// is the padded length the token wrapped (the DER carries its own).
	KindRSAPrivate
	// KindECPrivate is an elliptic-curve private key (P-256, P-384,
	// P-521), PKCS#8 as for KindRSAPrivate.
	KindECPrivate
	// KindPublic is a public key: PKIX SubjectPublicKeyInfo DER. It is not
	// secret and is never wrapped; Key.Public carries it.
	KindPublic
)

// Key names the key of a cryptographic operation. Secret and private keys
// are given wrapped: the token unwraps them into a sensitive,
// non-extractable session object for the one operation and destroys it, so
// their plaintext never reaches the caller.
type Key struct {
	Kind    KeyKind
	Wrapped Wrapped
	// Public is the PKIX DER of a KindPublic key.
	Public []byte
	// Under, when set, is the AES key Wrapped is wrapped under instead of
	// the KEK (see Cryptor.WrapUnder); Wrapped.KEK is then ignored.
	Under *Key
}

// Mode is a cipher mode or an RSA encryption scheme.
type Mode int

// Cipher modes.
const (
	ModeECB Mode = iota + 1
	ModeCBC
	ModeCTR
	ModeGCM
	// ModeRSAPKCS1 is RSAES-PKCS1-v1_5.
	ModeRSAPKCS1
	// ModeRSAOAEP is RSAES-OAEP with Cipher.Hash, Cipher.MGFHash and
	// Cipher.Label.
	ModeRSAOAEP
)

// Cipher says how to encrypt or decrypt.
type Cipher struct {
	Mode Mode
	// Pad applies PKCS#7 (KMIP "PKCS5") padding in ECB and CBC.
	Pad bool
	// IV is the IV, counter block or nonce. Encrypt fills a fresh one from
	// the token's RNG when it is nil and the mode needs one (GCM never runs
	// without an IV: SoftHSM2 would silently use an empty, fixed one).
	IV []byte
	// AAD is GCM's additional authenticated data.
	AAD []byte
	// TagLen is GCM's tag length in bytes (12 to 16, or 4 or 8).
	TagLen int
	// Hash and MGFHash are OAEP's hash and mask generation hash; Label is
	// its label (KMIP P Source).
	Hash, MGFHash crypto.Hash
	Label         []byte
}

// Sealed is the result of an encryption.
type Sealed struct {
	Data []byte
	// IV is the IV used (the caller's, or the one the token generated).
	IV []byte
	// Tag is GCM's authentication tag.
	Tag []byte
}

// Scheme is a signature scheme.
type Scheme int

// Signature schemes.
const (
	SchemeRSAPKCS1 Scheme = iota + 1
	SchemeRSAPSS
	// SchemeECDSA signatures are DER (X9.62 ECDSA-Sig-Value).
	SchemeECDSA
)

// Signature says how to sign or verify.
type Signature struct {
	Scheme Scheme
	Hash   crypto.Hash
	// SaltLength is the PSS salt length; 0 or less means the largest the
	// key allows (what the OASIS test vectors use).
	SaltLength int
}

// KeyPairSpec describes a key pair to generate in the token.
type KeyPairSpec struct {
	// Kind is KindRSAPrivate or KindECPrivate.
	Kind KeyKind
	// Bits is the RSA modulus size.
	Bits int
	// Curve is "P-256", "P-384" or "P-521".
	Curve string
}

// KeyPair is a generated key pair: the private key wrapped under the KEK,
// the public key as PKIX DER.
type KeyPair struct {
	Private Wrapped
	Public  []byte
}

// Cryptor is implemented by keystores that run cryptographic operations
// inside the HSM. It is separate from Keystore so that a keystore without
// them (a test fake, an HSM that cannot) still serves the key lifecycle.
type Cryptor interface {
	// Encrypt encrypts data with the key inside the token.
	Encrypt(ctx context.Context, key Key, c Cipher, data []byte) (Sealed, error)
	// Decrypt decrypts data (and checks a GCM tag) inside the token.
	Decrypt(ctx context.Context, key Key, c Cipher, data, tag []byte) ([]byte, error)
	// StartCipher begins a multi-part encryption or decryption. The stream
	// holds a token session until Final or Close.
	StartCipher(ctx context.Context, key Key, c Cipher, encrypt bool) (CipherStream, error)
	// Sign signs data (the message, not a digest) with a private key.
	Sign(ctx context.Context, key Key, s Signature, data []byte) ([]byte, error)
	// Verify checks a signature of data with a public key; a signature
	// that does not verify is (false, nil).
	Verify(ctx context.Context, key Key, s Signature, data, sig []byte) (bool, error)
	// HMAC computes an HMAC with a secret key of any kind.
	HMAC(ctx context.Context, key Key, h crypto.Hash, data []byte) ([]byte, error)
	// VerifyHMAC checks an HMAC inside the token.
	VerifyHMAC(ctx context.Context, key Key, h crypto.Hash, data, mac []byte) (bool, error)
	// Digest hashes data in the token.
	Digest(ctx context.Context, h crypto.Hash, data []byte) ([]byte, error)
	// DigestKey hashes a secret key's value inside the token (C_DigestKey),
	// for the KMIP Digest attribute of a key born in the HSM: its value
	// never reaches the caller. Private keys cannot be digested this way.
	DigestKey(ctx context.Context, key Key, h crypto.Hash) ([]byte, error)
	// SeedRandom mixes seed into the token's random number generator.
	SeedRandom(ctx context.Context, seed []byte) error
	// GenerateKeyPair generates a key pair in the token and returns the
	// private key wrapped under the KEK.
	GenerateKeyPair(ctx context.Context, spec KeyPairSpec) (KeyPair, error)
	// WrapKey wraps target under another managed key inside the token
	// (KMIP Get with a Key Wrapping Specification); neither key's
	// plaintext leaves the token.
	WrapKey(ctx context.Context, wrapping Key, m WrapMode, target Key) ([]byte, error)
	// WrapUnder moves material (a secret of the kind) into the token and
	// returns it wrapped under key, an AES key, instead of the KEK. Such a
	// blob is unreadable once key's own blob is destroyed, which lets a
	// derived form of a key be stored without outliving it.
	WrapUnder(ctx context.Context, key Key, kind KeyKind, material []byte) (Wrapped, error)
}

// WrapMode is a key wrapping algorithm for WrapKey.
type WrapMode int

// Key wrapping algorithms.
const (
	// WrapAESKW is AES Key Wrap, RFC 3394 (KMIP NIST Key Wrap).
	WrapAESKW WrapMode = iota + 1
	// WrapAESKWP is AES Key Wrap with Padding, RFC 5649.
	WrapAESKWP
)

// CipherStream is a multi-part operation started by StartCipher. It is not
// safe for concurrent use.
type CipherStream interface {
	// Update processes one part and returns the output available so far.
	Update(ctx context.Context, data []byte) ([]byte, error)
	// Final processes the last part (which may be empty) and ends the
	// operation; when decrypting GCM, tag is the authentication tag. It
	// releases the stream's session.
	Final(ctx context.Context, data, tag []byte) (Sealed, error)
	// Close abandons the operation and releases the session; it is safe
	// after Final.
	Close()
}

// ErrInvalidInput means the token refused the data or parameters of an
// operation: wrong length, bad padding, an unsupported parameter.
var ErrInvalidInput = errors.New("hsm: invalid input")

// ErrAuthentication means a GCM tag or a decryption padding check failed:
// the data is not what was encrypted under this key.
var ErrAuthentication = errors.New("hsm: authentication failed")

// ErrUnsupported means the token has no mechanism for the request.
var ErrUnsupported = errors.New("hsm: not supported by the token")
