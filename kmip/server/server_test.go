package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"github.com/strongroom/strongroom/internal/tlstest"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// secret stands for key material carried in requests; it must never reach
// the logs.
var secret = []byte("\x9a\x11TEST-KEY-MATERIAL-NOT-LOGGED\x5c\x00\xfe")

// stubHandler answers every request with a fixed ResponseMessage and every
// malformed frame with a fixed Invalid Message response. A request whose
// Unique Identifier is "panic" panics; "block" waits for release or for the
// request context to end.
type stubHandler struct {
	served    atomic.Int64
	malformed atomic.Int64
	lastCN    atomic.Value // string
	entered   chan struct{}
	release   chan struct{}
	ctxErr    chan error
}

func newStubHandler() *stubHandler {
	return &stubHandler{
		entered: make(chan struct{}, 16),
		release: make(chan struct{}),
		ctxErr:  make(chan error, 16),
	}
}

func (h *stubHandler) ServeKMIP(ctx context.Context, peer server.Peer, req ttlv.Item) ttlv.Item {
	h.served.Add(1)
	h.lastCN.Store(peer.Certificate.Subject.CommonName)
	uid, _ := req.Find(ttlv.TagUniqueIdentifier)
	switch cmd, _ := uid.TextValue(); cmd {
	case "panic":
		panic("stub handler panic")
	case "block":
		h.entered <- struct{}{}
		select {
		case <-h.release:
		case <-ctx.Done():
			h.ctxErr <- ctx.Err()
		}
	}
	return okResponse()
}

func (h *stubHandler) Malformed(ctx context.Context, peer server.Peer, raw []byte, err error) ttlv.Item {
	h.malformed.Add(1)
	return malformedResponse()
}

func okResponse() ttlv.Item {
	return ttlv.Struct(ttlv.TagResponseMessage, ttlv.Enum(ttlv.TagResultStatus, 0))
}

func malformedResponse() ttlv.Item {
	return ttlv.Struct(ttlv.TagResponseMessage,
		ttlv.Enum(ttlv.TagResultStatus, 1),
		ttlv.Enum(ttlv.TagResultReason, 4),
		ttlv.Text(ttlv.TagResultMessage, "invalid message"))
}

func isMalformed(it ttlv.Item) bool {
	_, ok := it.Find(ttlv.TagResultReason)
	return it.Tag == ttlv.TagResponseMessage && ok
}

func isOK(it ttlv.Item) bool {
	st, _ := it.Find(ttlv.TagResultStatus)
	v, ok := st.EnumValue()
	return it.Tag == ttlv.TagResponseMessage && ok && v == 0
}

