package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// Group commit. Before it, Append held the chain's mutex from the record's
// seal to the commit of its insert, so every request of every connection
// waited for one fsync'd commit after another. Now Append queues the record
// and waits; one writer goroutine per Trail takes everything queued while
// its previous batch was committing, chains it in order, inserts it in one
// transaction (storage.AuditBatchStore) and then answers every waiter with
// the batch's result. A request is still answered only after its record is
// durable; a failed batch fails every record in it, nothing of it is
// stored, and the chain's end is re-read before the next seal.
//
// One HSM MAC per batch. Sealing every record (C_SignInit + C_Sign in the
// token, serial in this one goroutine) was a fifth of the server's CPU per
// Get and bounded the trail's throughput. So every record of a batch but
// the last is linked (SHA-256 in software) and the last sealed (sealRun,
// link.go): the transaction, all or nothing, ends with a sealed record
// whose HMAC covers the whole batch. A store without AuditBatchStore
// stores record by record, so a failure could leave a link at the end; it
// gets every record sealed, as before. If the batch's one MAC fails, the
// whole batch fails (before, only the record whose MAC failed): the
// batch's links must not be stored without the seal that covers them, and
// a token that refuses one MAC refuses the next.

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: trail closed")

// maxBatch bounds one group commit (records per transaction).
const maxBatch = 512

// queueSize is how many records may wait for the writer before Append
// blocks (back-pressure on the requests, never a dropped record).
const queueSize = 4096

// appendReq is one record waiting for the writer.
type appendReq struct {
	rec    storage.AuditRecord
	change storage.AuditChange // the write the record travels with, or nil
	res    chan error          // buffered: the writer never blocks on a waiter
}

// writer is the group-commit goroutine's state.
type writer struct {
	queue chan *appendReq

	closeMu sync.RWMutex // Append holds it shared while it queues
	closed  bool
	quit    chan struct{} // closed by Close: drain and stop
	done    chan struct{} // closed when the goroutine has returned
	cancel  context.CancelFunc
}

// start launches the writer. Its context keeps ctx's values but not its
// cancellation: the trail outlives the call that opened it and stops only
// in Close.
func (t *Trail) start(ctx context.Context) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.w = writer{
		queue:  make(chan *appendReq, queueSize),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	go t.run(wctx)
}

// Append stores rec on its own, as the next record of the chain, and
// returns once the transaction holding it has committed (or failed). If ctx
// ends first Append returns its error; a record already queued may still
// be stored.
func (t *Trail) Append(ctx context.Context, rec storage.AuditRecord) error {
	req := &appendReq{rec: rec, res: make(chan error, 1)}
	if err := t.enqueue(ctx, req); err != nil {
		return err
	}
	select {
	case err := <-req.res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: %w", ctx.Err())
	}
}

// enqueue hands req to the writer.
func (t *Trail) enqueue(ctx context.Context, req *appendReq) error {
	t.w.closeMu.RLock()
	defer t.w.closeMu.RUnlock()
	if t.w.closed {
		return ErrClosed
	}
	select {
	case t.w.queue <- req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: %w", ctx.Err())
	}
}

// Commit implements storage.AuditCommitter: the change and its Success
// record go into the writer's next batch, the change under its own
// savepoint in the batch's transaction, so changes share commits with each
// other and with the other records instead of each holding the chain for a
// transaction of its own. It waits for the outcome whatever ctx does: the
// change may be committing.
func (p *Pending) Commit(ctx context.Context, uid string, change storage.AuditChange) (bool, error) {
	if _, ok := p.t.store.(storage.AuditChangeStore); !ok {
		return false, nil
	}
	rec, ok := p.successRecord(uid)
	if !ok {
		return false, nil
	}
	req := &appendReq{rec: rec, change: change, res: make(chan error, 1)}
	if err := p.t.enqueue(ctx, req); err != nil {
		return true, err
	}
	if err := <-req.res; err != nil {
		return true, err
	}
	p.mu.Lock()
	p.consumed = true
	p.uid = rec.UID
	p.mu.Unlock()
	return true, nil
}

