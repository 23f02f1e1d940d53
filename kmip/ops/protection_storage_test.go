package ops

import (
	"errors"
	"testing"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

func TestCheckProtectionStorage(t *testing.T) {
	mask := func(m ttlv.ProtectionStorageMask) ttlv.Item {
		return ttlv.Int(ttlv.TagProtectionStorageMask, int32(m))
	}
	for _, tc := range []struct {
		name   string
		masks  ttlv.Item
		reason ttlv.ResultReason // 0: accepted
	}{
		{"hardware", ttlv.Struct(ttlv.TagProtectionStorageMasks, mask(ttlv.ProtectionStorageMaskHardware)), 0},
		{"software only", ttlv.Struct(ttlv.TagProtectionStorageMasks, mask(ttlv.ProtectionStorageMaskSoftware)), ttlv.ResultReasonProtectionStorageUnavailable},
		{"one alternative met", ttlv.Struct(ttlv.TagProtectionStorageMasks, mask(ttlv.ProtectionStorageMaskSoftware), mask(ttlv.ProtectionStorageMaskHardware)), 0},
		{"all bits must match", ttlv.Struct(ttlv.TagProtectionStorageMasks, mask(ttlv.ProtectionStorageMaskHardware|ttlv.ProtectionStorageMaskOffPremises)), ttlv.ResultReasonProtectionStorageUnavailable},
		{"private pair part", ttlv.Struct(ttlv.TagPrivateProtectionStorageMasks, mask(ttlv.ProtectionStorageMaskSoftware)), ttlv.ResultReasonPrivateProtectionStorageUnavailable},
		{"public pair part", ttlv.Struct(ttlv.TagPublicProtectionStorageMasks, mask(ttlv.ProtectionStorageMaskSoftware)), ttlv.ResultReasonPublicProtectionStorageUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkProtectionStorage(ttlv.Struct(ttlv.TagRequestPayload, tc.masks))
			var ke *kmip.Error
			switch {
			case tc.reason == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.reason != 0 && (!errors.As(err, &ke) || ke.Reason != tc.reason):
				t.Fatalf("got %v, want reason %s", err, tc.reason)
			}
		})
	}
	if err := checkProtectionStorage(ttlv.Struct(ttlv.TagRequestPayload)); err != nil {
		t.Fatalf("no masks: %v", err)
	}
}

// TestProtectionStorageDerived: every folded object has exactly one
// Protection Storage Mask (KMIP 2.1 §4.44: always has a value), shown to
// 2.x clients only.
func TestProtectionStorageDerived(t *testing.T) {
	b, err := encodeAttrs([]kmip.Attribute{kmip.Attr(ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)))})
	if err != nil {
		t.Fatal(err)
	}
	o, err := fold(storage.Object{UID: "x", Attributes: b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	count := func(v kmip.ProtocolVersion) int {
		n := 0
		for _, a := range o.visibleAttrs(v) {
			if a.Value.Tag == ttlv.TagProtectionStorageMask {
				n++
			}
		}
		return n
	}
	if got := count(kmip.ProtocolVersion{Major: 2, Minor: 1}); got != 1 {
		t.Fatalf("2.1: %d Protection Storage Masks", got)
	}
	if got := count(kmip.ProtocolVersion{Major: 1, Minor: 4}); got != 0 {
		t.Fatalf("1.4: %d Protection Storage Masks", got)
	}
	v, _ := o.value(ttlv.TagProtectionStorageMask)
	if m, _ := v.Int32(); ttlv.ProtectionStorageMask(m) != ttlv.ProtectionStorageMaskHardware {
		t.Fatalf("mask %v", v)
	}
}
