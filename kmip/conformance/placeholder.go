package conformance

import (
	"bytes"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// placeholderRE is the form of the test cases' placeholders: "$NAME", with
// a signed number of seconds after $NOW ("$NOW-3600").
var placeholderRE = regexp.MustCompile(`^\$([A-Z][A-Z0-9_]*?)([+-][0-9]+)?$`)

// placeholder is one parsed "$..." value.
type placeholder struct {
	name   string // "UNIQUE_IDENTIFIER_0", "NOW"
	now    bool   // $NOW, $NOW+s, $NOW-s
	offset time.Duration
}

func (p placeholder) String() string {
	if p.now && p.offset != 0 {
		return fmt.Sprintf("$NOW%+d", int64(p.offset/time.Second))
	}
	return "$" + p.name
}

// parsePlaceholder recognises a placeholder value: a ttlv.Placeholder (the
// XML decoder keeps "$..." values of non-text types as such) or a Text
// String of the same form.
func parsePlaceholder(it ttlv.Item) (placeholder, bool) {
	var s string
	switch v := it.Value.(type) {
	case ttlv.Placeholder:
		s = string(v)
	case string:
		if it.Type != ttlv.TypeTextString {
			return placeholder{}, false
		}
		s = v
	default:
		return placeholder{}, false
	}
	m := placeholderRE.FindStringSubmatch(s)
	if m == nil {
		return placeholder{}, false
	}
	p := placeholder{name: m[1]}
	if m[1] == "NOW" {
		p.now = true
		if m[2] != "" {
			n, err := strconv.ParseInt(m[2], 10, 32)
			if err != nil {
				return placeholder{}, false
			}
			p.offset = time.Duration(n) * time.Second
		}
	} else if m[2] != "" {
		return placeholder{}, false
	}
	return p, true
}

// binding is a captured value.
type binding struct {
	typ   ttlv.Type
	value any
}

// equalValues compares two primitive values of the same item type.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x != nil && y != nil && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return a == b
}

// effectiveTag is the tag that gives an item its meaning: the attribute a
// KMIP 1.x Attribute Value belongs to (named by its Attribute Name sibling),
// else the item's own tag.
func effectiveTag(it ttlv.Item, attrName ttlv.Tag) ttlv.Tag {
	if it.Tag == ttlv.TagAttributeValue && attrName != 0 {
		return attrName
	}
	return it.Tag
}

// attributeNameTag returns the tag named by a 1.x Attribute Name item, or 0.
func attributeNameTag(it ttlv.Item) ttlv.Tag {
	if it.Tag != ttlv.TagAttributeName {
		return 0
	}
	s, _ := it.TextValue()
	if t, ok := ttlv.TagByName(s); ok {
		return t
	}
	return 0
}

// substitute returns req with every placeholder replaced: $NOW±s by the
// current time, a captured name by its value. A name not captured yet takes
// the last value of the same tag that a response carried (the KMIP 1.4
// cases show some server-chosen values as literals in the response and
// name them only in the next request, as CS-BC-M-13-14 does with $DATA_0 and
// $IV_COUNTER_NONCE), and is captured from then on.
func (s *state) substitute(it ttlv.Item, attrName ttlv.Tag) (ttlv.Item, error) {
	if it.Type == ttlv.TypeStructure {
		children := it.Children()
		out := make([]ttlv.Item, len(children))
		var an ttlv.Tag
		for i, c := range children {
			v, err := s.substitute(c, an)
			if err != nil {
				return ttlv.Item{}, err
			}
			out[i] = v
			if t := attributeNameTag(c); t != 0 {
				an = t
			}
		}
		it.Value = out
		return it, nil
	}
	p, ok := parsePlaceholder(it)
	if !ok {
		return it, nil
	}
	tag := effectiveTag(it, attrName)
	if p.now {
		t := s.now().Add(p.offset)
		switch it.Type {
		case ttlv.TypeDateTime:
			it.Value = t.UTC().Truncate(time.Second)
		case ttlv.TypeDateTimeExtended:
			it.Value = t.UTC().Truncate(time.Microsecond)
		default:
			return ttlv.Item{}, fmt.Errorf("%s in a %s of type %s, not a date", p, tag, it.Type)
		}
		return it, nil
	}
	b, ok := s.vars[p.name]
	if !ok {
		b, ok = s.lastByTag[tag]
		if !ok || b.typ != it.Type {
			return ttlv.Item{}, fmt.Errorf("%s in a request before any response gave a value for it", p)
		}
		s.vars[p.name] = b
	}
	if b.typ != it.Type {
		return ttlv.Item{}, fmt.Errorf("%s was captured as %s but a request uses it as %s", p, b.typ, it.Type)
	}
	it.Value = b.value
	return it, nil
}

// record remembers the last value of every primitive item of a response,
// by effective tag, for substitute's implicit capture.
func (s *state) record(it ttlv.Item, attrName ttlv.Tag) {
	if it.Type != ttlv.TypeStructure {
		s.lastByTag[effectiveTag(it, attrName)] = binding{typ: it.Type, value: it.Value}
		return
	}
	var an ttlv.Tag
	for _, c := range it.Children() {
		s.record(c, an)
		if t := attributeNameTag(c); t != 0 {
			an = t
		}
	}
}
