package ops

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// The attribute operations store instance-level changes, so that two nodes
// changing different instances of one attribute both keep their change:
//   - "add" appends each instance unless an equal instance exists, or (for
//     a single-instance attribute) unless the attribute already has a value:
//     of two concurrent Adds of a single-valued attribute the first in fold
//     order wins;
//   - "modify" carries pairs (current instance, new instance) and replaces
//     the current instance in place (its 1.x Attribute Index is kept); a
//     pair whose current instance no longer exists (another node modified
//     or deleted it first) is dropped.
// The fold order (clock, node, event ID) is total and the same on every
// node, and each kind is a pure function of the attributes and the event, so
// every node folds the same rows to the same attributes. Only State needs
// more (a commutative merge) because it must never move backwards.

// add applies an "add" event.
func (o *object) add(change []kmip.Attribute) {
	for _, a := range change {
		if o.has(a) || (!multiInstance(a) && len(o.all(a.Name)) > 0) {
			continue
		}
		o.attrs = append(o.attrs, a)
	}
}

// modify applies a "modify" event.
func (o *object) modify(change []kmip.Attribute) {
	for i := 0; i+1 < len(change); i += 2 {
		cur, next := change[i], change[i+1]
		for k, a := range o.attrs {
			if a.Name == cur.Name && equalItems(a.Value, cur.Value) {
				o.attrs[k] = next
				break
			}
		}
	}
}

// has reports whether the object has an instance equal to a.
func (o *object) has(a kmip.Attribute) bool {
	for _, x := range o.all(a.Name) {
		if equalItems(x.Value, a.Value) {
			return true
		}
	}
	return false
}

// change is one event to append.
type change struct {
	kind  string
	attrs []kmip.Attribute
}

// appendChanges stores changes of one object as events in one transaction,
// ordered after every event the caller folded (a hybrid logical clock: the
// wall clock, or one past the newest seen clock when that is ahead) and
// after each other. Last Change Date is set with them.
func (s *Service) appendChanges(ctx context.Context, o *object, changes ...change) error {
	now := s.now()
	clock := max(now.UnixMicro(), o.clock+1)
	changes = append(changes, change{eventSet, []kmip.Attribute{dateAttr(ttlv.TagLastChangeDate, now)}})
	evs := make([]storage.Event, 0, len(changes))
	for i, c := range changes {
		payload, err := encodeAttrs(c.attrs)
		if err != nil {
			return fmt.Errorf("ops: encode change: %w", err)
		}
		evs = append(evs, storage.Event{
			ID: uuid.NewString(), UID: o.row.UID, OriginNode: s.store.Node(),
			Clock: clock + int64(i), Kind: c.kind, Payload: payload, CreatedAt: now,
			Names: nameHints(c.attrs), Scrubs: scrubsHint(c.attrs),
		})
	}
	if err := s.bindEvents(ctx, evs); err != nil {
		return err
	}
	if err := s.db(ctx).AppendEvents(ctx, evs...); err != nil {
		return fmt.Errorf("ops: store change of %s: %w", o.row.UID, err)
	}
	return nil
}
