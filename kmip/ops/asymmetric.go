package ops

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Private keys are stored as the token wraps them (PKCS#8 under the KEK);
// public keys as PKIX SubjectPublicKeyInfo DER, wrapped like every other
// object although they are not secret (one storage path, integrity-checked
// by the key wrap). The format a key was registered in is its Key Format
// Type attribute, the default format of Get.

// asymBlock is what Register needs from a private or public key block.
type asymBlock struct {
	format    ttlv.KeyFormatType
	algorithm ttlv.CryptographicAlgorithm
	length    int32
	material  ttlv.Item
	attrs     []kmip.Attribute
}

func parseAsymBlock(kb ttlv.Item) (*asymBlock, error) {
	if kb.Tag != ttlv.TagKeyBlock || kb.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key block is missing")
	}
	if _, ok := kb.Find(ttlv.TagKeyWrappingData); ok {
		return nil, kmip.Errorf(ttlv.ResultReasonKeyWrapTypeNotSupported, "wrapped key blocks cannot be registered")
	}
	out := &asymBlock{}
	f, ok := kb.Find(ttlv.TagKeyFormatType)
	if !ok {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key format type is required")
	}
	v, _ := f.EnumValue()
	out.format = ttlv.KeyFormatType(v)
	if a, ok := kb.Find(ttlv.TagCryptographicAlgorithm); ok {
		v, _ := a.EnumValue()
		out.algorithm = ttlv.CryptographicAlgorithm(v)
	}
	if l, ok := kb.Find(ttlv.TagCryptographicLength); ok {
		out.length, _ = l.Int32()
	}
	kv, ok := kb.Find(ttlv.TagKeyValue)
	if !ok || kv.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key value must be a structure holding the key material")
	}
	if out.material, ok = kv.Find(ttlv.TagKeyMaterial); !ok {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key material is missing")
	}
	for _, c := range kv.FindAll(ttlv.TagAttribute) {
		a, err := kmip.ParseAttribute1(c)
		if err != nil {
			return nil, err
		}
		out.attrs = append(out.attrs, a)
	}
	return out, nil
}

// badKey is the error for key material that does not parse.
func badKey(format ttlv.KeyFormatType) error {
	return kmip.Errorf(ttlv.ResultReasonInvalidField, "key material is not a valid %s key", format)
}

// bigField reads a Big Integer field of a transparent key.
func bigField(km ttlv.Item, tag ttlv.Tag) *big.Int {
	it, ok := km.Find(tag)
	if !ok {
		return nil
	}
	b, _ := it.BigValue()
	return b
}

