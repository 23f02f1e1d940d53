package pkcs11hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

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
// after a restart without the certificate).
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

// CASigner is a crypto.Signer whose ECDSA P-256 private key lives in the
// token and never leaves it; pki.NewCA takes it as the CA's signer, and the
// TLS listener as the server key when tls.key_in_hsm is set (another label).
//
// It signs through the Keystore's own miekg/pkcs11 session pool rather than
// through crypto11: a process loads its PKCS#11 module once, and
// crypto11.Configure after the Keystore's C_Initialize fails with
// CKR_CRYPTOKI_ALREADY_INITIALIZED (measured facts, gotcha 4), while opening
// crypto11 first would leave two owners of one login. CKM_ECDSA over a
// SHA-256 digest computed by x509 is all a CA needs, so this is the smaller,
// conflict-free path.
type CASigner struct {
	k     *Keystore
	label string
	pub   *ecdsa.PublicKey
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
	err = k.do(ctx, "create CA key", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		pubT, privT := caKeyTemplates(label)
		_, _, err := k.p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}, pubT, privT)
		if err != nil {
			return fmt.Errorf("hsm: create CA key %q in token %q: %w", label, k.cfg.TokenLabel, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	k.log.Info("hsm: created signing key pair", "label", label, "token", k.cfg.TokenLabel)
	s, err = k.CASigner(ctx, label)
	return s, err == nil, err
}

// CASigner returns the signer of an existing CA key; ErrCAKeyNotFound if the
// token has none labelled label.
func (k *Keystore) CASigner(ctx context.Context, label string) (*CASigner, error) {
	if label == "" {
		label = DefaultCAKeyLabel
	}
	s := &CASigner{k: k, label: label}
	err := k.do(ctx, "find CA key", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		pubH, err := k.findOne(sh, pkcs11.CKO_PUBLIC_KEY, label)
		if err != nil {
			return err
		}
		if _, err := k.findOne(sh, pkcs11.CKO_PRIVATE_KEY, label); err != nil {
			return err
		}
		der, err := k.readPublic(sh, pubH, 0)
		if err != nil {
			return err
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return fmt.Errorf("hsm: CA public key: %w", err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("hsm: CA key %q is not an EC key", label)
		}
		s.pub = ec
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// findOne returns the one object of class with label.
func (k *Keystore) findOne(sh pkcs11.SessionHandle, class uint, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
	}
	if err := k.p.FindObjectsInit(sh, tmpl); err != nil {
		return 0, fmt.Errorf("hsm: find %q: %w", label, err)
	}
	hs, _, err := k.p.FindObjects(sh, 2)
	if ferr := k.p.FindObjectsFinal(sh); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return 0, fmt.Errorf("hsm: find %q: %w", label, err)
	}
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("%w: no key labelled %q in token %q (run strongroom init)", ErrCAKeyNotFound, label, k.cfg.TokenLabel)
	case 1:
		return hs[0], nil
	default:
		return 0, fmt.Errorf("hsm: several objects labelled %q in token %q", label, k.cfg.TokenLabel)
	}
}

// Label returns the CKA_LABEL of the CA key.
func (s *CASigner) Label() string { return s.label }

// Public returns the CA's public key.
func (s *CASigner) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-2 digest with CKM_ECDSA in the token and returns the
// ASN.1 DER signature crypto.Signer promises. The private key handle is
// looked up on every call: SoftHSM2 renumbers private objects after a new
// login, and a CA signs rarely.
func (s *CASigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || (opts.HashFunc() != crypto.SHA256 && opts.HashFunc() != crypto.SHA384 && opts.HashFunc() != crypto.SHA512) ||
		len(digest) != opts.HashFunc().Size() {
		return nil, errors.New("hsm: the token key signs SHA-256, SHA-384 or SHA-512 digests only")
	}
	var der []byte
	err := s.k.do(context.Background(), "CA sign", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		h, err := s.k.findOne(sh, pkcs11.CKO_PRIVATE_KEY, s.label)
		if err != nil {
			return err
		}
		if err := s.k.p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, h); err != nil {
			return fmt.Errorf("hsm: CA sign: %w", err)
		}
		raw, err := s.k.p.Sign(sh, digest)
		if err != nil {
			return fmt.Errorf("hsm: CA sign: %w", err)
		}
		der, err = ecdsaToDER(raw)
		return err
	})
	return der, err
}
