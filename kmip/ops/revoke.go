package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// revoke handles Revoke (KMIP 1.4 §4.20, 2.1 §6.1.43): a compromise moves
// the object to Compromised (or Destroyed Compromised), any other reason to
// Deactivated. The object stays readable with Get.
func (s *Service) revoke(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	rr, ok := p.Find(ttlv.TagRevocationReason)
	if !ok || rr.Type != ttlv.TypeStructure {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "revocation reason is required")
	}
	codeItem, ok := rr.Find(ttlv.TagRevocationReasonCode)
	v, isEnum := codeItem.EnumValue()
	if !ok || !isEnum {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "revocation reason code is required")
	}
	code := ttlv.RevocationReasonCode(v)
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	st := o.state()
	now := s.now()
	change := []kmip.Attribute{kmip.Attr(rr), dateAttr(ttlv.TagLastChangeDate, now)}
	if code == ttlv.RevocationReasonCodeKeyCompromise || code == ttlv.RevocationReasonCodeCACompromise {
		occurred := now
		if c, ok := p.Find(ttlv.TagCompromiseOccurrenceDate); ok {
			if t, ok := c.TimeValue(); ok {
				occurred = t
			}
		}
		change = append(change, stateAttr(ttlv.StateCompromised),
			dateAttr(ttlv.TagCompromiseDate, now),
			dateAttr(ttlv.TagCompromiseOccurrenceDate, occurred))
	} else {
		if destroyed(st) || st == ttlv.StateCompromised {
			return ttlv.Item{}, wrongState(r.version, "object %s is %s and cannot be deactivated", uid, st)
		}
		change = append(change, stateAttr(ttlv.StateDeactivated))
		if st != ttlv.StateDeactivated {
			change = append(change, dateAttr(ttlv.TagDeactivationDate, now))
		}
	}
	if err := s.appendChange(ctx, uid, eventSet, change); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}
