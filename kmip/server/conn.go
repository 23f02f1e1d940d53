package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// headerSize is the size of a TTLV item header: tag (3), type (1), length (4).
const headerSize = 8

// lingerTime and lingerBytes bound how long and how much a connection reads
// and discards after announcing its close, so that the client receives the
// last response instead of a TCP reset caused by its unread bytes.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// connState tells Shutdown which connections it may close at once.
type connState int

const (
	stateNew    connState = iota // TLS handshake under way
	stateIdle                    // waiting for or reading a request frame
	stateActive                  // handling a request or writing its response
	stateClosed
)

// conn is one client connection. Requests on it are served one at a time,
// as KMIP clients send them.
type conn struct {
	srv  *Server
	cfg  *Config
	raw  net.Conn
	tc   *tls.Conn
	id   uint64
	log  *slog.Logger
	head headRecorder

	mu    sync.Mutex
	state connState
	// peer is the verified client certificate once the handshake is done
	// (CloseWhere finds connections by certificate).
	peer atomic.Pointer[x509.Certificate]
}

func newConn(s *Server, rw net.Conn, id uint64) *conn {
	tc, ok := rw.(*tls.Conn)
	if !ok {
		tc = tls.Server(rw, s.cfg.TLS)
	}
	c := &conn{
		srv: s,
		cfg: &s.cfg,
		raw: rw,
		tc:  tc,
		id:  id,
		log: s.log.With("conn", id, "remote", rw.RemoteAddr().String()),
	}
	c.head.r = tc
	return c
}

// setState moves the connection to st unless it was closed already.
func (c *conn) setState(st connState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		return false
	}
	c.state = st
	return true
}

// closeIfIdle closes the connection if it is not handling a request (or in
// any case when all is set) and reports whether it is closed. It closes the
// socket without a TLS close_notify so that it never blocks on a peer.
func (c *conn) closeIfIdle(all bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		return true
	}
	if c.state == stateActive && !all {
		return false
	}
	c.state = stateClosed
	c.raw.Close()
	return true
}

func (c *conn) close() {
	c.mu.Lock()
	c.state = stateClosed
	c.mu.Unlock()
	// tls.Conn.Close sends close_notify with its own short write deadline.
	c.tc.Close()
}

// serve runs the connection: handshake, then request after request until
// the client leaves, the idle timeout passes, framing is lost or the server
// stops.
func (c *conn) serve(ctx context.Context) {
	defer func() {
		// The handler's panics are caught per request; this one catches the
		// server's own bugs so that one connection cannot stop the process.
		if v := recover(); v != nil {
			c.log.Error("kmip connection panicked", "panic", describePanic(v), "stack", string(debug.Stack()))
		}
	}()
	defer c.close()

	peer, err := c.handshake(ctx)
	if err != nil {
		c.log.Info("kmip TLS handshake failed", "err", err)
		c.cfg.Observer.HandshakeFailed()
		if c.cfg.OnHandshakeError != nil {
			c.cfg.OnHandshakeError(c.tc.RemoteAddr(), err)
		}
		return
	}
	c.peer.Store(peer.Certificate)
	c.log = c.log.With("client_cn", peer.Certificate.Subject.CommonName)
	st := c.tc.ConnectionState()
	c.log.Debug("kmip connection open",
		"tls_version", tls.VersionName(st.Version), "cipher_suite", tls.CipherSuiteName(st.CipherSuite))

	for {
		if !c.setState(stateIdle) || c.srv.closing.Load() {
			return
		}
		if err := c.tc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout)); err != nil {
			return
		}
		c.head.n = 0
		frame, err := ttlv.ReadFrame(&c.head, c.cfg.MaxMessageSize)
		if err != nil {
			c.frameFailed(ctx, peer, err)
			return
		}
		if !c.setState(stateActive) {
			return
		}
		resp, ok := c.handle(ctx, peer, frame)
		// The request may carry key material or credentials, and its
		// decoded items are copies: clear it rather than leave it to the
		// garbage collector.
		clear(frame)
		if !ok || !c.write(resp) {
			return
		}
	}
}

// handshake runs the TLS handshake within HandshakeTimeout and returns the
// peer, whose verified certificate is required whatever the TLS config says.
func (c *conn) handshake(ctx context.Context) (Peer, error) {
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	if err := c.tc.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout)); err != nil {
		return Peer{}, err
	}
	if err := c.tc.HandshakeContext(hctx); err != nil {
		return Peer{}, err
	}
	if err := c.tc.SetDeadline(time.Time{}); err != nil {
		return Peer{}, err
	}
	st := c.tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return Peer{}, errors.New("server: no verified client certificate")
	}
	return Peer{Addr: c.raw.RemoteAddr(), Certificate: st.PeerCertificates[0], ConnID: c.id}, nil
}

