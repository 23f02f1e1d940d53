package ops

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// The attribute operations (KMIP 1.4 §4.14–§4.16, 2.1 §6.1.2, §6.1.3,
// §6.1.13, §6.1.34, §6.1.51) in both forms: 1.x names attributes by Attribute
// Name and Attribute Index and echoes the attribute in the response; 2.x
// uses New Attribute, Current Attribute and Attribute Reference and answers
// with the Unique Identifier only.

// addAttribute handles Add Attribute.
func (s *Service) addAttribute(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	var a kmip.Attribute
	if r.version.V2() {
		a, err = singleAttr(p, ttlv.TagNewAttribute)
	} else {
		a, err = attr1(p, false)
	}
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.checkChange(ctx, r.version, o, a, nil); err != nil {
		return ttlv.Item{}, err
	}
	existing := o.all(a.Name)
	if len(existing) > 0 && !multiInstance(a) {
		return ttlv.Item{}, attrError(r.version, ttlv.ResultReasonAttributeSingleValued, ttlv.ResultReasonIllegalOperation,
			"attribute %q already has a value; use Modify Attribute", a.Name)
	}
	if !o.has(a) {
		if err := s.appendChanges(ctx, o, change{eventAdd, []kmip.Attribute{a}}); err != nil {
			return ttlv.Item{}, err
		}
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	if !r.version.V2() {
		resp = resp.Append(a.TTLV1(int32(len(existing))))
	}
	return resp, nil
}

// modifyAttribute handles Modify Attribute.
func (s *Service) modifyAttribute(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	var next kmip.Attribute
	var cur *kmip.Attribute
	index := int32(-1)
	if r.version.V2() {
		if next, err = singleAttr(p, ttlv.TagNewAttribute); err != nil {
			return ttlv.Item{}, err
		}
		if _, ok := p.Find(ttlv.TagCurrentAttribute); ok {
			c, err := singleAttr(p, ttlv.TagCurrentAttribute)
			if err != nil {
				return ttlv.Item{}, err
			}
			if c.Name != next.Name {
				return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "current and new attribute differ in name")
			}
			cur = &c
		}
	} else {
		a, err := attr1(p, true)
		if err != nil {
			return ttlv.Item{}, err
		}
		next, index = a, attrIndex(p)
	}
	existing := o.all(next.Name)
	if err := s.checkChange(ctx, r.version, o, next, existing); err != nil {
		return ttlv.Item{}, err
	}
	if len(existing) == 0 {
		return ttlv.Item{}, attrError(r.version, ttlv.ResultReasonAttributeNotFound, ttlv.ResultReasonInvalidField,
			"object %s has no attribute %q; use Add Attribute", uid, next.Name)
	}
	pos, err := pickInstance(r.version, existing, cur, index)
	if err != nil {
		return ttlv.Item{}, err
	}
	if !equalItems(existing[pos].Value, next.Value) {
		if err := s.appendChanges(ctx, o, change{eventModify, []kmip.Attribute{existing[pos], next}}); err != nil {
			return ttlv.Item{}, err
		}
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	if !r.version.V2() {
		resp = resp.Append(next.TTLV1(int32(pos)))
	}
	return resp, nil
}

// deleteAttribute handles Delete Attribute.
func (s *Service) deleteAttribute(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	var name string
	var cur *kmip.Attribute
	index := int32(-1)
	switch {
	case !r.version.V2():
		n, ok := p.Find(ttlv.TagAttributeName)
		name, _ = n.TextValue()
		if !ok || name == "" {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "attribute name is required")
		}
		name = canonicalName(name)
		index = attrIndex(p)
	default:
		if _, ok := p.Find(ttlv.TagCurrentAttribute); ok {
			c, err := singleAttr(p, ttlv.TagCurrentAttribute)
			if err != nil {
				return ttlv.Item{}, err
			}
			cur, name = &c, c.Name
		} else if ref, ok := p.Find(ttlv.TagAttributeReference); ok {
			if name, err = referenceName(ref); err != nil {
				return ttlv.Item{}, err
			}
		} else {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "current attribute or attribute reference is required")
		}
	}
	if o.archived() {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonObjectArchived, "object %s is archived", uid)
	}
	existing := o.all(name)
	if internal(name) {
		existing = nil
	}
	probe := kmip.Attribute{Name: name}
	if len(existing) > 0 {
		probe = existing[0]
	} else if tag, ok := ttlv.TagByName(name); ok && !isCustomName(name) {
		probe.Value.Tag = tag
	}
	if len(existing) > 0 || !isCustomName(name) {
		if !o.rule(probe).delete {
			return ttlv.Item{}, readOnly(r.version, name)
		}
	}
	if len(existing) == 0 {
		return ttlv.Item{}, attrError(r.version, ttlv.ResultReasonAttributeNotFound, ttlv.ResultReasonItemNotFound,
			"object %s has no attribute %q", uid, name)
	}
	var gone []kmip.Attribute
	pos := 0
	if cur == nil && index < 0 && r.version.V2() {
		gone = existing // a bare Attribute Reference deletes every instance
	} else {
		if pos, err = pickInstance(r.version, existing, cur, max(index, 0)); err != nil {
			return ttlv.Item{}, err
		}
		gone = existing[pos : pos+1]
	}
	if lastTemplateName(o, gone) {
		return ttlv.Item{}, attrError(r.version, ttlv.ResultReasonAttributeReadOnly, ttlv.ResultReasonPermissionDenied,
			"template %s needs a Name; add another before deleting this one", uid)
	}
	if err := s.appendChanges(ctx, o, change{eventDelete, gone}); err != nil {
		return ttlv.Item{}, err
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	if !r.version.V2() {
		resp = resp.Append(gone[0].TTLV1(int32(pos)))
	}
	return resp, nil
}

