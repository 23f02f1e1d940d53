package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Event kinds in storage: "set" replaces every instance of the attributes
// it names (State merges forward instead, see mergeState); "delete" removes
// the instances it lists; "add" and "modify" are the instance-level changes
// of the attribute operations (see attribute_events.go).
const (
	eventSet    = "set"
	eventDelete = "delete"
	eventAdd    = "add"
	eventModify = "modify"
)

// v21 is the canonical encoding of attribute sets in storage.
var v21 = kmip.ProtocolVersion{Major: 2, Minor: 1}

// object is a managed object as the operations see it: the immutable row
// plus its attributes folded from the stored events.
type object struct {
	row   storage.Object
	attrs []kmip.Attribute
	// clock is the highest event clock folded, so that a new change can be
	// ordered after every change it has seen (appendChanges).
	clock int64
}

// load reads an object and folds its events; the item's audit record
// names it.
func (s *Service) load(ctx context.Context, uid string) (*object, error) {
	o, err := s.loadQuiet(ctx, uid)
	if err != nil {
		return nil, err
	}
	auditObject(ctx, o)
	return o, nil
}

// loadQuiet is load for an object the item only consults (a template it
// applies), which the audit record must not name instead of its subject.
func (s *Service) loadQuiet(ctx context.Context, uid string) (*object, error) {
	if !validUID(uid) {
		return nil, kmip.Errorf(ttlv.ResultReasonItemNotFound, "no object with unique identifier %q", uid)
	}
	row, events, err := s.db(ctx).Object(ctx, uid)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, kmip.Errorf(ttlv.ResultReasonItemNotFound, "no object with unique identifier %q", uid)
	}
	if err != nil {
		return nil, fmt.Errorf("ops: load %s: %w", uid, err)
	}
	// Staged rows of an Undo batch are not yet bound; they never use the memo.
	memo := s.folds
	if _, staging := ctx.Value(stagingKey{}).(*staged); staging {
		memo = nil
	}
	o, ok := memo.get(row, events)
	if !ok {
		if err := s.checkBinding(ctx, row, events); err != nil {
			return nil, err
		}
		if o, err = fold(row, events); err != nil {
			return nil, err
		}
		memo.put(row, events, o)
	}
	o.applyDates(s.now())
	return o, nil
}

// target resolves the object an operation names (its Unique Identifier or
// the ID Placeholder), loads it and makes it the new placeholder.
func (s *Service) target(ctx context.Context, r *request, payload ttlv.Item) (string, *object, error) {
	uid, err := r.uid(payload)
	if err != nil {
		return "", nil, err
	}
	o, err := s.load(ctx, uid)
	if err == nil {
		if aerr := s.checkAccess(ctx, r, o); aerr != nil {
			o, err = nil, aerr
		} else if terr := checkTemplateTarget(r, o); terr != nil {
			return "", nil, terr
		}
	}
	if kerr, ok := kmip.AsError(err); ok && kerr.Reason == ttlv.ResultReasonItemNotFound && r.version.V2() {
		// KMIP 2.x names the case Object Not Found.
		return "", nil, kmip.Errorf(ttlv.ResultReasonObjectNotFound, "%s", kerr.Message)
	}
	if err != nil {
		return "", nil, err
	}
	*r.placeholder = uid
	return uid, o, nil
}

// validUID accepts the lowercase UUIDs Strongroom issues; anything else
// cannot name an object and never reaches the database.
func validUID(uid string) bool {
	if len(uid) != 36 {
		return false
	}
	u, err := uuid.Parse(uid)
	return err == nil && u.String() == uid
}

// fold computes the current attributes of an object from its initial
// attribute set and its events, in storage order. Every node folds the same
// rows to the same answer, which is what makes mirroring converge.
func fold(row storage.Object, events []storage.Event) (*object, error) {
	attrs, err := decodeAttrs(row.Attributes)
	if err != nil {
		return nil, fmt.Errorf("ops: object %s: %w", row.UID, err)
	}
	o := &object{row: row, attrs: attrs}
	for _, ev := range events {
		change, err := decodeAttrs(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("ops: object %s event %s: %w", row.UID, ev.ID, err)
		}
		o.clock = max(o.clock, ev.Clock)
		switch ev.Kind {
		case eventSet:
			o.set(change)
		case eventDelete:
			o.remove(change)
		case eventAdd:
			o.add(change)
		case eventModify:
			o.modify(change)
		default:
			return nil, fmt.Errorf("ops: object %s event %s: unknown kind %q", row.UID, ev.ID, ev.Kind)
		}
	}
	o.attrs = withProtectionStorage(o.attrs)
	return o, nil
}

