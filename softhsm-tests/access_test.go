package softhsmtests

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// TestKeyAccessMatrix: a key client uses only its group's keys and keys
// granted to it; another group's key is answered exactly like a missing
// one, and every refusal has an audit record saying what happened.
func TestKeyAccessMatrix(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	admin := s.dial(t, "admin", v)
	group := func(g string) kmip.Attribute { return kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, g)) }
	own, err := admin.CreateAES(ctx, 256, group("key-clients"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := admin.CreateAES(ctx, 256, group("other-team"))
	if err != nil {
		t.Fatal(err)
	}
	kc := s.dial(t, "client", v)
	if _, err := kc.GetKey(ctx, own); err != nil {
		t.Fatalf("key client get of its group's key: %v", err)
	}
	_, errOther := kc.GetKey(ctx, other)
	_, errMissing := kc.GetKey(ctx, uuid.NewString())
	if !isReason(errOther, ttlv.ResultReasonItemNotFound) || !isReason(errMissing, ttlv.ResultReasonItemNotFound) {
		t.Fatalf("another group's key: %v; a missing key: %v; want Item Not Found for both", errOther, errMissing)
	}
	if strings.Replace(errOther.Error(), other, "UID", 1) != strings.Replace(errMissing.Error(), uidIn(errMissing.Error()), "UID", 1) {
		t.Errorf("another group's key and a missing key answer differently:\n%v\n%v", errOther, errMissing)
	}
	v2 := s.dial(t, "client", kmip.ProtocolVersion{Major: 2, Minor: 1})
	if _, err := v2.GetAttributes(ctx, other); !isReason(err, ttlv.ResultReasonObjectNotFound) {
		t.Fatalf("KMIP 2.1 get attributes of another group's key: %v, want Object Not Found", err)
	}
	located := func() []string {
		t.Helper()
		got, err := kc.Locate(ctx, -1)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := located(); !slices.Equal(got, []string{own}) {
		t.Fatalf("key client locate: %v, want only %s", got, own)
	}
	if all, err := admin.Locate(ctx, -1); err != nil || len(all) != 2 {
		t.Fatalf("crypto officer locate: %v %v, want both keys", all, err)
	}

	grant := func(action string) {
		t.Helper()
		if err := s.store.AddGrant(ctx, storage.Grant{ID: uuid.NewString(), UID: other, GranteeKind: "group", Grantee: "key-clients", Action: action}); err != nil {
			t.Fatal(err)
		}
	}
	grant("grant")
	if _, err := kc.GetKey(ctx, other); err != nil {
		t.Fatalf("get of a granted key: %v", err)
	}
	if got := located(); len(got) != 2 {
		t.Fatalf("locate with a grant: %v", got)
	}
	grant("revoke")
	if _, err := kc.GetKey(ctx, other); !isReason(err, ttlv.ResultReasonItemNotFound) {
		t.Fatalf("get after the grant was revoked: %v", err)
	}

	recs, err := s.store.ListAudit(ctx, storage.AuditFilter{UID: other})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range recs {
		if r.User == "client" && r.Reason != "" {
			refused++
			if !strings.Contains(r.Message, "another group") {
				t.Errorf("refusal record says %q", r.Message)
			}
		}
	}
	if refused != 3 {
		t.Errorf("%d audit records of refused access to %s, want 3", refused, other)
	}
}

// uidIn returns the first UUID-looking word in s.
func uidIn(s string) string {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '"' || r == ' ' }) {
		if _, err := uuid.Parse(w); err == nil && len(w) == 36 {
			return w
		}
	}
	return ""
}
