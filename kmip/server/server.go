// Package server is Strongroom's KMIP listener: mutually authenticated TLS,
// TTLV framing with hard size and depth limits, one request at a time per
// connection, and a bounded number of connections. KMIP semantics belong to
// the Handler.
//
// KMIP over TLS is specified in the KMIP Profiles (1.x §3.1.2, "Basic
// Authentication Suite"; port 5696).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("server: closed")

// Server accepts KMIP connections. Create it with New.
type Server struct {
	cfg Config
	log *slog.Logger
	// sem holds one token per open client connection.
	sem chan struct{}

	nextConnID atomic.Uint64
	closing    atomic.Bool
	// done is closed when the server starts shutting down.
	done chan struct{}
	// forced is cancelled when in-flight requests must stop (Close, an
	// expired Shutdown deadline); request contexts are cancelled with it.
	forced      context.Context
	cancelForce context.CancelFunc
	doneOnce    sync.Once

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
}

// New checks cfg, fills in defaults and returns a server that is not yet
// listening.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.IdleTimeout < time.Minute {
		cfg.Logger.Warn("kmip idle timeout under a minute breaks clients that keep connections open",
			"idle_timeout", cfg.IdleTimeout)
	}
	forced, cancelForce := context.WithCancel(context.Background())
	return &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		sem:         make(chan struct{}, cfg.MaxConnections),
		done:        make(chan struct{}),
		forced:      forced,
		cancelForce: cancelForce,
		conns:       make(map[*conn]struct{}),
	}, nil
}

// ListenAndServe listens on cfg.Addr over TCP and serves it (see Serve).
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until Shutdown or Close is called or ctx is
// cancelled, and closes ln. ln yields plain TCP connections: Serve runs the
// TLS handshake itself so that it can bound it in time (connections that are
// already *tls.Conn are used as they are).
//
// Request contexts derive from ctx. Cancelling ctx stops the server at once,
// like Close; for a graceful stop call Shutdown first. Serve returns
// ErrServerClosed after Shutdown or Close, ctx.Err() after cancellation.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.trackListener(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrackListener(ln)
	defer ln.Close()

	// Serve's own ctx ending is an immediate stop of the server.
	stopClose := context.AfterFunc(ctx, func() { s.Close() })
	defer stopClose()

	s.log.Info("kmip server listening", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("server: accept: %w", err)
			}
			// Other accept errors (EMFILE, ECONNABORTED) pass; back off so
			// that a persistent one does not spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("kmip accept failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		s.accept(ctx, rw)
	}
}

// accept starts serving rw or, when MaxConnections are open already, closes
// it at once. Refusing beats queueing: a client that waits in a queue cannot
// tell a busy server from a dead one, while a refused one can fail over
// (mongod retries its server list) and the refusal costs no handshake.
func (s *Server) accept(ctx context.Context, rw net.Conn) {
	select {
	case s.sem <- struct{}{}:
	default:
		s.log.Warn("kmip connection refused: connection limit reached",
			"remote", rw.RemoteAddr().String(), "max_connections", s.cfg.MaxConnections)
		rw.Close()
		return
	}
	c := newConn(s, rw, s.nextConnID.Add(1))
	if !s.trackConn(c) {
		<-s.sem
		rw.Close()
		return
	}
	s.cfg.Observer.ConnOpened()
	go func() {
		defer func() { <-s.sem }()
		defer s.cfg.Observer.ConnClosed()
		defer s.untrackConn(c)
		// Requests end with Serve's ctx or when the server is forced to
		// stop, not when Serve returns: Shutdown lets them finish.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(s.forced, cancel)
		defer stop()
		c.serve(ctx)
	}()
}

// Addr returns the address of the first listener being served, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return nil
	}
	return s.listeners[0].Addr()
}

// Shutdown stops the server gracefully: it closes the listeners and the idle
// connections (those in a handshake, waiting for a request or still reading
// one) at once, lets requests being handled finish and their responses go
// out, and closes each connection after its response. When ctx
// ends first, request contexts are cancelled, every connection is closed and
// Shutdown returns ctx.Err() without waiting for handlers that ignore their
// context.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		// Connections may turn idle (response sent) at any moment: close
		// the idle ones on every tick until none is left.
		if s.closeConns(false) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.force()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops the server at once: listeners and connections are closed and
// request contexts cancelled. It does not wait for handlers to return.
func (s *Server) Close() error {
	s.beginClose()
	s.force()
	return nil
}

func (s *Server) beginClose() {
	s.closing.Store(true)
	s.doneOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
}

// force closes every connection, then cancels request contexts: in that
// order no response of a cancelled request can still go out.
func (s *Server) force() {
	s.closeConns(true)
	s.cancelForce()
}

// closeConns closes idle connections (all of them if all is set) and returns
// how many connections remain open.
func (s *Server) closeConns(all bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if !c.closeIfIdle(all) {
			n++
		}
	}
	return n
}

func (s *Server) trackListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners = append(s.listeners, ln)
	return true
}

func (s *Server) untrackListener(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.listeners {
		if l == ln {
			s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
			break
		}
	}
}

// trackConn registers c unless the server is closing.
func (s *Server) trackConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}
