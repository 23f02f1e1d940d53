package ttlv

import "fmt"

// String returns the KMIP XML name of the item type ("TextString"), or
// "0xNN" for an unknown type byte.
func (t Type) String() string {
	if n := t.xmlName(); n != "" {
		return n
	}
	return fmt.Sprintf("0x%02X", uint8(t))
}

func (t Type) xmlName() string {
	switch t {
	case TypeStructure:
		return "Structure"
	case TypeInteger:
		return "Integer"
	case TypeLongInteger:
		return "LongInteger"
	case TypeBigInteger:
		return "BigInteger"
	case TypeEnumeration:
		return "Enumeration"
	case TypeBoolean:
		return "Boolean"
	case TypeTextString:
		return "TextString"
	case TypeByteString:
		return "ByteString"
	case TypeDateTime:
		return "DateTime"
	case TypeInterval:
		return "Interval"
	case TypeDateTimeExtended:
		return "DateTimeExtended"
	}
	return ""
}

// typeByXMLName is the inverse of xmlName.
func typeByXMLName(s string) (Type, bool) {
	for t := TypeStructure; t <= TypeDateTimeExtended; t++ {
		if t.xmlName() == s {
			return t, true
		}
	}
	return 0, false
}
