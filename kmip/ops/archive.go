package ops

import (
	"context"
	"strings"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// internalPrefix marks the server's bookkeeping attributes. They are stored
// like any attribute (so that they fold and mirror with the rest) but are
// never shown to a client, never matched by Locate criteria and never
// changed by attribute operations.
const internalPrefix = "y-strongroom-"

// attrArchived is the internal attribute holding the storage status: true
// while the object is archived (KMIP 1.4 §4.23 Archive, §4.24 Recover).
const attrArchived = internalPrefix + "archived"

// internal reports whether an attribute name is server bookkeeping.
func internal(name string) bool { return strings.HasPrefix(name, internalPrefix) }

// archived reports whether the object is in archival storage. The latest
// Archive or Recover in fold order wins.
func (o *object) archived() bool {
	for _, a := range o.all(attrArchived) {
		b, _ := a.Value.BoolValue()
		return b
	}
	return false
}

// archive handles Archive (KMIP 1.4 §4.23, 2.1 §6.1.4). Strongroom keeps
// every object in the same database, so archiving only marks the object:
// Locate skips it unless the Storage Status Mask asks for archived objects,
// and Get and cryptographic use answer Object Archived until Recover.
func (s *Service) archive(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	return s.setArchived(ctx, r, p, true)
}

// recoverObject handles Recover (KMIP 1.4 §4.24, 2.1 §6.1.42).
func (s *Service) recoverObject(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	return s.setArchived(ctx, r, p, false)
}

func (s *Service) setArchived(ctx context.Context, r *request, p ttlv.Item, on bool) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if on && destroyed(o.state()) {
		return ttlv.Item{}, wrongState(r.version, "object %s is destroyed", uid)
	}
	if o.archived() != on {
		if err := s.appendChange(ctx, uid, eventSet, []kmip.Attribute{
			{Name: attrArchived, Value: ttlv.Bool(ttlv.TagAttributeValue, on)},
			dateAttr(ttlv.TagLastChangeDate, s.now()),
		}); err != nil {
			return ttlv.Item{}, err
		}
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}
