package ttlv

import "errors"

// Sentinel errors. Every error the package returns wraps one of them, so
// callers can pick a KMIP result reason with errors.Is without parsing text.
var (
	// ErrMalformed: the input is not valid TTLV or KMIP XML.
	ErrMalformed = errors.New("ttlv: malformed input")
	// ErrTooLarge: the input or a length field exceeds Limits.MaxSize.
	ErrTooLarge = errors.New("ttlv: message too large")
	// ErrTooDeep: structures nest deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("ttlv: structures nested too deep")
	// ErrInvalidItem: an Item cannot be encoded (wrong Go type for its Type,
	// unknown Type, tag out of range).
	ErrInvalidItem = errors.New("ttlv: invalid item")
	// ErrUnknownName: a tag, enumeration or mask name is not in the table.
	ErrUnknownName = errors.New("ttlv: unknown name")
)
