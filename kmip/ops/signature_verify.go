package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// signatureVerify handles Signature Verify (KMIP 1.4 §4.32, 2.1 §6.1.49)
// with a public key, inside the HSM. A signature that does not verify is a
// success with Validity Indicator Invalid.
func (s *Service) signatureVerify(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationSignatureVerify)
	if err != nil {
		return ttlv.Item{}, err
	}
	if _, ok := p.Find(ttlv.TagDigestedData); ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "verifying pre-digested data is not supported; send Data")
	}
	if payloadFlag(p, ttlv.TagInitIndicator) || payloadFlag(p, ttlv.TagFinalIndicator) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "multi-part verification is not supported")
	}
	data, _, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	sig, ok, err := payloadBytes(p, ttlv.TagSignatureData)
	if err != nil {
		return ttlv.Item{}, err
	}
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "Signature Data is required")
	}
	uid, o, err := s.useKey(ctx, r, p, ttlv.CryptographicUsageMaskVerify)
	if err != nil {
		return ttlv.Item{}, err
	}
	if o.objectType() != ttlv.ObjectTypePublicKey {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "Signature Verify needs a public key; %s is a %s", uid, o.objectType())
	}
	key, err := s.opKey(ctx, o)
	if err != nil {
		return ttlv.Item{}, err
	}
	sg, err := signatureFor(key, o, paramsFor(o, p))
	if err != nil {
		return ttlv.Item{}, err
	}
	valid, err := cr.Verify(ctx, key, sg, data, sig)
	if err != nil {
		return ttlv.Item{}, s.hsmError(uid, err)
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid),
		validity(valid)), nil
}

// validity is a Validity Indicator.
func validity(valid bool) ttlv.Item {
	v := ttlv.ValidityIndicatorInvalid
	if valid {
		v = ttlv.ValidityIndicatorValid
	}
	return ttlv.Enum(ttlv.TagValidityIndicator, uint32(v))
}
