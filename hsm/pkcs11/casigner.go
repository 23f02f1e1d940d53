package pkcs11hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// DefaultCAKeyLabel is the CKA_LABEL of the CA's signing key pair.
const DefaultCAKeyLabel = "strongroom-ca"

// DefaultTLSKeyLabel is the CKA_LABEL of the server's TLS key pair when it
// lives in the token (config tls.key_in_hsm).
const DefaultTLSKeyLabel = "strongroom-tls"

// ErrCAKeyNotFound is returned by CASigner when the token has no CA key.
var ErrCAKeyNotFound = errors.New("hsm: CA key not found in the token")

// oidP256 is the DER of the named-curve OID of P-256 (1.2.840.10045.3.1.7),
// the CKA_EC_PARAMS of the CA key.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// caKeyTemplates describe the CA key pair: a P-256 token private key that is
// sensitive, never extractable, unmodifiable and can only sign, and its
// public half (a token object too, so that the signer finds its public key
// after a restart without the certificate). CKA_ID is the label, so that
// crypto11 pairs the two halves. crypto11 would set only TOKEN, SIGN,
// SENSITIVE and EXTRACTABLE on the private key and leave the rest to the
// token's defaults (SoftHSM2 lets a key decrypt, unwrap and derive unless
// told otherwise), so every attribute is spelled out here.
func caKeyTemplates(label string) (pub, priv []*pkcs11.Attribute) {
	pub = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidP256),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
	}
	priv = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	return pub, priv
}

// attributeSet turns a template into crypto11's form.
func attributeSet(tmpl []*pkcs11.Attribute) crypto11.AttributeSet {
	set := crypto11.NewAttributeSet()
	set.AddIfNotPresent(tmpl)
	return set
}

// CASigner is a crypto.Signer whose ECDSA P-256 private key lives in the
// token and never leaves it: a crypto11 key pair found by its label.
// pki.NewCA takes it as the CA's signer, and the TLS listener as the server
// key when tls.key_in_hsm is set (another label).
//
// crypto11 signs on its own session pool of the Keystore's crypto11 context
// (see Open for how it shares the module with this package's miekg/pkcs11
// sessions). It hashes nothing itself: x509 and crypto/tls pass a SHA-2
// digest, crypto11 signs it with CKM_ECDSA and returns ASN.1 DER.
type CASigner struct {
	k     *Keystore
	label string
	pub   *ecdsa.PublicKey

	mu  sync.Mutex
	key crypto11.Signer
}

var _ crypto.Signer = (*CASigner)(nil)

// EnsureCAKey returns the signer of the CA key labelled label (default
// DefaultCAKeyLabel), generating the key pair in the token if it is absent,
// and reports whether it did.
func (k *Keystore) EnsureCAKey(ctx context.Context, label string) (*CASigner, bool, error) {
	k.ensureMu.Lock()
	defer k.ensureMu.Unlock()
	s, err := k.CASigner(ctx, label)
	if err == nil || !errors.Is(err, ErrCAKeyNotFound) {
		return s, false, err
	}
	if label == "" {
		label = DefaultCAKeyLabel
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("hsm: create CA key %q: %w", label, err)
	}
	pubT, privT := caKeyTemplates(label)
	if _, err := k.c11.GenerateECDSAKeyPairWithAttributes(attributeSet(pubT), attributeSet(privT), elliptic.P256()); err != nil {
		return nil, false, fmt.Errorf("hsm: create CA key %q in token %q: %w", label, k.cfg.TokenLabel, err)
	}
	k.log.Info("hsm: created signing key pair", "label", label, "token", k.cfg.TokenLabel)
	s, err = k.CASigner(ctx, label)
	return s, err == nil, err
}

// CASigner returns the signer of an existing CA key; ErrCAKeyNotFound if the
// token has none labelled label. Key pairs made before crypto11 signed for
// the CA carry the same label and CKA_ID, so they are found alike.
func (k *Keystore) CASigner(ctx context.Context, label string) (*CASigner, error) {
	if label == "" {
		label = DefaultCAKeyLabel
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hsm: find CA key %q: %w", label, err)
	}
	key, err := k.findKeyPair(label)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("hsm: CA key %q is not an ECDSA P-256 key", label)
	}
	return &CASigner{k: k, label: label, pub: pub, key: key}, nil
}

// findKeyPair finds the one key pair whose private half is labelled label.
func (k *Keystore) findKeyPair(label string) (crypto11.Signer, error) {
	keys, err := k.c11.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("hsm: find key %q in token %q: %w", label, k.cfg.TokenLabel, err)
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("%w: no key labelled %q in token %q (run strongroom init)", ErrCAKeyNotFound, label, k.cfg.TokenLabel)
	case 1:
		return keys[0], nil
	default:
		return nil, fmt.Errorf("hsm: %d key pairs labelled %q in token %q", len(keys), label, k.cfg.TokenLabel)
	}
}

// Label returns the CKA_LABEL of the CA key.
func (s *CASigner) Label() string { return s.label }

// Public returns the CA's public key.
func (s *CASigner) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-2 digest in the token and returns the ASN.1 DER
// signature crypto.Signer promises. When the token has dropped the login or
// renumbered its private objects (SoftHSM2 does after a new login), the
// cached key handle is stale: Sign logs in again through the Keystore's
// pool, finds the key pair again and retries once.
func (s *CASigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || (opts.HashFunc() != crypto.SHA256 && opts.HashFunc() != crypto.SHA384 && opts.HashFunc() != crypto.SHA512) ||
		len(digest) != opts.HashFunc().Size() {
		return nil, errors.New("hsm: the token key signs SHA-256, SHA-384 or SHA-512 digests only")
	}
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	sig, err := key.Sign(rand, digest, opts)
	if err == nil {
		return sig, nil
	}
	if !isCode(err, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
		return nil, fmt.Errorf("hsm: sign with %q: %w", s.label, err)
	}
	if key, err = s.refresh(key); err != nil {
		return nil, err
	}
	sig, err = key.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("hsm: sign with %q: %w", s.label, err)
	}
	return sig, nil
}

// refresh logs in again and replaces the key handles, unless another
// caller already replaced stale.
func (s *CASigner) refresh(stale crypto11.Signer) (crypto11.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != stale {
		return s.key, nil
	}
	if err := s.k.login(context.Background()); err != nil {
		return nil, err
	}
	key, err := s.k.findKeyPair(s.label)
	if err != nil {
		return nil, err
	}
	if !s.pub.Equal(key.Public()) {
		return nil, fmt.Errorf("hsm: key %q in token %q changed", s.label, s.k.cfg.TokenLabel)
	}
	s.key = key
	s.k.log.Warn("hsm: signing key handle refreshed", "label", s.label)
	return key, nil
}

// login logs the application in again (the login is per application, so
// this restores it for crypto11's sessions too).
func (k *Keystore) login(ctx context.Context) error {
	return k.do(ctx, "log in", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		if err := k.p.Login(sh, pkcs11.CKU_USER, k.cfg.PIN); err != nil && !isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
			return fmt.Errorf("hsm: log in to token %q: %w", k.cfg.TokenLabel, err)
		}
		return nil
	})
}
