package ttlv

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Info describes a standard tag, as the KMIP specifications define it.
type Info struct {
	Tag Tag
	// Name is the newest specification's name ("Unique Identifier").
	Name string
	// XMLName is the element name of the KMIP XML encoding ("UniqueIdentifier").
	XMLName string
	// Type is the item type the newest specification that states one gives
	// the tag; zero when no specification table states it.
	Type Type
	// Since is the first protocol version that defines the tag; Until the
	// last, or zero if KMIP 2.1 still defines it.
	Since, Until Version
	// Enumeration names the enumeration or bit mask the tag's value is drawn
	// from ("Object Type", "Cryptographic Usage Mask"), or "".
	Enumeration string
	// Mask reports that Enumeration is a bit mask.
	Mask bool
	// OlderNames are names earlier specifications used; do not modify.
	OlderNames []string
}

// InVersion reports whether the tag exists in protocol version v.
func (i Info) InVersion(v Version) bool { return v.In(i.Since, i.Until) }

// TagInfo returns what the specifications say about a tag.
func TagInfo(t Tag) (Info, bool) {
	n := len(tagInfos)
	k := sort.Search(n, func(i int) bool { return tagInfos[i].Tag >= t })
	if k < n && tagInfos[k].Tag == t {
		return tagInfos[k], true
	}
	return Info{}, false
}

// String returns the specification name of a standard tag, or "0x54XXXX".
func (t Tag) String() string {
	if i, ok := TagInfo(t); ok {
		return i.Name
	}
	return fmt.Sprintf("0x%06X", uint32(t))
}

// XMLName returns the KMIP XML element name of a standard tag, or "" for a
// tag the table does not know (the XML encoding then uses a TTLV element).
func (t Tag) XMLName() string {
	if i, ok := TagInfo(t); ok {
		return i.XMLName
	}
	return ""
}

// TagByName finds a tag by its specification name ("Cryptographic Usage
// Mask", as KMIP 1.x Attribute Name values carry it), its XML name
// ("CryptographicUsageMask"), a name an older specification used, or its
// hexadecimal value ("0x420094", also for unknown extension tags).
func TagByName(name string) (Tag, bool) {
	if v, ok := parseHex(name, 3); ok {
		return Tag(v), true
	}
	for i := range tagInfos {
		if tagInfos[i].Name == name || tagInfos[i].XMLName == name {
			return tagInfos[i].Tag, true
		}
	}
	key := normName(name)
	if key == "" {
		return 0, false
	}
	for i := range tagInfos {
		in := &tagInfos[i]
		if normName(in.Name) == key || normName(in.XMLName) == key {
			return in.Tag, true
		}
		for _, o := range in.OlderNames {
			if normName(o) == key {
				return in.Tag, true
			}
		}
	}
	return 0, false
}

// normName folds the spellings of one name (spec text, XML CamelCase, Go
// identifier) to one key: letters and digits only, lower case.
func normName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseHex parses "0x" followed by up to 2*size hex digits.
func parseHex(s string, size int) (uint32, bool) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len(s) > 2+2*size {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:], 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
