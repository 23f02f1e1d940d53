package ops

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// leaseTime is the Lease Time (KMIP 1.4 §3.20) Strongroom gives every
// object: how long, in seconds, a client may cache what it learned about an
// object before asking again.
const leaseTime = 3600

// serverAttrs returns the attributes the server sets on a new object beyond
// newObjectAttrs (KMIP 1.4 §3, "Initially set by: Server"): Short Unique
// Identifier (2.x), Lease Time, Fresh, and for keys Digest, Key Format
// Type, Sensitive, Extractable, Always Sensitive, Never Extractable and,
// for keys born in the HSM, Random Number Generator. Attributes the client
// or the caller already gave (in the template or extra) are not repeated.
// generated says the HSM created the key material (Create): its Digest is
// then computed inside the token.
func (s *Service) serverAttrs(ctx context.Context, uid string, objType ttlv.ObjectType, alg ttlv.CryptographicAlgorithm, given []kmip.Attribute, w hsm.Wrapped, generated bool) ([]kmip.Attribute, error) {
	has := func(tag ttlv.Tag) (ttlv.Item, bool) {
		for _, a := range given {
			if a.Value.Tag == tag && !a.Custom() {
				return a.Value, true
			}
		}
		return ttlv.Item{}, false
	}
	short := sha256.Sum256([]byte(uid))
	out := []kmip.Attribute{
		kmip.Attr(ttlv.Bytes(ttlv.TagShortUniqueIdentifier, short[:])),
		kmip.Attr(ttlv.Interval(ttlv.TagLeaseTime, leaseTime)),
	}
	if _, ok := has(ttlv.TagFresh); !ok {
		out = append(out, kmip.Attr(ttlv.Bool(ttlv.TagFresh, true)))
	}
	switch objType {
	case ttlv.ObjectTypeSymmetricKey, ttlv.ObjectTypeSecretData, ttlv.ObjectTypePrivateKey, ttlv.ObjectTypeSplitKey:
	case ttlv.ObjectTypePublicKey:
		// KMIP 1.4 §3.48-3.51 / 2.1 §4.3, §4.23, §4.33, §4.55 apply to all
		// objects; a public key's Key Format Type and Digest are its
		// callers' (Register, Create Key Pair), never a Raw default.
		return append(out, sensitivityAttrs(given)...), nil
	default:
		return out, nil
	}
	format := ttlv.KeyFormatTypeRaw
	if f, ok := has(ttlv.TagKeyFormatType); ok {
		e, _ := f.EnumValue()
		format = ttlv.KeyFormatType(e)
	} else {
		out = append(out, kmip.Attr(ttlv.Enum(ttlv.TagKeyFormatType, uint32(format))))
	}
	sensitive, extractable := false, true
	if v, ok := has(ttlv.TagSensitive); ok {
		sensitive, _ = v.BoolValue()
	} else {
		out = append(out, kmip.Attr(ttlv.Bool(ttlv.TagSensitive, false)))
	}
	if v, ok := has(ttlv.TagExtractable); ok {
		extractable, _ = v.BoolValue()
	} else {
		out = append(out, kmip.Attr(ttlv.Bool(ttlv.TagExtractable, true)))
	}
	out = append(out,
		kmip.Attr(ttlv.Bool(ttlv.TagAlwaysSensitive, sensitive)),
		kmip.Attr(ttlv.Bool(ttlv.TagNeverExtractable, !extractable)))
	if generated {
		// The token's RNG made the key; which algorithm it runs is the
		// token's business, so Strongroom does not claim one.
		out = append(out, kmip.Attr(ttlv.Struct(ttlv.TagRandomNumberGenerator,
			ttlv.Enum(ttlv.TagRNGAlgorithm, uint32(ttlv.RNGAlgorithmUnspecified)))))
	}
	if _, ok := has(ttlv.TagDigest); !ok && generated && w.Blob != nil && digestable(format) {
		// A key born in the HSM is hashed there: its value never enters
		// this process. Callers that hold the plaintext (Register) pass the
		// Digest in given instead. Tokens that cannot digest the key (no
		// Cryptor, or a length SoftHSM2 pads) leave the Digest unset.
		if cr, ok := s.keys.(hsm.Cryptor); ok {
			sum, err := cr.DigestKey(ctx, hsm.Key{Kind: unwrapKind(objType, alg), Wrapped: w}, crypto.SHA256)
			switch {
			case err == nil:
				out = append(out, digestValueAttr(sum, format))
			case !errors.Is(err, hsm.ErrUnsupported):
				return nil, fmt.Errorf("ops: digest of new object: %w", err)
			}
		}
	}
	return out, nil
}