// Close stores every record already queued, then stops the writer. If ctx
// ends first the writer is cancelled (its batch in flight fails) and Close
// returns ctx's error. Later Appends fail with ErrClosed. Close is
// idempotent.
func (t *Trail) Close(ctx context.Context) error {
	t.w.closeMu.Lock()
	if !t.w.closed {
		t.w.closed = true
		close(t.w.quit)
	}
	t.w.closeMu.Unlock()
	select {
	case <-t.w.done:
		t.w.cancel()
		return nil
	case <-ctx.Done():
		t.w.cancel()
		<-t.w.done
		return fmt.Errorf("audit: close: %w", ctx.Err())
	}
}

// run is the writer goroutine.
func (t *Trail) run(ctx context.Context) {
	defer close(t.w.done)
	for {
		var first *appendReq
		select {
		case first = <-t.w.queue:
		case <-t.w.quit:
			// No Append can queue any more (closed is set under closeMu):
			// store what is left, then stop.
			for {
				batch := t.collect(nil)
				if len(batch) == 0 {
					return
				}
				t.observed(ctx, batch)
			}
		}
		t.observed(ctx, t.collect(first))
	}
}

// observed runs commit and tells the observer, if any, what it took.
func (t *Trail) observed(ctx context.Context, batch []*appendReq) {
	f := t.observe.Load()
	if f == nil {
		t.commit(ctx, batch)
		return
	}
	start := time.Now()
	err := t.commit(ctx, batch)
	(*f)(len(batch), time.Since(start), err)
}

