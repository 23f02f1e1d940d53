package ops

import (
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// nameHints lists the Name values among attrs, for storage.Object.Names and
// storage.Event.Names: the database indexes them so that Locate by Name
// reads a handful of candidates instead of folding every object. The result
// is never nil, since nil tells the store the names are unknown.
func nameHints(attrs []kmip.Attribute) []string {
	names := []string{}
	for _, a := range attrs {
		if v, ok := nameValue(a); ok {
			names = append(names, v)
		}
	}
	return names
}

// nameValue is the Name Value of a standard Name attribute.
func nameValue(a kmip.Attribute) (string, bool) {
	if a.Custom() || a.Value.Tag != ttlv.TagName {
		return "", false
	}
	v, ok := a.Value.Find(ttlv.TagNameValue)
	if !ok {
		return "", false
	}
	return v.TextValue()
}

// scrubsHint tells whether a change may destroy the object's key material
// (it sets a destroyed State), for storage.Event.Scrubs.
func scrubsHint(change []kmip.Attribute) bool {
	for _, a := range change {
		if a.Custom() || a.Value.Tag != ttlv.TagState {
			continue
		}
		if v, ok := a.Value.EnumValue(); ok && destroyed(ttlv.State(v)) {
			return true
		}
	}
	return false
}
