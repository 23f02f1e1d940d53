package ops

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// DSA keys (BL-M-12, BL-M-13): Register and Get only. Public keys are kept
// as SubjectPublicKeyInfo, private keys as PKCS#8 unwrapped by the token
// (hsm.KindDSAPrivate).

// dsaPublicKey is a DSA public key (FIPS 186-4): domain parameters P, Q, G
// and the public value Y. Strongroom stores it, like every public key, as
// a SubjectPublicKeyInfo (RFC 3279 §2.3.2), which Go's crypto/x509 cannot
// write for DSA (crypto/dsa is deprecated), hence this type. Only Register
// and Get use it: there is no DSA cryptography (the HSM layer has no DSA
// key kind).
type dsaPublicKey struct {
	P, Q, G, Y *big.Int
}

// oidDSA is id-dsa (RFC 3279 §2.3.2).
var oidDSA = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}

type dssParms struct{ P, Q, G *big.Int }

type spki struct {
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	PublicKey asn1.BitString
}

// parseTransparentDSAPublic reads a Transparent DSA Public Key's material
// (KMIP 1.4 §2.1.7.3).
func parseTransparentDSAPublic(km ttlv.Item) (*dsaPublicKey, error) {
	k := &dsaPublicKey{
		P: bigField(km, ttlv.TagP), Q: bigField(km, ttlv.TagQ),
		G: bigField(km, ttlv.TagG), Y: bigField(km, ttlv.TagY),
	}
	if k.P == nil || k.Q == nil || k.G == nil || k.Y == nil ||
		k.P.Sign() <= 0 || k.Q.Sign() <= 0 || k.G.Sign() <= 0 || k.Y.Sign() <= 0 {
		return nil, badKey(ttlv.KeyFormatTypeTransparentDSAPublicKey)
	}
	return k, nil
}

// marshalSPKI is the SubjectPublicKeyInfo of a DSA public key.
func (k *dsaPublicKey) marshalSPKI() ([]byte, error) {
	params, err := asn1.Marshal(dssParms{k.P, k.Q, k.G})
	if err != nil {
		return nil, err
	}
	y, err := asn1.Marshal(k.Y)
	if err != nil {
		return nil, err
	}
	var s spki
	s.Algorithm.Algorithm = oidDSA
	s.Algorithm.Parameters = asn1.RawValue{FullBytes: params}
	s.PublicKey = asn1.BitString{Bytes: y, BitLength: 8 * len(y)}
	return asn1.Marshal(s)
}

// parseDSASPKI reads a DSA SubjectPublicKeyInfo; ok is false when der is
// not a DSA key.
func parseDSASPKI(der []byte) (key *dsaPublicKey, ok bool, err error) {
	var s spki
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 || !s.Algorithm.Algorithm.Equal(oidDSA) {
		return nil, false, nil
	}
	var p dssParms
	if rest, err := asn1.Unmarshal(s.Algorithm.Parameters.FullBytes, &p); err != nil || len(rest) != 0 {
		return nil, true, errors.New("ops: DSA public key: bad parameters")
	}
	y := new(big.Int)
	if rest, err := asn1.Unmarshal(s.PublicKey.RightAlign(), &y); err != nil || len(rest) != 0 {
		return nil, true, errors.New("ops: DSA public key: bad public value")
	}
	return &dsaPublicKey{P: p.P, Q: p.Q, G: p.G, Y: y}, true, nil
}

// marshalPublic is the SubjectPublicKeyInfo of any public key Strongroom
// registers.
func marshalPublic(key any) ([]byte, error) {
	if k, ok := key.(*dsaPublicKey); ok {
		return k.marshalSPKI()
	}
	return x509.MarshalPKIXPublicKey(key)
}

// parsePublicDER reads a stored SubjectPublicKeyInfo.
func parsePublicDER(der []byte) (any, error) {
	if k, ok, err := parseDSASPKI(der); ok {
		return k, err
	}
	return x509.ParsePKIXPublicKey(der)
}

// encodeDSAPublic is the Key Material of a DSA public key in a format.
func encodeDSAPublic(k *dsaPublicKey, format ttlv.KeyFormatType) (ttlv.Item, error) {
	switch format {
	case ttlv.KeyFormatTypeTransparentDSAPublicKey:
		return ttlv.Struct(ttlv.TagKeyMaterial,
			ttlv.Big(ttlv.TagP, k.P), ttlv.Big(ttlv.TagQ, k.Q),
			ttlv.Big(ttlv.TagG, k.G), ttlv.Big(ttlv.TagY, k.Y)), nil
	case ttlv.KeyFormatTypeX509:
		der, err := k.marshalSPKI()
		if err != nil {
			return ttlv.Item{}, err
		}
		return ttlv.Bytes(ttlv.TagKeyMaterial, der), nil
	}
	return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not available for this key", format)
}

// parseTransparentDSAPrivate reads a Transparent DSA Private Key's material
// (KMIP 1.4 §2.1.7.2).
func parseTransparentDSAPrivate(km ttlv.Item) (*hsm.DSAPrivateKey, error) {
	k := &hsm.DSAPrivateKey{
		P: bigField(km, ttlv.TagP), Q: bigField(km, ttlv.TagQ),
		G: bigField(km, ttlv.TagG), X: bigField(km, ttlv.TagX),
	}
	if k.P == nil || k.Q == nil || k.G == nil || k.X == nil ||
		k.P.Sign() <= 0 || k.Q.Sign() <= 0 || k.G.Sign() <= 0 || k.X.Sign() <= 0 || k.X.Cmp(k.Q) >= 0 {
		return nil, badKey(ttlv.KeyFormatTypeTransparentDSAPrivateKey)
	}
	return k, nil
}

// marshalPrivate is the PKCS#8 of any private key Strongroom registers.
func marshalPrivate(key any) ([]byte, error) {
	if k, ok := key.(*hsm.DSAPrivateKey); ok {
		return hsm.MarshalDSAPKCS8(k)
	}
	return x509.MarshalPKCS8PrivateKey(key)
}

// parsePrivateDER reads PKCS#8 of any private key Strongroom stores.
func parsePrivateDER(der []byte) (any, error) {
	if k, ok, err := hsm.ParseDSAPKCS8(der); ok {
		return k, err
	}
	return x509.ParsePKCS8PrivateKey(der)
}

// encodeDSAPrivate is the Key Material of a DSA private key in a format.
func encodeDSAPrivate(k *hsm.DSAPrivateKey, format ttlv.KeyFormatType) (ttlv.Item, error) {
	switch format {
	case ttlv.KeyFormatTypeTransparentDSAPrivateKey:
		return ttlv.Struct(ttlv.TagKeyMaterial,
			ttlv.Big(ttlv.TagP, k.P), ttlv.Big(ttlv.TagQ, k.Q),
			ttlv.Big(ttlv.TagG, k.G), ttlv.Big(ttlv.TagX, k.X)), nil
	case ttlv.KeyFormatTypePKCS8:
		der, err := hsm.MarshalDSAPKCS8(k)
		if err != nil {
			return ttlv.Item{}, err
		}
		return ttlv.Bytes(ttlv.TagKeyMaterial, der), nil
	}
	return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not available for this key", format)
}
