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
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// KMIP over HTTPS (KMIP Additional Message Encodings 1.0 §2, the
// MSGENC-HTTPS, MSGENC-JSON and MSGENC-XML profiles of KMIP Profiles 1.4
// and 2.1): each request message is the body of a POST to /kmip, in the
// encoding its Content-Type names, and the response message comes back in
// the same encoding. Authentication is the TLS port's: mutual TLS with a
// verified client certificate, whose identity the Handler sees as for TLS.

// HTTPPath is the request URI of KMIP over HTTPS.
const HTTPPath = "/kmip"

// Defaults for the zero fields of HTTPConfig.
const (
	DefaultHTTPAddr          = ":5697"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	// DefaultHTTPWriteTimeout covers handling the request and writing the
	// response (net/http starts it when the headers have been read).
	DefaultHTTPWriteTimeout = 60 * time.Second
	// DefaultHTTPIdleTimeout closes keep-alive connections between
	// requests; HTTP clients reconnect on their own, unlike TTLV clients.
	DefaultHTTPIdleTimeout = 2 * time.Minute
)

// httpConnIDBase numbers HTTPS connections apart from TLS-port ones, so
// that a connection number in a log or audit record names one connection.
const httpConnIDBase = 1 << 48

// HTTPConfig configures an HTTPServer. Zero fields take the defaults of
// Config or the ones above.
type HTTPConfig struct {
	// Addr is where ListenAndServe listens (default ":5697").
	Addr string
	// TLS must require and verify client certificates, as for Config.
	TLS *tls.Config
	// MaxMessageSize bounds a request body; MaxDepth its nesting.
	MaxMessageSize int
	MaxDepth       int
	// MaxConnections bounds open connections; more are closed on accept.
	MaxConnections int
	// ReadHeaderTimeout bounds the TLS handshake and the request headers,
	// ReadTimeout the whole request, WriteTimeout handling and response,
	// IdleTimeout a keep-alive connection between requests.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Logger receives connection and request events; nil discards them.
	Logger *slog.Logger
	// Handler answers the requests; the same one as the TLS port's.
	Handler Handler
	// OnHandshakeError, when set, is told of every refused or failed TLS
	// handshake, as Config.OnHandshakeError is (the audit trail). It runs
	// on the connection's goroutine.
	OnHandshakeError func(addr net.Addr, err error)
}

func (cfg HTTPConfig) withDefaults() (HTTPConfig, error) {
	if cfg.Handler == nil {
		return cfg, errors.New("server: Handler is required")
	}
	tcfg, err := checkTLSConfig(cfg.TLS)
	if err != nil {
		return cfg, err
	}
	// HTTP/1.1 only: one request per exchange is all KMIP needs, and it
	// keeps the transport's limits those of net/http's HTTP/1 server.
	tcfg.NextProtos = []string{"http/1.1"}
	cfg.TLS = tcfg
	if cfg.MaxMessageSize < 0 || cfg.MaxDepth < 0 || cfg.MaxConnections < 0 || cfg.ReadHeaderTimeout < 0 ||
		cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 || cfg.IdleTimeout < 0 {
		return cfg, errors.New("server: negative limit in HTTPConfig")
	}
	setDefault(&cfg.Addr, DefaultHTTPAddr)
	setDefault(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&cfg.MaxDepth, DefaultMaxDepth)
	setDefault(&cfg.MaxConnections, DefaultMaxConnections)
	setDefault(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&cfg.ReadTimeout, DefaultReadTimeout)
	setDefault(&cfg.WriteTimeout, DefaultHTTPWriteTimeout)
	setDefault(&cfg.IdleTimeout, DefaultHTTPIdleTimeout)
	if cfg.MaxMessageSize < headerSize {
		return cfg, errors.New("server: MaxMessageSize is smaller than a TTLV header")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// HTTPServer serves KMIP over HTTPS. It is also the http.Handler of the
// KMIP path, for tests and for embedding. Create it with NewHTTP.
type HTTPServer struct {
	cfg HTTPConfig
	log *slog.Logger
	hs  *http.Server

	nextConnID atomic.Uint64
	// forced is cancelled when in-flight requests must stop (Close, an
	// expired Shutdown deadline).
	forced      context.Context
	cancelForce context.CancelFunc

	mu       sync.Mutex
	ln       net.Listener
	closing  bool
	cleanups []func()

	// conns are the connections that have served a request, with their
	// client certificates (http_conns.go); revoked is the last CloseWhere
	// predicate, checked as each request begins.
	conns   httpConns
	revoked atomic.Pointer[func(*x509.Certificate) bool]
}

// connInfoKey carries a connection's number and address to its requests.
type connInfoKey struct{}

type connInfo struct {
	id   uint64
	addr net.Addr
}

// NewHTTP checks cfg, fills in defaults and returns a server that is not
// yet listening.
func NewHTTP(cfg HTTPConfig) (*HTTPServer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	forced, cancelForce := context.WithCancel(context.Background())
	s := &HTTPServer{cfg: cfg, log: cfg.Logger, forced: forced, cancelForce: cancelForce}
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, s)
	s.hs = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		// No HTTP/2: see NextProtos above.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// Handshake failures and the like: details for debugging only.
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		// Tracks connections for CloseWhere and reports failed handshakes.
		ConnState: s.connState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connInfoKey{}, connInfo{id: httpConnIDBase + s.nextConnID.Add(1), addr: c.RemoteAddr()})
		},
	}
	return s, nil
}

