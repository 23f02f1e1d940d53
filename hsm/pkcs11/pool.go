package pkcs11hsm

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// poolSlot is one place in the session pool. A slot whose session could not
// be (re)opened stays in the pool closed, so a transient token failure never
// shrinks the pool; the next acquirer tries to open it again.
type poolSlot struct {
	h    pkcs11.SessionHandle
	open bool
	// op and since time the call holding the slot, for ObserveCall.
	op    string
	since time.Time
}

// sessionPool bounds how many calls run in the token at once and gives each
// its own session. It is a buffered channel of slots: acquiring is a receive
// that also watches the caller's context, releasing is a send that never
// blocks because the channel holds exactly as many slots as exist.
type sessionPool struct {
	free   chan poolSlot
	closed chan struct{}
	size   int
	// openFn opens a session and makes sure the application is logged in.
	openFn func() (pkcs11.SessionHandle, error)
	// closeFn closes a session, ignoring errors (it may already be gone).
	closeFn func(pkcs11.SessionHandle)
	// inUse counts sessions held by calls (PoolStats).
	inUse atomic.Int64
	// observe, when set, receives each call's operation and how long it
	// held its session (Config.ObserveCall, SetCallObserver).
	observe atomic.Pointer[func(op string, d time.Duration)]
}

func newSessionPool(size int, openFn func() (pkcs11.SessionHandle, error), closeFn func(pkcs11.SessionHandle)) *sessionPool {
	return &sessionPool{
		free:    make(chan poolSlot, size),
		closed:  make(chan struct{}),
		size:    size,
		openFn:  openFn,
		closeFn: closeFn,
	}
}

// fill opens every session up front so that a token refusing sessions fails
// Open instead of the first request. Even on error the pool ends up holding
// all its slots (the unopened ones closed), so shutdown can drain it.
func (p *sessionPool) fill() error {
	var err error
	for range p.size {
		if err != nil {
			p.free <- poolSlot{}
			continue
		}
		var h pkcs11.SessionHandle
		if h, err = p.openFn(); err == nil {
			p.free <- poolSlot{h: h, open: true}
		} else {
			p.free <- poolSlot{}
		}
	}
	return err
}

// acquire waits for a free session until ctx ends or the pool is closed.
func (p *sessionPool) acquire(ctx context.Context, op string) (poolSlot, error) {
	// A context that is already over must fail even when a session is free:
	// select picks among ready cases at random.
	if err := ctx.Err(); err != nil {
		return poolSlot{}, fmt.Errorf("%w (%s): %w", hsm.ErrBusy, op, err)
	}
	select {
	case <-p.closed:
		return poolSlot{}, fmt.Errorf("%w (%s)", ErrClosed, op)
	case <-ctx.Done():
		return poolSlot{}, fmt.Errorf("%w (%s): %w", hsm.ErrBusy, op, ctx.Err())
	case s := <-p.free:
		select {
		case <-p.closed:
			p.free <- s
			return poolSlot{}, fmt.Errorf("%w (%s)", ErrClosed, op)
		default:
		}
		if !s.open {
			h, err := p.openFn()
			if err != nil {
				p.free <- s
				return poolSlot{}, fmt.Errorf("hsm: %s: reopen session: %w", op, err)
			}
			s = poolSlot{h: h, open: true}
		}
		p.inUse.Add(1)
		s.op, s.since = op, time.Now()
		return s, nil
	}
}

// release returns a healthy session to the pool.
func (p *sessionPool) release(s poolSlot) {
	p.done(s)
	p.free <- poolSlot{h: s.h, open: s.open}
}

// done records the end of the call that held s.
func (p *sessionPool) done(s poolSlot) {
	if s.since.IsZero() {
		return
	}
	p.inUse.Add(-1)
	if f := p.observe.Load(); f != nil {
		(*f)(s.op, time.Since(s.since))
	}
}

// replace closes a broken session, opens a new one in its place and returns
// the slot to the pool; if reopening fails the slot goes back closed.
func (p *sessionPool) replace(s poolSlot) error {
	p.done(s)
	if s.open {
		p.closeFn(s.h)
	}
	h, err := p.openFn()
	if err != nil {
		p.free <- poolSlot{}
		return err
	}
	p.free <- poolSlot{h: h, open: true}
	return nil
}

// shutdown stops new acquisitions, waits for every session to come back and
// closes them. It must be called once.
func (p *sessionPool) shutdown() {
	close(p.closed)
	for range p.size {
		s := <-p.free
		if s.open {
			p.closeFn(s.h)
		}
	}
}
