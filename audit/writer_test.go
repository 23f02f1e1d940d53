package audit_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/postgres"
)

// The group-commit writer against a real PostgreSQL (internal/pgtest).

// testMAC stands in for the HSM's non-extractable MAC key.
type testMAC []byte // like hmacKey in audit_test.go

func (k testMAC) MAC(_ context.Context, data []byte) ([]byte, error) {
	m := hmac.New(sha256.New, k)
	m.Write(data)
	return m.Sum(nil), nil
}

// gatedStore lets a test hold a batch in flight and make the next one fail.
type gatedStore struct {
	*postgres.Store
	mu      sync.Mutex
	gate    chan struct{} // when set, the next batch waits for it to close
	entered chan struct{} // closed when a gated batch starts waiting
	failOn  int           // fail the batch call with this 1-based number
	calls   int
	sizes   []int
}

var errInjected = errors.New("injected batch failure")

func (g *gatedStore) AppendAuditBatch(ctx context.Context, recs []storage.AuditRecord) error {
	g.mu.Lock()
	g.calls++
	call, gate, entered := g.calls, g.gate, g.entered
	g.gate, g.entered = nil, nil
	g.sizes = append(g.sizes, len(recs))
	fail := g.failOn == call
	g.mu.Unlock()
	if gate != nil {
		close(entered)
		<-gate
	}
	if fail {
		return errInjected
	}
	return g.Store.AppendAuditBatch(ctx, recs)
}