// ListenAndServe listens on cfg.Addr over TCP and serves it (see Serve).
func (s *HTTPServer) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: https listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts plain TCP connections on ln, runs TLS on them and serves
// HTTPS until Shutdown or Close is called or ctx ends. Request contexts
// derive from ctx; cancelling it stops the server at once, like Close.
// Serve returns ErrServerClosed after Shutdown or Close, ctx.Err() after
// cancellation. Serve may be called once.
func (s *HTTPServer) Serve(ctx context.Context, ln net.Listener) error {
	reqCtx, cancel := context.WithCancel(ctx)
	stopForce := context.AfterFunc(s.forced, cancel)
	s.mu.Lock()
	if s.closing || s.ln != nil {
		s.mu.Unlock()
		stopForce()
		cancel()
		ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	// Request contexts live on after Serve returns, while Shutdown waits
	// for the requests; they end when the server has stopped.
	s.cleanups = append(s.cleanups, func() { stopForce(); cancel() })
	s.mu.Unlock()
	s.hs.BaseContext = func(net.Listener) context.Context { return reqCtx }

	stopClose := context.AfterFunc(ctx, func() { s.Close() })
	defer stopClose()

	s.log.Info("kmip https server listening", "addr", ln.Addr().String(), "path", HTTPPath)
	lim := newLimitListener(ln, s.cfg.MaxConnections, s.log)
	err := s.hs.Serve(tls.NewListener(lim, s.cfg.TLS))
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, http.ErrServerClosed):
		return ErrServerClosed
	}
	return fmt.Errorf("server: https serve: %w", err)
}

// Addr returns the address being served, or nil.
func (s *HTTPServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil || s.closing {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the server gracefully: the listener and idle connections
// close at once, requests under way finish and are answered. When ctx ends
// first, request contexts are cancelled, every connection is closed and
// Shutdown returns ctx.Err().
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	s.beginClose()
	if err := s.hs.Shutdown(ctx); err != nil {
		s.Close()
		return err
	}
	s.finish()
	return nil
}

// Close stops the server at once: the listener and connections are closed
// and request contexts cancelled. Connections close first, so a handler
// that returns once its context ends cannot get an answer out.
func (s *HTTPServer) Close() error {
	s.beginClose()
	err := s.hs.Close()
	s.cancelForce()
	s.finish()
	return err
}

func (s *HTTPServer) beginClose() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
}

func (s *HTTPServer) finish() {
	s.mu.Lock()
	fs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// ServeHTTP answers one KMIP request (http.Handler). The request must come
// over TLS with a verified client certificate; NewHTTP's server ensures
// that, and ServeHTTP checks it again for servers built otherwise.
func (s *HTTPServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != HTTPPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "KMIP requests are POSTed")
		return
	}
	peer, ok := httpPeer(r)
	if !ok {
		httpError(w, http.StatusForbidden, "a verified client certificate is required")
		return
	}
	log := s.log.With("conn", peer.ConnID, "remote", peer.Addr.String(), "client_cn", peer.Certificate.Subject.CommonName)
	if s.refuseRevoked(w, log, peer) {
		return
	}
	enc, ok := ttlv.EncodingForContentType(r.Header.Get("Content-Type"))
	if !ok {
		log.Info("kmip https request refused: unsupported Content-Type")
		httpError(w, http.StatusUnsupportedMediaType,
			"Content-Type must be application/octet-stream (TTLV), application/json or text/xml")
		return
	}
	ctx := r.Context()
	maxSize := s.cfg.MaxMessageSize
	if r.ContentLength > int64(maxSize) {
		s.tooLarge(ctx, w, log, peer, enc, fmt.Errorf("server: %d-byte body exceeds the %d-byte limit: %w", r.ContentLength, maxSize, ttlv.ErrTooLarge))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxSize)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.tooLarge(ctx, w, log, peer, enc, fmt.Errorf("server: body exceeds the %d-byte limit: %w", maxSize, ttlv.ErrTooLarge))
			return
		}
		log.Debug("kmip https request body unreadable", "err", err)
		httpError(w, http.StatusBadRequest, "request body could not be read")
		return
	}
	var resp ttlv.Item
	req, err := enc.Decode(body, ttlv.Limits{MaxSize: maxSize, MaxDepth: s.cfg.MaxDepth})
	if err != nil {
		err = loggableDecodeError(enc, err)
		log.Info("kmip https request malformed", "encoding", enc.String(), "err", err, "size", len(body))
		resp, ok = s.protect(log, func() ttlv.Item { return s.cfg.Handler.Malformed(ctx, peer, body, err) })
	} else {
		resp, ok = s.protect(log, func() ttlv.Item { return s.cfg.Handler.ServeKMIP(ctx, peer, req) })
	}
	if !ok {
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.write(w, log, enc, http.StatusOK, resp)
}

