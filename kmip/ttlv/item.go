// Package ttlv implements the KMIP Tag-Type-Length-Value encoding (KMIP 1.4
// §9.1, KMIP 2.1 §9.1), the KMIP XML encoding used by the OASIS test cases,
// and the single table of KMIP tags, item types and enumerations for KMIP
// 1.0 to 2.1.
//
// The package knows nothing of servers, HSMs or storage: it turns bytes into
// a tree of Items and back, strictly, with hard limits on size and depth so
// that hostile input can cost no more than the limits allow.
package ttlv

import (
	"math/big"
	"time"
)

// Tag identifies a KMIP item (3 bytes on the wire, 0x42XXXX for standard tags,
// 0x54XXXX for extensions).
type Tag uint32

// Type is the KMIP item type byte.
type Type uint8

// Item types (KMIP 1.4 §9.1.1.2; Date-Time Extended is KMIP 2.0).
const (
	TypeStructure        Type = 0x01
	TypeInteger          Type = 0x02
	TypeLongInteger      Type = 0x03
	TypeBigInteger       Type = 0x04
	TypeEnumeration      Type = 0x05
	TypeBoolean          Type = 0x06
	TypeTextString       Type = 0x07
	TypeByteString       Type = 0x08
	TypeDateTime         Type = 0x09
	TypeInterval         Type = 0x0A
	TypeDateTimeExtended Type = 0x0B
)

// Item is one decoded TTLV item. Value holds, by Type:
//
//	Structure        []Item
//	Integer          int32
//	LongInteger      int64
//	BigInteger       *big.Int
//	Enumeration      uint32
//	Boolean          bool
//	TextString       string
//	ByteString       []byte
//	DateTime         time.Time (whole seconds, UTC)
//	Interval         uint32 (seconds)
//	DateTimeExtended time.Time (microseconds, UTC)
type Item struct {
	Tag   Tag
	Type  Type
	Value any
}

// Struct builds a Structure item.
func Struct(tag Tag, children ...Item) Item {
	if children == nil {
		children = []Item{}
	}
	return Item{Tag: tag, Type: TypeStructure, Value: children}
}

// Int builds an Integer item.
func Int(tag Tag, v int32) Item { return Item{Tag: tag, Type: TypeInteger, Value: v} }

// Long builds a Long Integer item.
func Long(tag Tag, v int64) Item { return Item{Tag: tag, Type: TypeLongInteger, Value: v} }

// Big builds a Big Integer item.
func Big(tag Tag, v *big.Int) Item { return Item{Tag: tag, Type: TypeBigInteger, Value: v} }

// Enum builds an Enumeration item.
func Enum(tag Tag, v uint32) Item { return Item{Tag: tag, Type: TypeEnumeration, Value: v} }

// Bool builds a Boolean item.
func Bool(tag Tag, v bool) Item { return Item{Tag: tag, Type: TypeBoolean, Value: v} }

// Text builds a Text String item.
func Text(tag Tag, v string) Item { return Item{Tag: tag, Type: TypeTextString, Value: v} }

// Bytes builds a Byte String item.
func Bytes(tag Tag, v []byte) Item { return Item{Tag: tag, Type: TypeByteString, Value: v} }

// DateTime builds a Date-Time item, truncated to whole seconds in UTC.
func DateTime(tag Tag, v time.Time) Item {
	return Item{Tag: tag, Type: TypeDateTime, Value: v.UTC().Truncate(time.Second)}
}

// DateTimeExtended builds a Date-Time Extended item (microsecond resolution).
func DateTimeExtended(tag Tag, v time.Time) Item {
	return Item{Tag: tag, Type: TypeDateTimeExtended, Value: v.UTC().Truncate(time.Microsecond)}
}

// Interval builds an Interval item (seconds).
func Interval(tag Tag, seconds uint32) Item {
	return Item{Tag: tag, Type: TypeInterval, Value: seconds}
}

// Children returns the items of a Structure, or nil for any other type.
func (it Item) Children() []Item {
	c, _ := it.Value.([]Item)
	return c
}

// Find returns the first child with the tag.
func (it Item) Find(tag Tag) (Item, bool) {
	for _, c := range it.Children() {
		if c.Tag == tag {
			return c, true
		}
	}
	return Item{}, false
}

// FindAll returns every child with the tag, in order.
func (it Item) FindAll(tag Tag) []Item {
	var out []Item
	for _, c := range it.Children() {
		if c.Tag == tag {
			out = append(out, c)
		}
	}
	return out
}

// Append adds children to a Structure item and returns it.
func (it Item) Append(children ...Item) Item {
	c := it.Children()
	out := make([]Item, 0, len(c)+len(children))
	out = append(out, c...)
	out = append(out, children...)
	it.Value = out
	return it
}

// Int32 returns the value of an Integer item.
func (it Item) Int32() (int32, bool) { v, ok := it.Value.(int32); return v, ok }

// Int64 returns the value of a Long Integer item.
func (it Item) Int64() (int64, bool) { v, ok := it.Value.(int64); return v, ok }

// EnumValue returns the value of an Enumeration item.
func (it Item) EnumValue() (uint32, bool) {
	if it.Type != TypeEnumeration {
		return 0, false
	}
	v, ok := it.Value.(uint32)
	return v, ok
}

// BoolValue returns the value of a Boolean item.
func (it Item) BoolValue() (bool, bool) { v, ok := it.Value.(bool); return v, ok }

// TextValue returns the value of a Text String item.
func (it Item) TextValue() (string, bool) { v, ok := it.Value.(string); return v, ok }

// BytesValue returns the value of a Byte String item.
func (it Item) BytesValue() ([]byte, bool) { v, ok := it.Value.([]byte); return v, ok }

// TimeValue returns the value of a Date-Time or Date-Time Extended item.
func (it Item) TimeValue() (time.Time, bool) { v, ok := it.Value.(time.Time); return v, ok }

// IntervalValue returns the value of an Interval item.
func (it Item) IntervalValue() (uint32, bool) {
	if it.Type != TypeInterval {
		return 0, false
	}
	v, ok := it.Value.(uint32)
	return v, ok
}

// BigValue returns the value of a Big Integer item.
func (it Item) BigValue() (*big.Int, bool) { v, ok := it.Value.(*big.Int); return v, ok }
