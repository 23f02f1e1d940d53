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
	vals, err := k.readPrivate(ctx, "unwrap DSA private key", pkcs11.CKK_DSA, w,
		[]uint{pkcs11.CKA_PRIME, pkcs11.CKA_SUBPRIME, pkcs11.CKA_BASE, pkcs11.CKA_VALUE})
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
