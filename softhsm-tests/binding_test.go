package softhsmtests

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// TestRowBinding tampers with key rows as the database owner would (guard
// triggers off) and checks that each tampered key is refused at use with
// Cryptographic Failure and an audit record, while untouched keys work.
func TestRowBinding(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	admin := s.dial(t, "admin", v)
	uids := make([]string, 6)
	for i := range uids {
		uid, err := admin.CreateAES(ctx, 256)
		if err != nil {
			t.Fatal(err)
		}
		if err := admin.Activate(ctx, uid); err != nil {
			t.Fatal(err)
		}
		uids[i] = uid
	}
	for _, uid := range uids {
		if _, err := admin.GetKey(ctx, uid); err != nil {
			t.Fatalf("get before tampering: %v", err)
		}
	}
	db, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`ALTER TABLE objects DISABLE TRIGGER objects_guard`)
	exec(`ALTER TABLE object_events DISABLE TRIGGER object_events_guard`)
	tampers := []struct {
		name string
		uid  string
		sql  string
		args []any
	}{
		{"blob swapped with another key's", uids[0],
			`UPDATE objects SET blob = (SELECT blob FROM objects WHERE uid = $2) WHERE uid = $1`, []any{uids[0], uids[5]}},
		{"initial attributes (state, owner, usage mask) replaced", uids[1],
			`UPDATE objects SET attributes = (SELECT attributes FROM objects WHERE uid = $2) WHERE uid = $1`, []any{uids[1], uids[5]}},
		{"length changed", uids[2], `UPDATE objects SET length = 128 WHERE uid = $1`, []any{uids[2]}},
		{"event (the activation) rewritten", uids[3],
			`UPDATE object_events SET payload = (SELECT payload FROM object_events WHERE uid = $2 ORDER BY clock DESC LIMIT 1) WHERE uid = $1`, []any{uids[3], uids[5]}},
		{"event forged from another key's", uids[4],
			`INSERT INTO object_events (id, uid, origin_node, clock, kind, payload, created_at, mac)
			 SELECT $3, $1, origin_node, clock + 1, kind, payload, created_at, mac FROM object_events WHERE uid = $2 ORDER BY clock DESC LIMIT 1`,
			[]any{uids[4], uids[5], uuid.NewString()}},
	}
	for _, tt := range tampers {
		exec(tt.sql, tt.args...)
		_, err := admin.GetKey(ctx, tt.uid)
		if !isReason(err, ttlv.ResultReasonCryptographicFailure) || !strings.Contains(err.Error(), "failed its integrity check") {
			t.Errorf("%s: get gave %v, want Cryptographic Failure", tt.name, err)
		}
		recs, err := s.store.ListAudit(ctx, storage.AuditFilter{UID: tt.uid})
		if err != nil {
			t.Fatal(err)
		}
		last := recs[len(recs)-1]
		if last.Operation != "Get" || last.Reason != "Cryptographic Failure" || !strings.Contains(last.Message, "integrity") {
			t.Errorf("%s: last audit record %+v", tt.name, last)
		}
	}
	if _, err := admin.GetKey(ctx, uids[5]); err != nil {
		t.Fatalf("the untouched key: %v", err)
	}
}
