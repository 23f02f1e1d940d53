package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// visible reports whether an attribute exists in the client's protocol
// version: a 1.0 client must never see "Fresh", nor a 1.x client "Key
// Format Type" or "Original Creation Date".
func visible(v kmip.ProtocolVersion, a kmip.Attribute) bool {
	if internal(a.Name) {
		return false
	}
	if a.Custom() {
		return true
	}
	if !v.V2() && attributeSince2(a.Value.Tag) {
		return false
	}
	return tagInVersion(v, a.Value.Tag)
}

// visibleAttrs returns the object's attributes the version knows.
func (o *object) visibleAttrs(v kmip.ProtocolVersion) []kmip.Attribute {
	var out []kmip.Attribute
	for _, a := range o.attrs {
		if visible(v, a) {
			out = append(out, a)
		}
	}
	return out
}

// getAttributes handles Get Attributes (KMIP 1.4 §4.12, 2.1 §6.1.20),
// answering 1.x clients with Attribute structures and 2.x clients with an
// Attributes structure. mongod checks "State" this way at every start.
func (s *Service) getAttributes(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	names, err := requestedNames(p)
	if err != nil {
		return ttlv.Item{}, err
	}
	var out []kmip.Attribute
	if names == nil {
		out = o.visibleAttrs(r.version)
	}
	// Requested attributes come back in the order the client named them.
	for _, n := range requestedOrder(p) {
		for _, a := range o.visibleAttrs(r.version) {
			if a.Name == n {
				out = append(out, a)
			}
		}
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	return resp.Append(kmip.EncodeAttributes(r.version, out)...), nil
}

// requestedNames reads the attribute names a Get Attributes request asks
// for (1.x Attribute Name text, 2.x Attribute Reference); nil means all.
func requestedNames(p ttlv.Item) (map[string]bool, error) {
	var names map[string]bool
	add := func(n string) {
		if names == nil {
			names = map[string]bool{}
		}
		names[n] = true
	}
	for _, c := range p.Children() {
		switch c.Tag {
		case ttlv.TagAttributeName:
			n, ok := c.TextValue()
			if !ok {
				return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "attribute name must be a Text String")
			}
			if tag, ok := ttlv.TagByName(n); ok && !isCustomName(n) {
				n = tag.String()
			}
			add(n)
		case ttlv.TagAttributeReference:
			n, err := referenceName(c)
			if err != nil {
				return nil, err
			}
			add(n)
		}
	}
	return names, nil
}

func isCustomName(n string) bool {
	return len(n) > 2 && (n[:2] == "x-" || n[:2] == "y-")
}

// referenceName reads a KMIP 2.x Attribute Reference: an Enumeration whose
// value is the attribute's tag, or a vendor structure.
func referenceName(c ttlv.Item) (string, error) {
	if v, ok := c.EnumValue(); ok {
		return ttlv.Tag(v).String(), nil
	}
	vid, _ := c.Find(ttlv.TagVendorIdentification)
	an, _ := c.Find(ttlv.TagAttributeName)
	vendor, _ := vid.TextValue()
	name, _ := an.TextValue()
	if vendor == "" || name == "" {
		return "", kmip.Errorf(ttlv.ResultReasonInvalidMessage, "attribute reference must be a tag or a vendor attribute")
	}
	return vendor + "-" + name, nil
}
