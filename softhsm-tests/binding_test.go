package softhsmtests

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/uuid"

	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// TestRowBinding tampers with key rows as the database owner would (guard
// triggers off) and checks that each tampered key is refused at use with
// Cryptographic Failure and an audit record, while untouched keys work.
// Keys are bound with binding v2 (kmip/ops/binding.go): the MAC column is
// 0x02 || HMAC || D; the v2 cases move, change, cut and pad it.
func TestRowBinding(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	admin := s.dial(t, "admin", v)
	uids := make([]string, 12)
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
	db, exec := s.sql(t)
	var macLen, tag int
	if err := db.QueryRow(ctx, `SELECT octet_length(mac), get_byte(mac, 0) FROM objects WHERE uid = $1`, uids[0]).Scan(&macLen, &tag); err != nil {
		t.Fatal(err)
	}
	if macLen != 65 || tag != 2 {
		t.Fatalf("a new key's MAC column has %d bytes, first 0x%02x; want binding v2 (65 bytes, 0x02)", macLen, tag)
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
		{"blob and its D moved from another key's row", uids[6],
			`UPDATE objects SET blob = o2.blob, mac = substring(objects.mac from 1 for 33) || substring(o2.mac from 34)
			 FROM objects o2 WHERE objects.uid = $1 AND o2.uid = $2`, []any{uids[6], uids[5]}},
		{"D changed", uids[7], `UPDATE objects SET mac = set_byte(mac, 64, get_byte(mac, 64) # 1) WHERE uid = $1`, []any{uids[7]}},
		{"MAC column swapped with another key's", uids[8],
			`UPDATE objects SET mac = (SELECT mac FROM objects WHERE uid = $2) WHERE uid = $1`, []any{uids[8], uids[5]}},
		{"v2 tag stripped (a v1-looking column)", uids[9], `UPDATE objects SET mac = substring(mac from 2) WHERE uid = $1`, []any{uids[9]}},
		{"MAC column extended by a byte", uids[10], `UPDATE objects SET mac = mac || '\x00'::bytea WHERE uid = $1`, []any{uids[10]}},
		{"MAC column cut to 64 bytes", uids[11], `UPDATE objects SET mac = substring(mac from 1 for 64) WHERE uid = $1`, []any{uids[11]}},
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

// TestRowBindingLegacyAndDestroyed: a row bound the v1 way (as a server
// from before binding v2 wrote it: two HMACs, 64 bytes) is served without
// migration, before and after Destroy; a v2 row scrubbed by Destroy still
// loads, and refuses a changed D or another key's blob.
func TestRowBindingLegacyAndDestroyed(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	admin := s.dial(t, "admin", kmip.ProtocolVersion{Major: 1, Minor: 2})
	legacy, err := admin.CreateAES(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	current, err := admin.CreateAES(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	db, exec := s.sql(t)
	column := func(uid string) (macLen int, scrubbed bool) {
		t.Helper()
		if err := db.QueryRow(ctx, `SELECT octet_length(mac), blob IS NULL FROM objects WHERE uid = $1`, uid).Scan(&macLen, &scrubbed); err != nil {
			t.Fatal(err)
		}
		return macLen, scrubbed
	}
	loads := func(uid, what string) {
		t.Helper()
		if _, err := admin.GetAttributes(ctx, uid); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	refused := func(uid, what string) {
		t.Helper()
		if _, err := admin.GetAttributes(ctx, uid); !isReason(err, ttlv.ResultReasonCryptographicFailure) {
			t.Errorf("%s: got %v, want Cryptographic Failure", what, err)
		}
	}
	exec(`ALTER TABLE objects DISABLE TRIGGER objects_guard`)

	// Rebind the first key the v1 way, read from the database (not through
	// the server's object cache, which never saw it).
	var row storage.Object
	if err := db.QueryRow(ctx, `SELECT uid::text, origin_node, object_type, algorithm, length, kek, mechanism, blob, blob_length, attributes
		FROM objects WHERE uid = $1`, legacy).Scan(&row.UID, &row.OriginNode, &row.ObjectType, &row.Algorithm, &row.Length,
		&row.KEK, &row.Mechanism, &row.Blob, &row.BlobLength, &row.Attributes); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE objects SET mac = $2 WHERE uid = $1`, legacy, bindV1(t, s.keys, row))
	if n, _ := column(legacy); n != 64 {
		t.Fatalf("v1 column has %d bytes", n)
	}
	if _, err := admin.GetKey(ctx, legacy); err != nil && !isReason(err, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonWrongKeyLifecycleState) {
		t.Fatalf("get of a v1 row: %v", err)
	}
	loads(legacy, "v1 row")
	if err := admin.Destroy(ctx, legacy); err != nil {
		t.Fatalf("destroy of a v1 row: %v", err)
	}
	if n, scrubbed := column(legacy); n != 64 || !scrubbed {
		t.Fatalf("v1 row after Destroy: %d-byte MAC, scrubbed %v", n, scrubbed)
	}
	loads(legacy, "v1 row after Destroy")

	// A v2 row through Destroy.
	loads(current, "v2 row")
	if err := admin.Destroy(ctx, current); err != nil {
		t.Fatal(err)
	}
	if n, scrubbed := column(current); n != 65 || !scrubbed {
		t.Fatalf("v2 row after Destroy: %d-byte MAC, scrubbed %v", n, scrubbed)
	}
	loads(current, "v2 row after Destroy")

	// And tampered with, scrubbed: neither a changed D nor a blob put back
	// from another key passes.
	exec(`UPDATE objects SET mac = set_byte(mac, 64, get_byte(mac, 64) # 1) WHERE uid = $1`, current)
	refused(current, "destroyed v2 row, D changed")
	exec(`UPDATE objects SET mac = set_byte(mac, 64, get_byte(mac, 64) # 1) WHERE uid = $1`, current)
	loads(current, "destroyed v2 row, D restored")
	exec(`UPDATE objects SET blob = $2 WHERE uid = $1`, current, row.Blob)
	refused(current, "destroyed v2 row given another key's blob")
	exec(`UPDATE objects SET length = 128 WHERE uid = $1`, legacy)
	refused(legacy, "destroyed v1 row, length changed")
}

// bindV1 computes a v1 MAC column in the token: HMAC over the identity
// encoding, then HMAC over the blob encoding, as binding v1 of
// kmip/ops/binding.go defined them (written out again here, so that a
// change of those encodings in ops fails this test).
func bindV1(t *testing.T, keys *pkcs11hsm.Keystore, o storage.Object) []byte {
	t.Helper()
	var b []byte
	bytesF := func(v []byte) { b = binary.AppendUvarint(b, uint64(len(v))); b = append(b, v...) }
	text := func(v string) { bytesF([]byte(v)) }
	num := func(v int64) { b = binary.BigEndian.AppendUint64(b, uint64(v)) }
	hash := func(v []byte) { h := sha256.Sum256(v); bytesF(h[:]) }
	text("strongroom-object-v1")
	text(o.UID)
	text(o.OriginNode)
	num(int64(o.ObjectType))
	num(int64(o.Algorithm))
	num(int64(o.Length))
	text(o.KEK)
	num(int64(o.Mechanism))
	num(int64(o.BlobLength))
	hash(o.Attributes)
	mac := func() []byte {
		m, err := keys.MAC(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		b = nil
		return m
	}
	id := mac()
	text("strongroom-blob-v1")
	text(o.UID)
	text(o.KEK)
	num(int64(o.Mechanism))
	num(int64(o.BlobLength))
	hash(o.Blob)
	return append(id, mac()...)
}