// frameFailed ends the connection after a frame could not be read whole.
// When the header was read whole but refused (length over the limit, unknown
// type byte), the client gets the handler's Malformed answer first; the rest
// of the frame cannot be skipped safely, so the connection closes either
// way. Read errors, truncated frames and timeouts close quietly.
func (c *conn) frameFailed(ctx context.Context, peer Peer, err error) {
	switch {
	case errors.Is(err, io.EOF):
		c.log.Debug("kmip connection closed by client")
		return
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.log.Debug("kmip connection closed inside a frame", "err", err)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Debug("kmip connection idle or stalled; closing", "idle_timeout", c.cfg.IdleTimeout)
		return
	case c.head.n < headerSize || !(errors.Is(err, ttlv.ErrTooLarge) || errors.Is(err, ttlv.ErrMalformed)):
		c.log.Debug("kmip connection read failed; closing", "err", err)
		return
	}
	c.log.Info("kmip request frame refused; closing connection", "err", err)
	if !c.setState(stateActive) {
		return
	}
	head := c.head.buf
	resp, ok := c.protect(func() ttlv.Item { return c.cfg.Handler.Malformed(ctx, peer, head[:], err) })
	if ok && c.write(resp) {
		c.linger()
	}
}

// handle decodes one frame and returns the response to write, or false when
// the connection must close.
func (c *conn) handle(ctx context.Context, peer Peer, frame []byte) (ttlv.Item, bool) {
	req, err := ttlv.Decode(frame, ttlv.Limits{MaxSize: c.cfg.MaxMessageSize, MaxDepth: c.cfg.MaxDepth})
	if err != nil {
		// The frame was read whole, so framing is intact: answer and go on.
		c.log.Info("kmip request malformed", "err", err, "size", len(frame))
		return c.protect(func() ttlv.Item { return c.cfg.Handler.Malformed(ctx, peer, frame, err) })
	}
	return c.protect(func() ttlv.Item { return c.cfg.Handler.ServeKMIP(ctx, peer, req) })
}

// protect calls the handler and recovers its panic. After a panic the
// connection is closed without an answer: the handler's state for the
// request is unknown, so no response can be trusted, and a KMIP client
// treats a closed connection as a failed request it may retry. Other
// connections and the server go on.
func (c *conn) protect(f func() ttlv.Item) (resp ttlv.Item, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("kmip handler panicked; closing connection",
				"panic", describePanic(v), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return f(), true
}

// write encodes and sends one response within WriteTimeout. The encoding
// may hold key material (a Get's), so it is zeroed once crypto/tls has
// sealed it into its own record buffer. It is not kept for the next
// response: ttlv.Encode makes it in one buffer of exactly its size, where
// encoding into a kept one would leave partial copies in the arrays that
// append outgrows, which nothing could zero.
func (c *conn) write(resp ttlv.Item) bool {
	b, err := ttlv.Encode(resp)
	defer clear(b[:cap(b)]) // after an error, b is empty but its array may hold part of the encoding
	if err != nil {
		c.log.Error("kmip handler returned a response that does not encode; closing connection", "err", err)
		return false
	}
	if err := c.tc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		return false
	}
	if _, err := c.tc.Write(b); err != nil {
		c.log.Debug("kmip response write failed; closing", "err", err)
		return false
	}
	return true
}

// linger announces the close (close_notify) and discards what the client
// still sends, bounded in time and bytes, so that the last response is not
// lost to a reset.
func (c *conn) linger() {
	if err := c.tc.CloseWrite(); err != nil {
		return
	}
	if err := c.tc.SetReadDeadline(time.Now().Add(lingerTime)); err != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, c.tc, lingerBytes)
}

// headRecorder keeps the first headerSize bytes read of each frame, for
// Malformed when a frame is refused after its header.
type headRecorder struct {
	r   io.Reader
	buf [headerSize]byte
	n   int
}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.n < headerSize {
		h.n += copy(h.buf[h.n:], p[:n])
	}
	return n, err
}

// describePanic returns what may be logged of a panic value: the text of
// errors and strings, which programmers write, but only the type of other
// values, which could hold request data.
func describePanic(v any) string {
	switch v := v.(type) {
	case error:
		return v.Error()
	case string:
		return v
	default:
		return fmt.Sprintf("panic value of type %T", v)
	}
}
