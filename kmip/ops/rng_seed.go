package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// rngSeed handles RNG Seed (KMIP 1.4 §4.37, 2.1 §6.1.46): the client's
// bytes are mixed into the token's RNG (C_SeedRandom), which never replaces
// its own entropy with them.
func (s *Service) rngSeed(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationRNGSeed)
	if err != nil {
		return ttlv.Item{}, err
	}
	data, ok, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	if !ok || len(data) == 0 {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "Data is required")
	}
	if len(data) > maxRandom {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "at most %d bytes of seed are accepted", maxRandom)
	}
	if err := cr.SeedRandom(ctx, data); err != nil {
		return ttlv.Item{}, s.hsmError("", err)
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Int(ttlv.TagDataLength, int32(len(data)))), nil
}
