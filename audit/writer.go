package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/strongroom/strongroom/storage"
)

// Group commit. Before it, Append held the chain's mutex from the record's
// seal to the commit of its insert, so every request of every connection
// waited for one fsync'd commit after another. Now Append queues the record
// and waits; one writer goroutine per Trail takes everything queued while
// its previous batch was committing, seals it in chain order (one HSM MAC
// per record, each chained to the one before), inserts it in one
// transaction (storage.AuditBatchStore) and then answers every waiter with
// the batch's result. A request is still answered only after its record is
// durable; a failed batch fails every record in it, nothing of it is
// stored, and the chain's end is re-read before the next seal.

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
				t.commit(ctx, batch)
			}
		}
		t.commit(ctx, t.collect(first))
	}
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
// does from Seal to Done, so the two kinds of records form one chain.
func (t *Trail) commit(ctx context.Context, batch []*appendReq) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reread(ctx); err != nil {
		for _, r := range batch {
			r.res <- err
		}
		return
	}
	for _, r := range batch {
		if r.change != nil {
			t.commitChanges(ctx, batch)
			return
		}
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
}

// write stores sealed records in chain order and returns how many were
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
func (t *Trail) commitChanges(ctx context.Context, batch []*appendReq) {
	cs := t.store.(storage.AuditChangeStore) // Pending.Commit checked it
	items := make([]storage.AuditItem, len(batch))
	for i, r := range batch {
		items[i] = storage.AuditItem{Record: r.rec, Change: r.change}
	}
	var (
		sealed []storage.AuditRecord
		ok     []bool
	)
	sealer := func() func(i int) (storage.AuditRecord, error) {
		// A new attempt starts again from the last stored record.
		seq, chain := t.seq, t.chain
		sealed, ok = make([]storage.AuditRecord, len(batch)), make([]bool, len(batch))
		return func(i int) (storage.AuditRecord, error) {
			rec, err := t.sealAfter(ctx, batch[i].rec, seq, chain)
			if err != nil {
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
		return
	}
	for i := range batch {
		if errs[i] == nil && ok[i] {
			t.stored(sealed[i])
		}
	}
	for i, r := range batch {
		r.res <- errs[i]
	}
}
