package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// attrHMACKey is the internal attribute holding a registered short AES key
// zero-extended to 64 bytes, wrapped in the HSM under the key itself (not
// the KEK), so that it becomes unreadable when Destroy scrubs the key's
// blob. HMAC pads a key with zeros to the hash's block size, so the
// extended key has the same MACs, and SoftHSM2 refuses HMAC keys shorter
// than the hash output (see pkcs11hsm's loadHMACKey).
const attrHMACKey = internalPrefix + "hmac-key"

// hmacFormLength is the length of the zero-extended HMAC form: the block
// size of SHA-1 to SHA-256, within that of SHA-384 and SHA-512.
const hmacFormLength = 64

// cryptor returns the HSM's cryptographic operations, or Operation Not
// Supported when the keystore has none.
func (s *Service) cryptor(op ttlv.Operation) (hsm.Cryptor, error) {
	c, ok := s.keys.(hsm.Cryptor)
	if !ok {
		return nil, kmip.Errorf(ttlv.ResultReasonOperationNotSupported, "%s needs an HSM that performs cryptographic operations", op)
	}
	return c, nil
}

// useKey loads the object an operation names and checks it may be used
// now for purpose (usage mask, state, process and protect windows).
func (s *Service) useKey(ctx context.Context, r *request, p ttlv.Item, purpose ttlv.CryptographicUsageMask) (string, *object, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return "", nil, err
	}
	if err := o.usable(r.version, s.now(), purpose); err != nil {
		return "", nil, err
	}
	if o.row.Blob == nil {
		return "", nil, wrongState(r.version, "object %s has no key material", uid)
	}
	return uid, o, nil
}

// wrappedOf is the stored blob of an object.
func wrappedOf(o *object) hsm.Wrapped {
	return hsm.Wrapped{KEK: o.row.KEK, Mechanism: o.row.Mechanism, Blob: o.row.Blob, Length: o.row.BlobLength}
}

// keyKind is the HSM kind of a stored key, from its object type and
// algorithm (never stored separately).
func keyKind(o *object) hsm.KeyKind {
	alg := ttlv.CryptographicAlgorithm(o.row.Algorithm)
	switch o.objectType() {
	case ttlv.ObjectTypePrivateKey:
		if alg == ttlv.CryptographicAlgorithmRSA {
			return hsm.KindRSAPrivate
		}
		if alg == ttlv.CryptographicAlgorithmDSA {
			return hsm.KindDSAPrivate
		}
		return hsm.KindECPrivate
	case ttlv.ObjectTypePublicKey:
		return hsm.KindPublic
	}
	return unwrapKind(o.objectType(), alg)
}

// opKey is the key of an operation as the HSM takes it. Public keys are
// not secret: their stored DER is unwrapped here and handed over.
func (s *Service) opKey(ctx context.Context, o *object) (hsm.Key, error) {
	kind := keyKind(o)
	switch o.objectType() {
	case ttlv.ObjectTypeSymmetricKey, ttlv.ObjectTypeSecretData, ttlv.ObjectTypePrivateKey:
		return hsm.Key{Kind: kind, Wrapped: wrappedOf(o)}, nil
	case ttlv.ObjectTypePublicKey:
		der, err := s.keys.Unwrap(ctx, hsm.KindGeneric, wrappedOf(o))
		if err != nil {
			return hsm.Key{}, s.hsmError(o.row.UID, err)
		}
		return hsm.Key{Kind: hsm.KindPublic, Public: der}, nil
	}
	return hsm.Key{}, kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "a %s cannot be used for cryptography", o.objectType())
}

// hmacKey is the key of a MAC: the zero-extended form when one was stored.
func hmacKey(o *object) hsm.Key {
	main := hsm.Key{Kind: keyKind(o), Wrapped: wrappedOf(o)}
	for _, a := range o.all(attrHMACKey) {
		if b, ok := a.Value.BytesValue(); ok {
			return hsm.Key{Kind: hsm.KindGeneric, Under: &main,
				Wrapped: hsm.Wrapped{Mechanism: o.row.Mechanism, Blob: b, Length: hmacFormLength}}
		}
	}
	return main
}

