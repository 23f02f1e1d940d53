package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// macVerify handles MAC Verify (KMIP 1.4 §4.34, 2.1 §6.1.26): the HSM
// checks the MAC (C_Verify); a mismatch is Validity Indicator Invalid.
func (s *Service) macVerify(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationMACVerify)
	if err != nil {
		return ttlv.Item{}, err
	}
	if payloadFlag(p, ttlv.TagInitIndicator) || payloadFlag(p, ttlv.TagFinalIndicator) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "multi-part MAC verification is not supported")
	}
	data, _, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	want, ok, err := payloadBytes(p, ttlv.TagMACData)
	if err != nil {
		return ttlv.Item{}, err
	}
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "MAC Data is required")
	}
	uid, o, err := s.useKey(ctx, r, p, ttlv.CryptographicUsageMaskMACVerify)
	if err != nil {
		return ttlv.Item{}, err
	}
	if !secretObject(o) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "MAC Verify needs a secret key; %s is a %s", uid, o.objectType())
	}
	h, err := macHash(o, paramsFor(o, p))
	if err != nil {
		return ttlv.Item{}, err
	}
	valid, err := cr.VerifyHMAC(ctx, hmacKey(o), h, data, want)
	if err != nil {
		return ttlv.Item{}, s.hsmError(uid, err)
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid),
		validity(valid)), nil
}
