package pkcs11hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// Usage sets for operation keys: each operation object may do exactly one
// thing.
var (
	useEncrypt = []uint{pkcs11.CKA_ENCRYPT}
	useDecrypt = []uint{pkcs11.CKA_DECRYPT}
	useSign    = []uint{pkcs11.CKA_SIGN}
	useVerify  = []uint{pkcs11.CKA_VERIFY}
)

// allUsage are the usage attributes an operation object template spells
// out, true only for the ones the operation needs.
var allUsage = []uint{
	pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP,
	pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_DERIVE,
}

// Usage attributes that only one half of a key pair has; templates of the
// other half must leave them out (CKR_ATTRIBUTE_TYPE_INVALID).
var (
	publicOnly  = []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_VERIFY, pkcs11.CKA_WRAP}
	privateOnly = []uint{pkcs11.CKA_DECRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_UNWRAP}
)

func usageAttrs(usage []uint, skip ...uint) []*pkcs11.Attribute {
	var out []*pkcs11.Attribute
next:
	for _, a := range allUsage {
		for _, s := range skip {
			if a == s {
				continue next
			}
		}
		on := false
		for _, u := range usage {
			on = on || u == a
		}
		out = append(out, pkcs11.NewAttribute(a, on))
	}
	return out
}

// opKey is a session object made for one operation, with what the
// operation needs to know about it.
type opKey struct {
	h pkcs11.ObjectHandle
	// modBits is an RSA key's modulus size; curve an EC key's curve.
	modBits int
	curve   elliptic.Curve
}

// loadKey makes a session object of key for one operation on sh: secret
// and private keys are unwrapped under the KEK as SENSITIVE and not
// EXTRACTABLE objects (their value cannot leave the token), public keys
// are created from their DER. secretType overrides the PKCS#11 key type of
// a secret key (HMAC needs CKK_GENERIC_SECRET whatever the key's KMIP
// algorithm). The caller destroys the object.
func (k *Keystore) loadKey(sh pkcs11.SessionHandle, keys *keyHandles, key hsm.Key, usage []uint, secretType uint) (opKey, error) {
	if key.Under != nil {
		return k.loadUnder(sh, keys, key, usage, secretType)
	}
	switch key.Kind {
	case hsm.KindDSAPrivate:
		return opKey{}, fmt.Errorf("%w: DSA keys are stored and returned only, not used", hsm.ErrUnsupported)
	case hsm.KindPublic:
		return k.createPublic(sh, key.Public, usage)
	case hsm.KindRSAPrivate, hsm.KindECPrivate:
		if err := k.checkWrapped(key.Wrapped, true); err != nil {
			return opKey{}, err
		}
		keyType := uint(pkcs11.CKK_RSA)
		if key.Kind == hsm.KindECPrivate {
			keyType = pkcs11.CKK_EC
		}
		tmpl := append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		}, usageAttrs(usage, publicOnly...)...)
		h, err := k.unwrapObject(sh, keys, key.Wrapped, tmpl)
		if err != nil {
			return opKey{}, err
		}
		ok := opKey{h: h}
		if err := k.describe(sh, &ok, key.Kind); err != nil {
			k.destroy(sh, h)
			return opKey{}, err
		}
		return ok, nil
	default:
		if err := k.checkWrapped(key.Wrapped, false); err != nil {
			return opKey{}, err
		}
		keyType, _, err := kindSpec(key.Kind, key.Wrapped.Length)
		if err != nil {
			return opKey{}, fmt.Errorf("%w: %w", hsm.ErrIntegrity, err)
		}
		if secretType != 0 {
			keyType = secretType
		}
		tmpl := append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		}, usageAttrs(usage)...)
		h, err := k.unwrapObject(sh, keys, key.Wrapped, tmpl)
		return opKey{h: h}, err
	}
}

// checkWrapped refuses a blob this keystore cannot have made. Private keys
// record the padded length the token wrapped (see hsm.KindRSAPrivate).
func (k *Keystore) checkWrapped(w hsm.Wrapped, private bool) error {
	switch {
	case w.KEK != k.cfg.KEKLabel:
		return fmt.Errorf("%w: blob is wrapped under KEK %q, this keystore uses %q", hsm.ErrIntegrity, w.KEK, k.cfg.KEKLabel)
	case w.Mechanism != k.cfg.WrapMechanism:
		return fmt.Errorf("%w: blob is wrapped with mechanism 0x%X, this keystore uses 0x%X", hsm.ErrIntegrity, w.Mechanism, k.cfg.WrapMechanism)
	case private && (w.Length%8 != 0 || w.Length < 8 || len(w.Blob) != w.Length+8):
		return fmt.Errorf("%w: %d-byte blob does not hold a %d-byte private key", hsm.ErrIntegrity, len(w.Blob), w.Length)
	case !private && (len(w.Blob) != ((w.Length+7)&^7)+8 || w.Length < 1):
		return fmt.Errorf("%w: %d-byte blob cannot hold a %d-byte key", hsm.ErrIntegrity, len(w.Blob), w.Length)
	}
	return k.requireKeys(true, false)
}

