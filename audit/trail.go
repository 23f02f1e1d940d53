// Package audit is Strongroom's tamper-evident audit trail. Every KMIP batch
// item and every refused TLS handshake becomes one storage.AuditRecord;
// each node chains its own records: Chain(n) covers the canonical encoding
// of record n and Chain(n-1). A record is either sealed, Chain(n) =
// HMAC-SHA-256 computed in the HSM with a key that never leaves it, or
// linked, Chain(n) = 0x01 || SHA-256 of that encoding, and every
// transaction that stores records ends with a sealed one (link.go). A
// database administrator can change rows and recompute links but cannot
// compute a matching seal, so Verify finds the first altered, deleted,
// inserted or reordered record, or at the latest the sealed record whose
// HMAC covers it.
//
// Records describing a change travel with the change, in its transaction
// (storage.WithAudit), each sealed; others are inserted on their own by the
// trail's writer goroutine (writer.go), which group-commits them: every
// record queued while the previous batch was committing is chained in
// order, linked except for the batch's last, which is sealed (one HSM MAC
// per batch), and inserted in one transaction, and each waiter is released
// once that transaction has committed, so a record is durable before the
// request it describes is answered while requests no longer wait for each
// other's commits one by one. The chain of a node is serialised by a mutex,
// held by the writer from sealing a batch to its commit, and by a change's
// record from its seal to the commit of the change's transaction. One
// server process per node name writes the chain; a second process with the
// same node name would fail on the (origin_node, seq) primary key rather
// than fork the chain.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// MACer computes the chain values (hsm.Keystore implements it).
type MACer interface {
	MAC(ctx context.Context, data []byte) ([]byte, error)
}

// MACFunc adapts a function to MACer (the server passes the keystore's
// SealMAC, which runs on a session of its own).
type MACFunc func(ctx context.Context, data []byte) ([]byte, error)

// MAC calls f.
func (f MACFunc) MAC(ctx context.Context, data []byte) ([]byte, error) { return f(ctx, data) }

// Sink receives every record once it is stored (the CSV file, syslog).
type Sink interface {
	Write(rec storage.AuditRecord) error
}

// Trail appends records to one node's chain. It is safe for concurrent use.
type Trail struct {
	node  string
	mac   MACer
	store storage.AuditStore
	sinks []Sink
	log   *slog.Logger

	mu sync.Mutex // the chain: held by the writer per batch, by a Pending from Seal to Done
	// seq and chain are the last stored record's.
	seq   int64
	chain []byte
	// stale asks seal to re-read the chain's end: a write failed, perhaps
	// because another process appended to the same chain.
	stale bool

	w writer // the group-commit goroutine's queue and lifecycle (writer.go)

	observe atomic.Pointer[CommitObserver] // set by ObserveCommits
}

// CommitObserver is told of every group commit the writer makes: how many
// records it carried and how long it took from sealing to the answer
// (failed or not). It runs on the writer goroutine, so it must not block.
type CommitObserver func(records int, d time.Duration, err error)

// ObserveCommits sets the function told of each group commit (the metrics
// endpoint's histograms); nil stops it.
func (t *Trail) ObserveCommits(f CommitObserver) {
	if f == nil {
		t.observe.Store(nil)
		return
	}
	t.observe.Store(&f)
}

