package ttlv

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The KMIP XML encoding (KMIP Profiles 1.4 §5.4, as the OASIS test cases use
// it): one element per item, named by the tag's XML name, with a type
// attribute (absent for Structure) and a value attribute. Tags the table
// does not know are written <TTLV tag="0x54XXXX" type="...">.

// Placeholder is the Value UnmarshalXML keeps for a "$NAME" value (as in
// "$NOW" or "$DATA_1" in the OASIS test cases) of a type the text cannot be
// converted to. Encode and MarshalXML reject it unless substituted;
// MarshalXML writes it back verbatim.
type Placeholder string

// XMLOptions adjusts XML decoding.
type XMLOptions struct {
	// Placeholders, when not nil, is asked for the value of every "$..."
	// value that is not a Text String. It returns the Go value for typ (as
	// documented on Item) and true, or false to keep a Placeholder.
	Placeholders func(tag Tag, typ Type, raw string) (any, bool)
	// Limits bounds the decoded tree; zero fields take the defaults. MaxSize
	// bounds the XML text of one top-level element.
	Limits Limits
}

// MarshalXML encodes it in the KMIP XML encoding, indented by two spaces as
// in the OASIS test cases.
func MarshalXML(it Item) ([]byte, error) {
	var b bytes.Buffer
	if err := writeXML(&b, it, 0, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeXML writes one element; valueTag is as for XMLDecoder.element.
func writeXML(b *bytes.Buffer, it Item, depth int, valueTag Tag) error {
	if depth >= maxEncodeDepth {
		return fmt.Errorf("ttlv: xml encoding %s: %w", it.Tag, ErrTooDeep)
	}
	indent := strings.Repeat("  ", depth)
	name := it.Tag.XMLName()
	b.WriteString(indent)
	b.WriteByte('<')
	if name == "" {
		name = "TTLV"
		fmt.Fprintf(b, `TTLV tag="0x%06X"`, uint32(it.Tag))
	} else {
		b.WriteString(name)
	}
	if it.Type == TypeStructure {
		children, ok := it.Value.([]Item)
		if !ok && it.Value != nil {
			return fmt.Errorf("ttlv: xml encoding %s: value of Go type %T is not []Item: %w", it.Tag, it.Value, ErrInvalidItem)
		}
		if name == "TTLV" {
			b.WriteString(` type="Structure"`)
		}
		if len(children) == 0 {
			b.WriteString("/>\n")
			return nil
		}
		b.WriteString(">\n")
		var attrTag Tag
		for _, c := range children {
			vt := Tag(0)
			if c.Tag == TagAttributeValue {
				vt = attrTag
			}
			if err := writeXML(b, c, depth+1, vt); err != nil {
				return err
			}
			if c.Tag == TagAttributeName {
				attrTag = attributeTag(c)
			}
		}
		fmt.Fprintf(b, "%s</%s>\n", indent, name)
		return nil
	}
	vi := it
	if valueTag != 0 {
		vi.Tag = valueTag
	}
	v, err := xmlValue(vi)
	if err != nil {
		return fmt.Errorf("ttlv: xml encoding %s: %w", it.Tag, err)
	}
	fmt.Fprintf(b, ` type="%s" value="`, it.Type)
	if err := xml.EscapeText(b, []byte(v)); err != nil {
		return fmt.Errorf("ttlv: xml encoding %s: %w", it.Tag, err)
	}
	b.WriteString("\"/>\n")
	return nil
}

// xmlValue renders a primitive item's value attribute.
func xmlValue(it Item) (string, error) {
	if p, ok := it.Value.(Placeholder); ok {
		return string(p), nil
	}
	bad := fmt.Errorf("ttlv: xml encoding %s: value of Go type %T does not suit item type %s: %w", it.Tag, it.Value, it.Type, ErrInvalidItem)
	switch it.Type {
	case TypeInteger:
		v, ok := it.Value.(int32)
		if !ok {
			return "", bad
		}
		if v != 0 {
			if names, ok := maskNames(it.Tag, uint32(v), true); ok {
				return strings.Join(names, " "), nil
			}
		}
		return strconv.FormatInt(int64(v), 10), nil
	case TypeLongInteger:
		v, ok := it.Value.(int64)
		if !ok {
			return "", bad
		}
		return strconv.FormatInt(v, 10), nil
	case TypeBigInteger:
		v, ok := it.Value.(*big.Int)
		if !ok || v == nil {
			return "", bad
		}
		return hex.EncodeToString(bigToTwos(v)), nil
	case TypeEnumeration:
		v, ok := it.Value.(uint32)
		if !ok {
			return "", bad
		}
		if n, ok := enumXMLName(it.Tag, v); ok {
			return n, nil
		}
		return fmt.Sprintf("0x%08X", v), nil
	case TypeBoolean:
		v, ok := it.Value.(bool)
		if !ok {
			return "", bad
		}
		return strconv.FormatBool(v), nil
	case TypeTextString:
		v, ok := it.Value.(string)
		if !ok {
			return "", bad
		}
		return v, nil
	case TypeByteString:
		v, ok := it.Value.([]byte)
		if !ok && it.Value != nil {
			return "", bad
		}
		return hex.EncodeToString(v), nil
	case TypeDateTime:
		v, ok := it.Value.(time.Time)
		if !ok {
			return "", bad
		}
		if y := v.UTC().Year(); y < 0 || y > 9999 {
			// ISO 8601 has no four-digit form; keep the wire value.
			return fmt.Sprintf("0x%016X", uint64(v.Unix())), nil
		}
		return v.UTC().Format("2006-01-02T15:04:05+00:00"), nil
	case TypeDateTimeExtended:
		v, ok := it.Value.(time.Time)
		if !ok {
			return "", bad
		}
		if y := v.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Sprintf("0x%016X", uint64(v.UnixMicro())), nil
		}
		return v.UTC().Format("2006-01-02T15:04:05.000000+00:00"), nil
	case TypeInterval:
		v, ok := it.Value.(uint32)
		if !ok {
			return "", bad
		}
		return strconv.FormatUint(uint64(v), 10), nil
	}
	return "", fmt.Errorf("ttlv: xml encoding %s: unknown item type 0x%02X: %w", it.Tag, uint8(it.Type), ErrInvalidItem)
}

// UnmarshalXML decodes one KMIP XML element (a Request or Response Message,
// or any item). Values written "$NAME" that are not Text Strings are kept as
// Placeholder values; use an XMLDecoder with XMLOptions.Placeholders to
// substitute them while decoding.
func UnmarshalXML(data []byte) (Item, error) {
	d := NewXMLDecoder(bytes.NewReader(data), XMLOptions{Limits: Limits{MaxSize: len(data) + 1}})
	it, err := d.Next()
	if errors.Is(err, io.EOF) {
		return Item{}, fmt.Errorf("ttlv: xml: no element: %w", ErrMalformed)
	}
	if err != nil {
		return Item{}, err
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		if err == nil {
			return Item{}, fmt.Errorf("ttlv: xml: more than one top-level element (use XMLDecoder): %w", ErrMalformed)
		}
		return Item{}, err
	}
	return it, nil
}

// XMLDecoder reads successive top-level KMIP XML elements from a stream,
// such as an OASIS test case: a sequence of RequestMessage and
// ResponseMessage elements, possibly inside a <KMIP> root, with comments.
type XMLDecoder struct {
	d    *xml.Decoder
	opts XMLOptions
	lim  Limits
}

// NewXMLDecoder returns a decoder reading from r.
func NewXMLDecoder(r io.Reader, opts XMLOptions) *XMLDecoder {
	d := xml.NewDecoder(r)
	d.Strict = true
	return &XMLDecoder{d: d, opts: opts, lim: opts.Limits.withDefaults()}
}

// Next returns the next top-level element, or io.EOF after the last.
func (x *XMLDecoder) Next() (Item, error) {
	for {
		tok, err := x.d.Token()
		if errors.Is(err, io.EOF) {
			return Item{}, io.EOF
		}
		if err != nil {
			return Item{}, fmt.Errorf("ttlv: xml: %w (%w)", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "KMIP" {
				continue // the test cases' root wrapper
			}
			start := x.d.InputOffset()
			return x.element(t, 1, start, 0)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return Item{}, fmt.Errorf("ttlv: xml: text %q outside any element: %w", truncate(string(t)), ErrMalformed)
			}
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// element decodes the element whose start tag was just read. valueTag, when
// not zero, is the tag whose enumeration or mask names the value (the
// attribute a KMIP 1.x Attribute Value belongs to).
func (x *XMLDecoder) element(se xml.StartElement, depth int, start int64, valueTag Tag) (Item, error) {
	if x.d.InputOffset()-start > int64(x.lim.MaxSize) {
		return Item{}, fmt.Errorf("ttlv: xml: element exceeds %d bytes: %w", x.lim.MaxSize, ErrTooLarge)
	}
	var typeAttr, valueAttr, tagAttr string
	var hasValue bool
	for _, a := range se.Attr {
		switch a.Name.Local {
		case "type":
			typeAttr = a.Value
		case "value":
			valueAttr, hasValue = a.Value, true
		case "tag":
			tagAttr = a.Value
		}
	}
	var tag Tag
	name := se.Name.Local
	if name == "TTLV" {
		t, ok := TagByName(tagAttr)
		if !ok {
			return Item{}, fmt.Errorf("ttlv: xml: TTLV element with tag %q: %w", tagAttr, ErrUnknownName)
		}
		tag = t
	} else {
		t, ok := TagByName(name)
		if !ok {
			return Item{}, fmt.Errorf("ttlv: xml: element <%s> is not a KMIP tag: %w", name, ErrUnknownName)
		}
		tag = t
	}
	typ := TypeStructure
	if typeAttr != "" {
		t, ok := typeByXMLName(typeAttr)
		if !ok {
			return Item{}, fmt.Errorf("ttlv: xml: <%s> has unknown type %q: %w", name, typeAttr, ErrMalformed)
		}
		typ = t
	}
	it := Item{Tag: tag, Type: typ}
	if typ == TypeStructure {
		if depth > x.lim.MaxDepth {
			return Item{}, fmt.Errorf("ttlv: xml: <%s> nested deeper than %d: %w", name, x.lim.MaxDepth, ErrTooDeep)
		}
		children := []Item{}
		var attrTag Tag // set by an Attribute Name child
		for {
			tok, err := x.d.Token()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return Item{}, fmt.Errorf("ttlv: xml: in <%s>: %w (%w)", name, ErrMalformed, err)
			}
			switch t := tok.(type) {
			case xml.StartElement:
				vt := Tag(0)
				if t.Name.Local == "AttributeValue" {
					vt = attrTag
				}
				c, err := x.element(t, depth+1, start, vt)
				if err != nil {
					return Item{}, err
				}
				if c.Tag == TagAttributeName {
					attrTag = attributeTag(c)
				}
				children = append(children, c)
			case xml.EndElement:
				it.Value = children
				return it, nil
			case xml.CharData:
				if len(bytes.TrimSpace(t)) != 0 {
					return Item{}, fmt.Errorf("ttlv: xml: text %q inside structure <%s>: %w", truncate(string(t)), name, ErrMalformed)
				}
			}
		}
	}
	if !hasValue {
		return Item{}, fmt.Errorf("ttlv: xml: <%s type=%q> has no value attribute: %w", name, typeAttr, ErrMalformed)
	}
	if err := x.d.Skip(); err != nil {
		return Item{}, fmt.Errorf("ttlv: xml: in <%s>: %w (%w)", name, ErrMalformed, err)
	}
	vtag := tag
	if valueTag != 0 {
		vtag = valueTag
	}
	v, err := x.parseValue(vtag, typ, valueAttr)
	if err != nil {
		return Item{}, fmt.Errorf("ttlv: xml: <%s type=%q value=%q>: %w", name, typeAttr, truncate(valueAttr), err)
	}
	it.Value = v
	return it, nil
}

// attributeTag returns the tag a KMIP 1.x Attribute Name names, or 0.
func attributeTag(name Item) Tag {
	s, _ := name.TextValue()
	if t, ok := TagByName(s); ok {
		return t
	}
	return 0
}

func (x *XMLDecoder) parseValue(tag Tag, typ Type, s string) (any, error) {
	if strings.HasPrefix(s, "$") && typ != TypeTextString {
		if x.opts.Placeholders != nil {
			if v, ok := x.opts.Placeholders(tag, typ, s); ok {
				if _, err := appendItem(nil, Item{Tag: tag, Type: typ, Value: v}, 0); err != nil {
					return nil, fmt.Errorf("substituted value: %w", err)
				}
				return v, nil
			}
		}
		return Placeholder(s), nil
	}
	return parseXMLValue(tag, typ, s)
}

// parseXMLValue converts a value attribute to the Go value for typ.
func parseXMLValue(tag Tag, typ Type, s string) (any, error) {
	switch typ {
	case TypeInteger:
		if v, err := parseInt(s, 32); err == nil {
			return int32(v), nil
		}
		if v, ok := MaskByNames(tag, strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '|' })...); ok && s != "" {
			return int32(v), nil
		}
		return nil, fmt.Errorf("not an Integer or mask names: %w", ErrMalformed)
	case TypeLongInteger:
		v, err := parseInt(s, 64)
		if err != nil {
			return nil, fmt.Errorf("not a Long Integer: %w", ErrMalformed)
		}
		return v, nil
	case TypeBigInteger:
		h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b, err := hex.DecodeString(h)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("not hexadecimal Big Integer: %w", ErrMalformed)
		}
		return twosToBig(b), nil
	case TypeEnumeration:
		v, ok := EnumByName(tag, s)
		if !ok {
			return nil, fmt.Errorf("unknown %s value: %w", tag, ErrUnknownName)
		}
		return v, nil
	case TypeBoolean:
		switch s {
		case "true", "1", "0x0000000000000001":
			return true, nil
		case "false", "0", "0x0000000000000000":
			return false, nil
		}
		return nil, fmt.Errorf("not a Boolean: %w", ErrMalformed)
	case TypeTextString:
		return s, nil
	case TypeByteString:
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not hexadecimal: %w", ErrMalformed)
		}
		return b, nil
	case TypeDateTime, TypeDateTimeExtended:
		if strings.HasPrefix(s, "0x") {
			v, err := strconv.ParseUint(s[2:], 16, 64)
			if err != nil {
				return nil, fmt.Errorf("not a hexadecimal date: %w", ErrMalformed)
			}
			if typ == TypeDateTime {
				return time.Unix(int64(v), 0).UTC(), nil
			}
			return time.UnixMicro(int64(v)).UTC(), nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("not an ISO 8601 date: %w", ErrMalformed)
		}
		if typ == TypeDateTime {
			return t.UTC().Truncate(time.Second), nil
		}
		return t.UTC().Truncate(time.Microsecond), nil
	case TypeInterval:
		v, err := parseUint(s, 32)
		if err != nil {
			return nil, fmt.Errorf("not an Interval: %w", ErrMalformed)
		}
		return uint32(v), nil
	}
	return nil, fmt.Errorf("unknown item type: %w", ErrMalformed)
}

// parseInt accepts decimal or "0x" two's complement hexadecimal.
func parseInt(s string, bits int) (int64, error) {
	if strings.HasPrefix(s, "0x") {
		u, err := strconv.ParseUint(s[2:], 16, bits)
		if err != nil {
			return 0, err
		}
		if bits == 32 {
			return int64(int32(uint32(u))), nil
		}
		return int64(u), nil
	}
	return strconv.ParseInt(s, 10, bits)
}

func parseUint(s string, bits int) (uint64, error) {
	if strings.HasPrefix(s, "0x") {
		return strconv.ParseUint(s[2:], 16, bits)
	}
	return strconv.ParseUint(s, 10, bits)
}
