package ops

import (
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// protectionStorage is the Protection Storage Mask of every object
// Strongroom keeps (KMIP 2.1 §4.44: "records which of the requested mask
// values have been used for protection storage"; always has a value, set by
// the server when the object is stored). All key material, opaque data and
// certificates are stored wrapped under the token's non-extractable KEK,
// so their protection is the HSM's: Hardware. Which system or premises the
// HSM sits on is the deployment's, not something the server knows.
const protectionStorage = ttlv.ProtectionStorageMaskHardware

// protectionStorageAttr is the attribute fold adds to objects that lack it
// (all of them: it is derived, never stored, so that objects stored before
// it existed have it too, and every mirror derives the same value).
// tagInVersion keeps it from KMIP 1.x clients, whose specification lacks it.
func protectionStorageAttr() kmip.Attribute {
	return kmip.Attr(ttlv.Int(ttlv.TagProtectionStorageMask, int32(protectionStorage)))
}

// withProtectionStorage appends the Protection Storage Mask unless the
// object already has one.
func withProtectionStorage(attrs []kmip.Attribute) []kmip.Attribute {
	for _, a := range attrs {
		if !a.Custom() && a.Value.Tag == ttlv.TagProtectionStorageMask {
			return attrs
		}
	}
	return append(attrs, protectionStorageAttr())
}

// checkProtectionStorage refuses a request whose Protection Storage Masks
// (KMIP 2.1 §7.33; Create, Register, Create Key Pair's Common, Private and
// Public variants) Strongroom cannot meet: each structure lists acceptable
// alternatives, and the server "SHALL return an error if no single Storage
// Protection Mask can be satisfied in its entirety (all bits match)".
// Strongroom meets exactly the bits of protectionStorage.
func checkProtectionStorage(p ttlv.Item) error {
	for _, c := range []struct {
		tag    ttlv.Tag
		reason ttlv.ResultReason
	}{
		{ttlv.TagProtectionStorageMasks, ttlv.ResultReasonProtectionStorageUnavailable},
		{ttlv.TagCommonProtectionStorageMasks, ttlv.ResultReasonProtectionStorageUnavailable},
		{ttlv.TagPrivateProtectionStorageMasks, ttlv.ResultReasonPrivateProtectionStorageUnavailable},
		{ttlv.TagPublicProtectionStorageMasks, ttlv.ResultReasonPublicProtectionStorageUnavailable},
	} {
		masks, ok := p.Find(c.tag)
		if !ok {
			continue
		}
		met := false
		var asked []string
		for _, m := range masks.Children() {
			if m.Tag != ttlv.TagProtectionStorageMask {
				continue
			}
			v, ok := m.Int32()
			if !ok {
				return kmip.Errorf(ttlv.ResultReasonInvalidField, "%s: Protection Storage Mask must be an Integer", c.tag)
			}
			if uint32(v)&^uint32(protectionStorage) == 0 {
				met = true
				break
			}
			asked = append(asked, ttlv.ProtectionStorageMask(uint32(v)).String())
		}
		if !met && len(asked) > 0 {
			return kmip.Errorf(c.reason, "objects are stored in %s protection only; none of %v can be met", protectionStorage, asked)
		}
	}
	return nil
}