// Open reads the node's last record and returns a trail that continues its
// chain. It fails with ErrUnsealedEnd if that record is linked (link.go).
func Open(ctx context.Context, node string, mac MACer, store storage.AuditStore, log *slog.Logger, sinks ...Sink) (*Trail, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	last, ok, err := store.LastAudit(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	t := &Trail{node: node, mac: mac, store: store, sinks: sinks, log: log}
	if err := t.continueAfter(last, ok); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	t.start(ctx)
	return t, nil
}

// continueAfter makes the stored record last (none if !ok) the chain's end
// for the next seal, unless it is linked: every transaction ends with a
// sealed record, so a stored linked end means its sealed successor was
// deleted or the record was forged, and sealing onto it would have the HSM
// vouch for it. The trail then refuses to write (every record fails with
// the error, which the callers log) until the chain is repaired, leaving
// the evidence for Verify.
func (t *Trail) continueAfter(last storage.AuditRecord, ok bool) error {
	if ok && IsLinked(last.Chain) {
		return fmt.Errorf("%w (node %s, record %d)", ErrUnsealedEnd, t.node, last.Seq)
	}
	t.seq, t.chain = 0, nil
	if ok {
		t.seq, t.chain = last.Seq, last.Chain
	}
	return nil
}

// Node is the node whose chain the trail writes.
func (t *Trail) Node() string { return t.node }

// seal fills rec's node, sequence number, time and chain as the record
// following the last stored one; t.mu must be held.
func (t *Trail) seal(ctx context.Context, rec storage.AuditRecord) (storage.AuditRecord, error) {
	if err := t.reread(ctx); err != nil {
		return rec, err
	}
	return t.sealAfter(ctx, rec, t.seq, t.chain)
}

// reread re-reads the chain's end after a failed write; t.mu must be held.
// It stays stale (and every write fails) while the end is linked.
func (t *Trail) reread(ctx context.Context) error {
	if !t.stale {
		return nil
	}
	last, ok, err := t.store.LastAudit(ctx, t.node)
	if err != nil {
		return fmt.Errorf("audit: reread chain: %w", err)
	}
	if err := t.continueAfter(last, ok); err != nil {
		return fmt.Errorf("audit: reread chain: %w", err)
	}
	t.stale = false
	return nil
}

// place fills rec's node, sequence number (the one after seq) and time.
func (t *Trail) place(rec storage.AuditRecord, seq int64) storage.AuditRecord {
	rec.OriginNode = t.node
	rec.Seq = seq + 1
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC().Truncate(time.Microsecond)
	return rec
}

// sealAfter seals rec as the record following the one numbered seq whose
// chain value is prev (one HSM MAC). It changes nothing in t, so that the
// writer can seal a whole batch before any of it is stored.
func (t *Trail) sealAfter(ctx context.Context, rec storage.AuditRecord, seq int64, prev []byte) (storage.AuditRecord, error) {
	rec = t.place(rec, seq)
	chain, err := t.mac.MAC(ctx, Encode(rec, prev))
	if err != nil {
		return rec, fmt.Errorf("audit: chain: %w", err)
	}
	if IsLinked(chain) {
		// Verify would check it as a link and fail: an HMAC-SHA-256 is
		// 32 bytes, so the MACer is not the one the chain expects.
		return rec, fmt.Errorf("audit: chain: the MAC is %d bytes starting with %#x, the form of a linked value", len(chain), linkTag)
	}
	rec.Chain = chain
	return rec, nil
}

// linkAfter links rec as the record following the one numbered seq whose
// chain value is prev: SHA-256 in software, no HSM call. Only the writer
// uses it, for a record that a sealed record follows in the same
// transaction (sealRun).
func (t *Trail) linkAfter(rec storage.AuditRecord, seq int64, prev []byte) storage.AuditRecord {
	rec = t.place(rec, seq)
	rec.Chain = link(Encode(rec, prev))
	return rec
}

// sealRun chains recs after (seq, prev) for one transaction: every record
// linked but the last, which is sealed, so the run costs one HSM MAC and
// ends, as every transaction must, with a sealed record. Nothing is
// returned on error: a run whose seal failed must not be stored, since its
// links would end the chain. It changes nothing in t.
func (t *Trail) sealRun(ctx context.Context, recs []storage.AuditRecord, seq int64, prev []byte) ([]storage.AuditRecord, error) {
	out := make([]storage.AuditRecord, len(recs))
	for i, rec := range recs {
		if i < len(recs)-1 {
			rec = t.linkAfter(rec, seq, prev)
		} else {
			var err error
			if rec, err = t.sealAfter(ctx, rec, seq, prev); err != nil {
				return nil, err
			}
		}
		out[i] = rec
		seq, prev = rec.Seq, rec.Chain
	}
	return out, nil
}

// stored advances the chain past rec and hands it to the sinks; t.mu must
// be held, so sinks see records in chain order.
func (t *Trail) stored(rec storage.AuditRecord) {
	t.seq, t.chain = rec.Seq, rec.Chain
	for _, s := range t.sinks {
		if err := s.Write(rec); err != nil {
			t.log.Error("audit: sink write failed", "err", err)
		}
	}
}

// Pending is a record that may travel with the next write of a request
// (storage.WithAudit) and is otherwise stored by Finish.
type Pending struct {
	t   *Trail
	rec storage.AuditRecord

	mu       sync.Mutex
	sealed   storage.AuditRecord
	uid      string
	name     string
	note     string
	consumed bool // a write carried the record and committed
}

var _ storage.AuditCommitter = (*Pending)(nil)

// Begin starts the record of one request item.
func (t *Trail) Begin(rec storage.AuditRecord) *Pending {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	return &Pending{t: t, rec: rec}
}

// Object names the object the request concerns, for the record. The first
// object named wins: an operation loads its target before any other object
// (a wrapping key, the other half of a pair).
func (p *Pending) Object(uid, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uid != "" || uid == "" {
		return
	}
	p.uid, p.name = uid, name
}

// Note sets the record's message, overriding the one Finish is given:
// what really happened when the client is told less (an object of another
// group answered as not found).
func (p *Pending) Note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.note = msg
}