// collect returns first (if any) and everything queued behind it, up to
// maxBatch records, without waiting.
func (t *Trail) collect(first *appendReq) []*appendReq {
	var batch []*appendReq
	if first != nil {
		batch = append(batch, first)
	}
	for len(batch) < maxBatch {
		select {
		case r := <-t.w.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit seals batch in chain order, stores it in one transaction and
// answers every waiter. It holds t.mu throughout, as a change's record
// does from Seal to Done, so the two kinds of records form one chain. It
// returns the batch's error, if the batch as a whole failed.
func (t *Trail) commit(ctx context.Context, batch []*appendReq) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reread(ctx); err != nil {
		for _, r := range batch {
			r.res <- err
		}
		return err
	}
	for _, r := range batch {
		if r.change != nil {
			return t.commitChanges(ctx, batch)
		}
	}
	recs, waiters := t.chainBatch(ctx, batch)
	if len(recs) == 0 && len(batch) > 0 {
		return errors.New("audit: no record of the batch could be sealed")
	}
	n, err := t.write(ctx, recs)
	for i, rec := range recs[:n] {
		t.stored(rec)
		waiters[i].res <- nil
	}
	if err != nil {
		t.stale = true
		err = fmt.Errorf("audit: %w", err)
		for _, r := range waiters[n:] {
			r.res <- err
		}
	}
	return err
}

// chainBatch chains batch's records after the chain's end for t.write and
// returns them with their waiters; a record that could not be chained has
// been answered with the error and is left out.
func (t *Trail) chainBatch(ctx context.Context, batch []*appendReq) ([]storage.AuditRecord, []*appendReq) {
	if _, atomic := t.store.(storage.AuditBatchStore); atomic {
		recs, err := t.sealRun(ctx, recordsOf(batch), t.seq, t.chain)
		if err != nil {
			for _, r := range batch {
				r.res <- err
			}
			return nil, nil
		}
		return recs, batch
	}
	seq, chain := t.seq, t.chain
	recs := make([]storage.AuditRecord, 0, len(batch))
	waiters := make([]*appendReq, 0, len(batch))
	for _, r := range batch {
		rec, err := t.sealAfter(ctx, r.rec, seq, chain)
		if err != nil {
			// Not sealed, so not in the chain: the next record takes
			// its place.
			r.res <- err
			continue
		}
		seq, chain = rec.Seq, rec.Chain
		recs = append(recs, rec)
		waiters = append(waiters, r)
	}
	return recs, waiters
}

// recordsOf is the records the requests carry, in order.
func recordsOf(reqs []*appendReq) []storage.AuditRecord {
	recs := make([]storage.AuditRecord, len(reqs))
	for i, r := range reqs {
		recs[i] = r.rec
	}
	return recs
}

// runPrev is the chain value run[i] was chained onto: run[i-1]'s, or start
// for the first.
func runPrev(run []storage.AuditRecord, i int, start []byte) []byte {
	if i == 0 {
		return start
	}
	return run[i-1].Chain
}

// write stores chained records in chain order and returns how many were
// stored: all or none with an AuditBatchStore (one transaction), else the
// records before the first failure.
func (t *Trail) write(ctx context.Context, recs []storage.AuditRecord) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	if bs, ok := t.store.(storage.AuditBatchStore); ok {
		if err := bs.AppendAuditBatch(ctx, recs); err != nil {
			return 0, err
		}
		return len(recs), nil
	}
	for i, rec := range recs {
		if err := t.store.AppendAudit(ctx, rec); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

// commitChanges is commit for a batch holding changes: the store applies
// each under a savepoint of one transaction and asks for each record's seal
// only once its change succeeded, so a failed change leaves no hole in the
// chain; a record whose change failed is answered with that error alone.
//
// The store's first attempt commits every record or none (a pipelined
// batch is one implicit transaction), so there the whole batch is one run
// (sealRun: linked, the last sealed; one HSM MAC). If that attempt fails,
// which records are stored is known only as the store goes, so a link
// could end up last. Hence the records on their own go first, chained
// before the store is called as one run: no change's outcome comes before
// them, so their values hold in every attempt, and the run's seal is
// computed before any of its links is handed over. Each change's record
// after them is then sealed on its own. The
// order within a batch is free: its records were all queued while the
// previous batch was committing, and a record on its own describes a
// request already carried out, before any change of the batch commits.
func (t *Trail) commitChanges(ctx context.Context, batch []*appendReq) error {
	cs := t.store.(storage.AuditChangeStore) // Pending.Commit checked it
	var alone, changes []*appendReq
	for _, r := range batch {
		if r.change == nil {
			alone = append(alone, r)
		} else {
			changes = append(changes, r)
		}
	}
	batch = append(alone, changes...)
	items := make([]storage.AuditItem, len(batch))
	for i, r := range batch {
		items[i] = storage.AuditItem{Record: r.rec, Change: r.change}
	}
	var (
		sealed []storage.AuditRecord
		ok     []bool
	)
	// Runs are made on first use; on error one stays nil and its records
	// are sealed one by one below, which reports the error where it
	// belongs. whole chains every record of the batch (one MAC) for an
	// attempt that commits all of them or none; lead chains the records on
	// their own, which come first and cannot fail, for an attempt that may
	// drop a change (its last record sealed, so whatever changes fail the
	// transaction ends sealed).
	var whole, lead []storage.AuditRecord
	runOf := func(reqs []*appendReq) []storage.AuditRecord {
		if len(reqs) == 0 {
			return nil
		}
		run, _ := t.sealRun(ctx, recordsOf(reqs), t.seq, t.chain)
		return run
	}
	sealer := func(allOrNothing bool) func(i int) (storage.AuditRecord, error) {
		// A new attempt starts again from the last stored record.
		seq, chain := t.seq, t.chain
		sealed, ok = make([]storage.AuditRecord, len(batch)), make([]bool, len(batch))
		var run []storage.AuditRecord
		if allOrNothing {
			if whole == nil {
				whole = runOf(batch)
			}
			run = whole
		} else {
			if lead == nil {
				lead = runOf(alone)
			}
			run = lead
		}
		return func(i int) (storage.AuditRecord, error) {
			var (
				rec storage.AuditRecord
				err error
			)
			// The run's value when the store calls in order, as its
			// contract says; otherwise a seal of its own, so that a link
			// is never handed over outside its run.
			if i < len(run) && run[i].Seq == seq+1 && bytes.Equal(runPrev(run, i, t.chain), chain) {
				rec = run[i]
			} else if rec, err = t.sealAfter(ctx, batch[i].rec, seq, chain); err != nil {
				return rec, err
			}
			seq, chain = rec.Seq, rec.Chain
			sealed[i], ok[i] = rec, true
			return rec, nil
		}
	}
	errs, err := cs.CommitAuditBatch(ctx, items, sealer)
	if err != nil {
		t.stale = true
		err = fmt.Errorf("audit: %w", err)
		for _, r := range batch {
			r.res <- err
		}
		return err
	}
	for i := range batch {
		if errs[i] == nil && ok[i] {
			t.stored(sealed[i])
		}
	}
	if IsLinked(t.chain) {
		// Only a store breaking CommitAuditBatch's contract (skipping a
		// record on its own) gets here. The trail continues from its own
		// link, but a restart before the next seal would refuse the chain.
		t.log.Error("audit: a batch was committed ending in a linked record", "node", t.node, "seq", t.seq)
	}
	for i, r := range batch {
		r.res <- errs[i]
	}
	return nil
}