// unwrapObject unwraps a checked blob with tmpl; blob faults wrap
// hsm.ErrIntegrity as in Unwrap.
func (k *Keystore) unwrapObject(sh pkcs11.SessionHandle, keys *keyHandles, w hsm.Wrapped, tmpl []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(w.Mechanism, nil)}
	h, err := k.p.UnwrapKey(sh, mech, keys.kek, w.Blob, tmpl)
	if err != nil {
		if notBlobFault(err) {
			return 0, fmt.Errorf("hsm: unwrap key under %q: %w", w.KEK, err)
		}
		return 0, fmt.Errorf("%w: unwrap key under %q: %w", hsm.ErrIntegrity, w.KEK, err)
	}
	return h, nil
}

// describe reads the public facts of an unwrapped private key: the RSA
// modulus size or the EC curve.
func (k *Keystore) describe(sh pkcs11.SessionHandle, ok *opKey, kind hsm.KeyKind) error {
	attr := uint(pkcs11.CKA_MODULUS)
	if kind == hsm.KindECPrivate {
		attr = pkcs11.CKA_EC_PARAMS
	}
	got, err := k.p.GetAttributeValue(sh, ok.h, []*pkcs11.Attribute{pkcs11.NewAttribute(attr, nil)})
	if err != nil {
		return fmt.Errorf("hsm: read private key parameters: %w", err)
	}
	if kind == hsm.KindECPrivate {
		ok.curve, err = curveFromParams(got[0].Value)
		return err
	}
	ok.modBits = bitLen(got[0].Value)
	return nil
}

// createPublic creates a session public key object from PKIX DER.
func (k *Keystore) createPublic(sh pkcs11.SessionHandle, der []byte, usage []uint) (opKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return opKey{}, fmt.Errorf("%w: public key: %w", hsm.ErrInvalidInput, err)
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
	}
	tmpl = append(tmpl, usageAttrs(usage, privateOnly...)...)
	var ok opKey
	switch p := pub.(type) {
	case *rsa.PublicKey:
		tmpl = append(tmpl,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, p.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, bigEndian(uint64(p.E))))
		ok.modBits = p.N.BitLen()
	case *ecdsa.PublicKey:
		params, err := curveParams(p.Curve)
		if err != nil {
			return opKey{}, err
		}
		raw, err := p.Bytes()
		if err != nil {
			return opKey{}, fmt.Errorf("%w: public key: %w", hsm.ErrInvalidInput, err)
		}
		point, _ := asn1.Marshal(raw)
		tmpl = append(tmpl,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, point))
		ok.curve = p.Curve
	default:
		return opKey{}, fmt.Errorf("%w: public key type %T", hsm.ErrUnsupported, pub)
	}
	h, err := k.p.CreateObject(sh, tmpl)
	if err != nil {
		return opKey{}, fmt.Errorf("hsm: create public key object: %w", err)
	}
	ok.h = h
	return ok, nil
}

// Named curves by their DER-encoded OIDs (CKA_EC_PARAMS).
var curveOIDs = []struct {
	curve elliptic.Curve
	oid   asn1.ObjectIdentifier
}{
	{elliptic.P256(), asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
	{elliptic.P384(), asn1.ObjectIdentifier{1, 3, 132, 0, 34}},
	{elliptic.P521(), asn1.ObjectIdentifier{1, 3, 132, 0, 35}},
}

func curveParams(c elliptic.Curve) ([]byte, error) {
	for _, n := range curveOIDs {
		if n.curve == c {
			return asn1.Marshal(n.oid)
		}
	}
	return nil, fmt.Errorf("%w: curve %s", hsm.ErrUnsupported, c.Params().Name)
}

func curveFromParams(der []byte) (elliptic.Curve, error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(der, &oid); err == nil {
		for _, n := range curveOIDs {
			if n.oid.Equal(oid) {
				return n.curve, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: EC parameters are not a supported named curve", hsm.ErrUnsupported)
}

func curveByName(name string) (elliptic.Curve, error) {
	for _, n := range curveOIDs {
		if n.curve.Params().Name == name {
			return n.curve, nil
		}
	}
	return nil, fmt.Errorf("%w: curve %q", hsm.ErrUnsupported, name)
}

// bitLen is the bit length of a big-endian unsigned integer.
func bitLen(b []byte) int {
	for i, c := range b {
		if c != 0 {
			n := (len(b) - i - 1) * 8
			for ; c != 0; c >>= 1 {
				n++
			}
			return n
		}
	}
	return 0
}

func bigEndian(v uint64) []byte {
	var out []byte
	for ; v != 0; v >>= 8 {
		out = append([]byte{byte(v)}, out...)
	}
	return out
}

// hashMech maps a hash to its PKCS#11 digest mechanism and MGF1 generator.
func hashMech(h crypto.Hash) (digest, mgf uint, err error) {
	switch h {
	case crypto.SHA1:
		return pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, nil
	case crypto.SHA224:
		return pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224, nil
	case crypto.SHA256:
		return pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, nil
	case crypto.SHA384:
		return pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, nil
	case crypto.SHA512:
		return pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, nil
	}
	return 0, 0, fmt.Errorf("%w: hash %v", hsm.ErrUnsupported, h)
}
