package ops

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Template managed objects (KMIP 1.4 §2.2.6, deprecated in 1.3, removed in
// 2.0): a named set of client-settable attributes that Create, Create Key
// Pair, Register and Re-key apply when their Template-Attribute names it.
//
// A template is stored as an ordinary object row with no blob (nothing goes
// to the HSM). Its attributes are the template's content (Cryptographic
// Algorithm, Length, Usage Mask, ... which KMIP 1.4 §3 lists as applying to
// Templates) plus the ones every object has (Unique Identifier, Object Type,
// Name, Initial and Last Change Date); it has no State while it lives, so
// the lifecycle dates it carries never move it, and Destroy gives it State
// Destroyed like any object, after which its name no longer resolves. Names
// are unique among live templates. KMIP 2.x clients neither see templates
// nor may name them.

// templateOps are the operations that apply to a Template object (KMIP 1.4
// Appendix D); any other is refused with Illegal Operation (§11.20, §11.21).
func templateOp(op ttlv.Operation) bool {
	switch op {
	case ttlv.OperationGet, ttlv.OperationGetAttributes, ttlv.OperationGetAttributeList,
		ttlv.OperationAddAttribute, ttlv.OperationModifyAttribute, ttlv.OperationDeleteAttribute,
		ttlv.OperationArchive, ttlv.OperationRecover, ttlv.OperationDestroy:
		return true
	}
	return false
}

// isTemplate reports whether the object is a Template.
func (o *object) isTemplate() bool { return o.objectType() == ttlv.ObjectTypeTemplate }

// checkTemplateTarget refuses operations a template does not take, and
// every operation on a template from a KMIP 2.x client.
func checkTemplateTarget(r *request, o *object) error {
	if !o.isTemplate() {
		return nil
	}
	if r.version.V2() {
		return kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "object %s is a Template, which KMIP %s does not define", o.row.UID, r.version)
	}
	if !templateOp(r.op) {
		return kmip.Errorf(ttlv.ResultReasonIllegalOperation, "object %s is a Template: %s does not apply to it", o.row.UID, r.op)
	}
	return nil
}

// errNoTemplates answers a KMIP 2.x request that uses templates.
func errNoTemplates(v kmip.ProtocolVersion) error {
	return kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "KMIP %s has no Template objects (removed in KMIP 2.0)", v)
}

// requestAttrs reads the attributes of a Create, Register or Re-key payload
// with the templates its Template-Attribute names applied.
func (s *Service) requestAttrs(ctx context.Context, r *request, p ttlv.Item) ([]kmip.Attribute, error) {
	ta, err := kmip.RequestAttributes(p)
	if err != nil {
		return nil, err
	}
	return s.expandTemplates(ctx, r, ta)
}

// expandTemplates applies a Template-Attribute's templates and then its
// explicit attributes (KMIP 1.4 §4): for a single-instance attribute the
// last template that sets it wins over earlier ones and an explicit value
// wins over every template; multi-instance attributes are the union.
func (s *Service) expandTemplates(ctx context.Context, r *request, ta kmip.TemplateAttribute) ([]kmip.Attribute, error) {
	if len(ta.Templates) == 0 {
		return ta.Attributes, nil
	}
	if r.version.V2() {
		return nil, errNoTemplates(r.version)
	}
	var base []kmip.Attribute
	for _, name := range ta.Templates {
		tpl, err := s.findTemplate(ctx, r, name)
		if err != nil {
			return nil, err
		}
		base = mergeAttrs(base, tpl.templateContent())
	}
	return mergeAttrs(base, ta.Attributes), nil
}

// mergeAttrs lays over on top of base: every single-instance attribute over
// sets replaces base's instances; multi-instance ones are added unless base
// already has the same value. Instances within over are kept as they are,
// so that checkTemplate still refuses two values of a single-instance
// attribute given in one place.
func mergeAttrs(base, over []kmip.Attribute) []kmip.Attribute {
	replaced := func(a kmip.Attribute) bool {
		if multiInstance(a) {
			return false
		}
		for _, o := range over {
			if o.Name == a.Name {
				return true
			}
		}
		return false
	}
	out := make([]kmip.Attribute, 0, len(base)+len(over))
	for _, a := range base {
		if !replaced(a) {
			out = append(out, a)
		}
	}
	for _, a := range over {
		if !multiInstance(a) || !hasInstance(base, a) {
			out = append(out, a)
		}
	}
	return out
}

// templateContent is what a template gives the objects made from it: its
// client-settable attributes other than its own Name and Object Type.
func (o *object) templateContent() []kmip.Attribute {
	var out []kmip.Attribute
	for _, a := range o.attrs {
		if templateField(a) {
			out = append(out, a)
		}
	}
	return out
}

// templateField reports whether an attribute of a template is part of its
// content (applied to new objects, returned by Get in the Template).
func templateField(a kmip.Attribute) bool {
	if internal(a.Name) {
		return false
	}
	if a.Custom() {
		return a.Name[0] == 'x'
	}
	switch a.Value.Tag {
	case ttlv.TagName, ttlv.TagObjectType:
		return false
	}
	return clientSettable(a.Value.Tag)
}

