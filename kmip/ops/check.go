package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// check handles Check (KMIP 1.4 §4.10, 2.1 §6.1.7): may the object be used
// for the Cryptographic Usage Mask and Usage Limits Count the client names?
// Lease Time is accepted as asked (Strongroom grants no leases it would
// later refuse). On failure the ID Placeholder is emptied, so that the rest
// of a batch does not go on with an object the client may not use.
func (s *Service) check(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	deny := func(r2 ttlv.ResultReason, format string, args ...any) (ttlv.Item, error) {
		*r.placeholder = ""
		if r.version.V2() {
			return ttlv.Item{}, kmip.Errorf(r2, format, args...)
		}
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonPermissionDenied, format, args...)
	}
	if o.archived() {
		*r.placeholder = ""
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonObjectArchived, "object %s is archived", uid)
	}
	if m, ok := p.Find(ttlv.TagCryptographicUsageMask); ok {
		want, isInt := m.Int32()
		if !isInt {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "cryptographic usage mask must be an Integer")
		}
		if !o.allows(ttlv.CryptographicUsageMask(uint32(want))) {
			return deny(ttlv.ResultReasonIncompatibleCryptographicUsageMask, "the usage mask of object %s does not allow this use", uid)
		}
	}
	if c, ok := p.Find(ttlv.TagUsageLimitsCount); ok {
		want, _ := c.Int64()
		if left, limited := o.usageLeft(); limited && want > left {
			return deny(ttlv.ResultReasonUsageLimitExceeded, "object %s has %d uses left", uid, left)
		}
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// usageLeft returns the Usage Limits Count of the object, if it has usage
// limits.
func (o *object) usageLeft() (int64, bool) {
	ul, ok := o.value(ttlv.TagUsageLimits)
	if !ok {
		return 0, false
	}
	if c, ok := ul.Find(ttlv.TagUsageLimitsCount); ok {
		n, _ := c.Int64()
		return n, true
	}
	if t, ok := ul.Find(ttlv.TagUsageLimitsTotal); ok {
		n, _ := t.Int64()
		return n, true
	}
	return 0, false
}