// parsePrivate decodes private key material in any supported format.
func parsePrivate(kb *asymBlock) (any, error) {
	raw, _ := kb.material.BytesValue()
	var key any
	var err error
	switch kb.format {
	case ttlv.KeyFormatTypePKCS1:
		key, err = x509.ParsePKCS1PrivateKey(raw)
	case ttlv.KeyFormatTypePKCS8:
		key, err = x509.ParsePKCS8PrivateKey(raw)
	case ttlv.KeyFormatTypeECPrivateKey:
		key, err = x509.ParseECPrivateKey(raw)
	case ttlv.KeyFormatTypeTransparentRSAPrivateKey:
		n, d, e := bigField(kb.material, ttlv.TagModulus), bigField(kb.material, ttlv.TagPrivateExponent), bigField(kb.material, ttlv.TagPublicExponent)
		p, q := bigField(kb.material, ttlv.TagP), bigField(kb.material, ttlv.TagQ)
		if n == nil || d == nil || e == nil || p == nil || q == nil || !e.IsInt64() {
			return nil, badKey(kb.format)
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
		if err = k.Validate(); err == nil {
			k.Precompute()
		}
		key = k
	case ttlv.KeyFormatTypeTransparentECPrivateKey, ttlv.KeyFormatTypeTransparentECDSAPrivateKey:
		curve, cerr := kmipCurve(kb.material)
		d := bigField(kb.material, ttlv.TagD)
		if cerr != nil || d == nil {
			return nil, badKey(kb.format)
		}
		key, err = ecdsa.ParseRawPrivateKey(curve, d.FillBytes(make([]byte, (curve.Params().BitSize+7)/8)))
	case ttlv.KeyFormatTypeTransparentDSAPrivateKey:
		key, err = parseTransparentDSAPrivate(kb.material)
	default:
		return nil, kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not supported for private keys", kb.format)
	}
	if err != nil {
		return nil, badKey(kb.format)
	}
	return key, nil
}

// parsePublic decodes public key material in any supported format.
func parsePublic(kb *asymBlock) (any, error) {
	raw, _ := kb.material.BytesValue()
	var key any
	var err error
	switch kb.format {
	case ttlv.KeyFormatTypePKCS1:
		key, err = x509.ParsePKCS1PublicKey(raw)
	case ttlv.KeyFormatTypeX509:
		key, err = parsePublicDER(raw)
	case ttlv.KeyFormatTypeTransparentRSAPublicKey:
		n, e := bigField(kb.material, ttlv.TagModulus), bigField(kb.material, ttlv.TagPublicExponent)
		if n == nil || e == nil || !e.IsInt64() {
			return nil, badKey(kb.format)
		}
		key = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case ttlv.KeyFormatTypeTransparentECPublicKey, ttlv.KeyFormatTypeTransparentECDSAPublicKey:
		curve, cerr := kmipCurve(kb.material)
		q, ok := kb.material.Find(ttlv.TagQString)
		qb, _ := q.BytesValue()
		if cerr != nil || !ok {
			return nil, badKey(kb.format)
		}
		key, err = ecdsa.ParseUncompressedPublicKey(curve, qb)
	case ttlv.KeyFormatTypeTransparentDSAPublicKey:
		key, err = parseTransparentDSAPublic(kb.material)
	default:
		return nil, kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not supported for public keys", kb.format)
	}
	if err != nil {
		return nil, badKey(kb.format)
	}
	return key, nil
}

// kmipCurve reads the Recommended Curve of a transparent EC key.
func kmipCurve(km ttlv.Item) (elliptic.Curve, error) {
	it, ok := km.Find(ttlv.TagRecommendedCurve)
	v, _ := it.EnumValue()
	if !ok {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "recommended curve is missing")
	}
	return curveOf(ttlv.RecommendedCurve(v))
}

func curveOf(c ttlv.RecommendedCurve) (elliptic.Curve, error) {
	switch c {
	case ttlv.RecommendedCurveP256:
		return elliptic.P256(), nil
	case ttlv.RecommendedCurveP384:
		return elliptic.P384(), nil
	case ttlv.RecommendedCurveP521:
		return elliptic.P521(), nil
	}
	return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "curve %s is not supported (P-256, P-384, P-521 are)", c)
}

func recommendedCurve(c elliptic.Curve) ttlv.RecommendedCurve {
	switch c {
	case elliptic.P384():
		return ttlv.RecommendedCurveP384
	case elliptic.P521():
		return ttlv.RecommendedCurveP521
	}
	return ttlv.RecommendedCurveP256
}

// keyFacts are a key's KMIP algorithm and length.
func keyFacts(key any) (ttlv.CryptographicAlgorithm, int32, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return ttlv.CryptographicAlgorithmRSA, int32(k.N.BitLen()), nil
	case *rsa.PublicKey:
		return ttlv.CryptographicAlgorithmRSA, int32(k.N.BitLen()), nil
	case *ecdsa.PrivateKey:
		return ttlv.CryptographicAlgorithmEC, int32(k.Curve.Params().BitSize), nil
	case *ecdsa.PublicKey:
		return ttlv.CryptographicAlgorithmEC, int32(k.Curve.Params().BitSize), nil
	case *dsaPublicKey:
		return ttlv.CryptographicAlgorithmDSA, int32(k.P.BitLen()), nil
	case *hsm.DSAPrivateKey:
		return ttlv.CryptographicAlgorithmDSA, int32(k.P.BitLen()), nil
	}
	return 0, 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "key type %T is not supported", key)
}

