package conformance

import "github.com/strongroom/strongroom/kmip/ttlv"

// This file is the whole list of differences the runner accepts besides
// placeholders; anything else is a failure. Each rule says why the
// specification lets servers differ there.

// kind is how a literal expected value is compared.
type kind int

const (
	exact      kind = iota
	anyValue        // any value of the same type
	sameLength      // a Byte String of the same length
)

// variation decides how a primitive item is compared; stack holds the
// effective tags from the Response Message down to the item.
func (c *comparer) variation(stack []ttlv.Tag) kind {
	last := stack[len(stack)-1]
	// The header's Time Stamp is the server's clock.
	if len(stack) == 3 && stack[1] == ttlv.TagResponseHeader && last == ttlv.TagTimeStamp {
		return anyValue
	}
	ic := c.ic
	if ic == nil || len(stack) < 3 || stack[2] != ttlv.TagResponsePayload {
		return exact
	}
	// Key material and digests of keys the server generated.
	if ic.generated {
		if contains(stack, ttlv.TagKeyValue) {
			if symmetric(ic.key.objectType) {
				return sameLength
			}
			return anyValue // DER and integer lengths vary with the key
		}
		if last == ttlv.TagDigestValue {
			return sameLength
		}
	}
	switch ic.op {
	case ttlv.OperationEncrypt:
		switch last {
		case ttlv.TagIVCounterNonce:
			if ic.ivGenerated {
				return sameLength
			}
		case ttlv.TagData, ttlv.TagAuthenticatedEncryptionTag:
			if ic.ivGenerated || ic.randomized {
				return sameLength
			}
		}
	case ttlv.OperationSign:
		if last == ttlv.TagSignatureData && ic.randomized {
			if ic.anyLength {
				return anyValue
			}
			return sameLength
		}
	case ttlv.OperationMAC:
		// A MAC under a key the server generated.
		if last == ttlv.TagMACData && ic.generated {
			return sameLength
		}
	case ttlv.OperationRNGRetrieve:
		if last == ttlv.TagData {
			return sameLength
		}
	case ttlv.OperationQuery:
		// The vendor's name is the vendor's.
		if last == ttlv.TagVendorIdentification {
			return anyValue
		}
	}
	return exact
}

func symmetric(objectType uint32) bool {
	switch ttlv.ObjectType(objectType) {
	case ttlv.ObjectTypeSymmetricKey, ttlv.ObjectTypeSecretData, ttlv.ObjectTypeSplitKey:
		return true
	}
	return false
}

// anyContent reports structures whose content is the server's own: the
// Server Information of a Query response (KMIP 1.4 §4.25: "vendor-specific"),
// and the Random Number Generator attribute, which describes the server's
// generator (KMIP 1.4 §3.44; the cases show one server's ANSI X9.31).
func (c *comparer) anyContent(stack []ttlv.Tag) bool {
	if c.ic == nil || len(stack) < 4 || stack[2] != ttlv.TagResponsePayload {
		return false
	}
	last := stack[len(stack)-1]
	switch c.ic.op {
	case ttlv.OperationQuery:
		return len(stack) == 4 && last == ttlv.TagServerInformation
	case ttlv.OperationGetAttributes:
		return last == ttlv.TagRandomNumberGenerator
	}
	return false
}

// optionalFields lists fields that may be present or absent on either side
// and whose value is the server's choice: the Server Correlation Value of a
// response header (optional in KMIP 1.4 and 2.x, server-chosen; the 2.1
// cases show one server's values) and the Result Message of a batch item
// (optional free text), and the Located Items of a Locate response.
func (c *comparer) optionalFields(stack []ttlv.Tag) []ttlv.Tag {
	switch {
	case len(stack) == 2 && stack[1] == ttlv.TagResponseHeader:
		return []ttlv.Tag{ttlv.TagServerCorrelationValue}
	case len(stack) == 2 && stack[1] == ttlv.TagBatchItem:
		return []ttlv.Tag{ttlv.TagResultMessage}
	case len(stack) == 3 && stack[2] == ttlv.TagResponsePayload && c.ic != nil && c.ic.op == ttlv.OperationLocate:
		// "The response MAY include Located Items" (KMIP 1.3 and later).
		return []ttlv.Tag{ttlv.TagLocatedItems}
	}
	return nil
}

// unordered returns, for a structure whose children the specification
// lists in no fixed order, which children form the unordered set, and
// whether the server may return more of them than the case shows.
//   - Get Attributes: the attributes (1.x Attribute items; 2.x children of
//     Attributes). The specifications fix no order; the cases list them in
//     one server's order, not in the request's.
//   - Get Attribute List: the names (1.x Attribute Name, 2.x Attribute
//     Reference), likewise.
//   - Locate without Offset Items or Maximum Items: the identifiers (no order
//     is defined; with an offset or maximum, which objects are returned
//     depends on the server's order, so the case's order is kept).
//   - Query: every list; and the server may report more operations, object
//     types and other capabilities than the case, which lists what the
//     profile needs.
func (c *comparer) unordered(stack []ttlv.Tag) (func(ttlv.Tag) bool, bool) {
	ic := c.ic
	if ic == nil || len(stack) < 3 || stack[2] != ttlv.TagResponsePayload {
		return nil, false
	}
	last := stack[len(stack)-1]
	all := func(ttlv.Tag) bool { return true }
	switch ic.op {
	case ttlv.OperationGetAttributes:
		if len(stack) == 3 {
			return func(t ttlv.Tag) bool { return t == ttlv.TagAttribute }, false
		}
		if len(stack) == 4 && last == ttlv.TagAttributes {
			return all, false
		}
	case ttlv.OperationGetAttributeList:
		if len(stack) == 3 {
			return func(t ttlv.Tag) bool { return t == ttlv.TagAttributeName || t == ttlv.TagAttributeReference }, false
		}
	case ttlv.OperationLocate:
		_, off := ic.request.Find(ttlv.TagOffsetItems)
		_, maxItems := ic.request.Find(ttlv.TagMaximumItems)
		if len(stack) == 3 && !off && !maxItems {
			return func(t ttlv.Tag) bool { return t == ttlv.TagUniqueIdentifier }, false
		}
	case ttlv.OperationQuery:
		if len(stack) == 3 {
			return all, true
		}
	}
	return nil, false
}
