package kmip_test

import (
	"testing"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

func inVersion(v kmip.ProtocolVersion, r ttlv.ResultReason) bool {
	info, ok := ttlv.EnumValueInfo(ttlv.TagResultReason, uint32(r))
	return ok && info.InVersion(ttlv.Version{Major: int(v.Major), Minor: int(v.Minor)})
}

// TestReasonInEveryVersion: whatever reason a handler picks, the client
// receives one its version defines, and a reason it defines unchanged.
func TestReasonInEveryVersion(t *testing.T) {
	values, ok := ttlv.EnumValues(ttlv.TagResultReason)
	if !ok {
		t.Fatal("no Result Reason enumeration")
	}
	for _, v := range kmip.SupportedVersions() {
		for _, e := range values {
			r := ttlv.ResultReason(e.Value)
			got := kmip.ReasonIn(v, r)
			if !inVersion(v, got) {
				t.Errorf("ReasonIn(%s, %s) = %s, which %s does not define", v, r, got, v)
			}
			if inVersion(v, r) && got != r {
				t.Errorf("ReasonIn(%s, %s) = %s, want it unchanged", v, r, got)
			}
		}
	}
}

func TestReasonInFallbacks(t *testing.T) {
	v10 := kmip.ProtocolVersion{Major: 1, Minor: 0}
	v12 := kmip.ProtocolVersion{Major: 1, Minor: 2}
	v14 := kmip.ProtocolVersion{Major: 1, Minor: 4}
	v21 := kmip.ProtocolVersion{Major: 2, Minor: 1}
	for _, c := range []struct {
		v      kmip.ProtocolVersion
		reason ttlv.ResultReason
		want   ttlv.ResultReason
	}{
		{v14, ttlv.ResultReasonKeyWrapTypeNotSupported, ttlv.ResultReasonFeatureNotSupported},
		{v21, ttlv.ResultReasonKeyWrapTypeNotSupported, ttlv.ResultReasonKeyWrapTypeNotSupported},
		{v14, ttlv.ResultReasonObjectNotFound, ttlv.ResultReasonItemNotFound},
		{v14, ttlv.ResultReasonWrongKeyLifecycleState, ttlv.ResultReasonPermissionDenied},
		{v14, ttlv.ResultReasonNumericRange, ttlv.ResultReasonInvalidField},
		{v14, ttlv.ResultReasonSensitive, ttlv.ResultReasonSensitive},
		{v12, ttlv.ResultReasonSensitive, ttlv.ResultReasonPermissionDenied},
		{v10, ttlv.ResultReasonEncodingOptionError, ttlv.ResultReasonFeatureNotSupported},
		{v10, ttlv.ResultReasonKeyValueNotPresent, ttlv.ResultReasonItemNotFound},
	} {
		if got := kmip.ReasonIn(c.v, c.reason); got != c.want {
			t.Errorf("ReasonIn(%s, %s) = %s, want %s", c.v, c.reason, got, c.want)
		}
	}
}

// TestResponseEncodesReasonInVersion: the net is applied where a response
// is encoded, whatever built the failed item.
func TestResponseEncodesReasonInVersion(t *testing.T) {
	for _, c := range []struct {
		v    kmip.ProtocolVersion
		want ttlv.ResultReason
	}{
		{kmip.ProtocolVersion{Major: 1, Minor: 4}, ttlv.ResultReasonItemNotFound},
		{kmip.ProtocolVersion{Major: 2, Minor: 0}, ttlv.ResultReasonObjectDestroyed},
	} {
		resp := kmip.Response{Version: c.v, Items: []kmip.ResponseItem{
			kmip.Failure(ttlv.OperationGet, nil, kmip.Errorf(ttlv.ResultReasonObjectDestroyed, "object x was destroyed")),
		}}
		bi, _ := resp.TTLV().Find(ttlv.TagBatchItem)
		rr, ok := bi.Find(ttlv.TagResultReason)
		if !ok {
			t.Fatalf("%s: no Result Reason in %v", c.v, bi)
		}
		if got, _ := rr.EnumValue(); ttlv.ResultReason(got) != c.want {
			t.Errorf("%s: Result Reason %s, want %s", c.v, ttlv.ResultReason(got), c.want)
		}
		if m, _ := bi.Find(ttlv.TagResultMessage); m.Type != ttlv.TypeTextString {
			t.Errorf("%s: no Result Message", c.v)
		}
	}
}
