package softhsmtests

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ops"
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

	// Grants as `strongroom key grant` makes them: bound by an HSM MAC.
	var firstGrant storage.Grant
	grant := func(action string) {
		t.Helper()
		g := storage.Grant{ID: uuid.NewString(), UID: other, GranteeKind: "group", Grantee: "key-clients", Action: action}
		if err := ops.BindGrant(ctx, s.keys, s.store.Node(), &g); err != nil {
			t.Fatal(err)
		}
		if err := s.store.AddGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		if firstGrant.ID == "" {
			firstGrant = g
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

	// Grants inserted with SQL (no MAC; a MAC copied from a valid grant
	// row) give nothing, and each ignored row is audited.
	db, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	for i, mac := range [][]byte{nil, firstGrant.MAC} {
		if _, err := db.Exec(ctx, `INSERT INTO key_grants (id, origin_node, uid, grantee_kind, grantee, action, created_at, created_by, mac)
			VALUES ($1, 'node1', $2, 'group', 'key-clients', 'grant', now(), 'local:root', coalesce($3, ''::bytea))`,
			uuid.NewString(), other, mac); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.GetKey(ctx, other); !isReason(err, ttlv.ResultReasonItemNotFound) {
			t.Fatalf("get with SQL-inserted grant %d: %v, want Item Not Found", i, err)
		}
		if got := located(); !slices.Equal(got, []string{own}) {
			t.Fatalf("locate with SQL-inserted grant %d: %v, want only %s", i, got, own)
		}
	}

	recs, err := s.store.ListAudit(ctx, storage.AuditFilter{UID: other})
	if err != nil {
		t.Fatal(err)
	}
	refused, ignored := 0, 0
	for _, r := range recs {
		if r.Operation == "Key Grant Check" {
			ignored++
			if r.Reason != "Cryptographic Failure" || !strings.Contains(r.Message, "failed its integrity check") {
				t.Errorf("ignored grant record: %+v", r)
			}
			continue
		}
		if r.User == "client" && r.Reason != "" {
			refused++
			if !strings.Contains(r.Message, "another group") {
				t.Errorf("refusal record says %q", r.Message)
			}
		}
	}
	if refused != 5 {
		t.Errorf("%d audit records of refused access to %s, want 5", refused, other)
	}
	if ignored < 2 {
		t.Errorf("%d audit records of ignored grants, want at least 2", ignored)
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
