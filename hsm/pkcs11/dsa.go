package pkcs11hsm

import (
	"context"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// importDSAPrivate creates a DSA private key object from PKCS#8 DER (a
// KMIP Register of a DSA private key), wraps it under the KEK and destroys
// it, as importPrivate does for RSA and EC keys.
func (k *Keystore) importDSAPrivate(ctx context.Context, der []byte) (hsm.Wrapped, error) {
	key, ok, err := hsm.ParseDSAPKCS8(der)
	if !ok || err != nil {
		return hsm.Wrapped{}, fmt.Errorf("%w: expected a DSA private key in PKCS#8", hsm.ErrInvalidInput)
	}
	x := key.X.Bytes()
	defer clear(x)
	tmpl := append(privateAttrs(pkcs11.CKK_DSA),
		pkcs11.NewAttribute(pkcs11.CKA_PRIME, key.P.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_SUBPRIME, key.Q.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_BASE, key.G.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, x))
	return k.importPrivateObject(ctx, "import DSA private key", tmpl)
}

// unwrapDSAPrivate unwraps a DSA private key into a readable session object
// for an authorized Get, reads its components and returns PKCS#8 DER.
func (k *Keystore) unwrapDSAPrivate(ctx context.Context, w hsm.Wrapped) ([]byte, error) {
	if err := k.checkWrapped(w, true); err != nil {
		return nil, err
	}
	tmpl := append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_DSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
	}, usageAttrs(nil, publicOnly...)...)
	var vals [][]byte
	err := k.do(ctx, "unwrap DSA private key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		h, err := k.unwrapObject(sh, keys, w, tmpl)
		if err != nil {
			return err
		}
		defer k.destroy(sh, h)
		got, err := k.p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_PRIME, nil), pkcs11.NewAttribute(pkcs11.CKA_SUBPRIME, nil),
			pkcs11.NewAttribute(pkcs11.CKA_BASE, nil), pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return fmt.Errorf("hsm: read unwrapped DSA private key: %w", err)
		}
		vals = make([][]byte, len(got))
		for i, a := range got {
			vals[i] = a.Value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, v := range vals {
			clear(v)
		}
	}()
	key := &hsm.DSAPrivateKey{
		P: new(big.Int).SetBytes(vals[0]), Q: new(big.Int).SetBytes(vals[1]),
		G: new(big.Int).SetBytes(vals[2]), X: new(big.Int).SetBytes(vals[3]),
	}
	der, err := hsm.MarshalDSAPKCS8(key)
	key.X.SetInt64(0)
	return der, err
}
