// Package kmipbench is the load generator behind `strongroom bench`: N
// concurrent KMIP connections (or a new one per operation), one request at a
// time on each, for a duration or a count after a warm-up, and a summary of
// rate and latency percentiles. It speaks plain KMIP 1.x/2.x through
// kmip/client, so it measures any KMIP server, not only Strongroom.
package kmipbench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
)

// Options configures one run.
type Options struct {
	// Addr and TLS say where and how to connect (client certificate set).
	Addr string
	TLS  *tls.Config
	// Version is the protocol version every request carries.
	Version kmip.ProtocolVersion
	// Op is one of Ops, or a mix of them with weights:
	// "get=6,get-attributes=2,create=1,encrypt=1" (a weight defaults to 1).
	// Each connection goes round the mix in a fixed order that spreads
	// every operation evenly (picker), and the result has each operation's
	// figures besides the total.
	Op string
	// Conns is the number of concurrent connections (workers).
	Conns int
	// Keys is how many keys the set-up creates for the operations that use
	// keys (at least one per connection); each connection goes round its
	// share. More keys than the server caches measure its uncached path.
	Keys int
	// Duration bounds the measured phase; Count, when positive, ends it
	// after that many operations instead (whichever comes first when both
	// are set).
	Duration time.Duration
	Count    int64
	// Warmup runs the load unmeasured first.
	Warmup time.Duration
	// NewConnPerOp opens and closes a TLS connection around every
	// operation, so that the figure includes the handshake.
	NewConnPerOp bool
	// Progress, when set, receives a progress line every second.
	Progress io.Writer
	// Timeout bounds one operation (default 30 s).
	Timeout time.Duration
	// Idle connections are opened (each serves one Discover Versions) and
	// held, unused, for the whole run: memory and latency with many quiet
	// clients attached.
	Idle int
}

// worker state shared by the run.
type run struct {
	opt      Options
	mix      mix
	steps    []step // one per operation of the mix
	measured atomic.Bool
	stop     atomic.Bool
	started  atomic.Int64   // measured operations started (for Count)
	done     atomic.Int64   // measured operations finished (for progress)
	errs     []atomic.Int64 // measured operations failed, by operation of the mix
	firstErr atomic.Value
	// epoch is the origin of worker.busy's clock.
	epoch   time.Time
	workers []worker
}

// worker is what the watchdog sees of one worker. Operations run under a
// context that is never cancelled, so that each costs no context, timer or
// AfterFunc of its own (a tenth of the load generator's CPU when it had
// them); the watchdog instead closes the connection of an operation that
// outlives Options.Timeout, or of every one under way once the run's
// context ends.
type worker struct {
	// busy is when the operation under way started (nanoseconds since
	// epoch, always positive), 0 between operations, -1 once the watchdog
	// has closed its connection.
	busy atomic.Int64
	// conn is the worker's connection; it changes only between operations.
	conn atomic.Pointer[conn]
}

// Run measures opt.Op and returns the summary. Setup failures (no
// connection, the server refusing to create the test keys) are errors;
// failures of measured operations are counted in Result.Errors.
func Run(ctx context.Context, opt Options) (Result, error) {
	if opt.Conns < 1 {
		return Result{}, errors.New("kmipbench: at least one connection")
	}
	if opt.Duration <= 0 && opt.Count <= 0 {
		return Result{}, errors.New("kmipbench: a duration or a count is required")
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	m, err := parseMix(opt.Op)
	if err != nil {
		return Result{}, err
	}
	res := Result{Op: m.String(), KMIPVersion: opt.Version.String(), Conns: opt.Conns, NewConnPerOp: opt.NewConnPerOp}
	if opt.Keys > opt.Conns && m.usesKeys() {
		res.Keys = opt.Keys
	}

	setup, err := dial(ctx, opt)
	if err != nil {
		return res, err
	}
	steps, err := prepare(ctx, setup.Client, m, opt.Conns, opt.Keys)
	setup.Close()
	if err != nil {
		return res, err
	}
	r := &run{opt: opt, mix: m, steps: steps, errs: make([]atomic.Int64, len(m)),
		epoch: time.Now(), workers: make([]worker, opt.Conns)}

	if opt.Idle > 0 {
		idle, err := openIdle(ctx, opt, opt.Idle)
		defer func() {
			for _, c := range idle {
				c.Close()
			}
		}()
		if err != nil {
			return res, err
		}
		res.IdleConns = len(idle)
	}

	var conns []*conn
	if !opt.NewConnPerOp {
		for range opt.Conns {
			cl, err := dial(ctx, opt)
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return res, err
			}
			conns = append(conns, cl)
		}
	}

	lats := make([][][]time.Duration, opt.Conns) // by worker, then operation
	var wg sync.WaitGroup
	workersDone := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.watch(ctx, workersDone)
	}()
	for i := range opt.Conns {
		var cl *conn
		if conns != nil {
			cl = conns[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lats[i] = r.work(ctx, i, cl)
		}()
	}

	if opt.Warmup > 0 {
		r.sleep(ctx, opt.Warmup, "warm-up")
	}
	r.measured.Store(true)
	start := time.Now()
	r.measure(ctx, start)
	r.stop.Store(true)
	elapsed := time.Since(start)
	wg.Wait()
	close(workersDone)
	<-watched
	if opt.Progress != nil {
		fmt.Fprintln(opt.Progress)
	}

	res.Seconds = round3(elapsed.Seconds())
	var all []time.Duration
	for j, e := range m {
		var own []time.Duration
		for _, l := range lats {
			own = append(own, l[j]...)
		}
		all = append(all, own...)
		if len(m) > 1 {
			o := OpResult{Op: e.op, Weight: e.weight}
			o.summarize(own, elapsed)
			o.Errors = r.errs[j].Load()
			res.Mix = append(res.Mix, o)
		}
	}
	res.summarize(all, elapsed)
	res.Errors = r.errors()
	if e, ok := r.firstErr.Load().(string); ok {
		res.FirstError = e
	}
	return res, ctx.Err()
}

