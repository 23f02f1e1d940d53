package ops

import (
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// protects holds the usage bits that apply cryptographic protection. KMIP
// 1.4 §3.22 lets a Deactivated or Compromised key still process protected
// data (decrypt, verify, unwrap) but never protect new data, and the
// Protect Stop Date / Process Start Date (§3.26, §3.27) bound the two kinds
// of use separately.
const protects = ttlv.CryptographicUsageMaskSign |
	ttlv.CryptographicUsageMaskEncrypt |
	ttlv.CryptographicUsageMaskWrapKey |
	ttlv.CryptographicUsageMaskMACGenerate |
	ttlv.CryptographicUsageMaskDeriveKey |
	ttlv.CryptographicUsageMaskContentCommitment |
	ttlv.CryptographicUsageMaskKeyAgreement |
	ttlv.CryptographicUsageMaskCertificateSign |
	ttlv.CryptographicUsageMaskCRLSign |
	ttlv.CryptographicUsageMaskGenerateCryptogram |
	ttlv.CryptographicUsageMaskTranslateEncrypt |
	ttlv.CryptographicUsageMaskTranslateWrap |
	ttlv.CryptographicUsageMaskAuthenticate |
	ttlv.CryptographicUsageMaskFPEEncrypt

// usageMask is the object's Cryptographic Usage Mask (0 when it has none).
func (o *object) usageMask() ttlv.CryptographicUsageMask {
	v, ok := o.value(ttlv.TagCryptographicUsageMask)
	if !ok {
		return 0
	}
	m, _ := v.Int32()
	return ttlv.CryptographicUsageMask(uint32(m))
}

// allows reports whether the usage mask grants every bit of purpose.
// Unrestricted (KMIP 2.x) grants everything.
func (o *object) allows(purpose ttlv.CryptographicUsageMask) bool {
	m := o.usageMask()
	return m&ttlv.CryptographicUsageMaskUnrestricted != 0 || m&purpose == purpose
}

// usable decides whether the object may be used now for purpose (one or
// more Cryptographic Usage Mask bits, e.g. Encrypt, or Decrypt|Verify). It
// is what Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify and Check
// call before touching the key; the object must come from s.load (lifecycle
// dates already applied). The error is a *kmip.Error in the client's
// version:
//   - archived object: Object Archived;
//   - destroyed object, Pre-Active object, Deactivated or Compromised object
//     used to protect, protection after the Protect Stop Date, processing
//     before the Process Start Date: Wrong Key Lifecycle State to 2.x
//     clients, Permission Denied to 1.x clients (1.x has no better reason;
//     the 1.4 vectors CS-BC-M-7/14 expect it);
//   - purpose not in the usage mask: Incompatible Cryptographic Usage Mask
//     to 2.x clients, Permission Denied to 1.x clients.
func (o *object) usable(v kmip.ProtocolVersion, now time.Time, purpose ttlv.CryptographicUsageMask) error {
	uid := o.row.UID
	if o.archived() {
		return kmip.Errorf(ttlv.ResultReasonObjectArchived, "object %s is archived; recover it first", uid)
	}
	st := o.state()
	switch {
	case destroyed(st):
		return wrongState(v, "object %s is destroyed", uid)
	case st == ttlv.StatePreActive:
		return wrongState(v, "object %s is Pre-Active", uid)
	case st != ttlv.StateActive && purpose&protects != 0:
		return wrongState(v, "object %s is %s and may only process protected data", uid, st)
	}
	if purpose&protects != 0 && o.dateReached(ttlv.TagProtectStopDate, now) {
		return wrongState(v, "object %s is past its Protect Stop Date", uid)
	}
	if purpose&^protects != 0 {
		if t, ok := o.date(ttlv.TagProcessStartDate); ok && now.Before(t) {
			return wrongState(v, "object %s is before its Process Start Date", uid)
		}
	}
	if !o.allows(purpose) {
		if v.V2() {
			return kmip.Errorf(ttlv.ResultReasonIncompatibleCryptographicUsageMask, "the usage mask of object %s does not allow this use", uid)
		}
		return kmip.Errorf(ttlv.ResultReasonPermissionDenied, "the usage mask of object %s does not allow this use", uid)
	}
	return nil
}

// date returns a standard Date-Time attribute of the object.
func (o *object) date(tag ttlv.Tag) (time.Time, bool) {
	v, ok := o.value(tag)
	if !ok {
		return time.Time{}, false
	}
	return v.TimeValue()
}

// dateReached reports whether a date attribute is set and not after now.
func (o *object) dateReached(tag ttlv.Tag, now time.Time) bool {
	t, ok := o.date(tag)
	return ok && !t.After(now)
}