// registerAsymmetric handles Register of a Private Key or Public Key. A
// private key moves straight into the HSM and is wrapped there.
func (s *Service) registerAsymmetric(ctx context.Context, r *request, p ttlv.Item, objType ttlv.ObjectType) (ttlv.Item, error) {
	tag := ttlv.TagPrivateKey
	if objType == ttlv.ObjectTypePublicKey {
		tag = ttlv.TagPublicKey
	}
	obj, ok := p.Find(tag)
	var kbItem ttlv.Item
	if ok {
		kbItem, ok = obj.Find(ttlv.TagKeyBlock)
	}
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "the %s object is missing", objType)
	}
	kb, err := parseAsymBlock(kbItem)
	if err != nil {
		return ttlv.Item{}, err
	}
	attrs, err := s.requestAttrs(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	t, err := checkTemplate(append(attrs, kb.attrs...), objType)
	if err != nil {
		return ttlv.Item{}, err
	}
	var key any
	if objType == ttlv.ObjectTypePrivateKey {
		key, err = parsePrivate(kb)
	} else {
		key, err = parsePublic(kb)
	}
	if err != nil {
		return ttlv.Item{}, err
	}
	alg, bits, err := keyFacts(key)
	if err != nil {
		return ttlv.Item{}, err
	}
	for _, claimed := range []ttlv.CryptographicAlgorithm{t.algorithm, kb.algorithm} {
		if claimed != 0 && claimed != alg && !(alg == ttlv.CryptographicAlgorithmEC && claimed == ttlv.CryptographicAlgorithmECDSA) {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "the key material is %s, not %s", alg, claimed)
		}
		if claimed != 0 {
			alg = claimed
		}
	}
	if (t.length != 0 && t.length != bits) || (kb.length != 0 && kb.length != bits) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "cryptographic length does not match the %d-bit key", bits)
	}
	t.algorithm, t.length = alg, bits
	raw, _ := kb.material.BytesValue()
	var w hsm.Wrapped
	if objType == ttlv.ObjectTypePrivateKey {
		der, err := marshalPrivate(key)
		if err != nil {
			return ttlv.Item{}, badKey(kb.format)
		}
		w, err = s.keys.ImportWrapped(ctx, keyKindOf(alg, objType), der)
		clear(der)
		if err != nil {
			return ttlv.Item{}, s.hsmError("", err)
		}
	} else {
		der, err := marshalPublic(key)
		if err != nil {
			return ttlv.Item{}, badKey(kb.format)
		}
		if w, err = s.keys.ImportWrapped(ctx, hsm.KindGeneric, der); err != nil {
			return ttlv.Item{}, fmt.Errorf("ops: register public key: %w", err)
		}
	}
	extra := []kmip.Attribute{kmip.Attr(ttlv.Enum(ttlv.TagKeyFormatType, uint32(kb.format)))}
	if raw != nil {
		extra = append(extra, digestAttr(raw, kb.format))
	}
	uid, err := s.insert(ctx, objType, t, w, extra)
	if err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = uid
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// keyKindOf is the HSM kind of a private key of the algorithm.
func keyKindOf(alg ttlv.CryptographicAlgorithm, objType ttlv.ObjectType) hsm.KeyKind {
	if objType == ttlv.ObjectTypePublicKey {
		return hsm.KindPublic
	}
	if alg == ttlv.CryptographicAlgorithmRSA {
		return hsm.KindRSAPrivate
	}
	if alg == ttlv.CryptographicAlgorithmDSA {
		return hsm.KindDSAPrivate
	}
	return hsm.KindECPrivate
}