func openPG(t *testing.T, url, node string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func openTrail(t *testing.T, node string, mac audit.MACer, store storage.AuditStore) *audit.Trail {
	t.Helper()
	tr, err := audit.Open(t.Context(), node, mac, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return tr
}

// verifyChain checks that node's records are 1..want, contiguous, and
// verify.
func verifyChain(t *testing.T, store storage.AuditStore, mac audit.MACer, node string, want int) []storage.AuditRecord {
	t.Helper()
	recs, err := store.ListAudit(t.Context(), storage.AuditFilter{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != want {
		t.Fatalf("%d records, want %d", len(recs), want)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: the chain is not contiguous", i+1, r.Seq)
		}
	}
	reps, err := audit.Verify(t.Context(), mac, recs)
	if err != nil || len(reps) != 1 || reps[0].Problem != nil || reps[0].Records != want {
		t.Fatalf("verify: %+v %v", reps, err)
	}
	return recs
}

func TestGroupCommit(t *testing.T) {
	srv := pgtest.Start(t)
	key := testMAC("test key, not secret")

	t.Run("ConcurrentAppendsAndChanges", func(t *testing.T) {
		store := openPG(t, srv.NewDatabase(t), "node-a")
		g := &gatedStore{Store: store}
		tr := openTrail(t, "node-a", key, g)
		const workers, each = 16, 25
		dupUID := uuid.NewString()
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					if w%4 == 0 && i%5 == 0 {
						// A record that travels with a change, as Create's does.
						p := tr.Begin(storage.AuditRecord{Operation: "Create", User: "u"})
						obj := storage.Object{UID: uuid.NewString(), ObjectType: 2, KEK: "k", Blob: []byte{1}, BlobLength: 1}
						if err := store.CreateObject(storage.WithAudit(t.Context(), p), obj); err != nil {
							errs <- err
						}
						p.Finish(t.Context(), "Success", "", "")
						continue
					}
					if w%4 == 1 && i == 3 {
						// Changes that fail (all but one Create of the same
						// UID) roll back alone, with no record, and the
						// batch around them commits.
						p := tr.Begin(storage.AuditRecord{Operation: "Create", User: "u"})
						obj := storage.Object{UID: dupUID, ObjectType: 2, KEK: "k", Blob: []byte{1}, BlobLength: 1}
						err := store.CreateObject(storage.WithAudit(t.Context(), p), obj)
						switch {
						case errors.Is(err, storage.ErrExists):
							p.Finish(t.Context(), "Operation Failed", "General Failure", "exists")
						case err != nil:
							errs <- err
						default:
							p.Finish(t.Context(), "Success", "", "")
						}
						continue
					}
					rec := storage.AuditRecord{Operation: "Get", User: fmt.Sprintf("w%d", w), Status: "Success", Message: fmt.Sprint(i)}
					if err := tr.Append(t.Context(), rec); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		recs := verifyChain(t, store, key, "node-a", workers*each)
		creates, failed := 0, 0
		for _, r := range recs {
			if r.Operation == "Create" {
				creates++
				if r.Status != "Success" {
					failed++
				}
			}
		}
		if want := workers/4*(each/5) + workers/4; creates != want || failed != workers/4-1 {
			t.Fatalf("%d Create records (%d failed), want %d (%d failed)", creates, failed, want, workers/4-1)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		t.Logf("%d batches without changes, sizes %v", len(g.sizes), g.sizes)
	})

	t.Run("ChangesInBatch", func(t *testing.T) {
		// A batch holding changes: its records on their own are chained
		// first, linked but the last (one MAC), and each change's record
		// is sealed on its own, also when a failing change sends the
		// batch down the savepoint path.
		store := openPG(t, srv.NewDatabase(t), "node-a")
		g := &gatedStore{Store: store}
		mac := &countMAC{key: hmacKey(key)}
		tr := openTrail(t, "node-a", mac, g)
		ctx := t.Context()
		taken := uuid.NewString()
		var (
			createdMu sync.Mutex
			created   = map[string]storage.Object{}
		)
		create := func(uid string) error {
			p := tr.Begin(storage.AuditRecord{Operation: "Create", User: "u"})
			// Distinct rows, so that the batch's one INSERT of every new
			// object (storage/postgres commitPipelined) is seen to keep
			// each row whole.
			blob := []byte(uid)
			obj := storage.Object{UID: uid, ObjectType: 2, Algorithm: 3, Length: int32(len(blob) * 8), KEK: "k-" + uid[:8],
				Mechanism: 7, Blob: blob, BlobLength: len(blob), Attributes: []byte("attrs " + uid), MAC: []byte("mac " + uid),
				Names: []string{"n-" + uid, `q"uo\te`}}
			err := store.CreateObject(storage.WithAudit(ctx, p), obj)
			if errors.Is(err, storage.ErrExists) {
				p.Finish(ctx, "Operation Failed", "General Failure", "exists")
				return nil
			}
			if err == nil {
				p.Finish(ctx, "Success", "", "")
				createdMu.Lock()
				created[uid] = obj
				createdMu.Unlock()
			}
			return err
		}
		if err := create(taken); err != nil {
			t.Fatal(err)
		}
		const alone, changes = 6, 3
		batch := func(failing bool) (macs int64) {
			gate, entered := make(chan struct{}), make(chan struct{})
			g.mu.Lock()
			g.gate, g.entered = gate, entered
			g.mu.Unlock()
			first := make(chan error, 1)
			go func() { first <- tr.Append(ctx, storage.AuditRecord{Operation: "Query", Status: "Success"}) }()
			<-entered
			n := alone + changes
			errs := make(chan error, n+1)
			for i := range alone {
				go func() {
					errs <- tr.Append(ctx, storage.AuditRecord{Operation: "Get", Status: "Success", Message: fmt.Sprint(i)})
				}()
			}
			for range changes {
				go func() { errs <- create(uuid.NewString()) }()
			}
			if failing {
				n++
				go func() { errs <- create(taken) }()
			}
			for deadline := time.Now().Add(10 * time.Second); tr.Queued() < n; {
				if time.Now().After(deadline) {
					t.Fatalf("%d records queued, want %d", tr.Queued(), n)
				}
				time.Sleep(time.Millisecond)
			}
			before := mac.calls.Load()
			close(gate)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			for range n {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			return mac.calls.Load() - before
		}
		if got := batch(false); got != 1 {
			t.Errorf("a batch of %d records on their own and %d changes cost %d MACs, want 1", alone, changes, got)
		}
		// Pipelined (every record chained as one run), then change by
		// change: the records on their own as a run, each change sealed.
		t.Logf("the batch with a failing change cost %d MACs", batch(true))
		recs := verifyChain(t, g, mac, "node-a", 1+2*(1+alone+changes)+1)
		// 1: the first Create; 2: the held Query; 3-11: the batch; 12: the
		// held Query; 13-21: the failing batch, 22: the failed Create's
		// record, on its own after it.
		want := "S" + "S" + strings.Repeat("L", alone+changes-1) + "S" +
			"S" + strings.Repeat("L", alone-1) + "S" + strings.Repeat("S", changes) + "S"
		if got := kinds(recs); got != want {
			t.Errorf("record kinds %s, want %s", got, want)
		}
		for i, r := range recs[2 : 2+alone] {
			if r.Operation != "Get" {
				t.Errorf("record %d is %s, want a Get: the records on their own come first", i+3, r.Operation)
			}
		}
		if len(created) != 1+2*changes {
			t.Fatalf("%d objects created, want %d", len(created), 1+2*changes)
		}
		for uid, want := range created {
			got, _, err := store.Object(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			if got.ObjectType != want.ObjectType || got.Algorithm != want.Algorithm || got.Length != want.Length ||
				got.KEK != want.KEK || got.Mechanism != want.Mechanism || !bytes.Equal(got.Blob, want.Blob) ||
				got.BlobLength != want.BlobLength || !bytes.Equal(got.Attributes, want.Attributes) || !bytes.Equal(got.MAC, want.MAC) {
				t.Errorf("object %s read back as %+v, want %+v", uid, got, want)
			}
			recs, err := store.ListObjects(ctx, storage.Filter{Name: "n-" + uid, Limit: 10})
			if err != nil || len(recs) != 1 || recs[0].Object.UID != uid {
				t.Errorf("object %s not found alone by its name (%d found, %v)", uid, len(recs), err)
			}
		}
	})

	t.Run("FailedBatch", func(t *testing.T) {
		store := openPG(t, srv.NewDatabase(t), "node-a")
		g := &gatedStore{Store: store}
		tr := openTrail(t, "node-a", key, g)
		ctx := t.Context()
		if err := tr.Append(ctx, storage.AuditRecord{Operation: "Query", Status: "Success"}); err != nil {
			t.Fatal(err)
		}
		// Hold the next batch (one record) in flight while ten more queue
		// behind it; make the batch of those ten fail.
		gate, entered := make(chan struct{}), make(chan struct{})
		g.mu.Lock()
		g.gate, g.entered, g.failOn = gate, entered, g.calls+2
		g.mu.Unlock()
		first := make(chan error, 1)
		go func() { first <- tr.Append(ctx, storage.AuditRecord{Operation: "Get", Status: "Success"}) }()
		<-entered
		const queued = 10
		results := make(chan error, queued)
		for i := range queued {
			go func() {
				results <- tr.Append(ctx, storage.AuditRecord{Operation: "Get", Status: "Success", Message: fmt.Sprint(i)})
			}()
		}
		for deadline := time.Now().Add(10 * time.Second); tr.Queued() < queued; {
			if time.Now().After(deadline) {
				t.Fatalf("%d records queued, want %d", tr.Queued(), queued)
			}
			time.Sleep(time.Millisecond)
		}
		close(gate)
		if err := <-first; err != nil {
			t.Fatalf("the batch before the failing one: %v", err)
		}
		for range queued {
			if err := <-results; !errors.Is(err, errInjected) {
				t.Fatalf("a waiter of the failed batch got %v, want the batch's error", err)
			}
		}
		g.mu.Lock()
		if last := g.sizes[len(g.sizes)-1]; last != queued {
			t.Errorf("failed batch held %d records, want %d", last, queued)
		}
		g.mu.Unlock()
		// The chain continues where the stored records end.
		for range 3 {
			if err := tr.Append(ctx, storage.AuditRecord{Operation: "Query", Status: "Success"}); err != nil {
				t.Fatal(err)
			}
		}
		verifyChain(t, store, key, "node-a", 5)
	})

	t.Run("SecondWriterRereadsChain", func(t *testing.T) {
		// Two processes with the same node name: each one's write that
		// collides on (origin_node, seq) fails, and the next one re-reads
		// the chain's end and continues it.
		u := srv.NewDatabase(t)
		store := openPG(t, u, "node-a")
		a := openTrail(t, "node-a", key, store)
		b := openTrail(t, "node-a", key, openPG(t, u, "node-a"))
		ctx := t.Context()
		rec := storage.AuditRecord{Operation: "Query", Status: "Success"}
		if err := a.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := b.Append(ctx, rec); err == nil {
			t.Fatal("b appended seq 1 twice")
		}
		if err := b.Append(ctx, rec); err != nil {
			t.Fatalf("b after re-reading: %v", err)
		}
		if err := a.Append(ctx, rec); err == nil {
			t.Fatal("a appended seq 2 twice")
		}
		if err := a.Append(ctx, rec); err != nil {
			t.Fatalf("a after re-reading: %v", err)
		}
		verifyChain(t, store, key, "node-a", 3)
	})

	t.Run("Close", func(t *testing.T) {
		store := openPG(t, srv.NewDatabase(t), "node-a")
		tr, err := audit.Open(t.Context(), "node-a", key, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Append(t.Context(), storage.AuditRecord{Operation: "Query", Status: "Success"}); err != nil {
			t.Fatal(err)
		}
		if err := tr.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := tr.Close(t.Context()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := tr.Append(t.Context(), storage.AuditRecord{Operation: "Query", Status: "Success"}); !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("Append after Close: %v", err)
		}
		verifyChain(t, store, key, "node-a", 1)
	})
}
