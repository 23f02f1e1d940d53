package audit_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/storage"
)

// One HSM MAC per group commit: linked and sealed records (audit/link.go).

// countMAC counts the HSM calls; spin makes each take about that long, the
// benchmark's stand-in for SoftHSM2's C_SignInit + C_Sign.
type countMAC struct {
	key   hmacKey
	spin  time.Duration
	calls atomic.Int64
}

func (m *countMAC) MAC(ctx context.Context, data []byte) ([]byte, error) {
	m.calls.Add(1)
	for start := time.Now(); time.Since(start) < m.spin; {
	}
	return m.key.MAC(ctx, data)
}

// sliceStore is an audit store over a slice whose AppendAuditBatch stores
// all or nothing, as PostgreSQL's does. A test can hold the next write in
// flight (hold) and edit the rows as a database owner would (edit).
type sliceStore struct {
	mu      sync.Mutex
	recs    []storage.AuditRecord
	used    map[string]bool // origin node and seq of every stored record
	gate    chan struct{}
	entered chan struct{}
	writes  []int // records per write
}

func (s *sliceStore) AppendAudit(ctx context.Context, r storage.AuditRecord) error {
	return s.insert([]storage.AuditRecord{r})
}

func (s *sliceStore) AppendAuditBatch(ctx context.Context, recs []storage.AuditRecord) error {
	return s.insert(recs)
}

func usedKey(r storage.AuditRecord) string { return fmt.Sprintf("%s/%d", r.OriginNode, r.Seq) }

