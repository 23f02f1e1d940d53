package ttlv

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The KMIP JSON encoding (KMIP Additional Message Encodings 1.0 §4, the
// MSGENC-JSON profile of KMIP Profiles 1.4 and 2.1): every item is an object
//
//	{"tag": "UniqueIdentifier", "type": "TextString", "value": "..."}
//
// where tag is the tag's normalized (XML) name or "0x42XXXX", type is the
// item type's name (omitted for a Structure, whose value is an array of
// items), and value is, by type:
//
//	Integer          number, or a mask's bit names joined by "|", or "0x" hex
//	Long Integer     number, or "0x" and 16 hex digits beyond ±2^52
//	Big Integer      number, or "0x" and two's complement hex beyond ±2^52
//	Enumeration      name, or "0x" and 8 hex digits, or number
//	Boolean          true or false (or "0x" hex 0 or 1)
//	Text String      string
//	Byte String      hex string
//	Date-Time        ISO 8601 string (or "0x" hex seconds, or number)
//	Interval         number (or "0x" hex)
//	Date-Time Ext.   ISO 8601 string with microseconds (or "0x" hex, number)
//
// JSON numbers are exact only up to 2^53 in most parsers, hence the hex
// forms of large Long and Big Integers. Names come from the one tag and
// enumeration table of this package, as for XML. The decoder is strict:
// unknown keys, duplicate keys, a value of the wrong JSON kind, fractions,
// exponents and trailing data are errors.

// jsonSafeInt bounds the integers written as JSON numbers (±2^52).
const jsonSafeInt = 1 << 52

// MarshalJSON encodes it in the KMIP JSON encoding, on one line.
func MarshalJSON(it Item) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, it, 0, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeJSON writes one item object; valueTag names the enumeration or mask
// of a KMIP 1.x Attribute Value (as for writeXML).
func writeJSON(b *bytes.Buffer, it Item, depth int, valueTag Tag) error {
	if depth >= maxEncodeDepth {
		return fmt.Errorf("ttlv: json encoding %s: %w", it.Tag, ErrTooDeep)
	}
	if it.Tag > 0xFFFFFF {
		return fmt.Errorf("ttlv: json encoding tag 0x%X: tag does not fit in 3 bytes: %w", uint32(it.Tag), ErrInvalidItem)
	}
	name := it.Tag.XMLName()
	if name == "" {
		name = fmt.Sprintf("0x%06X", uint32(it.Tag))
	}
	b.WriteString(`{"tag":`)
	writeJSONString(b, name)
	if it.Type == TypeStructure {
		children, ok := it.Value.([]Item)
		if !ok && it.Value != nil {
			return fmt.Errorf("ttlv: json encoding %s: value of Go type %T is not []Item: %w", it.Tag, it.Value, ErrInvalidItem)
		}
		b.WriteString(`,"value":[`)
		var attrTag Tag
		for i, c := range children {
			if i > 0 {
				b.WriteByte(',')
			}
			vt := Tag(0)
			if c.Tag == TagAttributeValue {
				vt = attrTag
			}
			if err := writeJSON(b, c, depth+1, vt); err != nil {
				return err
			}
			if c.Tag == TagAttributeName {
				attrTag = attributeTag(c)
			}
		}
		b.WriteString("]}")
		return nil
	}
	if it.Type.xmlName() == "" {
		return fmt.Errorf("ttlv: json encoding %s: unknown item type 0x%02X: %w", it.Tag, uint8(it.Type), ErrInvalidItem)
	}
	b.WriteString(`,"type":"`)
	b.WriteString(it.Type.xmlName())
	b.WriteString(`","value":`)
	vi := it
	if valueTag != 0 {
		vi.Tag = valueTag
	}
	if err := writeJSONValue(b, vi); err != nil {
		return fmt.Errorf("ttlv: json encoding %s: %w", it.Tag, err)
	}
	b.WriteByte('}')
	return nil
}

// writeJSONValue writes a primitive item's value.
func writeJSONValue(b *bytes.Buffer, it Item) error {
	if p, ok := it.Value.(Placeholder); ok {
		writeJSONString(b, string(p))
		return nil
	}
	bad := fmt.Errorf("value of Go type %T does not suit item type %s: %w", it.Value, it.Type, ErrInvalidItem)
	switch it.Type {
	case TypeInteger:
		v, ok := it.Value.(int32)
		if !ok {
			return bad
		}
		if v != 0 {
			if names, ok := maskNames(it.Tag, uint32(v), true); ok {
				writeJSONString(b, strings.Join(names, "|"))
				return nil
			}
		}
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case TypeLongInteger:
		v, ok := it.Value.(int64)
		if !ok {
			return bad
		}
		if v > -jsonSafeInt && v < jsonSafeInt {
			b.WriteString(strconv.FormatInt(v, 10))
		} else {
			fmt.Fprintf(b, `"0x%016X"`, uint64(v))
		}
	case TypeBigInteger:
		v, ok := it.Value.(*big.Int)
		if !ok || v == nil {
			return bad
		}
		if v.IsInt64() && v.Int64() > -jsonSafeInt && v.Int64() < jsonSafeInt {
			b.WriteString(v.String())
		} else {
			fmt.Fprintf(b, `"0x%X"`, bigToTwos(v))
		}
	case TypeEnumeration:
		v, ok := it.Value.(uint32)
		if !ok {
			return bad
		}
		if n, ok := enumXMLName(it.Tag, v); ok {
			writeJSONString(b, n)
		} else {
			fmt.Fprintf(b, `"0x%08X"`, v)
		}
	case TypeBoolean:
		v, ok := it.Value.(bool)
		if !ok {
			return bad
		}
		b.WriteString(strconv.FormatBool(v))
	case TypeTextString:
		v, ok := it.Value.(string)
		if !ok {
			return bad
		}
		if !utf8.ValidString(v) {
			// JSON would silently replace the bytes; refuse instead.
			return fmt.Errorf("text is not UTF-8: %w", ErrInvalidItem)
		}
		writeJSONString(b, v)
	case TypeByteString:
		v, ok := it.Value.([]byte)
		if !ok && it.Value != nil {
			return bad
		}
		b.WriteByte('"')
		b.WriteString(hex.EncodeToString(v))
		b.WriteByte('"')
	case TypeDateTime, TypeDateTimeExtended, TypeInterval:
		// The XML text of these types is valid JSON string content.
		s, err := xmlValue(it)
		if err != nil {
			return err
		}
		if it.Type == TypeInterval {
			b.WriteString(s)
		} else {
			writeJSONString(b, s)
		}
	default:
		return fmt.Errorf("unknown item type 0x%02X: %w", uint8(it.Type), ErrInvalidItem)
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// UnmarshalJSON decodes one item in the KMIP JSON encoding with the default
// depth limit and no size limit beyond len(data).
func UnmarshalJSON(data []byte) (Item, error) {
	return DecodeJSON(data, Limits{MaxSize: len(data)})
}

// DecodeJSON decodes exactly one item in the KMIP JSON encoding that fills
// data (surrounding white space aside), within lim. Its errors name tags,
// types and JSON kinds, never values, so that they may be logged.
func DecodeJSON(data []byte, lim Limits) (Item, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxSize {
		return Item{}, fmt.Errorf("ttlv: json: %d-byte message exceeds the %d-byte limit: %w", len(data), lim.MaxSize, ErrTooLarge)
	}
	if !utf8.Valid(data) {
		return Item{}, fmt.Errorf("ttlv: json: input is not UTF-8: %w", ErrMalformed)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	jd := jsonDecoder{d: d, lim: lim}
	it, err := jd.item(1, 0)
	if err != nil {
		return Item{}, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return Item{}, fmt.Errorf("ttlv: json: data after the top-level item: %w", ErrMalformed)
	}
	return it, nil
}

type jsonDecoder struct {
	d   *json.Decoder
	lim Limits
}

// token reads the next token, turning syntax errors into ErrMalformed.
// encoding/json's syntax errors quote at most one character of the input.
func (j *jsonDecoder) token() (json.Token, error) {
	t, err := j.d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("ttlv: json: %w (%w)", ErrMalformed, err)
	}
	return t, nil
}

// jsonKind names the JSON kind of a token for error messages.
func jsonKind(t json.Token) string {
	switch t := t.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "unknown"
}

// item decodes one item object. depth counts item objects from the top
// (1); valueTag, when the item is an Attribute Value, names its
// enumeration or mask (as for writeJSON).
func (j *jsonDecoder) item(depth int, valueTag Tag) (Item, error) {
	t, err := j.token()
	if err != nil {
		return Item{}, err
	}
	if t != json.Delim('{') {
		return Item{}, fmt.Errorf("ttlv: json: item is a %s, not an object: %w", jsonKind(t), ErrMalformed)
	}
	var (
		tagName, typeName string
		hasTag, hasType   bool
		hasValue, isArray bool
		scalar            json.Token
		children          []Item
		seenName          bool
	)
	for j.d.More() {
		kt, err := j.token()
		if err != nil {
			return Item{}, err
		}
		key, _ := kt.(string)
		switch key {
		case "tag", "type", "name":
			dup := (key == "tag" && hasTag) || (key == "type" && hasType) || (key == "name" && seenName)
			if dup {
				return Item{}, fmt.Errorf("ttlv: json: duplicate %q key: %w", key, ErrMalformed)
			}
			vt, err := j.token()
			if err != nil {
				return Item{}, err
			}
			s, ok := vt.(string)
			if !ok {
				return Item{}, fmt.Errorf("ttlv: json: %q is a %s, not a string: %w", key, jsonKind(vt), ErrMalformed)
			}
			switch key {
			case "tag":
				tagName, hasTag = s, true
			case "type":
				typeName, hasType = s, true
			default:
				// "name" is an informative extension some clients add
				// for extension tags; the tag decides.
				seenName = true
			}
		case "value":
			if hasValue {
				return Item{}, fmt.Errorf("ttlv: json: duplicate \"value\" key: %w", ErrMalformed)
			}
			hasValue = true
			vt, err := j.token()
			if err != nil {
				return Item{}, err
			}
			switch vt {
			case json.Delim('['):
				if depth > j.lim.MaxDepth {
					return Item{}, fmt.Errorf("ttlv: json: structure nested deeper than %d: %w", j.lim.MaxDepth, ErrTooDeep)
				}
				isArray = true
				children, err = j.children(depth)
				if err != nil {
					return Item{}, err
				}
			case json.Delim('{'):
				return Item{}, fmt.Errorf("ttlv: json: \"value\" is an object: %w", ErrMalformed)
			default:
				scalar = vt
			}
		default:
			return Item{}, fmt.Errorf("ttlv: json: unknown key in item object: %w", ErrMalformed)
		}
	}
	if _, err := j.token(); err != nil { // the closing brace
		return Item{}, err
	}
	if !hasTag {
		return Item{}, fmt.Errorf("ttlv: json: item object without \"tag\": %w", ErrMalformed)
	}
	tag, ok := TagByName(tagName)
	if !ok || tag > 0xFFFFFF {
		return Item{}, fmt.Errorf("ttlv: json: tag is not a KMIP tag name or 0x42XXXX/0x54XXXX: %w", ErrUnknownName)
	}
	typ := TypeStructure
	if hasType {
		t, ok := typeByXMLName(typeName)
		if !ok {
			return Item{}, fmt.Errorf("ttlv: json: %s: unknown item type name: %w", tag, ErrMalformed)
		}
		typ = t
	}
	if !hasValue {
		return Item{}, fmt.Errorf("ttlv: json: %s: item object without \"value\": %w", tag, ErrMalformed)
	}
	it := Item{Tag: tag, Type: typ}
	if typ == TypeStructure {
		if !isArray {
			return Item{}, fmt.Errorf("ttlv: json: %s: Structure value is a %s, not an array: %w", tag, jsonKind(scalar), ErrMalformed)
		}
		it.Value = children
		return it, nil
	}
	if isArray {
		return Item{}, fmt.Errorf("ttlv: json: %s: %s value is an array: %w", tag, typ, ErrMalformed)
	}
	vtag := tag
	if valueTag != 0 && tag == TagAttributeValue {
		vtag = valueTag
	}
	v, err := parseJSONValue(vtag, typ, scalar)
	if err != nil {
		return Item{}, fmt.Errorf("ttlv: json: %s (%s, JSON %s): %w", tag, typ, jsonKind(scalar), err)
	}
	it.Value = v
	return it, nil
}

// children decodes the items of a Structure's array, whose '[' was read.
func (j *jsonDecoder) children(depth int) ([]Item, error) {
	out := []Item{}
	var attrTag Tag
	for j.d.More() {
		// An Attribute Value takes its names from the Attribute Name
		// before it, as in the XML encoding; item applies attrTag to
		// Attribute Value children only.
		c, err := j.item(depth+1, attrTag)
		if err != nil {
			return nil, err
		}
		if c.Tag == TagAttributeName {
			attrTag = attributeTag(c)
		}
		out = append(out, c)
	}
	if _, err := j.token(); err != nil { // the closing bracket
		return nil, err
	}
	return out, nil
}

// parseJSONValue converts a scalar JSON token to the Go value for typ.
func parseJSONValue(tag Tag, typ Type, t json.Token) (any, error) {
	switch v := t.(type) {
	case string:
		return parseJSONString(tag, typ, v)
	case json.Number:
		return parseJSONNumber(typ, string(v))
	case bool:
		if typ == TypeBoolean {
			return v, nil
		}
	}
	return nil, fmt.Errorf("the JSON kind does not suit the item type: %w", ErrMalformed)
}

func parseJSONNumber(typ Type, s string) (any, error) {
	bad := fmt.Errorf("number out of range or not an integer: %w", ErrMalformed)
	switch typ {
	case TypeInteger:
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, bad
		}
		return int32(v), nil
	case TypeLongInteger:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, bad
		}
		return v, nil
	case TypeBigInteger:
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, bad
		}
		return v, nil
	case TypeEnumeration, TypeInterval:
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, bad
		}
		return uint32(v), nil
	case TypeDateTime:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, bad
		}
		return time.Unix(v, 0).UTC(), nil
	case TypeDateTimeExtended:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, bad
		}
		return time.UnixMicro(v).UTC(), nil
	}
	return nil, fmt.Errorf("a JSON number does not suit the item type: %w", ErrMalformed)
}

