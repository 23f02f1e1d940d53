package ops

import (
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// maxDate is the largest KMIP Date-Time; as a Locate criterion it stands
// for an undefined date.
var maxDate = time.Unix(1<<63-1, 0)

// inStorage applies Locate's Storage Status Mask (KMIP 2.1 §6.1.28):
// on-line objects are neither archived nor destroyed; archived and
// destroyed ones are returned only when the mask asks for them.
func inStorage(o *object, mask int32) bool {
	m := ttlv.StorageStatusMask(uint32(mask))
	switch {
	case destroyed(o.state()):
		return m&ttlv.StorageStatusMaskDestroyedStorage != 0
	case o.archived():
		return m&ttlv.StorageStatusMaskArchivalStorage != 0
	}
	return m&ttlv.StorageStatusMaskOnLineStorage != 0
}

// groupMember applies Locate's Object Group Member: Group Member Fresh
// matches objects not yet served to a client; Group Member Default is
// applied by the caller (the newest match).
func groupMember(o *object, member uint32) bool {
	if ttlv.ObjectGroupMember(member) == ttlv.ObjectGroupMemberGroupMemberFresh {
		return o.flag(ttlv.TagFresh)
	}
	return true
}

// matchValue compares an attribute value with a Locate criterion. A
// structure criterion need not give every field: each field it gives must
// match one of the value's (KMIP 1.4 §4.9, the Link example).
func matchValue(have, want ttlv.Item) bool {
	if want.Type != ttlv.TypeStructure || have.Type != ttlv.TypeStructure {
		return equalItems(have, want)
	}
	if have.Tag != want.Tag {
		return false
	}
	for _, wc := range want.Children() {
		ok := false
		for _, hc := range have.FindAll(wc.Tag) {
			if matchValue(hc, wc) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// usageAtLeast matches objects whose Usage Limits Count and Total are at
// least the criterion's (KMIP 1.4 §4.9).
func usageAtLeast(o *object, want ttlv.Item) bool {
	have, ok := o.value(ttlv.TagUsageLimits)
	if !ok {
		return false
	}
	for _, tag := range []ttlv.Tag{ttlv.TagUsageLimitsCount, ttlv.TagUsageLimitsTotal} {
		w, ok := want.Find(tag)
		if !ok {
			continue
		}
		h, ok := have.Find(tag)
		wv, _ := w.Int64()
		hv, _ := h.Int64()
		if !ok || hv < wv {
			return false
		}
	}
	return true
}
