package audit_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/memstore"
)

// hmacKey stands in for the HSM's non-extractable MAC key.
type hmacKey []byte

func (k hmacKey) MAC(ctx context.Context, data []byte) ([]byte, error) {
	m := hmac.New(sha256.New, k)
	m.Write(data)
	return m.Sum(nil), nil
}

type lines []string

func (l *lines) Write(r storage.AuditRecord) error { *l = append(*l, audit.CSVLine(r)); return nil }

// chain writes n records through a trail and returns them as stored.
func chain(t *testing.T, n int) (hmacKey, []storage.AuditRecord, lines) {
	t.Helper()
	key := hmacKey("test key, not secret")
	store := memstore.New("node-a")
	var out lines
	tr, err := audit.Open(t.Context(), "node-a", key, store, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if i%2 == 0 {
			if err := tr.Append(t.Context(), storage.AuditRecord{Operation: "Get", User: "u", Status: "Success"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// A record that travels with a write, as ops does.
		p := tr.Begin(storage.AuditRecord{Operation: "Create", User: "u", Group: "g"})
		p.Object(uuidN(i), "name,with comma")
		obj := storage.Object{UID: uuidN(i), ObjectType: 2, KEK: "k", Blob: []byte{1}, BlobLength: 1}
		if err := store.CreateObject(storage.WithAudit(t.Context(), p), obj); err != nil {
			t.Fatal(err)
		}
		p.Finish(t.Context(), "Success", "", "")
	}
	recs, err := store.ListAudit(t.Context(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	return key, recs, out
}

func uuidN(i int) string {
	return "00000000-0000-4000-8000-" + strings.Repeat("0", 10) + string(rune('a'+i/10)) + string(rune('0'+i%10))
}

func TestVerify(t *testing.T) {
	key, recs, out := chain(t, 10)
	if len(out) != 10 || !strings.Contains(out[1], `"Operation <00000002> Unique Identifier <`+uuidN(1)+`> Name <name,with comma>"`) {
		t.Fatalf("CSV lines: %q", out)
	}
	reps, err := audit.Verify(t.Context(), key, recs)
	if err != nil || len(reps) != 1 || reps[0].Problem != nil || reps[0].Records != 10 {
		t.Fatalf("untouched chain: %+v %v", reps, err)
	}
	clone := func() []storage.AuditRecord {
		c := make([]storage.AuditRecord, len(recs))
		copy(c, recs)
		return c
	}
	tests := []struct {
		name    string
		tamper  func() []storage.AuditRecord
		kind    string
		seq     int64
		wantErr bool
	}{
		{"altered", func() []storage.AuditRecord { c := clone(); c[4].User = "mallory"; return c }, audit.Altered, 5, false},
		{"altered last", func() []storage.AuditRecord { c := clone(); c[9].Status = "Failed"; return c }, audit.Altered, 10, false},
		{"deleted", func() []storage.AuditRecord { c := clone(); return append(c[:3], c[4:]...) }, audit.Deleted, 5, false},
		{"inserted", func() []storage.AuditRecord {
			c := clone()
			fake := c[3]
			fake.Operation = "Destroy"
			return append(c[:4], append([]storage.AuditRecord{fake}, c[4:]...)...)
		}, audit.Inserted, 4, false},
		{"reordered (rows swapped)", func() []storage.AuditRecord {
			c := clone()
			c[5], c[6] = c[6], c[5]
			c[5].Seq, c[6].Seq = 6, 7
			return c
		}, audit.Reordered, 6, false},
		{"reordered (sequence numbers swapped)", func() []storage.AuditRecord {
			c := clone()
			c[2].Seq, c[3].Seq = 4, 3
			c[2], c[3] = c[3], c[2]
			return c
		}, audit.Reordered, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := audit.Verify(t.Context(), key, tt.tamper())
			if err != nil {
				t.Fatal(err)
			}
			p := reps[0].Problem
			if p == nil || p.Kind != tt.kind || p.Seq != tt.seq {
				t.Fatalf("problem %+v, want %s at %d", p, tt.kind, tt.seq)
			}
		})
	}
}

func TestReopenContinuesChain(t *testing.T) {
	key := hmacKey("k")
	store := memstore.New("node-a")
	for range 2 {
		tr, err := audit.Open(t.Context(), "node-a", key, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := tr.Append(t.Context(), storage.AuditRecord{Operation: "Query", Status: "Success"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	recs, _ := store.ListAudit(t.Context(), storage.AuditFilter{})
	reps, err := audit.Verify(t.Context(), key, recs)
	if err != nil || reps[0].Problem != nil || reps[0].Records != 6 {
		t.Fatalf("%+v %v", reps, err)
	}
}