// measure waits until the duration passes, the count is reached or ctx
// ends, printing progress every second.
func (r *run) measure(ctx context.Context, start time.Time) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastPrint := start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if r.opt.Count > 0 && r.done.Load()+r.errors() >= r.opt.Count {
				return
			}
			if r.opt.Duration > 0 && now.Sub(start) >= r.opt.Duration {
				return
			}
			if now.Sub(lastPrint) >= time.Second {
				lastPrint = now
				r.progress(now.Sub(start))
			}
		}
	}
}

func (r *run) progress(el time.Duration) {
	if r.opt.Progress == nil {
		return
	}
	n := r.done.Load()
	fmt.Fprintf(r.opt.Progress, "\rbench %s: %4.0fs  %9d ops  %9.0f ops/s  %d errors ",
		r.mix, el.Seconds(), n, float64(n)/el.Seconds(), r.errors())
}

// errors is the number of measured operations that failed so far.
func (r *run) errors() int64 {
	var n int64
	for i := range r.errs {
		n += r.errs[i].Load()
	}
	return n
}

// sleep waits d (or until ctx ends), printing a warm-up line.
func (r *run) sleep(ctx context.Context, d time.Duration, what string) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, "\rbench %s: %s %s", r.mix, what, d)
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// work runs operations on worker i until the run stops and returns the
// latencies of the measured, successful ones, by operation of the mix. A
// connection broken by an error is replaced.
func (r *run) work(ctx context.Context, i int, cl *conn) [][]time.Duration {
	w := &r.workers[i]
	w.conn.Store(cl)
	// The watchdog bounds each operation and ends them with ctx.
	opCtx := context.WithoutCancel(ctx)
	pick := r.mix.picker(i)
	lat := make([][]time.Duration, len(r.mix))
	for j, e := range r.mix {
		lat[j] = make([]time.Duration, 0, 4096*e.weight/pick.total+16)
	}
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for !r.stop.Load() && ctx.Err() == nil {
		measured := r.measured.Load()
		if measured && r.opt.Count > 0 && r.started.Add(1) > r.opt.Count {
			// Count reached: wait for the others to finish theirs.
			time.Sleep(time.Millisecond)
			continue
		}
		op := pick.next()
		t0 := time.Now()
		err := r.once(ctx, opCtx, i, op, &cl, t0)
		d := time.Since(t0)
		if err != nil && cl != nil {
			// The connection may be unusable; start afresh.
			cl.Close()
			cl = nil
			w.conn.Store(nil)
		}
		if !measured {
			continue
		}
		if err != nil {
			r.errs[op].Add(1)
			msg := err.Error()
			if len(r.mix) > 1 {
				msg = r.mix[op].op + ": " + msg
			}
			r.firstErr.CompareAndSwap(nil, msg)
			continue
		}
		lat[op] = append(lat[op], d)
		r.done.Add(1)
	}
	return lat
}

// once runs operation op (an index into the mix) for worker i, started at
// t0, dialing first when there is no connection (a new connection per
// operation, or after an error).
func (r *run) once(ctx, opCtx context.Context, i, op int, cl **conn, t0 time.Time) error {
	w := &r.workers[i]
	if *cl == nil {
		dctx, cancel := context.WithTimeout(ctx, r.opt.Timeout)
		c, err := dial(dctx, r.opt)
		cancel()
		if err != nil {
			return err
		}
		*cl = c
		w.conn.Store(c)
	}
	begin := max(t0.Sub(r.epoch).Nanoseconds(), 1)
	w.busy.Store(begin)
	err := r.steps[op](opCtx, *cl, i)
	if !w.busy.CompareAndSwap(begin, 0) {
		// The watchdog closed the connection under the operation.
		w.busy.Store(0)
		if err = ctx.Err(); err == nil {
			err = fmt.Errorf("kmipbench: no response within %s", r.opt.Timeout)
		}
	}
	if r.opt.NewConnPerOp {
		(*cl).Close()
		*cl = nil
		w.conn.Store(nil)
	}
	return err
}

// watch closes the connection of every operation that has run longer than
// Options.Timeout, and of every one under way once ctx ends, until done is
// closed. The worker sees its operation fail and reports the timeout.
func (r *run) watch(ctx context.Context, done <-chan struct{}) {
	tick := time.NewTicker(min(max(r.opt.Timeout/10, time.Millisecond), 100*time.Millisecond))
	defer tick.Stop()
	ended := ctx.Done()
	for {
		select {
		case <-done:
			return
		case <-ended:
			ended = nil
		case <-tick.C:
		}
		now := time.Since(r.epoch).Nanoseconds()
		for i := range r.workers {
			w := &r.workers[i]
			b := w.busy.Load()
			if b <= 0 || (ctx.Err() == nil && now-b < r.opt.Timeout.Nanoseconds()) {
				continue
			}
			// conn is read while busy is still b, so it is that
			// operation's: the worker changes it only between operations.
			c := w.conn.Load()
			if w.busy.CompareAndSwap(b, -1) && c != nil {
				c.Close()
			}
		}
	}
}

func dial(ctx context.Context, opt Options) (*conn, error) {
	raw, err := client.Dial(ctx, opt.Addr, opt.TLS)
	if err != nil {
		return nil, fmt.Errorf("kmipbench: %w", err)
	}
	return &conn{Client: client.New(raw, opt.Version), raw: raw}, nil
}