// Seal implements storage.AuditSealer: the record says Success, since it
// is stored only if the change commits.
func (p *Pending) Seal(ctx context.Context, uid string) (storage.AuditRecord, bool, error) {
	rec, ok := p.successRecord(uid)
	if !ok {
		return storage.AuditRecord{}, false, nil
	}
	p.t.mu.Lock()
	sealed, err := p.t.seal(ctx, rec)
	if err != nil {
		p.t.mu.Unlock()
		return storage.AuditRecord{}, false, err
	}
	p.mu.Lock()
	p.sealed = sealed
	p.mu.Unlock()
	return sealed, true, nil
}

// successRecord is the record a write of uid carries, unless an earlier
// write carried it.
func (p *Pending) successRecord(uid string) (storage.AuditRecord, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.consumed {
		return storage.AuditRecord{}, false
	}
	rec := p.rec
	if p.uid != "" {
		rec.UID = p.uid
	}
	if rec.UID == "" {
		rec.UID = uid
	}
	rec.KeyName = p.name
	rec.Status = "Success"
	return rec, true
}

// Done implements storage.AuditSealer.
func (p *Pending) Done(committed bool) {
	p.mu.Lock()
	rec := p.sealed
	if committed {
		p.consumed = true
		p.uid = rec.UID
	}
	p.mu.Unlock()
	if committed {
		p.t.stored(rec)
	} else {
		p.t.stale = true
	}
	p.t.mu.Unlock()
}

// Finish records the item's outcome: nothing more when a write already
// carried a Success record and the item succeeded; otherwise a record of its
// own with the result (a failure after a committed change gets a second
// record).
func (p *Pending) Finish(ctx context.Context, status, reason, message string) {
	p.mu.Lock()
	consumed := p.consumed
	rec := p.rec
	if p.uid != "" {
		rec.UID = p.uid
	}
	rec.KeyName = p.name
	note := p.note
	p.mu.Unlock()
	if consumed && status == "Success" {
		return
	}
	rec.Status, rec.Reason, rec.Message = status, reason, message
	if note != "" {
		rec.Message = note
	}
	if err := p.t.Append(ctx, rec); err != nil {
		p.t.log.Error("audit: record not stored", "operation", rec.Operation, "user", rec.User, "err", err)
	}
}
