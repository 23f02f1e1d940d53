package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// mac handles MAC (KMIP 1.4 §4.33, 2.1 §6.1.25): an HMAC computed inside
// the HSM with the key unwrapped for this one operation. The hash comes
// from the Cryptographic Parameters' algorithm or the key's own (HMAC-SHA*).
func (s *Service) mac(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationMAC)
	if err != nil {
		return ttlv.Item{}, err
	}
	if payloadFlag(p, ttlv.TagInitIndicator) || payloadFlag(p, ttlv.TagFinalIndicator) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "multi-part MACs are not supported")
	}
	data, _, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	uid, o, err := s.useKey(ctx, r, p, ttlv.CryptographicUsageMaskMACGenerate)
	if err != nil {
		return ttlv.Item{}, err
	}
	if !secretObject(o) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "MAC needs a secret key; %s is a %s", uid, o.objectType())
	}
	h, err := macHash(o, paramsFor(o, p))
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.fipsApproved(ttlv.CryptographicAlgorithm(o.row.Algorithm), 0); err != nil {
		return ttlv.Item{}, err
	}
	commit, err := s.spendUsage(o, len(data))
	if err != nil {
		return ttlv.Item{}, err
	}
	sum, err := cr.HMAC(ctx, hmacKey(o), h, data)
	if err != nil {
		return ttlv.Item{}, s.hsmError(uid, err)
	}
	if err := commit(ctx); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid),
		ttlv.Bytes(ttlv.TagMACData, sum)), nil
}

// secretObject reports whether the object is a symmetric key or secret
// data, the objects an HMAC can use.
func secretObject(o *object) bool {
	t := o.objectType()
	return t == ttlv.ObjectTypeSymmetricKey || t == ttlv.ObjectTypeSecretData
}