func (s *sliceStore) insert(recs []storage.AuditRecord) error {
	s.mu.Lock()
	gate, entered := s.gate, s.entered
	s.gate, s.entered = nil, nil
	s.mu.Unlock()
	if gate != nil {
		close(entered)
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used == nil {
		s.used = map[string]bool{}
	}
	for _, r := range recs {
		if s.used[usedKey(r)] {
			return fmt.Errorf("duplicate record %s", usedKey(r))
		}
	}
	for _, r := range recs {
		s.used[usedKey(r)] = true
		r.Chain = slices.Clone(r.Chain)
		s.recs = append(s.recs, r)
	}
	s.writes = append(s.writes, len(recs))
	return nil
}

func (s *sliceStore) LastAudit(ctx context.Context, node string) (storage.AuditRecord, bool, error) {
	recs, _ := s.ListAudit(ctx, storage.AuditFilter{Node: node})
	if len(recs) == 0 {
		return storage.AuditRecord{}, false, nil
	}
	return recs[len(recs)-1], true, nil
}

func (s *sliceStore) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.AuditRecord
	for _, r := range s.recs {
		if f.Node == "" || r.OriginNode == f.Node {
			r.Chain = slices.Clone(r.Chain)
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b storage.AuditRecord) int {
		return cmp.Or(strings.Compare(a.OriginNode, b.OriginNode), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// edit changes the stored rows as the database owner can.
func (s *sliceStore) edit(f func([]storage.AuditRecord) []storage.AuditRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = f(s.recs)
	s.used = map[string]bool{}
	for _, r := range s.recs {
		s.used[usedKey(r)] = true
	}
}

// hold makes the next write wait until release is called; entered is
// closed when it waits.
func (s *sliceStore) hold() (entered <-chan struct{}, release func()) {
	gate, in := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.gate, s.entered = gate, in
	s.mu.Unlock()
	return in, func() { close(gate) }
}

// perRecordStore is a store without AppendAuditBatch: the trail stores its
// records one by one.
type perRecordStore struct{ s *sliceStore }

func (p perRecordStore) AppendAudit(ctx context.Context, r storage.AuditRecord) error {
	return p.s.AppendAudit(ctx, r)
}

func (p perRecordStore) LastAudit(ctx context.Context, node string) (storage.AuditRecord, bool, error) {
	return p.s.LastAudit(ctx, node)
}

func (p perRecordStore) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditRecord, error) {
	return p.s.ListAudit(ctx, f)
}

// queueBatch appends one record and, while its write is held, queues n
// more, so that the writer's next batch holds exactly those n. It returns
// the MACs that batch cost.
func queueBatch(t *testing.T, tr *audit.Trail, s *sliceStore, mac *countMAC, n int) int64 {
	t.Helper()
	ctx := t.Context()
	entered, release := s.hold()
	first := make(chan error, 1)
	go func() { first <- tr.Append(ctx, storage.AuditRecord{Operation: "Query", Status: "Success"}) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first write never started")
	}
	results := make(chan error, n)
	for i := range n {
		go func() {
			results <- tr.Append(ctx, storage.AuditRecord{Operation: "Get", User: fmt.Sprintf("u%d", i), Status: "Success"})
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); tr.Queued() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d records queued, want %d", tr.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
	before := mac.calls.Load()
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	return mac.calls.Load() - before
}

func kinds(recs []storage.AuditRecord) string {
	var b strings.Builder
	for _, r := range recs {
		switch {
		case audit.IsLinked(r.Chain):
			b.WriteByte('L')
		case len(r.Chain) == sha256.Size:
			b.WriteByte('S')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func TestBatchCostsOneMAC(t *testing.T) {
	for _, tt := range []struct {
		name     string
		n        int
		perRec   bool
		macs     int64
		lastKind string // kinds of the batch's records
	}{
		{"one record", 1, false, 1, "S"},
		{"two records", 2, false, 1, "LS"},
		{"seven records", 7, false, 1, "LLLLLLS"},
		{"a hundred records", 100, false, 1, strings.Repeat("L", 99) + "S"},
		{"store without batches: every record sealed", 5, true, 5, "SSSSS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mac := &countMAC{key: hmacKey("test key, not secret")}
			s := &sliceStore{}
			var store storage.AuditStore = s
			if tt.perRec {
				store = perRecordStore{s}
			}
			tr := openTrail(t, "node-a", mac, store)
			if got := queueBatch(t, tr, s, mac, tt.n); got != tt.macs {
				t.Errorf("the batch of %d records cost %d MACs, want %d", tt.n, got, tt.macs)
			}
			// And once more, so the next batch chains onto this one's seal.
			if got := queueBatch(t, tr, s, mac, tt.n); got != tt.macs {
				t.Errorf("the second batch of %d records cost %d MACs, want %d", tt.n, got, tt.macs)
			}
			recs := verifyChain(t, s, mac, "node-a", 2*(1+tt.n))
			if got, want := kinds(recs), "S"+tt.lastKind+"S"+tt.lastKind; got != want {
				t.Errorf("record kinds %s, want %s", got, want)
			}
			if seq, chain := tr.Head(); seq != int64(len(recs)) || audit.IsLinked(chain) {
				t.Errorf("head %d (linked %v), want the sealed record %d", seq, audit.IsLinked(chain), len(recs))
			}
		})
	}
}

// link and seal compute chain values here, independently of the writer.
func link(r storage.AuditRecord, prev []byte) []byte {
	sum := sha256.Sum256(audit.Encode(r, prev))
	return append([]byte{0x01}, sum[:]...)
}

func seal(key hmacKey, r storage.AuditRecord, prev []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(audit.Encode(r, prev))
	return m.Sum(nil)
}

// build returns node-a's chain whose records are sealed (S) or linked (L)
// as pattern says.
func build(key hmacKey, pattern string) []storage.AuditRecord {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var (
		out  []storage.AuditRecord
		prev []byte
	)
	for i, k := range pattern {
		r := storage.AuditRecord{OriginNode: "node-a", Seq: int64(i + 1), Time: base.Add(time.Duration(i) * time.Second),
			Operation: "Get", UID: uuidN(i), User: fmt.Sprintf("u%d", i), Status: "Success"}
		if k == 'L' {
			r.Chain = link(r, prev)
		} else {
			r.Chain = seal(key, r, prev)
		}
		out = append(out, r)
		prev = r.Chain
	}
	return out
}

// relink recomputes, as a tamperer can, the links of c from index from up
// to the next sealed record, which it cannot recompute.
func relink(c []storage.AuditRecord, from int) {
	for i := from; i < len(c) && audit.IsLinked(c[i].Chain); i++ {
		var prev []byte
		if i > 0 {
			prev = c[i-1].Chain
		}
		c[i].Chain = link(c[i], prev)
	}
}

// linkAll turns every record of c from index from on into a link.
func linkAll(c []storage.AuditRecord, from int) {
	for i := from; i < len(c); i++ {
		var prev []byte
		if i > 0 {
			prev = c[i-1].Chain
		}
		c[i].Chain = link(c[i], prev)
	}
}

func renumber(c []storage.AuditRecord) {
	for i := range c {
		c[i].Seq = int64(i + 1)
	}
}

func TestVerifyMixedChain(t *testing.T) {
	key := hmacKey("test key, not secret")
	// Batches: [1] [2 3 4] [5 6 7 8] [9] [10 11].
	const pattern = "SLLSLLLSSLS"
	recs := build(key, pattern)
	clone := func() []storage.AuditRecord {
		c := make([]storage.AuditRecord, len(recs))
		copy(c, recs)
		return c
	}
	for _, tt := range []struct {
		name   string
		recs   func() []storage.AuditRecord
		kind   string // "" for none
		seq    int64
		detail string // part of the problem's Detail
	}{
		{"mixed chain", clone, "", 0, ""},
		{"every record sealed (chains from before links)", func() []storage.AuditRecord { return build(key, "SSSSS") }, "", 0, ""},
		{"one batch", func() []storage.AuditRecord { return build(key, "LLLLS") }, "", 0, ""},
		{"linked record altered", func() []storage.AuditRecord { c := clone(); c[5].User = "mallory"; return c }, audit.Altered, 6, "next record still chains"},
		{"sealed record altered", func() []storage.AuditRecord { c := clone(); c[3].User = "mallory"; return c }, audit.Altered, 4, "next record still chains"},
		{"last record altered", func() []storage.AuditRecord { c := clone(); c[10].Status = "Failed"; return c }, audit.Altered, 11, "the last record"},
		{"linked record altered, links recomputed", func() []storage.AuditRecord {
			c := clone()
			c[4].User = "mallory"
			relink(c, 4)
			return c
		}, audit.Altered, 8, "records 5 to 7 are linked and covered only by its MAC"},
		{"middle record deleted", func() []storage.AuditRecord { c := clone(); return slices.Delete(c, 5, 6) }, audit.Deleted, 7, "records 6 to 6 are missing"},
		{"sealed end of a middle batch deleted", func() []storage.AuditRecord { c := clone(); return slices.Delete(c, 7, 8) }, audit.Deleted, 9, "records 8 to 8 are missing"},
		{"sealed end of the last batch deleted", func() []storage.AuditRecord { c := clone(); return c[:10] }, audit.Truncated, 11, "record 10 is linked"},
		{"whole last batch deleted (the anchor's case)", func() []storage.AuditRecord { c := clone(); return c[:9] }, "", 0, ""},
		{"sealed record turned into a link, links recomputed", func() []storage.AuditRecord {
			c := clone()
			c[3].Chain = link(c[3], c[2].Chain)
			relink(c, 4)
			return c
		}, audit.Altered, 8, "records 2 to 7 are linked"},
		{"every record from a sealed one on turned into a link", func() []storage.AuditRecord {
			c := clone()
			linkAll(c, 3)
			return c
		}, audit.Truncated, 12, "records 2 to 11 are linked"},
		{"forged linked record appended", func() []storage.AuditRecord {
			c := clone()
			f := c[10]
			f.Seq, f.Operation = 12, "Destroy"
			f.Chain = link(f, c[10].Chain)
			return append(c, f)
		}, audit.Truncated, 13, "record 12 is linked"},
		{"linked records swapped", func() []storage.AuditRecord {
			c := clone()
			c[4], c[5] = c[5], c[4]
			renumber(c)
			return c
		}, audit.Reordered, 5, "chained as record 6"},
		{"sealed and linked record swapped", func() []storage.AuditRecord {
			c := clone()
			c[3], c[4] = c[4], c[3]
			renumber(c)
			return c
		}, audit.Reordered, 4, "chained as record 5"},
		{"sequence numbers of linked records swapped", func() []storage.AuditRecord {
			c := clone()
			c[1].Seq, c[2].Seq = 3, 2
			c[1], c[2] = c[2], c[1]
			return c
		}, audit.Reordered, 2, "chained as record 3"},
		{"copy of a linked record inserted", func() []storage.AuditRecord {
			c := clone()
			f := c[5]
			f.Operation = "Destroy"
			return slices.Insert(c, 6, f)
		}, audit.Inserted, 6, "already used"},
		{"forged record inserted, later records renumbered", func() []storage.AuditRecord {
			c := clone()
			f := c[4]
			f.Operation = "Destroy"
			c = slices.Insert(c, 5, f)
			renumber(c)
			return c
		}, audit.Inserted, 6, "not part of the chain"},
		{"forged linked record inserted, renumbered and relinked", func() []storage.AuditRecord {
			c := clone()
			f := c[4]
			f.Operation = "Destroy"
			c = slices.Insert(c, 5, f)
			renumber(c)
			relink(c, 5)
			return c
		}, audit.Altered, 9, "records 5 to 8 are linked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mac := &countMAC{key: key}
			in := tt.recs()
			reps, err := audit.Verify(t.Context(), mac, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 1 || reps[0].Records != len(in) {
				t.Fatalf("reports %+v", reps)
			}
			p := reps[0].Problem
			if tt.kind == "" {
				if p != nil {
					t.Fatalf("problem %v, want none", p)
				}
				if sealed := int64(strings.Count(kinds(in), "S")); mac.calls.Load() != sealed {
					t.Errorf("%d HSM MACs for %d sealed records", mac.calls.Load(), sealed)
				}
				return
			}
			if p == nil || p.Kind != tt.kind || p.Seq != tt.seq || !strings.Contains(p.Detail, tt.detail) {
				t.Fatalf("problem %+v, want %s at %d saying %q", p, tt.kind, tt.seq, tt.detail)
			}
		})
	}
}

// TestOpenRefusesLinkedEnd: the trail never seals onto a stored linked
// record, which would have the HSM vouch for whatever a tamperer appended.
func TestOpenRefusesLinkedEnd(t *testing.T) {
	key := hmacKey("test key, not secret")
	ctx := t.Context()

	s := &sliceStore{}
	s.edit(func([]storage.AuditRecord) []storage.AuditRecord { return build(key, "SLLSLL") })
	if _, err := audit.Open(ctx, "node-a", key, s, nil); !errors.Is(err, audit.ErrUnsealedEnd) {
		t.Fatalf("Open on a chain ending in a link: %v, want ErrUnsealedEnd", err)
	}

	// A running trail: a forged link appended under the next sequence
	// number makes its write fail; the re-read finds the link and the
	// trail refuses to go on until the row is gone.
	s = &sliceStore{}
	s.edit(func([]storage.AuditRecord) []storage.AuditRecord { return build(key, "SLLS") })
	tr := openTrail(t, "node-a", key, s)
	rec := storage.AuditRecord{Operation: "Get", Status: "Success"}
	if err := tr.Append(ctx, rec); err != nil {
		t.Fatal(err)
	}
	s.edit(func(c []storage.AuditRecord) []storage.AuditRecord {
		f := c[len(c)-1]
		f.Seq, f.Operation, f.User = f.Seq+1, "Destroy", "mallory"
		f.Chain = link(f, c[len(c)-1].Chain)
		return append(c, f)
	})
	if err := tr.Append(ctx, rec); err == nil {
		t.Fatal("appended over the forged record's sequence number")
	}
	for range 2 {
		if err := tr.Append(ctx, rec); !errors.Is(err, audit.ErrUnsealedEnd) {
			t.Fatalf("append after the re-read found the forged link: %v, want ErrUnsealedEnd", err)
		}
	}
	recs, _ := s.ListAudit(ctx, storage.AuditFilter{})
	reps, err := audit.Verify(ctx, key, recs)
	if err != nil || reps[0].Problem == nil || reps[0].Problem.Kind != audit.Truncated || reps[0].Problem.Seq != 7 {
		t.Fatalf("verify with the forged link at the end: %+v %v", reps, err)
	}
	s.edit(func(c []storage.AuditRecord) []storage.AuditRecord { return c[:len(c)-1] })
	if err := tr.Append(ctx, rec); err != nil {
		t.Fatalf("append once the forged row is gone: %v", err)
	}
	verifyChain(t, s, key, "node-a", 6)
}

// TestAnchorsOnMixedChain: anchors are taken at sealed records, and checked
// against chains of both kinds of records.
func TestAnchorsOnMixedChain(t *testing.T) {
	key := hmacKey("test key, not secret")
	ctx := t.Context()
	recs := build(key, "SLLSLS")
	anchorAt := func(seq int64) audit.Anchor {
		a := audit.Anchor{Node: "node-a", Seq: seq, Chain: recs[seq-1].Chain}
		if err := audit.SignAnchor(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tt := range []struct {
		name   string
		recs   []storage.AuditRecord
		anchor audit.Anchor
		kind   string
		seq    int64
	}{
		{"anchored at the sealed end", recs, anchorAt(6), "", 0},
		{"anchored at an earlier sealed record", recs, anchorAt(4), "", 0},
		{"anchored at a linked record (never written, still sound)", recs, anchorAt(3), "", 0},
		{"last batch deleted", recs[:4], anchorAt(6), audit.Truncated, 5},
		{"last batch's seal deleted (found without the anchor)", recs[:5], anchorAt(6), audit.Truncated, 6},
		{"chain cut at a linked record before its anchor", recs[:2], anchorAt(3), audit.Truncated, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := audit.Verify(ctx, key, tt.recs)
			if err != nil {
				t.Fatal(err)
			}
			if reps, err = audit.CheckAnchors(ctx, key, reps, tt.recs, []audit.Anchor{tt.anchor}); err != nil {
				t.Fatal(err)
			}
			wantProblem(t, reps[0].Problem, tt.kind, tt.seq)
		})
	}

	// The Anchorer anchors a trail's head after a batch: its sealed end.
	mac := &countMAC{key: key}
	s := &sliceStore{}
	tr := openTrail(t, "node-a", mac, s)
	queueBatch(t, tr, s, mac, 5)
	mem := &anchorMem{anchors: map[string]audit.Anchor{}}
	mem.recs, _ = s.ListAudit(ctx, storage.AuditFilter{})
	x := &audit.Anchorer{Trail: tr, MAC: key, Store: mem}
	if err := x.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	last := mem.recs[len(mem.recs)-1]
	if a := mem.anchors["node-a"]; a.Seq != 6 || !bytes.Equal(a.Chain, last.Chain) || audit.IsLinked(a.Chain) {
		t.Fatalf("anchor %+v, want the sealed record 6", a)
	}
	// A linked head (the writer never leaves one) is not anchored.
	tr.SetHead(5, mem.recs[4].Chain)
	if err := x.Anchor(ctx); !errors.Is(err, audit.ErrLinkedHead) {
		t.Fatalf("anchoring a linked head: %v, want ErrLinkedHead", err)
	}
	if a := mem.anchors["node-a"]; a.Seq != 6 {
		t.Fatalf("anchor moved to %d", a.Seq)
	}
}

// BenchmarkWriterBatch: records per second through the writer with a MAC
// that takes 60 µs (SoftHSM2's HMAC is 60-150 µs), from 64 goroutines per
// CPU;
// MACs/record is what the token is asked for.
func BenchmarkWriterBatch(b *testing.B) {
	for _, bb := range []struct {
		name     string
		perRec   bool
		macDelay time.Duration
	}{
		{"one MAC per batch", false, 60 * time.Microsecond},
		{"one MAC per record (store without batches)", true, 60 * time.Microsecond},
	} {
		b.Run(bb.name, func(b *testing.B) {
			mac := &countMAC{key: hmacKey("bench key"), spin: bb.macDelay}
			s := &sliceStore{}
			var store storage.AuditStore = s
			if bb.perRec {
				store = perRecordStore{s}
			}
			tr, err := audit.Open(b.Context(), "node-a", mac, store, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close(context.Background())
			b.SetParallelism(64) // 64 × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rec := storage.AuditRecord{Operation: "Get", User: "u", Status: "Success"}
				for pb.Next() {
					if err := tr.Append(b.Context(), rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(mac.calls.Load())/float64(b.N), "MACs/record")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
