package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// sealer is a storage.AuditSealer that numbers records and remembers the
// outcome of Done.
type sealer struct {
	node      string
	seq       int64
	sealed    int
	committed []bool
}

func (s *sealer) Seal(ctx context.Context, uid string) (storage.AuditRecord, bool, error) {
	s.sealed++
	return storage.AuditRecord{
		OriginNode: s.node, Seq: s.seq + 1, Time: time.Now().UTC().Truncate(time.Microsecond),
		Operation: "Test", UID: uid, Status: "Success", Chain: []byte{byte(s.seq + 1)},
	}, true, nil
}

func (s *sealer) Done(ok bool) {
	if ok {
		s.seq++
	}
	s.committed = append(s.committed, ok)
}

// testAudit checks that a record in the context of a write is stored in the
// same transaction as the write, and not at all when the write fails.
func testAudit(t *testing.T, s storage.Store) {
	as, ok := s.(storage.AuditStore)
	if !ok {
		t.Skip("store keeps no audit records")
	}
	sl := &sealer{node: s.Node()}
	actx := storage.WithAudit(ctx(t), sl)
	o := newObject(t, s.Node())
	if err := s.CreateObject(actx, o, newEvent(o.UID, s.Node(), 1, "create")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateObject(actx, o); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if err := s.AppendEvents(actx, newEvent(o.UID, s.Node(), 2, "set")); err != nil {
		t.Fatal(err)
	}
	if err := s.ScrubBlob(actx, o.UID); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(actx, newEvent(newUID(), s.Node(), 3, "set")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("append to a missing object: %v, want ErrNotFound", err)
	}
	want := []bool{true, false, true, true, false}
	if len(sl.committed) != len(want) {
		t.Fatalf("Done calls %v, want %v", sl.committed, want)
	}
	for i := range want {
		if sl.committed[i] != want[i] {
			t.Fatalf("Done calls %v, want %v", sl.committed, want)
		}
	}
	if err := as.AppendAudit(ctx(t), storage.AuditRecord{OriginNode: s.Node(), Seq: 4, Time: time.Now(), Operation: "Get", Status: "Success", Chain: []byte{4}}); err != nil {
		t.Fatal(err)
	}
	recs, err := as.ListAudit(ctx(t), storage.AuditFilter{Node: s.Node()})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) || len(r.Chain) != 1 || r.Chain[0] != byte(i+1) {
			t.Errorf("record %d: seq %d chain %v", i, r.Seq, r.Chain)
		}
	}
	if recs[0].UID != o.UID || recs[0].Operation != "Test" {
		t.Errorf("first record %+v", recs[0])
	}
	last, ok, err := as.LastAudit(ctx(t), s.Node())
	if err != nil || !ok || last.Seq != 4 {
		t.Errorf("LastAudit: %d %v %v, want 4", last.Seq, ok, err)
	}
	if byUID, err := as.ListAudit(ctx(t), storage.AuditFilter{UID: o.UID}); err != nil || len(byUID) != 3 {
		t.Errorf("ListAudit by uid: %d records, %v; want 3", len(byUID), err)
	}
	if after, err := as.ListAudit(ctx(t), storage.AuditFilter{Node: s.Node(), AfterSeq: 3}); err != nil || len(after) != 1 {
		t.Errorf("ListAudit after 3: %d records, %v; want 1", len(after), err)
	}
}