// hmacForm wraps the zero-extended HMAC form of a registered AES key whose
// usage mask allows MACs (the key itself, w, wraps it).
func (s *Service) hmacForm(ctx context.Context, t *template, kind hsm.KeyKind, w hsm.Wrapped, material []byte) ([]kmip.Attribute, error) {
	macs := int32(ttlv.CryptographicUsageMaskMACGenerate | ttlv.CryptographicUsageMaskMACVerify)
	cr, ok := s.keys.(hsm.Cryptor)
	if !ok || kind != hsm.KindAES || !t.hasUsage || t.usage&macs == 0 {
		return nil, nil
	}
	ext := make([]byte, hmacFormLength)
	copy(ext, material)
	defer clear(ext)
	hw, err := cr.WrapUnder(ctx, hsm.Key{Kind: kind, Wrapped: w}, hsm.KindGeneric, ext)
	if err != nil {
		return nil, fmt.Errorf("ops: HMAC form of key: %w", err)
	}
	return []kmip.Attribute{{Name: attrHMACKey, Value: ttlv.Bytes(ttlv.TagAttributeValue, hw.Blob)}}, nil
}

// hsmError turns an HSM failure into the client's result: Cryptographic
// Failure for data that does not authenticate or a stored key that fails
// its integrity check, Invalid Field for what the token cannot do. Only
// the HSM's messages reach the client, which never carry key material.
func (s *Service) hsmError(uid string, err error) error {
	switch {
	case errors.Is(err, hsm.ErrIntegrity):
		s.log.Error("ops: stored key failed its integrity check", "uid", uid)
		return kmip.Errorf(ttlv.ResultReasonCryptographicFailure, "stored key %s failed its integrity check", uid)
	case errors.Is(err, hsm.ErrAuthentication):
		return kmip.Errorf(ttlv.ResultReasonCryptographicFailure, "the data does not authenticate under key %s", uid)
	case errors.Is(err, hsm.ErrUnsupported):
		return kmip.Errorf(ttlv.ResultReasonInvalidField, "not supported by the HSM: %v", err)
	case errors.Is(err, hsm.ErrInvalidInput):
		// The OASIS vectors (CS-BC-M-GCM-1) expect General Failure for
		// parameters the cryptography rejects, such as a 1-byte GCM tag.
		return kmip.Errorf(ttlv.ResultReasonGeneralFailure, "the HSM refused the request: %v", err)
	}
	return fmt.Errorf("ops: key %s: %w", uid, err)
}

// spendUsage checks and counts the Usage Limits (KMIP 1.4 §3.21) of one
// use processing n bytes; the count is stored only after the operation
// succeeded (commit).
func (s *Service) spendUsage(o *object, n int) (commit func(ctx context.Context) error, err error) {
	left, limited := o.usageLeft()
	if !limited {
		return func(context.Context) error { return nil }, nil
	}
	ul, _ := o.value(ttlv.TagUsageLimits)
	cost := int64(1)
	if u, ok := ul.Find(ttlv.TagUsageLimitsUnit); ok {
		if e, _ := u.EnumValue(); ttlv.UsageLimitsUnit(e) == ttlv.UsageLimitsUnitByte {
			cost = int64(n)
		}
	}
	if cost > left {
		// Permission Denied in every version: the 2.1 vector CS-BC-M-7-21
		// expects it rather than Usage Limit Exceeded.
		return nil, kmip.Errorf(ttlv.ResultReasonPermissionDenied, "object %s has %d uses left", o.row.UID, left)
	}
	return func(ctx context.Context) error {
		next := ttlv.Struct(ttlv.TagUsageLimits)
		for _, c := range ul.Children() {
			if c.Tag != ttlv.TagUsageLimitsCount {
				next = next.Append(c)
			}
		}
		next = next.Append(ttlv.Long(ttlv.TagUsageLimitsCount, left-cost))
		return s.appendChanges(ctx, o, change{eventSet, []kmip.Attribute{kmip.Attr(next)}})
	}, nil
}

// payloadBytes reads an optional Byte String field.
func payloadBytes(p ttlv.Item, tag ttlv.Tag) ([]byte, bool, error) {
	it, ok := p.Find(tag)
	if !ok {
		return nil, false, nil
	}
	b, isBytes := it.BytesValue()
	if !isBytes {
		return nil, false, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "%s must be a Byte String", tag)
	}
	return b, true, nil
}

// payloadFlag reads an optional Boolean field.
func payloadFlag(p ttlv.Item, tag ttlv.Tag) bool {
	it, ok := p.Find(tag)
	if !ok {
		return false
	}
	b, _ := it.BoolValue()
	return b
}