// setAttribute handles Set Attribute (KMIP 2.x): add or replace the single
// instance of an attribute.
func (s *Service) setAttribute(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	a, err := singleAttr(p, ttlv.TagNewAttribute)
	if err != nil {
		return ttlv.Item{}, err
	}
	existing := o.all(a.Name)
	if !ruleFor(a).modify || internal(a.Name) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonReadOnlyAttribute, "attribute %q cannot be changed by a client", a.Name)
	}
	if len(existing) > 1 || (!a.Custom() && multiValued(a.Value.Tag)) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonMultiValuedAttribute, "attribute %q has several instances; use Modify Attribute", a.Name)
	}
	if err := s.checkChange(ctx, r.version, o, a, existing); err != nil {
		return ttlv.Item{}, err
	}
	if len(existing) == 0 || !equalItems(existing[0].Value, a.Value) {
		if err := s.appendChanges(ctx, o, change{eventSet, []kmip.Attribute{a}}); err != nil {
			return ttlv.Item{}, err
		}
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// checkChange applies the rules every client change of an attribute obeys:
// not archived, not read-only, in a state that allows it, a valid value and
// a Name no other object has. existing is the instance set being modified
// (nil for an addition).
func (s *Service) checkChange(ctx context.Context, v kmip.ProtocolVersion, o *object, a kmip.Attribute, existing []kmip.Attribute) error {
	if o.archived() {
		return kmip.Errorf(ttlv.ResultReasonObjectArchived, "object %s is archived", o.row.UID)
	}
	rule := o.rule(a)
	if !rule.modify || internal(a.Name) {
		return readOnly(v, a.Name)
	}
	if !rule.allowedIn(o.state()) {
		return wrongState(v, "attribute %q cannot be changed while the object is %s", a.Name, o.state())
	}
	if err := checkValue(v, o, a); err != nil {
		return err
	}
	if !a.Custom() && a.Value.Tag == ttlv.TagName {
		taken, err := s.nameTaken(ctx, o, a)
		if err != nil {
			return err
		}
		if taken {
			return attrError(v, ttlv.ResultReasonNonUniqueNameAttribute, ttlv.ResultReasonIllegalOperation,
				"another object already has this name")
		}
	}
	return nil
}

// nameTaken reports whether a Name is already used: by this object or by
// any object that is not destroyed (KMIP 1.4 §3.2: a Name is unique within
// the key management domain). Destroyed objects keep their attributes but
// give up their names.
func (s *Service) nameTaken(ctx context.Context, self *object, name kmip.Attribute) (bool, error) {
	if self.has(name) {
		return true, nil
	}
	// Only the objects the name index gives as candidates (a superset of
	// those that have the name now), not every stored object.
	f := storage.Filter{Limit: locatePage}
	f.Name, _ = nameValue(name)
	for {
		recs, err := s.store.ListObjects(ctx, f)
		if err != nil {
			return false, fmt.Errorf("ops: check name: %w", err)
		}
		for _, rec := range recs {
			if rec.Object.UID == self.row.UID {
				continue
			}
			o, err := fold(rec.Object, rec.Events)
			if err != nil {
				continue
			}
			if !destroyed(o.state()) && o.has(name) {
				return true, nil
			}
		}
		if len(recs) < locatePage {
			return false, nil
		}
		f.After = recs[len(recs)-1].Object.UID
	}
}

// pickInstance chooses the instance an operation names: by its current
// value (2.x), by Attribute Index (1.x), or the only one there is.
func pickInstance(v kmip.ProtocolVersion, existing []kmip.Attribute, cur *kmip.Attribute, index int32) (int, error) {
	switch {
	case cur != nil:
		for i, a := range existing {
			if equalItems(a.Value, cur.Value) {
				return i, nil
			}
		}
		return 0, attrError(v, ttlv.ResultReasonAttributeInstanceNotFound, ttlv.ResultReasonItemNotFound,
			"no instance of %q has the current value", cur.Name)
	case index >= 0:
		if int(index) >= len(existing) {
			return 0, attrError(v, ttlv.ResultReasonAttributeInstanceNotFound, ttlv.ResultReasonItemNotFound,
				"attribute %q has no instance with index %d", existing[0].Name, index)
		}
		return int(index), nil
	case len(existing) > 1 && v.V2():
		return 0, kmip.Errorf(ttlv.ResultReasonAttributeInstanceNotFound,
			"attribute %q has several instances; name the current one", existing[0].Name)
	}
	return 0, nil
}

// singleAttr reads a 2.x New Attribute or Current Attribute structure,
// which holds exactly one attribute (tagged, or a Vendor Attribute).
func singleAttr(p ttlv.Item, tag ttlv.Tag) (kmip.Attribute, error) {
	it, ok := p.Find(tag)
	if !ok {
		return kmip.Attribute{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "%s is required", tag)
	}
	as, err := kmip.ParseAttributes2(it)
	if err != nil {
		return kmip.Attribute{}, err
	}
	if len(as) != 1 {
		return kmip.Attribute{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "%s must hold exactly one attribute", tag)
	}
	if _, known := ttlv.TagInfo(as[0].Value.Tag); !as[0].Custom() && !known {
		return kmip.Attribute{}, kmip.Errorf(ttlv.ResultReasonInvalidAttribute, "unknown attribute %s", as[0].Value.Tag)
	}
	return as[0], nil
}

// attr1 reads the 1.x Attribute of an Add or Modify Attribute request; Add
// must not carry an Attribute Index (KMIP 1.4 §4.14).
func attr1(p ttlv.Item, indexOK bool) (kmip.Attribute, error) {
	it, ok := p.Find(ttlv.TagAttribute)
	if !ok {
		return kmip.Attribute{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "attribute is required")
	}
	if _, has := it.Find(ttlv.TagAttributeIndex); has && !indexOK {
		return kmip.Attribute{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "Add Attribute takes no attribute index")
	}
	return kmip.ParseAttribute1(it)
}

// attrIndex reads the 1.x Attribute Index of a request (inside its
// Attribute, or at the payload level for Delete Attribute); 0 when absent.
func attrIndex(p ttlv.Item) int32 {
	if it, ok := p.Find(ttlv.TagAttribute); ok {
		p = it
	}
	if ix, ok := p.Find(ttlv.TagAttributeIndex); ok {
		v, _ := ix.Int32()
		return max(v, 0)
	}
	return 0
}

// canonicalName maps a 1.x attribute name to the canonical name (the newest
// specification's spelling), leaving custom names alone.
func canonicalName(n string) string {
	if isCustomName(n) {
		return n
	}
	if tag, ok := ttlv.TagByName(n); ok {
		return tag.String()
	}
	return n
}

// requestedOrder lists the attribute names a Get Attributes request asks
// for, in its order and without repeats (requestedNames has the set).
func requestedOrder(p ttlv.Item) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range p.Children() {
		var n string
		switch c.Tag {
		case ttlv.TagAttributeName:
			n, _ = c.TextValue()
			n = canonicalName(n)
		case ttlv.TagAttributeReference:
			n, _ = referenceName(c)
		default:
			continue
		}
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
