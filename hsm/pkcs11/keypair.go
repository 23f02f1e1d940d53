package pkcs11hsm

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// Private keys are wrapped by the token with the KEK's mechanism
// (CKM_AES_KEY_WRAP_PAD), which PKCS#11 defines over the PKCS#8 encoding:
// SoftHSM2 2.6.1 does it (measured), so a generated private key never
// exists outside the token unwrapped. Their Wrapped.Length is the padded
// length the token wrapped: the blob is all the keystore knows of the
// encoding, and the DER inside carries its own length.

// privateAttrs is the template of a private key that exists only to be
// wrapped: sensitive, extractable (C_WrapKey needs it), no usage.
func privateAttrs(keyType uint) []*pkcs11.Attribute {
	return append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}, usageAttrs(nil, publicOnly...)...)
}

// GenerateKeyPair generates an RSA or EC key pair as session objects,
// wraps the private key under the KEK, reads the public key and destroys
// both objects.
func (k *Keystore) GenerateKeyPair(ctx context.Context, spec hsm.KeyPairSpec) (hsm.KeyPair, error) {
	pubTmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
	}
	pubTmpl = append(pubTmpl, usageAttrs(nil, privateOnly...)...)
	var mech uint
	var keyType uint
	switch spec.Kind {
	case hsm.KindRSAPrivate:
		if spec.Bits < 1024 || spec.Bits > 8192 || spec.Bits%8 != 0 {
			return hsm.KeyPair{}, fmt.Errorf("%w: RSA modulus of %d bits", hsm.ErrInvalidInput, spec.Bits)
		}
		mech, keyType = pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKK_RSA
		pubTmpl = append(pubTmpl,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, spec.Bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	case hsm.KindECPrivate:
		curve, err := curveByName(spec.Curve)
		if err != nil {
			return hsm.KeyPair{}, err
		}
		params, _ := curveParams(curve)
		mech, keyType = pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC
		pubTmpl = append(pubTmpl,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
	default:
		return hsm.KeyPair{}, fmt.Errorf("%w: key pair of kind %d", hsm.ErrUnsupported, int(spec.Kind))
	}
	if err := k.requireKeys(true, false); err != nil {
		return hsm.KeyPair{}, err
	}
	var out hsm.KeyPair
	err := k.do(ctx, "generate key pair", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		pub, priv, err := k.p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, pubTmpl, privateAttrs(keyType))
		if err != nil {
			return cryptoErr("generate key pair", err)
		}
		defer k.destroy(sh, pub)
		defer k.destroy(sh, priv)
		blob, err := k.wrap(sh, keys.kek, priv)
		if err != nil {
			return err
		}
		der, err := k.readPublic(sh, pub, spec.Kind)
		if err != nil {
			return err
		}
		out = hsm.KeyPair{Private: k.wrapped(blob, len(blob)-8), Public: der}
		return nil
	})
	return out, err
}

// readPublic reads a public key object as PKIX DER.
func (k *Keystore) readPublic(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, kind hsm.KeyKind) ([]byte, error) {
	if kind == hsm.KindRSAPrivate {
		got, err := k.p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return nil, fmt.Errorf("hsm: read RSA public key: %w", err)
		}
		e := new(big.Int).SetBytes(got[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("hsm: RSA public exponent out of range")
		}
		return x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(got[0].Value), E: int(e.Int64())})
	}
	got, err := k.p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, fmt.Errorf("hsm: read EC public key: %w", err)
	}
	curve, err := curveFromParams(got[0].Value)
	if err != nil {
		return nil, err
	}
	var point []byte
	if _, err := asn1.Unmarshal(got[1].Value, &point); err != nil {
		point = got[1].Value // some tokens return the bare point
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("hsm: EC public key from the token: %w", err)
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// importPrivate creates a private key object from PKCS#8 DER (a KMIP
// Register), wraps it under the KEK and destroys it.
func (k *Keystore) importPrivate(ctx context.Context, kind hsm.KeyKind, der []byte) (hsm.Wrapped, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return hsm.Wrapped{}, fmt.Errorf("%w: private key is not PKCS#8", hsm.ErrInvalidInput)
	}
	var tmpl []*pkcs11.Attribute
	switch key := parsed.(type) {
	case *rsa.PrivateKey:
		if kind != hsm.KindRSAPrivate || len(key.Primes) != 2 {
			return hsm.Wrapped{}, fmt.Errorf("%w: expected a two-prime RSA private key", hsm.ErrInvalidInput)
		}
		key.Precompute()
		tmpl = append(privateAttrs(pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, key.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, bigEndian(uint64(key.E))),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, key.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, key.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, key.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, key.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, key.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, key.Precomputed.Qinv.Bytes()))
	case *ecdsa.PrivateKey:
		if kind != hsm.KindECPrivate {
			return hsm.Wrapped{}, fmt.Errorf("%w: expected an EC private key", hsm.ErrInvalidInput)
		}
		params, err := curveParams(key.Curve)
		if err != nil {
			return hsm.Wrapped{}, err
		}
		d, err := key.Bytes()
		if err != nil {
			return hsm.Wrapped{}, fmt.Errorf("%w: EC private key", hsm.ErrInvalidInput)
		}
		tmpl = append(privateAttrs(pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, d))
	default:
		return hsm.Wrapped{}, fmt.Errorf("%w: private key type %T", hsm.ErrUnsupported, parsed)
	}
	return k.importPrivateObject(ctx, "import private key", tmpl)
}

