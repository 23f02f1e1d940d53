package hsm

import (
	"encoding/asn1"
	"errors"
	"math/big"
)

// KindDSAPrivate is a DSA private key (CKK_DSA). As for KindRSAPrivate,
// ImportWrapped takes and Unwrap returns PKCS#8 DER (MarshalDSAPKCS8), and
// Wrapped.Length is the padded length the token wrapped. Keys of this kind
// are only stored and returned (KMIP Register and Get): Strongroom offers
// no DSA operation.
const KindDSAPrivate KeyKind = 30

// DSAPrivateKey is a DSA private key: domain parameters P, Q, G and the
// private value X. Go's crypto/x509 has no PKCS#8 for DSA (crypto/dsa is
// deprecated), hence this type and its codec.
type DSAPrivateKey struct {
	P, Q, G, X *big.Int
}

// OIDDSA is id-dsa (RFC 3279 §2.3.2).
var OIDDSA = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}

type dssParms struct{ P, Q, G *big.Int }

type pkcs8 struct {
	Version   int
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	PrivateKey []byte
}

// MarshalDSAPKCS8 encodes k as a PKCS#8 PrivateKeyInfo (RFC 5958, RFC 3279:
// Dss-Parms parameters, the private value as an INTEGER in the octet
// string), the encoding SoftHSM2 and OpenSSL use.
func MarshalDSAPKCS8(k *DSAPrivateKey) ([]byte, error) {
	if k == nil || k.P == nil || k.Q == nil || k.G == nil || k.X == nil {
		return nil, errors.New("hsm: incomplete DSA private key")
	}
	params, err := asn1.Marshal(dssParms{k.P, k.Q, k.G})
	if err != nil {
		return nil, err
	}
	x, err := asn1.Marshal(k.X)
	if err != nil {
		return nil, err
	}
	var p pkcs8
	p.Algorithm.Algorithm = OIDDSA
	p.Algorithm.Parameters = asn1.RawValue{FullBytes: params}
	p.PrivateKey = x
	out, err := asn1.Marshal(p)
	clear(x)
	return out, err
}

// ParseDSAPKCS8 decodes a DSA PKCS#8 PrivateKeyInfo; ok is false when der
// is not one (another algorithm, or not PKCS#8 at all).
func ParseDSAPKCS8(der []byte) (key *DSAPrivateKey, ok bool, err error) {
	var p pkcs8
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 || !p.Algorithm.Algorithm.Equal(OIDDSA) {
		return nil, false, nil
	}
	var params dssParms
	if rest, err := asn1.Unmarshal(p.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, true, errors.New("hsm: DSA private key: bad parameters")
	}
	x := new(big.Int)
	if rest, err := asn1.Unmarshal(p.PrivateKey, &x); err != nil || len(rest) != 0 {
		return nil, true, errors.New("hsm: DSA private key: bad private value")
	}
	return &DSAPrivateKey{P: params.P, Q: params.Q, G: params.G, X: x}, true, nil
}