func request(cmd string) ttlv.Item {
	return ttlv.Struct(ttlv.TagRequestMessage,
		ttlv.Text(ttlv.TagUniqueIdentifier, cmd),
		ttlv.Bytes(ttlv.TagKeyMaterial, secret))
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a server on a loopback port with a stub handler.
type env struct {
	srv       *server.Server
	addr      string
	h         *stubHandler
	ca        *tlstest.CA
	clientTLS *tls.Config
	logs      *syncBuffer
	serveErr  chan error
	cancel    context.CancelFunc
}

func start(t testing.TB, mutate func(*server.Config)) *env {
	t.Helper()
	ca := tlstest.NewCA(t, "Strongroom test CA")
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.pem")
	cp, kp := tlstest.CertPEM(t, ca.Issue(t, "localhost", true))
	writeFile(t, certFile, cp)
	writeFile(t, keyFile, kp)
	writeFile(t, caFile, ca.PEM())
	tcfg, err := server.NewTLSConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{h: newStubHandler(), ca: ca, logs: &syncBuffer{}, serveErr: make(chan error, 1)}
	cfg := server.Config{
		TLS:     tcfg,
		Handler: e.h,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.srv, err = server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.serveErr <- e.srv.Serve(ctx, ln) }()
	e.clientTLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      ca.Pool,
		Certificates: []tls.Certificate{ca.Issue(t, "client-1", false)},
		ServerName:   "localhost",
	}
	t.Cleanup(func() {
		e.srv.Close()
		cancel()
		select {
		case <-e.serveErr:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *env) dial(t testing.TB) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.addr, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(c *client.Conn, cmd string) (ttlv.Item, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.RoundTrip(ctx, request(cmd))
}

// dialRaw returns a TLS connection for writing arbitrary bytes.
func dialRaw(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := tls.Dialer{Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*tls.Conn)
}

func readResponse(c net.Conn) (ttlv.Item, error) {
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return ttlv.Item{}, err
	}
	b, err := ttlv.ReadFrame(c, 1<<20)
	if err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Decode(b, ttlv.Limits{})
}

// expectClosed checks that the server closes c without sending more.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 64))
	if err == nil {
		t.Fatalf("read %d more bytes; want the connection closed", n)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("connection still open after 5s; want it closed")
	}
}

func header(tag ttlv.Tag, typ ttlv.Type, length uint32) []byte {
	h := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag), byte(typ), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[4:], length)
	return h
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func encode(t testing.TB, it ttlv.Item) []byte {
	t.Helper()
	b, err := ttlv.Encode(it)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMutualTLS(t *testing.T) {
	e := start(t, nil)
	c := e.dial(t)
	for i := range 3 {
		resp, err := roundTrip(c, "hello")
		if err != nil {
			t.Fatalf("round trip %d: %v", i, err)
		}
		if !isOK(resp) {
			t.Fatalf("round trip %d: unexpected response %+v", i, resp)
		}
	}
	if got := e.h.served.Load(); got != 3 {
		t.Errorf("handler served %d requests, want 3", got)
	}
	if cn, _ := e.h.lastCN.Load().(string); cn != "client-1" {
		t.Errorf("peer CN %q, want client-1", cn)
	}
	if got := e.srv.Addr(); got == nil || got.String() != e.addr {
		t.Errorf("Addr() = %v, want %s", got, e.addr)
	}
}

func TestTLSRefused(t *testing.T) {
	e := start(t, nil)
	other := tlstest.NewCA(t, "Other CA")
	good := e.clientTLS
	cases := []struct {
		name string
		cfg  *tls.Config
	}{
		{"no client certificate TLS 1.3", &tls.Config{RootCAs: e.ca.Pool, ServerName: "localhost"}},
		{"no client certificate TLS 1.2", &tls.Config{RootCAs: e.ca.Pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12}},
		{"certificate from another CA", &tls.Config{
			RootCAs: e.ca.Pool, ServerName: "localhost",
			Certificates: []tls.Certificate{other.Issue(t, "intruder", false)},
		}},
		{"TLS 1.1", &tls.Config{
			RootCAs: e.ca.Pool, ServerName: "localhost", Certificates: good.Certificates,
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
		}},
		{"TLS 1.2 CBC suite", &tls.Config{
			RootCAs: e.ca.Pool, ServerName: "localhost", Certificates: good.Certificates,
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
		}},
		{"TLS 1.2 RSA key exchange", &tls.Config{
			RootCAs: e.ca.Pool, ServerName: "localhost", Certificates: good.Certificates,
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, e.addr, tc.cfg)
			if err == nil {
				// With TLS 1.3 the server judges the client certificate
				// after the client's handshake is complete.
				_, err = c.RoundTrip(ctx, request("hello"))
				c.Close()
			}
			if err == nil {
				t.Fatal("connection accepted; want it refused")
			}
			t.Logf("refused: %v", err)
		})
	}
	if got := e.h.served.Load() + e.h.malformed.Load(); got != 0 {
		t.Errorf("handler called %d times for refused connections", got)
	}
	// The server still serves a proper client.
	if _, err := roundTrip(e.dial(t), "hello"); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	e := start(t, nil)
	rm := ttlv.TagRequestMessage

	garbage := make([]byte, 64)
	fill(garbage, 1)
	if garbage[3] >= 0x01 && garbage[3] <= 0x0B {
		t.Fatalf("test setup: garbage starts with a valid type byte; change the seed")
	}
	body := make([]byte, 56)
	fill(body, 2)

	deep := nested(rm, 1000)
	badChildType := cat(header(rm, ttlv.TypeStructure, 16), header(ttlv.TagUniqueIdentifier, 0x0C, 4), make([]byte, 8))
	badPadding := cat(header(rm, ttlv.TypeStructure, 16), header(ttlv.TagBatchCount, ttlv.TypeInteger, 4),
		[]byte{0, 0, 0, 1, 0, 0, 0, 0xFF})

	const (
		keepConn   = "malformed answer, connection kept"
		closeConn  = "malformed answer, connection closed"
		quietClose = "closed without answer"
	)
	cases := []struct {
		name       string
		input      []byte
		closeWrite bool
		want       string
	}{
		{"random garbage", garbage, false, closeConn},
		{"random body in a structure", cat(header(rm, ttlv.TypeStructure, 56), body), false, keepConn},
		{"truncated frame", cat(header(rm, ttlv.TypeStructure, 64), make([]byte, 16)), true, quietClose},
		{"truncated header", []byte{0x42, 0x00, 0x78, 0x01, 0x00}, true, quietClose},
		{"length 2^31-1", header(rm, ttlv.TypeStructure, 1<<31-1), false, closeConn},
		{"length 2^31", header(rm, ttlv.TypeStructure, 1<<31), false, closeConn},
		{"length 2^32-1", header(rm, ttlv.TypeStructure, 1<<32-1), false, closeConn},
		{"length just over the limit", header(rm, ttlv.TypeStructure, 1<<20), false, closeConn},
		{"nesting depth 1000", deep, false, keepConn},
		{"bad type byte in a child", badChildType, false, keepConn},
		{"bad top-level type byte", header(rm, 0x0C, 0), false, closeConn},
		{"non-zero padding", badPadding, false, keepConn},
		{"wrong length for an integer", cat(header(rm, ttlv.TypeStructure, 16),
			header(ttlv.TagBatchCount, ttlv.TypeInteger, 8), make([]byte, 8)), false, keepConn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			served, malformed := e.h.served.Load(), e.h.malformed.Load()
			c := dialRaw(t, e.addr, e.clientTLS)
			if _, err := c.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			if tc.closeWrite {
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			switch tc.want {
			case quietClose:
				expectClosed(t, c)
				if got := e.h.malformed.Load(); got != malformed {
					t.Errorf("Malformed called for a truncated frame")
				}
			case keepConn, closeConn:
				resp, err := readResponse(c)
				if err != nil {
					t.Fatalf("reading the Malformed answer: %v", err)
				}
				if !isMalformed(resp) {
					t.Fatalf("got %+v, want the Malformed answer", resp)
				}
				if got := e.h.malformed.Load(); got != malformed+1 {
					t.Errorf("Malformed called %d times, want 1", got-malformed)
				}
			}
			switch tc.want {
			case closeConn:
				expectClosed(t, c)
			case keepConn:
				// Framing is intact: the same connection serves a good request.
				if _, err := c.Write(encode(t, request("after"))); err != nil {
					t.Fatal(err)
				}
				resp, err := readResponse(c)
				if err != nil {
					t.Fatalf("good request after bad input: %v", err)
				}
				if !isOK(resp) {
					t.Fatalf("good request after bad input: got %+v", resp)
				}
				served++
			}
			if got := e.h.served.Load(); got != served {
				t.Errorf("ServeKMIP called %d times, want %d", got, served)
			}
		})
	}
	// The server is still up for the next client.
	if _, err := roundTrip(e.dial(t), "hello"); err != nil {
		t.Fatal(err)
	}
}

