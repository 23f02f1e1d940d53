package ttlv

import (
	"fmt"
	"math/bits"
	"strings"
)

// EnumValue describes one value of an enumeration or one bit of a mask.
type EnumValue struct {
	Value uint32
	// Name is the newest specification's name ("Symmetric Key").
	Name string
	// XMLName is the KMIP XML text ("SymmetricKey", "SHA_256", "DES3").
	XMLName string
	// Since is the first protocol version that defines the value; Until the
	// last, or zero if KMIP 2.1 still defines it.
	Since, Until Version
	// OlderNames are names earlier specifications used; do not modify.
	OlderNames []string
}

// InVersion reports whether the value exists in protocol version v.
func (e EnumValue) InVersion(v Version) bool { return v.In(e.Since, e.Until) }

type enumDef struct {
	Name   string
	Mask   bool
	Values []EnumValue // sorted by Value
}

func (d *enumDef) find(v uint32) (EnumValue, bool) {
	lo, hi := 0, len(d.Values)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if d.Values[m].Value < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(d.Values) && d.Values[lo].Value == v {
		return d.Values[lo], true
	}
	return EnumValue{}, false
}

func (d *enumDef) byName(name string) (uint32, bool) {
	for _, e := range d.Values {
		if e.Name == name || e.XMLName == name {
			return e.Value, true
		}
	}
	key := normName(name)
	for _, e := range d.Values {
		if normName(e.Name) == key || normName(e.XMLName) == key {
			return e.Value, true
		}
		for _, o := range e.OlderNames {
			if normName(o) == key {
				return e.Value, true
			}
		}
	}
	return 0, false
}

// enumString backs the generated String methods.
func enumString(enum string, v uint32) string {
	if d, ok := enumDefs[enum]; ok {
		if e, ok := d.find(v); ok {
			return e.Name
		}
	}
	return fmt.Sprintf("0x%08X", v)
}

// enumFor returns the enumeration or mask a tag's value is drawn from.
func enumFor(tag Tag) (enumDef, bool) {
	i, ok := TagInfo(tag)
	if !ok || i.Enumeration == "" {
		return enumDef{}, false
	}
	// By value: a pointer to the map's copy would be a heap allocation at
	// every enumeration decoded or encoded.
	d, ok := enumDefs[i.Enumeration]
	return d, ok
}

// tagValued reports that the tag's enumeration is the tag table itself
// (KMIP 2.x Attribute Reference holds a tag as an Enumeration).
func tagValued(tag Tag) bool {
	i, ok := TagInfo(tag)
	return ok && i.Enumeration == "Tag"
}

// EnumValueInfo describes value v of the enumeration the tag holds.
func EnumValueInfo(tag Tag, v uint32) (EnumValue, bool) {
	d, ok := enumFor(tag)
	if !ok {
		return EnumValue{}, false
	}
	return d.find(v)
}

// EnumValues lists the values of the enumeration or mask the tag holds, in
// order. The returned slice is a copy.
func EnumValues(tag Tag) ([]EnumValue, bool) {
	d, ok := enumFor(tag)
	if !ok {
		return nil, false
	}
	return append([]EnumValue(nil), d.Values...), true
}

// EnumName returns the specification name of value v of the enumeration the
// tag holds ("Symmetric Key" for TagObjectType, 2).
func EnumName(tag Tag, v uint32) (string, bool) {
	if tagValued(tag) {
		if i, ok := TagInfo(Tag(v)); ok {
			return i.Name, true
		}
		return "", false
	}
	e, ok := EnumValueInfo(tag, v)
	return e.Name, ok
}

// enumXMLName is EnumName for the XML encoding.
func enumXMLName(tag Tag, v uint32) (string, bool) {
	if tagValued(tag) {
		if i, ok := TagInfo(Tag(v)); ok {
			return i.XMLName, true
		}
		return "", false
	}
	e, ok := EnumValueInfo(tag, v)
	return e.XMLName, ok
}

// EnumByName finds a value of the enumeration the tag holds by its
// specification name ("Symmetric Key"), XML name ("SymmetricKey"), an older
// name, or hexadecimal ("0x00000002", also for extension values).
func EnumByName(tag Tag, name string) (uint32, bool) {
	if v, ok := parseHex(name, 4); ok {
		return v, true
	}
	if tagValued(tag) {
		t, ok := TagByName(name)
		return uint32(t), ok
	}
	d, ok := enumFor(tag)
	if !ok || d.Mask {
		return 0, false
	}
	return d.byName(name)
}

// MaskNames splits a bit mask value into the specification names of its
// bits. ok is false when the tag holds no mask or a set bit has no name.
func MaskNames(tag Tag, v uint32) ([]string, bool) {
	return maskNames(tag, v, false)
}

func maskNames(tag Tag, v uint32, xml bool) ([]string, bool) {
	d, ok := enumFor(tag)
	if !ok || !d.Mask {
		return nil, false
	}
	var out []string
	for v != 0 {
		bit := uint32(1) << bits.TrailingZeros32(v)
		v &^= bit
		e, ok := d.find(bit)
		if !ok {
			return nil, false
		}
		if xml {
			out = append(out, e.XMLName)
		} else {
			out = append(out, e.Name)
		}
	}
	return out, true
}

// MaskByNames combines bit names (specification or XML names, or hex
// "0x0000000C") into a mask value.
func MaskByNames(tag Tag, names ...string) (uint32, bool) {
	d, ok := enumFor(tag)
	if !ok || !d.Mask {
		return 0, false
	}
	var v uint32
	for _, n := range names {
		n = strings.TrimSpace(n)
		if x, ok := parseHex(n, 4); ok {
			v |= x
			continue
		}
		x, ok := d.byName(n)
		if !ok {
			return 0, false
		}
		v |= x
	}
	return v, true
}