// applyDates makes the state follow the lifecycle dates (KMIP 1.4 §3.22):
// a Pre-Active object whose Activation Date has passed is Active, and an
// Active one whose Deactivation Date has passed is Deactivated. The change
// is computed on read, never stored, so every node derives the same state
// from the same rows at the same time.
func (o *object) applyDates(now time.Time) {
	due := func(tag ttlv.Tag) bool {
		v, ok := o.value(tag)
		if !ok {
			return false
		}
		t, _ := v.TimeValue()
		return !t.After(now)
	}
	st := o.state()
	if st == ttlv.StatePreActive && due(ttlv.TagActivationDate) {
		st = ttlv.StateActive
	}
	if (st == ttlv.StatePreActive || st == ttlv.StateActive) && due(ttlv.TagDeactivationDate) {
		st = ttlv.StateDeactivated
	}
	if st != o.state() {
		o.set([]kmip.Attribute{stateAttr(st)})
	}
}

// set replaces every instance of the named attributes; State only moves
// forward.
func (o *object) set(change []kmip.Attribute) {
	// A change names a few attributes: a linear scan beats a map here
	// (fold calls this for every event of every object loaded).
	changed := func(name string) bool {
		for _, c := range change {
			if c.Name == name {
				return true
			}
		}
		return false
	}
	cur := o.state()
	// A new slice: earlier versions of o.attrs may still be referenced.
	kept := make([]kmip.Attribute, 0, len(o.attrs)+len(change))
	for _, a := range o.attrs {
		if !changed(a.Name) {
			kept = append(kept, a)
		}
	}
	for _, a := range change {
		if a.Value.Tag == ttlv.TagState {
			v, _ := a.Value.EnumValue()
			a = stateAttr(mergeState(cur, ttlv.State(v)))
		}
		kept = append(kept, a)
	}
	o.attrs = kept
}

// remove deletes the listed instances (matched by name and value).
func (o *object) remove(change []kmip.Attribute) {
	kept := o.attrs[:0:0]
	for _, a := range o.attrs {
		if !hasInstance(change, a) {
			kept = append(kept, a)
		}
	}
	o.attrs = kept
}

// all returns every instance of the named attribute.
func (o *object) all(name string) []kmip.Attribute {
	var out []kmip.Attribute
	for _, a := range o.attrs {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// value returns the first instance of a standard attribute.
func (o *object) value(tag ttlv.Tag) (ttlv.Item, bool) {
	for _, a := range o.attrs {
		if a.Value.Tag == tag && !a.Custom() {
			return a.Value, true
		}
	}
	return ttlv.Item{}, false
}

// state is the object's lifecycle state.
func (o *object) state() ttlv.State {
	if v, ok := o.value(ttlv.TagState); ok {
		e, _ := v.EnumValue()
		return ttlv.State(e)
	}
	return 0
}

// objectType is the object's Object Type.
func (o *object) objectType() ttlv.ObjectType { return ttlv.ObjectType(o.row.ObjectType) }

// encodeAttrs is the storage form of an attribute set: a KMIP 2.1
// Attributes structure in TTLV.
func encodeAttrs(attrs []kmip.Attribute) ([]byte, error) {
	items := kmip.EncodeAttributes(v21, attrs)
	return ttlv.Encode(items[0])
}

func decodeAttrs(b []byte) ([]kmip.Attribute, error) {
	if len(b) == 0 {
		return nil, nil
	}
	it, err := ttlv.Decode(b, ttlv.Limits{MaxSize: 16 << 20})
	if err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	return kmip.ParseAttributes2(it)
}

// appendChange stores one change of an object's attributes as an event
// owned by this node.
func (s *Service) appendChange(ctx context.Context, uid, kind string, change []kmip.Attribute) error {
	payload, err := encodeAttrs(change)
	if err != nil {
		return fmt.Errorf("ops: encode change: %w", err)
	}
	now := s.now()
	ev := storage.Event{
		ID: uuid.NewString(), UID: uid, OriginNode: s.store.Node(),
		Clock: now.UnixMicro(), Kind: kind, Payload: payload, CreatedAt: now,
		Names: nameHints(change), Scrubs: scrubsHint(change),
	}
	evs := []storage.Event{ev}
	if err := s.bindEvents(ctx, evs); err != nil {
		return err
	}
	if err := s.db(ctx).AppendEvents(ctx, evs...); err != nil {
		return fmt.Errorf("ops: store change of %s: %w", uid, err)
	}
	return nil
}

// equalItems compares two TTLV items by encoding.
func equalItems(a, b ttlv.Item) bool {
	x, err1 := ttlv.Encode(a)
	y, err2 := ttlv.Encode(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// hasInstance reports whether attrs holds an instance of a's name with
// a's value.
func hasInstance(attrs []kmip.Attribute, a kmip.Attribute) bool {
	for _, b := range attrs {
		if b.Name == a.Name && equalItems(b.Value, a.Value) {
			return true
		}
	}
	return false
}