// defaultAsymFormat is the format of a Get that names none and of a key
// pair's digest: PKCS#1 for RSA, PKCS#8 / X.509 for EC.
func defaultAsymFormat(alg ttlv.CryptographicAlgorithm, objType ttlv.ObjectType) ttlv.KeyFormatType {
	switch {
	case alg == ttlv.CryptographicAlgorithmRSA:
		return ttlv.KeyFormatTypePKCS1
	case objType == ttlv.ObjectTypePrivateKey:
		return ttlv.KeyFormatTypePKCS8
	}
	return ttlv.KeyFormatTypeX509
}

// getAsymmetric answers Get for private and public keys in the format
// asked for (or registered in); ok is false for other object types.
func (s *Service) getAsymmetric(ctx context.Context, o *object, p ttlv.Item) (ttlv.Item, bool, error) {
	objType := o.objectType()
	if objType != ttlv.ObjectTypePrivateKey && objType != ttlv.ObjectTypePublicKey {
		return ttlv.Item{}, false, nil
	}
	alg := ttlv.CryptographicAlgorithm(o.row.Algorithm)
	format := defaultAsymFormat(alg, objType)
	if v, ok := o.value(ttlv.TagKeyFormatType); ok {
		e, _ := v.EnumValue()
		format = ttlv.KeyFormatType(e)
	}
	if f, ok := p.Find(ttlv.TagKeyFormatType); ok {
		e, _ := f.EnumValue()
		format = ttlv.KeyFormatType(e)
	}
	kind := hsm.KindGeneric
	if objType == ttlv.ObjectTypePrivateKey {
		kind = keyKind(o)
	}
	der, err := s.keys.Unwrap(ctx, kind, wrappedOf(o))
	if err != nil {
		return ttlv.Item{}, true, s.hsmError(o.row.UID, err)
	}
	defer clear(der)
	var key any
	if objType == ttlv.ObjectTypePrivateKey {
		key, err = parsePrivateDER(der)
	} else {
		key, err = parsePublicDER(der)
	}
	if err != nil {
		return ttlv.Item{}, true, fmt.Errorf("ops: get %s: stored key does not parse: %w", o.row.UID, err)
	}
	km, err := encodeKey(key, format)
	if err != nil {
		return ttlv.Item{}, true, err
	}
	kb := ttlv.Struct(ttlv.TagKeyBlock,
		ttlv.Enum(ttlv.TagKeyFormatType, uint32(format)),
		ttlv.Struct(ttlv.TagKeyValue, km),
		ttlv.Enum(ttlv.TagCryptographicAlgorithm, o.row.Algorithm),
		ttlv.Int(ttlv.TagCryptographicLength, o.row.Length))
	tag := ttlv.TagPrivateKey
	if objType == ttlv.ObjectTypePublicKey {
		tag = ttlv.TagPublicKey
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, o.row.ObjectType),
		ttlv.Text(ttlv.TagUniqueIdentifier, o.row.UID),
		ttlv.Struct(tag, kb)), true, nil
}

