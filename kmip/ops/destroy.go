package ops

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// destroy handles Destroy (KMIP 1.4 §4.21, 2.1 §6.1.15): an Active object
// must be revoked first; the wrapped material is scrubbed from this node's
// row and the object's attributes stay, with State Destroyed.
func (s *Service) destroy(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	st := o.state()
	if st == ttlv.StateActive {
		return ttlv.Item{}, wrongState(r.version, "object %s is Active; revoke it before destroying it", uid)
	}
	if destroyed(st) {
		return ttlv.Item{}, wrongState(r.version, "object %s is already destroyed", uid)
	}
	now := s.now()
	if err := s.appendChange(ctx, uid, eventSet, []kmip.Attribute{
		stateAttr(ttlv.StateDestroyed),
		dateAttr(ttlv.TagDestroyDate, now),
		dateAttr(ttlv.TagLastChangeDate, now),
	}); err != nil {
		return ttlv.Item{}, err
	}
	// The token's cached copy of the key (a Get's, see hsm.Forgetter) goes
	// now rather than at the cache's idle limit.
	if f, ok := s.keys.(hsm.Forgetter); ok && o.row.Blob != nil {
		f.Forget(ctx, wrappedOf(o))
	}
	// Only the origin node may touch its object rows (mirroring rule); a
	// destroy accepted elsewhere is scrubbed by the origin when it sees the
	// event.
	if o.row.OriginNode == s.store.Node() && o.row.Blob != nil {
		if err := s.db(ctx).ScrubBlob(ctx, uid); err != nil {
			return ttlv.Item{}, fmt.Errorf("ops: destroy %s: %w", uid, err)
		}
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}
