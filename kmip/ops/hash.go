package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// hash handles Hash (KMIP 1.4 §4.36, 2.1 §6.1.20): a digest computed by
// the token (C_Digest). No key is involved.
func (s *Service) hash(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationHash)
	if err != nil {
		return ttlv.Item{}, err
	}
	if payloadFlag(p, ttlv.TagInitIndicator) || payloadFlag(p, ttlv.TagFinalIndicator) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "multi-part hashing is not supported")
	}
	cp := paramsFor(nil, p)
	if cp.hash == 0 {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "Cryptographic Parameters with a Hashing Algorithm are required")
	}
	h, err := goHash(cp.hash, 0)
	if err != nil {
		return ttlv.Item{}, err
	}
	data, _, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	sum, err := cr.Digest(ctx, h, data)
	if err != nil {
		return ttlv.Item{}, s.hsmError("", err)
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Bytes(ttlv.TagData, sum)), nil
}