// fill writes deterministic pseudo-random bytes (xorshift) into b.
func fill(b []byte, seed uint64) {
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 24)
	}
}

// nested returns depth structures, each the only child of the one above.
func nested(tag ttlv.Tag, depth int) []byte {
	b := make([]byte, 8*depth)
	for i := range depth {
		copy(b[8*i:], header(tag, ttlv.TypeStructure, uint32(8*(depth-i-1))))
	}
	return b
}

func TestHugeLengthMemoryBounded(t *testing.T) {
	e := start(t, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 50 {
		c := dialRaw(t, e.addr, e.clientTLS)
		if _, err := c.Write(header(ttlv.TagRequestMessage, ttlv.TypeStructure, 1<<31-1)); err != nil {
			t.Fatal(err)
		}
		resp, err := readResponse(c)
		if err != nil || !isMalformed(resp) {
			t.Fatalf("request %d: got %+v, %v; want the Malformed answer", i, resp, err)
		}
		expectClosed(t, c)
		c.Close()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	total := after.TotalAlloc - before.TotalAlloc
	t.Logf("50 requests claiming 2 GiB: HeapAlloc grew %d KiB, %d KiB allocated in all (client side included)", heap>>10, total>>10)
	if heap > 16<<20 {
		t.Errorf("HeapAlloc grew %d bytes, want < 16 MiB", heap)
	}
	// No single large buffer was ever allocated, not even briefly.
	if total > 256<<20 {
		t.Errorf("%d bytes allocated over 50 requests, want < 256 MiB", total)
	}
}

func TestHandlerPanic(t *testing.T) {
	e := start(t, nil)
	c := dialRaw(t, e.addr, e.clientTLS)
	if _, err := c.Write(encode(t, request("panic"))); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
	// The next client is served.
	resp, err := roundTrip(e.dial(t), "hello")
	if err != nil || !isOK(resp) {
		t.Fatalf("after a handler panic: %+v, %v", resp, err)
	}
	logs := e.logs.String()
	if !bytes.Contains([]byte(logs), []byte("level=ERROR msg=\"kmip handler panicked")) {
		t.Errorf("no error log for the panic:\n%s", logs)
	}
}

func TestLogsCarryNoRequestBytes(t *testing.T) {
	e := start(t, nil)
	c := e.dial(t)
	for _, cmd := range []string{"hello", "panic"} {
		_, _ = roundTrip(c, cmd)
	}
	raw := dialRaw(t, e.addr, e.clientTLS)
	_, _ = raw.Write(cat(header(ttlv.TagRequestMessage, ttlv.TypeStructure, 48), make([]byte, 4), encode(t, request("x"))[:44]))
	_, _ = readResponse(raw)
	raw.Close()
	time.Sleep(50 * time.Millisecond)
	logs := e.logs.String()
	for _, s := range []string{string(secret[2:20]), "544553542d4b4559", "VEVTVC1LRVk"} {
		if bytes.Contains([]byte(logs), []byte(s)) {
			t.Fatalf("server log contains request bytes (%q)", s)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	e := start(t, func(cfg *server.Config) { cfg.IdleTimeout = 200 * time.Millisecond })
	c := dialRaw(t, e.addr, e.clientTLS)
	if _, err := c.Write(encode(t, request("hello"))); err != nil {
		t.Fatal(err)
	}
	if _, err := readResponse(c); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	expectClosed(t, c)
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("idle connection closed after %v, want about 200ms", d)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	e := start(t, func(cfg *server.Config) { cfg.HandshakeTimeout = 200 * time.Millisecond })
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	expectClosed(t, nc)
}

func TestMaxConnections(t *testing.T) {
	e := start(t, func(cfg *server.Config) { cfg.MaxConnections = 2 })
	c1, c2 := e.dial(t), e.dial(t)
	for _, c := range []*client.Conn{c1, c2} {
		if _, err := roundTrip(c, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c3, err := client.Dial(ctx, e.addr, e.clientTLS); err == nil {
		_, err = c3.RoundTrip(ctx, request("hello"))
		c3.Close()
		if err == nil {
			t.Fatal("third connection served; want it refused")
		}
	}
	c1.Close()
	// The slot frees once the server sees the close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c4, err := client.Dial(ctx, e.addr, e.clientTLS)
		if err == nil {
			_, err = c4.RoundTrip(ctx, request("hello"))
			c4.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := roundTrip(c2, "hello"); err != nil {
		t.Fatalf("existing connection: %v", err)
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	e := start(b, func(cfg *server.Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
	c := e.dial(b)
	req := request("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.RoundTrip(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