// encodeKey builds the Key Material of a key in a format.
func encodeKey(key any, format ttlv.KeyFormatType) (ttlv.Item, error) {
	var der []byte
	var err error
	unsupported := kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not available for this key", format)
	switch k := key.(type) {
	case *dsaPublicKey:
		return encodeDSAPublic(k, format)
	case *hsm.DSAPrivateKey:
		return encodeDSAPrivate(k, format)
	case *rsa.PrivateKey:
		switch format {
		case ttlv.KeyFormatTypePKCS1:
			der = x509.MarshalPKCS1PrivateKey(k)
		case ttlv.KeyFormatTypePKCS8:
			der, err = x509.MarshalPKCS8PrivateKey(k)
		case ttlv.KeyFormatTypeTransparentRSAPrivateKey:
			k.Precompute()
			return ttlv.Struct(ttlv.TagKeyMaterial,
				ttlv.Big(ttlv.TagModulus, k.N),
				ttlv.Big(ttlv.TagPrivateExponent, k.D),
				ttlv.Big(ttlv.TagPublicExponent, big.NewInt(int64(k.E))),
				ttlv.Big(ttlv.TagP, k.Primes[0]),
				ttlv.Big(ttlv.TagQ, k.Primes[1]),
				ttlv.Big(ttlv.TagPrimeExponentP, k.Precomputed.Dp),
				ttlv.Big(ttlv.TagPrimeExponentQ, k.Precomputed.Dq),
				ttlv.Big(ttlv.TagCRTCoefficient, k.Precomputed.Qinv)), nil
		default:
			return ttlv.Item{}, unsupported
		}
	case *rsa.PublicKey:
		switch format {
		case ttlv.KeyFormatTypePKCS1:
			der = x509.MarshalPKCS1PublicKey(k)
		case ttlv.KeyFormatTypeX509:
			der, err = x509.MarshalPKIXPublicKey(k)
		case ttlv.KeyFormatTypeTransparentRSAPublicKey:
			return ttlv.Struct(ttlv.TagKeyMaterial,
				ttlv.Big(ttlv.TagModulus, k.N),
				ttlv.Big(ttlv.TagPublicExponent, big.NewInt(int64(k.E)))), nil
		default:
			return ttlv.Item{}, unsupported
		}
	case *ecdsa.PrivateKey:
		switch format {
		case ttlv.KeyFormatTypePKCS8:
			der, err = x509.MarshalPKCS8PrivateKey(k)
		case ttlv.KeyFormatTypeECPrivateKey:
			der, err = x509.MarshalECPrivateKey(k)
		case ttlv.KeyFormatTypeTransparentECPrivateKey, ttlv.KeyFormatTypeTransparentECDSAPrivateKey:
			d, derr := k.Bytes()
			if derr != nil {
				return ttlv.Item{}, derr
			}
			return ttlv.Struct(ttlv.TagKeyMaterial,
				ttlv.Enum(ttlv.TagRecommendedCurve, uint32(recommendedCurve(k.Curve))),
				ttlv.Big(ttlv.TagD, new(big.Int).SetBytes(d))), nil
		default:
			return ttlv.Item{}, unsupported
		}
	case *ecdsa.PublicKey:
		switch format {
		case ttlv.KeyFormatTypeX509:
			der, err = x509.MarshalPKIXPublicKey(k)
		case ttlv.KeyFormatTypeTransparentECPublicKey, ttlv.KeyFormatTypeTransparentECDSAPublicKey:
			q, qerr := k.Bytes()
			if qerr != nil {
				return ttlv.Item{}, qerr
			}
			return ttlv.Struct(ttlv.TagKeyMaterial,
				ttlv.Enum(ttlv.TagRecommendedCurve, uint32(recommendedCurve(k.Curve))),
				ttlv.Bytes(ttlv.TagQString, q)), nil
		default:
			return ttlv.Item{}, unsupported
		}
	default:
		return ttlv.Item{}, unsupported
	}
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: encode key: %w", err)
	}
	return ttlv.Bytes(ttlv.TagKeyMaterial, der), nil
}

// keyDigest is the Digest attribute of a key in a format (SHA-256 of its
// encoding), as KMIP 1.4 §3.17 defines it.
func keyDigest(key any, format ttlv.KeyFormatType) (kmip.Attribute, error) {
	km, err := encodeKey(key, format)
	if err != nil {
		return kmip.Attribute{}, err
	}
	b, _ := km.BytesValue()
	sum := sha256.Sum256(b)
	clear(b)
	return kmip.Attr(ttlv.Struct(ttlv.TagDigest,
		ttlv.Enum(ttlv.TagHashingAlgorithm, uint32(ttlv.HashingAlgorithmSHA256)),
		ttlv.Bytes(ttlv.TagDigestValue, sum[:]),
		ttlv.Enum(ttlv.TagKeyFormatType, uint32(format)))), nil
}