// liveTemplates returns the templates that are not destroyed and have the
// Name value name.
func (s *Service) liveTemplates(ctx context.Context, name string) ([]*object, error) {
	f := storage.Filter{ObjectType: uint32(ttlv.ObjectTypeTemplate), Name: name, Limit: locatePage}
	var out []*object
	for {
		recs, err := s.store.ListObjects(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("ops: find template: %w", err)
		}
		for _, rec := range recs {
			o, err := fold(rec.Object, rec.Events)
			if err != nil {
				s.log.Error("ops: template lookup skipped an unreadable object", "uid", rec.Object.UID, "err", err)
				continue
			}
			if destroyed(o.state()) {
				continue
			}
			for _, a := range o.all(ttlv.TagName.String()) {
				if v, ok := nameValue(a); ok && v == name {
					out = append(out, o)
					break
				}
			}
		}
		if len(recs) < locatePage {
			return out, nil
		}
		f.After = recs[len(recs)-1].Object.UID
	}
}

// findTemplate resolves a template name in a Template-Attribute: a live
// template the caller may see (ownership as for any object), not archived,
// whose stored row passes its integrity check.
func (s *Service) findTemplate(ctx context.Context, r *request, name string) (*object, error) {
	found, err := s.liveTemplates(ctx, name)
	if err != nil {
		return nil, err
	}
	visible, err := s.visibility(ctx, r.caller)
	if err != nil {
		return nil, err
	}
	for _, c := range found {
		if !visible(c) {
			continue
		}
		// Read it again through load: the row MAC and event MACs are
		// checked before its attributes are used.
		o, err := s.loadQuiet(ctx, c.row.UID)
		if err != nil {
			return nil, err
		}
		if o.archived() {
			return nil, kmip.Errorf(ttlv.ResultReasonObjectArchived, "template %q is archived; recover it first", name)
		}
		return o, nil
	}
	return nil, kmip.Errorf(ttlv.ResultReasonItemNotFound, "no template named %q", name)
}

// registerTemplate handles Register of a Template (KMIP 1.x only). The
// Template structure holds the content; the Register's Template-Attribute
// holds the template's own attributes, at least one Name, which no live
// template may already have (KMIP 1.4 §11.4: Invalid Field for a Name inside
// the Template and for a Name already taken).
func (s *Service) registerTemplate(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	if r.version.V2() {
		return ttlv.Item{}, errNoTemplates(r.version)
	}
	obj, ok := p.Find(ttlv.TagTemplate)
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "the Template object is missing")
	}
	content, err := kmip.ParseTemplate(obj)
	if err != nil {
		return ttlv.Item{}, err
	}
	for _, a := range content {
		if a.Custom() {
			continue
		}
		switch a.Value.Tag {
		case ttlv.TagName:
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "a Template's Name goes in the Register's Template-Attribute, not in the Template")
		case ttlv.TagObjectType:
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "a Template cannot carry an Object Type")
		}
	}
	ta, err := kmip.RequestAttributes(p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if len(ta.Templates) > 0 {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "a Template cannot be registered from other templates")
	}
	t, err := checkTemplate(append(append([]kmip.Attribute(nil), ta.Attributes...), content...), ttlv.ObjectTypeTemplate)
	if err != nil {
		return ttlv.Item{}, err
	}
	names := nameHints(t.attrs)
	if len(names) == 0 {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "a Template needs a Name")
	}
	for _, n := range names {
		taken, err := s.liveTemplates(ctx, n)
		if err != nil {
			return ttlv.Item{}, err
		}
		if len(taken) > 0 {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "a template named %q already exists", n)
		}
	}
	uid := uuid.NewString()
	now := s.now()
	attrs := []kmip.Attribute{
		kmip.Attr(ttlv.Text(ttlv.TagUniqueIdentifier, uid)),
		kmip.Attr(ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate))),
		dateAttr(ttlv.TagInitialDate, now),
		dateAttr(ttlv.TagLastChangeDate, now),
	}
	for _, a := range t.attrs {
		if a.Custom() || a.Value.Tag != ttlv.TagObjectType {
			attrs = append(attrs, a)
		}
	}
	// The row's algorithm and length (Locate filters on them) are the
	// template's: clients cannot change either later (attribute_rules.go).
	if err := s.storeObject(ctx, uid, ttlv.ObjectTypeTemplate, t.algorithm, t.length, hsm.Wrapped{}, attrs, now); err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = uid
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// getTemplate answers Get of a Template: the Template structure with the
// template's content attributes (KMIP 1.4 §2.2.6).
func getTemplate(r *request, o *object) (ttlv.Item, error) {
	if destroyed(o.state()) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonItemNotFound, "template %s was destroyed", o.row.UID)
	}
	if o.archived() {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonObjectArchived, "template %s is archived; recover it first", o.row.UID)
	}
	var content []kmip.Attribute
	for _, a := range o.templateContent() {
		if visible(r.version, a) {
			content = append(content, a)
		}
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate)),
		ttlv.Text(ttlv.TagUniqueIdentifier, o.row.UID),
		ttlv.Struct(ttlv.TagTemplate, kmip.EncodeAttributes(r.version, content)...)), nil
}

// templateRule is the client rule of a template's attribute: the rule of
// the attribute tables, without the lifecycle-state limits (a template has
// no state). Deleting a template's last Name is refused separately
// (lastTemplateName).
func templateRule(a kmip.Attribute) clientRule {
	rule := ruleFor(a)
	rule.states = nil
	return rule
}

// lastTemplateName reports whether deleting the instance would leave a
// template without a Name.
func lastTemplateName(o *object, gone []kmip.Attribute) bool {
	if !o.isTemplate() {
		return false
	}
	left := len(o.all(ttlv.TagName.String()))
	for _, g := range gone {
		if !g.Custom() && g.Value.Tag == ttlv.TagName {
			left--
		}
	}
	return left < 1
}