// sensitivityAttrs are Sensitive and Extractable unless the client gave
// them, and Always Sensitive and Never Extractable from their values.
func sensitivityAttrs(given []kmip.Attribute) []kmip.Attribute {
	var out []kmip.Attribute
	sensitive, extractable := false, true
	sensitiveGiven, extractableGiven := false, false
	for _, a := range given {
		if a.Custom() {
			continue
		}
		switch a.Value.Tag {
		case ttlv.TagSensitive:
			sensitive, _ = a.Value.BoolValue()
			sensitiveGiven = true
		case ttlv.TagExtractable:
			extractable, _ = a.Value.BoolValue()
			extractableGiven = true
		}
	}
	if !sensitiveGiven {
		out = append(out, kmip.Attr(ttlv.Bool(ttlv.TagSensitive, false)))
	}
	if !extractableGiven {
		out = append(out, kmip.Attr(ttlv.Bool(ttlv.TagExtractable, true)))
	}
	return append(out,
		kmip.Attr(ttlv.Bool(ttlv.TagAlwaysSensitive, sensitive)),
		kmip.Attr(ttlv.Bool(ttlv.TagNeverExtractable, !extractable)))
}

// digestable reports the key formats whose Digest is the SHA-256 of the
// stored bytes (KMIP 1.4 §3.17: the digest of the key material in the
// format given).
func digestable(f ttlv.KeyFormatType) bool {
	switch f {
	case ttlv.KeyFormatTypeRaw, ttlv.KeyFormatTypeOpaque, ttlv.KeyFormatTypeTransparentSymmetricKey:
		return true
	}
	return false
}

// unwrapKind is the HSM key kind a stored secret key unwraps as.
func unwrapKind(objType ttlv.ObjectType, alg ttlv.CryptographicAlgorithm) hsm.KeyKind {
	if objType == ttlv.ObjectTypeSymmetricKey {
		switch alg {
		case ttlv.CryptographicAlgorithmAES:
			return hsm.KindAES
		case ttlv.CryptographicAlgorithm3DES:
			return hsm.KindDES3
		}
	}
	return hsm.KindGeneric
}

// digestAttr builds a Digest attribute: SHA-256 of the key bytes, with the
// format they are in.
func digestAttr(material []byte, format ttlv.KeyFormatType) kmip.Attribute {
	sum := sha256.Sum256(material)
	return digestValueAttr(sum[:], format)
}

// digestValueAttr builds a Digest attribute from a SHA-256 value.
func digestValueAttr(sum []byte, format ttlv.KeyFormatType) kmip.Attribute {
	return kmip.Attr(ttlv.Struct(ttlv.TagDigest,
		ttlv.Enum(ttlv.TagHashingAlgorithm, uint32(ttlv.HashingAlgorithmSHA256)),
		ttlv.Bytes(ttlv.TagDigestValue, sum),
		ttlv.Enum(ttlv.TagKeyFormatType, uint32(format))))
}

// exportable refuses a plaintext Get of a key the client marked Sensitive
// or not Extractable (KMIP 2.1 §4.53, §4.27), in the client's reasons.
func (o *object) exportable(v kmip.ProtocolVersion) error {
	if o.flag(ttlv.TagSensitive) {
		if v.AtLeast(1, 4) {
			return kmip.Errorf(ttlv.ResultReasonSensitive, "object %s is sensitive", o.row.UID)
		}
		return kmip.Errorf(ttlv.ResultReasonPermissionDenied, "object %s is sensitive", o.row.UID)
	}
	if !o.flagOr(ttlv.TagExtractable, true) {
		if v.AtLeast(1, 4) {
			return kmip.Errorf(ttlv.ResultReasonNotExtractable, "object %s is not extractable", o.row.UID)
		}
		return kmip.Errorf(ttlv.ResultReasonPermissionDenied, "object %s is not extractable", o.row.UID)
	}
	return nil
}

// served records that an object was handed to a client: Fresh becomes
// false the first time (KMIP 1.4 §3.34).
func (s *Service) served(ctx context.Context, o *object) error {
	if !o.flag(ttlv.TagFresh) {
		return nil
	}
	return s.appendChanges(ctx, o, change{eventSet, []kmip.Attribute{kmip.Attr(ttlv.Bool(ttlv.TagFresh, false))}})
}
