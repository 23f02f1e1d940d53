package ttlv

import "fmt"

// Version is a KMIP protocol version. The zero Version means "none": as an
// Info.Until or EnumValue.Until it says the item is still in KMIP 2.1.
type Version struct {
	Major, Minor int
}

// String formats the version as "1.4".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Before reports whether v is an earlier protocol version than o.
func (v Version) Before(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v == Version{} }

// In reports whether something introduced in since and, when until is not
// zero, last defined in until exists in protocol version v.
func (v Version) In(since, until Version) bool {
	if v.Before(since) {
		return false
	}
	return until.IsZero() || !until.Before(v)
}
