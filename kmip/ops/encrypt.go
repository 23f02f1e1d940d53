package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// encrypt handles Encrypt (KMIP 1.4 §4.29, 2.1 §6.1.17); see cipherOp.
func (s *Service) encrypt(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	return s.cipherOp(ctx, r, p, true)
}
