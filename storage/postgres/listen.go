package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// notifyChannel is the channel migration 8's triggers notify; a payload is
// an object's UID, or "*" when a table was truncated.
const notifyChannel = "strongroom_objects"

// pingPrefix marks the listener's own liveness notifications.
const pingPrefix = "ping:"

// Listener timing: the listener proves every pingEvery that its connection
// still delivers notifications by sending one to itself through the pool;
// if one has not come back after pingTimeout, the cache stops serving until
// a new connection listens. This bounds how long a silently dead listener
// connection (no reset, no error) could leave a changed object cached.
const (
	pingEvery      = time.Second
	pingTimeout    = 2 * time.Second
	relistenAfter  = 100 * time.Millisecond
	relistenAtMost = 5 * time.Second
)

// EnableObjectCache turns on the object cache (cache.go) with room for
// size objects and starts its listener, which runs until Close. Short-lived
// commands leave it off; serve turns it on. It returns once the listener
// is listening, or with an error if the first attempt fails (the listener
// keeps trying; the store works meanwhile, uncached).
func (s *Store) EnableObjectCache(ctx context.Context, size int) error {
	if s.cache != nil || size <= 0 {
		return nil
	}
	c := newObjectCache(size)
	s.cache = c
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopListen = cancel
	s.listenDone = make(chan struct{})
	first := make(chan error, 1)
	go s.listen(lctx, c, first)
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		return fmt.Errorf("storage: object cache: %w", ctx.Err())
	}
}

// ObjectCacheStats reports the cache's use; Enabled is false when serve did
// not turn it on.
func (s *Store) ObjectCacheStats() ObjectCacheStats {
	c := s.cache
	if c == nil {
		return ObjectCacheStats{}
	}
	return ObjectCacheStats{
		Enabled: true, Live: c.live.Load(), Entries: c.len(),
		Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(),
	}
}

// listen keeps one connection listening until ctx ends, reconnecting with
// backoff; while it is not listening the cache serves nothing.
func (s *Store) listen(ctx context.Context, c *objectCache, first chan<- error) {
	defer close(s.listenDone)
	// ready answers EnableObjectCache once: with the first attempt's
	// outcome, whichever way it ends.
	var once sync.Once
	ready := func(err error) { once.Do(func() { first <- err }) }
	wait := relistenAfter
	for {
		err := s.listenOnce(ctx, c, ready)
		c.live.Store(false)
		c.flush()
		if ctx.Err() != nil {
			return
		}
		ready(err)
		s.log.Warn("storage: object cache off until its listener reconnects", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, relistenAtMost)
	}
}

// listenOnce connects, listens and applies notifications until the
// connection fails or stops answering pings. It calls ready when the cache
// goes live.
func (s *Store) listenOnce(ctx context.Context, c *objectCache, ready func(error)) error {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
	if err != nil {
		return fmt.Errorf("storage: object cache listener: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("storage: object cache listener: listen: %w", err)
	}
	// Anything cached before now may have missed a notification.
	c.flush()
	c.live.Store(true)
	ready(nil)

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	notes := make(chan *pgconn.Notification)
	failed := make(chan error, 1)
	go func() {
		for {
			n, err := conn.WaitForNotification(rctx)
			if err != nil {
				failed <- err
				return
			}
			select {
			case notes <- n:
			case <-rctx.Done():
				failed <- rctx.Err()
				return
			}
		}
	}()
	defer func() { stop(); <-failed }()

	// Pings carry this listener's backend PID: every server process on the
	// database receives every process's pings and answers only to its own.
	own := pingPrefix + strconv.FormatUint(uint64(conn.PgConn().PID()), 10) + ":"
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	var (
		seq       uint64    // pings sent
		pending   bool      // ping seq has not come back yet
		pendingAt time.Time // when it was sent
	)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			failed <- err // for the deferred drain
			return fmt.Errorf("storage: object cache listener: %w", err)
		case n := <-notes:
			switch p := n.Payload; {
			case p == "*":
				c.flush()
			case strings.HasPrefix(p, own):
				if p[len(own):] == strconv.FormatUint(seq, 10) {
					pending = false
				}
			case strings.HasPrefix(p, pingPrefix):
				// another process's ping
			default:
				c.invalidate(p)
			}
		case now := <-tick.C:
			if pending {
				if now.Sub(pendingAt) > pingTimeout {
					return fmt.Errorf("storage: object cache listener: a notification sent %s ago was not delivered", now.Sub(pendingAt).Round(time.Millisecond))
				}
				continue
			}
			seq++
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			_, err := s.pool.Exec(pctx, "SELECT pg_notify($1, $2)", notifyChannel, own+strconv.FormatUint(seq, 10))
			cancel()
			if err != nil {
				return fmt.Errorf("storage: object cache listener: ping: %w", err)
			}
			pending, pendingAt = true, now
		}
	}
}