// importPrivateObject creates a session object from a private key's
// template, wraps it under the KEK and destroys it: the way a registered
// private key enters the HSM. The wrapped length is the padded PKCS#8
// length the token wrapped.
func (k *Keystore) importPrivateObject(ctx context.Context, what string, tmpl []*pkcs11.Attribute) (hsm.Wrapped, error) {
	if err := k.requireKeys(true, false); err != nil {
		return hsm.Wrapped{}, err
	}
	var blob []byte
	err := k.do(ctx, what, func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		obj, err := k.createSecret(sh, tmpl)
		if err != nil {
			return cryptoErr(what, err)
		}
		defer k.destroy(sh, obj)
		blob, err = k.wrap(sh, keys.kek, obj)
		return err
	})
	if err != nil {
		return hsm.Wrapped{}, err
	}
	return k.wrapped(blob, len(blob)-8), nil
}

// readPrivate unwraps a private key of keyType into a readable session
// object, reads the attributes read (in that order) and destroys the
// object: what an authorized Get of a private key needs, and nothing else
// does. The caller clears the values once it has encoded them.
func (k *Keystore) readPrivate(ctx context.Context, what string, keyType uint, w hsm.Wrapped, read []uint) ([][]byte, error) {
	tmpl := append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}, usageAttrs(nil, publicOnly...)...)
	var vals [][]byte
	err := k.do(ctx, what, func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		h, err := k.unwrapObject(sh, keys, w, tmpl)
		if err != nil {
			return err
		}
		defer k.destroy(sh, h)
		if vals, err = k.readAttrs(sh, h, read, nil); err != nil {
			return fmt.Errorf("hsm: %s: read the key: %w", what, err)
		}
		return nil
	})
	return vals, err
}

// unwrapPrivate unwraps a private key into a readable session object for
// an authorized Get, reads its components and returns PKCS#8 DER.
func (k *Keystore) unwrapPrivate(ctx context.Context, kind hsm.KeyKind, w hsm.Wrapped) ([]byte, error) {
	if err := k.checkWrapped(w, true); err != nil {
		return nil, err
	}
	keyType := uint(pkcs11.CKK_RSA)
	read := []uint{pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT, pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1, pkcs11.CKA_PRIME_2}
	if kind == hsm.KindECPrivate {
		keyType = pkcs11.CKK_EC
		read = []uint{pkcs11.CKA_EC_PARAMS, pkcs11.CKA_VALUE}
	}
	vals, err := k.readPrivate(ctx, "unwrap private key", keyType, w, read)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, v := range vals {
			clear(v)
		}
	}()
	if kind == hsm.KindECPrivate {
		curve, err := curveFromParams(vals[0])
		if err != nil {
			return nil, err
		}
		d := make([]byte, (curve.Params().BitSize+7)/8)
		if len(vals[1]) > len(d) {
			return nil, fmt.Errorf("%w: EC private value too long", hsm.ErrIntegrity)
		}
		copy(d[len(d)-len(vals[1]):], vals[1])
		key, err := ecdsa.ParseRawPrivateKey(curve, d)
		clear(d)
		if err != nil {
			return nil, fmt.Errorf("%w: unwrapped EC key is invalid", hsm.ErrIntegrity)
		}
		return x509.MarshalPKCS8PrivateKey(key)
	}
	e := new(big.Int).SetBytes(vals[1])
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("%w: RSA public exponent out of range", hsm.ErrIntegrity)
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(vals[0]), E: int(e.Int64())},
		D:         new(big.Int).SetBytes(vals[2]),
		Primes:    []*big.Int{new(big.Int).SetBytes(vals[3]), new(big.Int).SetBytes(vals[4])},
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%w: unwrapped RSA key is invalid", hsm.ErrIntegrity)
	}
	key.Precompute()
	return x509.MarshalPKCS8PrivateKey(key)
}