// tooLarge answers a body over the limit: 413 with the handler's Invalid
// Message response in the request's encoding, for KMIP clients that read
// the body, and the connection closes, since the rest of the body is unread.
func (s *HTTPServer) tooLarge(ctx context.Context, w http.ResponseWriter, log *slog.Logger, peer Peer, enc ttlv.Encoding, err error) {
	log.Info("kmip https request refused; closing connection", "err", err)
	w.Header().Set("Connection", "close")
	resp, ok := s.protect(log, func() ttlv.Item { return s.cfg.Handler.Malformed(ctx, peer, nil, err) })
	if !ok {
		httpError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	s.write(w, log, enc, http.StatusRequestEntityTooLarge, resp)
}

// write sends a response message in enc.
func (s *HTTPServer) write(w http.ResponseWriter, log *slog.Logger, enc ttlv.Encoding, status int, resp ttlv.Item) {
	b, err := enc.Marshal(resp)
	if err != nil {
		log.Error("kmip handler returned a response that does not encode", "encoding", enc.String(), "err", err)
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", enc.MediaType())
	h.Set("Content-Length", strconv.Itoa(len(b)))
	// Responses may carry key material: no cache may keep them.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		log.Debug("kmip https response write failed", "err", err)
	}
}

// protect calls the handler and recovers its panic, as the TLS port does.
func (s *HTTPServer) protect(log *slog.Logger, f func() ttlv.Item) (resp ttlv.Item, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("kmip handler panicked", "panic", describePanic(v), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return f(), true
}

// httpPeer returns the authenticated client of a request.
func httpPeer(r *http.Request) (Peer, bool) {
	st := r.TLS
	if st == nil || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return Peer{}, false
	}
	info, _ := r.Context().Value(connInfoKey{}).(connInfo)
	addr := info.addr
	if addr == nil {
		addr = remoteAddr(r.RemoteAddr)
	}
	return Peer{Addr: addr, Certificate: st.PeerCertificates[0], ConnID: info.id}, true
}

// remoteAddr turns http.Request.RemoteAddr back into a net.Addr.
func remoteAddr(s string) net.Addr {
	if a, err := net.ResolveTCPAddr("tcp", s); err == nil {
		return a
	}
	return &net.TCPAddr{}
}

// loggableDecodeError keeps what may be logged of a decoding error. The
// XML decoder quotes the start of a value it cannot parse, which could be
// key material; only the error's class is kept for it.
func loggableDecodeError(enc ttlv.Encoding, err error) error {
	if enc != ttlv.EncodingXML {
		return err
	}
	for _, s := range []error{ttlv.ErrTooLarge, ttlv.ErrTooDeep, ttlv.ErrUnknownName, ttlv.ErrMalformed} {
		if errors.Is(err, s) {
			return fmt.Errorf("server: xml body does not decode: %w", s)
		}
	}
	return fmt.Errorf("server: xml body does not decode: %w", ttlv.ErrMalformed)
}

// httpError writes a short plain-text HTTP error, for requests that are
// not KMIP messages at all.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}

// limitListener closes connections beyond max as soon as they are
// accepted, as the TLS port does: a refused client can fail over.
type limitListener struct {
	net.Listener
	sem chan struct{}
	log *slog.Logger
}

func newLimitListener(ln net.Listener, max int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, max), log: log}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			l.log.Warn("kmip https connection refused: connection limit reached",
				"remote", c.RemoteAddr().String(), "max_connections", cap(l.sem))
			c.Close()
		}
	}
}

// limitConn frees its slot once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
