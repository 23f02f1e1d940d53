package ops

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// maxRandom bounds one RNG Retrieve so that a client cannot make the
// server allocate without limit.
const maxRandom = 64 << 10

// rngRetrieve handles RNG Retrieve (KMIP 1.4 §4.35, 2.1 §6.1.45): bytes
// from the token's random number generator.
func (s *Service) rngRetrieve(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	it, ok := p.Find(ttlv.TagDataLength)
	n, isInt := it.Int32()
	if !ok || !isInt {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "Data Length is required")
	}
	if n <= 0 || n > maxRandom {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "Data Length must be 1 to %d", maxRandom)
	}
	b, err := s.keys.Random(ctx, int(n))
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: RNG retrieve: %w", err)
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Bytes(ttlv.TagData, b)), nil
}
