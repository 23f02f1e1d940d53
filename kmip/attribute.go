package kmip

import (
	"strings"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Attribute is the canonical, version-independent form of one attribute
// instance. Name is the KMIP 1.x Attribute Name ("Cryptographic Algorithm",
// or "x-..."/"y-..." for custom attributes). For a standard attribute Value
// carries the attribute's own tag (the KMIP 2.x form); for a custom one it
// carries TagAttributeValue.
type Attribute struct {
	Name  string
	Value ttlv.Item
}

// Attr builds the canonical attribute for a value item tagged with a
// standard attribute's tag.
func Attr(v ttlv.Item) Attribute { return Attribute{Name: v.Tag.String(), Value: v} }

// Custom reports whether the attribute is a client ("x-") or server ("y-")
// custom attribute (a Vendor Attribute in KMIP 2.x).
func (a Attribute) Custom() bool {
	return strings.HasPrefix(a.Name, "x-") || strings.HasPrefix(a.Name, "y-")
}

// ParseAttribute1 decodes a KMIP 1.x Attribute structure.
func ParseAttribute1(it ttlv.Item) (Attribute, error) {
	if it.Tag != ttlv.TagAttribute || it.Type != ttlv.TypeStructure {
		return Attribute{}, Errorf(ttlv.ResultReasonInvalidMessage, "expected an Attribute structure")
	}
	n, ok := it.Find(ttlv.TagAttributeName)
	if !ok {
		return Attribute{}, Errorf(ttlv.ResultReasonInvalidMessage, "attribute has no Attribute Name")
	}
	name, ok := n.TextValue()
	if !ok || name == "" {
		return Attribute{}, Errorf(ttlv.ResultReasonInvalidMessage, "Attribute Name must be a non-empty Text String")
	}
	v, ok := it.Find(ttlv.TagAttributeValue)
	if !ok {
		return Attribute{}, Errorf(ttlv.ResultReasonInvalidMessage, "attribute %q has no Attribute Value", name)
	}
	a := Attribute{Name: name, Value: v}
	if a.Custom() {
		return a, nil
	}
	tag, ok := ttlv.TagByName(name)
	if !ok {
		return Attribute{}, Errorf(ttlv.ResultReasonInvalidField, "unknown attribute %q", name)
	}
	a.Name = tag.String()
	a.Value.Tag = tag
	return a, nil
}

// TTLV1 encodes the attribute in the KMIP 1.x form. index is the Attribute
// Index, omitted when 0.
func (a Attribute) TTLV1(index int32) ttlv.Item {
	v := a.Value
	v.Tag = ttlv.TagAttributeValue
	it := ttlv.Struct(ttlv.TagAttribute, ttlv.Text(ttlv.TagAttributeName, a.Name))
	if index > 0 {
		it = it.Append(ttlv.Int(ttlv.TagAttributeIndex, index))
	}
	return it.Append(v)
}

// TTLV2 encodes the attribute in the KMIP 2.x form: the tagged value, or a
// Vendor Attribute for custom attributes.
func (a Attribute) TTLV2() ttlv.Item {
	if !a.Custom() {
		return a.Value
	}
	v := a.Value
	v.Tag = ttlv.TagAttributeValue
	return ttlv.Struct(ttlv.TagAttribute,
		ttlv.Text(ttlv.TagVendorIdentification, a.Name[:1]),
		ttlv.Text(ttlv.TagAttributeName, a.Name[2:]),
		v)
}

// ParseAttributes2 decodes the children of a KMIP 2.x Attributes structure
// (or of Common/Private/Public Key Attributes). A custom attribute is an
// Attribute structure there (the 2.x Vendor Attribute, KMIP 2.1 §4.60).
func ParseAttributes2(it ttlv.Item) ([]Attribute, error) {
	if it.Type != ttlv.TypeStructure {
		return nil, Errorf(ttlv.ResultReasonInvalidMessage, "%s must be a structure", it.Tag)
	}
	var out []Attribute
	for _, c := range it.Children() {
		if c.Tag != ttlv.TagAttribute {
			out = append(out, Attr(c))
			continue
		}
		vid, _ := c.Find(ttlv.TagVendorIdentification)
		vn, _ := c.Find(ttlv.TagAttributeName)
		vv, ok := c.Find(ttlv.TagAttributeValue)
		vendor, _ := vid.TextValue()
		name, _ := vn.TextValue()
		if vendor == "" || name == "" || !ok {
			return nil, Errorf(ttlv.ResultReasonInvalidMessage, "vendor attribute needs Vendor Identification, Attribute Name and Attribute Value")
		}
		out = append(out, Attribute{Name: vendor + "-" + name, Value: vv})
	}
	return out, nil
}

// TemplateAttribute is a KMIP 1.x Template-Attribute (or its Common,
// Private Key and Public Key variants, KMIP 1.4 §2.1.8): the names of the
// Template objects it refers to, in request order, and the attributes it
// gives explicitly. Templates were deprecated in KMIP 1.3 and removed in 2.0;
// resolving the names is the operations layer's job.
type TemplateAttribute struct {
	Templates  []string
	Attributes []Attribute
}

// ParseTemplateAttribute decodes a KMIP 1.x Template-Attribute (or its
// Common/Private/Public variants).
func ParseTemplateAttribute(it ttlv.Item) (TemplateAttribute, error) {
	var out TemplateAttribute
	if it.Type != ttlv.TypeStructure {
		return out, Errorf(ttlv.ResultReasonInvalidMessage, "%s must be a structure", it.Tag)
	}
	for _, c := range it.Children() {
		switch c.Tag {
		case ttlv.TagAttribute:
			a, err := ParseAttribute1(c)
			if err != nil {
				return TemplateAttribute{}, err
			}
			out.Attributes = append(out.Attributes, a)
		case ttlv.TagName:
			nv, ok := c.Find(ttlv.TagNameValue)
			name, isText := nv.TextValue()
			if c.Type != ttlv.TypeStructure || !ok || !isText || name == "" {
				return TemplateAttribute{}, Errorf(ttlv.ResultReasonInvalidField, "a template Name in %s needs a non-empty Name Value", it.Tag)
			}
			out.Templates = append(out.Templates, name)
		default:
			return TemplateAttribute{}, Errorf(ttlv.ResultReasonInvalidMessage, "unexpected %s in %s", c.Tag, it.Tag)
		}
	}
	return out, nil
}

// ParseTemplate decodes the attributes of a KMIP 1.x Template managed
// object (KMIP 1.4 §2.2.6): a structure of Attribute structures.
func ParseTemplate(it ttlv.Item) ([]Attribute, error) {
	if it.Tag != ttlv.TagTemplate || it.Type != ttlv.TypeStructure {
		return nil, Errorf(ttlv.ResultReasonInvalidMessage, "expected a Template structure")
	}
	var out []Attribute
	for _, c := range it.Children() {
		if c.Tag != ttlv.TagAttribute {
			return nil, Errorf(ttlv.ResultReasonInvalidMessage, "unexpected %s in Template", c.Tag)
		}
		a, err := ParseAttribute1(c)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// RequestAttributes reads the attributes a Create, Register or Re-key
// payload carries, in whichever form the version uses (a 2.x client may
// still send a Template-Attribute; a 1.x client never sends Attributes).
// The 2.x form names no templates.
func RequestAttributes(payload ttlv.Item) (TemplateAttribute, error) {
	if a, ok := payload.Find(ttlv.TagAttributes); ok {
		attrs, err := ParseAttributes2(a)
		return TemplateAttribute{Attributes: attrs}, err
	}
	if t, ok := payload.Find(ttlv.TagTemplateAttribute); ok {
		return ParseTemplateAttribute(t)
	}
	return TemplateAttribute{}, nil
}

// EncodeAttributes encodes attributes for a response in the version's form:
// a list of Attribute structures for 1.x (indexed per name), an Attributes
// structure for 2.x.
func EncodeAttributes(v ProtocolVersion, attrs []Attribute) []ttlv.Item {
	if v.V2() {
		s := ttlv.Struct(ttlv.TagAttributes)
		for _, a := range attrs {
			s = s.Append(a.TTLV2())
		}
		return []ttlv.Item{s}
	}
	out := make([]ttlv.Item, 0, len(attrs))
	seen := map[string]int32{}
	for _, a := range attrs {
		out = append(out, a.TTLV1(seen[a.Name]))
		seen[a.Name]++
	}
	return out
}
