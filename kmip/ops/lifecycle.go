package ops

import (
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// mergeState combines two lifecycle states so that the result does not
// depend on the order changes arrive in: the lifecycle only moves forward
// (Pre-Active < Active < Deactivated < Compromised < Destroyed), and a
// compromised key that is destroyed, or a destroyed key found compromised,
// is Destroyed Compromised (KMIP 1.4 §3.22).
func mergeState(a, b ttlv.State) ttlv.State {
	if (a == ttlv.StateCompromised && b == ttlv.StateDestroyed) || (a == ttlv.StateDestroyed && b == ttlv.StateCompromised) {
		return ttlv.StateDestroyedCompromised
	}
	return max(a, b)
}

func stateAttr(s ttlv.State) kmip.Attribute {
	return kmip.Attr(ttlv.Enum(ttlv.TagState, uint32(s)))
}

func dateAttr(tag ttlv.Tag, t time.Time) kmip.Attribute {
	return kmip.Attr(ttlv.DateTime(tag, t))
}

// destroyed reports whether the object's key material is gone.
func destroyed(s ttlv.State) bool {
	return s == ttlv.StateDestroyed || s == ttlv.StateDestroyedCompromised
}

// wrongState is the error for an operation the lifecycle state forbids, in
// the reason the client's version knows.
func wrongState(v kmip.ProtocolVersion, format string, args ...any) error {
	if v.V2() {
		return kmip.Errorf(ttlv.ResultReasonWrongKeyLifecycleState, format, args...)
	}
	return kmip.Errorf(ttlv.ResultReasonPermissionDenied, format, args...)
}
