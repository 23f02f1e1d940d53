package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// decrypt handles Decrypt (KMIP 1.4 §4.30, 2.1 §6.1.14); see cipherOp.
func (s *Service) decrypt(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	return s.cipherOp(ctx, r, p, false)
}