func parseJSONString(tag Tag, typ Type, s string) (any, error) {
	switch typ {
	case TypeTextString:
		return s, nil
	case TypeInteger:
		// Masks are "A|B" in JSON; the XML parser also takes spaces.
		return parseXMLValue(tag, typ, s)
	case TypeLongInteger:
		if !strings.HasPrefix(s, "0x") {
			return nil, fmt.Errorf("string for a Long Integer is not \"0x\" hex: %w", ErrMalformed)
		}
		return parseXMLValue(tag, typ, s)
	case TypeBigInteger:
		if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
			return nil, fmt.Errorf("string for a Big Integer is not \"0x\" hex: %w", ErrMalformed)
		}
		return parseXMLValue(tag, typ, s)
	case TypeBoolean:
		if !strings.HasPrefix(s, "0x") {
			return nil, fmt.Errorf("string for a Boolean is not \"0x\" hex: %w", ErrMalformed)
		}
		v, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil || v > 1 {
			return nil, fmt.Errorf("hex for a Boolean is neither 0 nor 1: %w", ErrMalformed)
		}
		return v == 1, nil
	case TypeInterval:
		if !strings.HasPrefix(s, "0x") {
			return nil, fmt.Errorf("string for an Interval is not \"0x\" hex: %w", ErrMalformed)
		}
		return parseXMLValue(tag, typ, s)
	case TypeEnumeration, TypeByteString, TypeDateTime, TypeDateTimeExtended:
		v, err := parseXMLValue(tag, typ, s)
		if err != nil {
			// parseXMLValue's errors quote no value.
			return nil, err
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown item type: %w", ErrMalformed)
}
