package conformance

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Limits of what a difference prints: Byte Strings longer than maxBytes
// are cut, and a structure's text is cut after maxRendered characters.
const (
	maxBytes    = 64
	maxRendered = 400
)

// Words that stand for an item on one side of a difference.
const (
	missing = "(missing)"
	nothing = "(nothing)"
)

// render prints an item in the KMIP XML form on one line. attrName names
// the attribute a 1.x Attribute Value belongs to, so that its enumeration
// prints by name. With redact, Byte Strings and Big Integers print only
// their length: used for what the server returned inside a Key Value,
// since plaintext keys never reach logs or test output.
func render(it ttlv.Item, attrName ttlv.Tag, redact bool) string {
	var b strings.Builder
	renderTo(&b, it, attrName, redact)
	s := b.String()
	if len(s) > maxRendered {
		s = s[:maxRendered] + "..."
	}
	return s
}

func renderTo(b *strings.Builder, it ttlv.Item, attrName ttlv.Tag, redact bool) {
	name := it.Tag.XMLName()
	if name == "" {
		name = fmt.Sprintf("TTLV tag=\"0x%06X\"", uint32(it.Tag))
	}
	if it.Type == ttlv.TypeStructure {
		children := it.Children()
		if len(children) == 0 {
			fmt.Fprintf(b, "<%s/>", name)
			return
		}
		fmt.Fprintf(b, "<%s>", name)
		var an ttlv.Tag
		for _, c := range children {
			renderTo(b, c, an, redact || c.Tag == ttlv.TagKeyValue)
			if t := attributeNameTag(c); t != 0 {
				an = t
			}
			if b.Len() > maxRendered {
				return
			}
		}
		fmt.Fprintf(b, "</%s>", strings.Fields(name)[0])
		return
	}
	fmt.Fprintf(b, `<%s type="%s" value="%s"/>`, name, it.Type, renderValue(it, attrName, redact))
}

// renderValue prints a primitive value as the XML encoding's value
// attribute would hold it.
func renderValue(it ttlv.Item, attrName ttlv.Tag, redact bool) string {
	if _, ok := it.Value.(ttlv.Placeholder); ok {
		return fmt.Sprint(it.Value)
	}
	switch v := it.Value.(type) {
	case []byte:
		if redact {
			return fmt.Sprintf("(%d bytes, not shown)", len(v))
		}
		if len(v) > maxBytes {
			return fmt.Sprintf("%s...(%d bytes)", hex.EncodeToString(v[:maxBytes]), len(v))
		}
		return hex.EncodeToString(v)
	case *big.Int:
		if redact {
			return fmt.Sprintf("(%d-bit integer, not shown)", v.BitLen())
		}
	}
	vi := it
	if attrName != 0 {
		vi.Tag = attrName
	}
	out, err := ttlv.MarshalXML(vi)
	if err != nil {
		return fmt.Sprintf("%v", it.Value)
	}
	s := string(out)
	const key = `value="`
	i := strings.Index(s, key)
	j := strings.LastIndex(s, `"`)
	if i < 0 || j <= i+len(key)-1 {
		return strings.TrimSpace(s)
	}
	v := s[i+len(key) : j]
	if len(v) > 2*maxBytes+16 {
		v = v[:2*maxBytes] + "..."
	}
	return v
}
