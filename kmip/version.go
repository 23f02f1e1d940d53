package kmip

import (
	"fmt"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// ProtocolVersion is a KMIP protocol version (Major.Minor).
type ProtocolVersion struct {
	Major int32
	Minor int32
}

// Versions this implementation speaks, newest first: the order Discover
// Versions answers in.
var supportedVersions = [...]ProtocolVersion{
	{2, 1}, {2, 0}, {1, 4}, {1, 3}, {1, 2}, {1, 1}, {1, 0},
}

// SupportedVersions returns the versions Strongroom speaks, newest first.
func SupportedVersions() []ProtocolVersion {
	out := supportedVersions
	return out[:]
}

// Supported reports whether v is a version Strongroom speaks.
func (v ProtocolVersion) Supported() bool {
	for _, s := range supportedVersions {
		if s == v {
			return true
		}
	}
	return false
}

// Less orders versions.
func (v ProtocolVersion) Less(o ProtocolVersion) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	return v.Minor < o.Minor
}

// AtLeast reports whether v is major.minor or newer.
func (v ProtocolVersion) AtLeast(major, minor int32) bool {
	return !v.Less(ProtocolVersion{major, minor})
}

// V2 reports whether v uses the KMIP 2.x message forms (Attributes structures
// instead of Template-Attribute, tagged attributes instead of names).
func (v ProtocolVersion) V2() bool { return v.Major >= 2 }

// String prints "1.2".
func (v ProtocolVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// TTLV encodes the version as a Protocol Version structure.
func (v ProtocolVersion) TTLV() ttlv.Item {
	return ttlv.Struct(ttlv.TagProtocolVersion,
		ttlv.Int(ttlv.TagProtocolVersionMajor, v.Major),
		ttlv.Int(ttlv.TagProtocolVersionMinor, v.Minor))
}

// ParseProtocolVersion decodes a Protocol Version structure.
func ParseProtocolVersion(it ttlv.Item) (ProtocolVersion, error) {
	if it.Tag != ttlv.TagProtocolVersion || it.Type != ttlv.TypeStructure {
		return ProtocolVersion{}, Errorf(ttlv.ResultReasonInvalidMessage, "protocol version: expected a Protocol Version structure")
	}
	maj, ok1 := it.Find(ttlv.TagProtocolVersionMajor)
	min, ok2 := it.Find(ttlv.TagProtocolVersionMinor)
	if !ok1 || !ok2 {
		return ProtocolVersion{}, Errorf(ttlv.ResultReasonInvalidMessage, "protocol version: major and minor are required")
	}
	a, ok1 := maj.Int32()
	b, ok2 := min.Int32()
	if !ok1 || !ok2 {
		return ProtocolVersion{}, Errorf(ttlv.ResultReasonInvalidMessage, "protocol version: major and minor must be Integers")
	}
	return ProtocolVersion{a, b}, nil
}
