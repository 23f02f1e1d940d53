package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// activate handles Activate (KMIP 1.4 §4.19, 2.1 §6.1.1): Pre-Active to
// Active, with the Activation Date set to now.
func (s *Service) activate(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if st := o.state(); st != ttlv.StatePreActive {
		return ttlv.Item{}, wrongState(r.version, "object %s is %s; only a Pre-Active object can be activated", uid, st)
	}
	now := s.now()
	if err := s.appendChange(ctx, uid, eventSet, []kmip.Attribute{
		stateAttr(ttlv.StateActive),
		dateAttr(ttlv.TagActivationDate, now),
		dateAttr(ttlv.TagLastChangeDate, now),
	}); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}
