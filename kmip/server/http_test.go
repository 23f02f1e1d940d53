package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/tlstest"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// httpEnv is an HTTPS server on a loopback port with a stub handler.
type httpEnv struct {
	srv       *server.HTTPServer
	addr      string
	h         *stubHandler
	ca        *tlstest.CA
	clientTLS *tls.Config
	logs      *syncBuffer
	serveErr  chan error
}

func startHTTP(t *testing.T, mutate func(*server.HTTPConfig)) *httpEnv {
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
	e := &httpEnv{h: newStubHandler(), ca: ca, logs: &syncBuffer{}, serveErr: make(chan error, 1)}
	cfg := server.HTTPConfig{
		TLS:     tcfg,
		Handler: e.h,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.srv, err = server.NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go func() { e.serveErr <- e.srv.Serve(context.Background(), ln) }()
	e.clientTLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      ca.Pool,
		Certificates: []tls.Certificate{ca.Issue(t, "client-1", false)},
		ServerName:   "localhost",
	}
	t.Cleanup(func() {
		e.srv.Close()
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

// post sends a raw HTTPS request with the client certificate.
func (e *httpEnv) post(t *testing.T, method, path, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: e.clientTLS.Clone()}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+e.addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var encodings = []ttlv.Encoding{ttlv.EncodingTTLV, ttlv.EncodingJSON, ttlv.EncodingXML}

func TestHTTPEncodings(t *testing.T) {
	e := startHTTP(t, nil)
	for _, enc := range encodings {
		t.Run(enc.String(), func(t *testing.T) {
			c, err := client.NewHTTPConn(e.addr, e.clientTLS, enc)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Two requests: the second reuses the kept-alive connection.
			for range 2 {
				resp, err := c.RoundTrip(ctx, request("hello"))
				if err != nil {
					t.Fatal(err)
				}
				if !isOK(resp) {
					t.Fatalf("response %+v", resp)
				}
			}
			if cn, _ := e.h.lastCN.Load().(string); cn != "client-1" {
				t.Errorf("handler saw client %q, want client-1", cn)
			}
			body, err := enc.Marshal(request("hello"))
			if err != nil {
				t.Fatal(err)
			}
			hr, b := e.post(t, http.MethodPost, server.HTTPPath, enc.MediaType(), bytes.NewReader(body))
			if hr.StatusCode != http.StatusOK || hr.Header.Get("Content-Type") != enc.MediaType() {
				t.Fatalf("status %d, Content-Type %q", hr.StatusCode, hr.Header.Get("Content-Type"))
			}
			if hr.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", hr.Header.Get("Cache-Control"))
			}
			if it, err := enc.Decode(b, ttlv.Limits{}); err != nil || !isOK(it) {
				t.Fatalf("body %q: %+v, %v", b, it, err)
			}
		})
	}
	// application/xml and a UTF-8 charset are accepted too.
	body, _ := ttlv.MarshalXML(request("hello"))
	for _, ct := range []string{"application/xml", "text/xml; charset=utf-8", "application/json; charset=UTF-8"} {
		b := body
		if strings.Contains(ct, "json") {
			b, _ = ttlv.MarshalJSON(request("hello"))
		}
		hr, _ := e.post(t, http.MethodPost, server.HTTPPath, ct, bytes.NewReader(b))
		if hr.StatusCode != http.StatusOK {
			t.Errorf("Content-Type %q: status %d", ct, hr.StatusCode)
		}
	}
}

func TestHTTPMalformedBodies(t *testing.T) {
	e := startHTTP(t, func(cfg *server.HTTPConfig) { cfg.MaxDepth = 8 })
	deepJSON := strings.Repeat(`{"tag":"RequestPayload","value":[`, 20) + strings.Repeat(`]}`, 20)
	cases := []struct {
		name string
		enc  ttlv.Encoding
		body string
	}{
		{"ttlv garbage", ttlv.EncodingTTLV, "\x42\x00\x78\x01\x00\x00\x00\x10garbage!"},
		{"ttlv empty", ttlv.EncodingTTLV, ""},
		{"json garbage", ttlv.EncodingJSON, `{"tag":`},
		{"json unknown tag", ttlv.EncodingJSON, `{"tag":"Nope","value":[]}`},
		{"json too deep", ttlv.EncodingJSON, deepJSON},
		{"json trailing data", ttlv.EncodingJSON, `{"tag":"RequestMessage","value":[]}{}`},
		{"xml garbage", ttlv.EncodingXML, `<RequestMessage>`},
		{"xml placeholder", ttlv.EncodingXML, `<RequestMessage><ActivationDate type="DateTime" value="$NOW"/></RequestMessage>`},
		{"xml two messages", ttlv.EncodingXML, `<RequestMessage/><RequestMessage/>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.h.malformed.Load()
			hr, b := e.post(t, http.MethodPost, server.HTTPPath, tc.enc.MediaType(), strings.NewReader(tc.body))
			if hr.StatusCode != http.StatusOK || hr.Header.Get("Content-Type") != tc.enc.MediaType() {
				t.Fatalf("status %d, Content-Type %q: %s", hr.StatusCode, hr.Header.Get("Content-Type"), b)
			}
			it, err := tc.enc.Decode(b, ttlv.Limits{})
			if err != nil || !isMalformed(it) {
				t.Fatalf("response %+v, %v", it, err)
			}
			if e.h.malformed.Load() != before+1 {
				t.Error("handler's Malformed not called")
			}
		})
	}
	if e.h.served.Load() != 0 {
		t.Errorf("%d malformed bodies reached ServeKMIP", e.h.served.Load())
	}
}

func TestHTTPRefusals(t *testing.T) {
	e := startHTTP(t, nil)
	body, _ := ttlv.Encode(request("hello"))
	cases := []struct {
		name, method, path, ct string
		want                   int
	}{
		{"no Content-Type", http.MethodPost, server.HTTPPath, "", http.StatusUnsupportedMediaType},
		{"text/plain", http.MethodPost, server.HTTPPath, "text/plain", http.StatusUnsupportedMediaType},
		{"form", http.MethodPost, server.HTTPPath, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"latin-1 JSON", http.MethodPost, server.HTTPPath, "application/json; charset=iso-8859-1", http.StatusUnsupportedMediaType},
		{"TTLV with a charset", http.MethodPost, server.HTTPPath, "application/octet-stream; charset=utf-8", http.StatusUnsupportedMediaType},
		{"unparsable", http.MethodPost, server.HTTPPath, "application/json;;", http.StatusUnsupportedMediaType},
		{"GET", http.MethodGet, server.HTTPPath, ttlv.MediaTypeTTLV, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, server.HTTPPath, ttlv.MediaTypeTTLV, http.StatusMethodNotAllowed},
		{"other path", http.MethodPost, "/", ttlv.MediaTypeTTLV, http.StatusNotFound},
		{"sub path", http.MethodPost, server.HTTPPath + "/x", ttlv.MediaTypeTTLV, http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hr, b := e.post(t, tc.method, tc.path, tc.ct, bytes.NewReader(body))
			if hr.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", hr.StatusCode, tc.want, b)
			}
		})
	}
	if e.h.served.Load() != 0 || e.h.malformed.Load() != 0 {
		t.Errorf("refused requests reached the handler (%d served, %d malformed)", e.h.served.Load(), e.h.malformed.Load())
	}
}

func TestHTTPClientCertificateRequired(t *testing.T) {
	// Every refused handshake is reported, as on the TLS port (audit trail).
	refused := make(chan error, 16)
	e := startHTTP(t, func(cfg *server.HTTPConfig) {
		cfg.OnHandshakeError = func(addr net.Addr, err error) {
			if addr == nil {
				err = errors.New("no address")
			}
			refused <- err
		}
	})
	other := tlstest.NewCA(t, "Other CA")
	cases := []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no certificate", nil},
		{"certificate of another CA", []tls.Certificate{other.Issue(t, "intruder", false)}},
	}
	for _, tc := range cases {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tc.name+" "+tls.VersionName(v), func(t *testing.T) {
				cfg := e.clientTLS.Clone()
				cfg.Certificates = tc.certs
				cfg.MinVersion, cfg.MaxVersion = v, v
				c, err := client.NewHTTPConn(e.addr, cfg, ttlv.EncodingTTLV)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if resp, err := c.RoundTrip(ctx, request("hello")); err == nil {
					t.Fatalf("request served without a verified client certificate: %+v", resp)
				}
				select {
				case err := <-refused:
					if err == nil || err.Error() == "no address" {
						t.Errorf("handshake reported as %v", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("refused handshake not reported")
				}
			})
		}
	}
	if e.h.served.Load() != 0 {
		t.Fatalf("%d requests reached the handler", e.h.served.Load())
	}
	// A served request and a client that leaves after a good handshake
	// are not handshake failures.
	c, err := client.NewHTTPConn(e.addr, e.clientTLS, ttlv.EncodingTTLV)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RoundTrip(context.Background(), request("hello")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if tc, err := tls.Dial("tcp", e.addr, e.clientTLS); err == nil {
		tc.Close()
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-refused:
		t.Errorf("good connection reported as a refused handshake: %v", err)
	default:
	}
}

// rawHTTPS is one kept-alive HTTPS connection on which requests are sent by
// hand, so that a test knows which connection carries them.
type rawHTTPS struct {
	conn *tls.Conn
	br   *bufio.Reader
}

func (e *httpEnv) dialRaw(t *testing.T, cfg *tls.Config) *rawHTTPS {
	t.Helper()
	conn, err := tls.Dial("tcp", e.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawHTTPS{conn: conn, br: bufio.NewReader(conn)}
}

// do sends one KMIP request and reads the response; an error means the
// connection is gone.
func (r *rawHTTPS) do() error {
	body, _ := ttlv.Encode(request("hello"))
	req, _ := http.NewRequest(http.MethodPost, "https://localhost"+server.HTTPPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", ttlv.MediaTypeTTLV)
	r.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := req.Write(r.conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(r.br, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// TestHTTPCloseWhere: CloseWhere closes the kept-alive connections of the
// matching certificate at once and leaves the others open; a connection
// that handshook before it but sends its first request afterwards is
// closed before the request reaches the handler.
func TestHTTPCloseWhere(t *testing.T) {
	e := startHTTP(t, nil)
	bobTLS := e.clientTLS.Clone()
	bobTLS.Certificates = []tls.Certificate{e.ca.Issue(t, "bob", false)}
	alice, bob := e.dialRaw(t, e.clientTLS), e.dialRaw(t, bobTLS)
	for _, c := range []*rawHTTPS{alice, bob} {
		if err := c.do(); err != nil {
			t.Fatal(err)
		}
	}
	late := e.dialRaw(t, e.clientTLS) // handshake only, no request yet
	isClient1 := func(c *x509.Certificate) bool { return c.Subject.CommonName == "client-1" }
	if n := e.srv.CloseWhere(isClient1); n != 1 {
		t.Errorf("CloseWhere closed %d connections, want 1", n)
	}
	alice.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := alice.br.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("matching connection still open: %v", err)
	}
	if err := bob.do(); err != nil {
		t.Fatalf("other certificate's connection: %v", err)
	}
	served := e.h.served.Load()
	if err := late.do(); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("request on a connection of a matching certificate: %v, want 403", err)
	}
	if e.h.served.Load() != served {
		t.Error("the late connection's request reached the handler")
	}
	if err := late.do(); err == nil {
		t.Error("the late connection stayed open after its refusal")
	}
}

func TestHTTPHandlerRequiresVerifiedPeer(t *testing.T) {
	e := startHTTP(t, nil)
	// ServeHTTP used behind another server that did not verify a client.
	body, _ := ttlv.Encode(request("hello"))
	req, _ := http.NewRequest(http.MethodPost, "https://localhost"+server.HTTPPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", ttlv.MediaTypeTTLV)
	for _, st := range []*tls.ConnectionState{nil, {}} {
		req.TLS = st
		rec := &recorder{header: http.Header{}}
		e.srv.ServeHTTP(rec, req)
		if rec.status != http.StatusForbidden {
			t.Errorf("TLS state %v: status %d, want 403", st, rec.status)
		}
	}
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

func TestHTTPOversizeBody(t *testing.T) {
	const limit = 1024
	e := startHTTP(t, func(cfg *server.HTTPConfig) { cfg.MaxMessageSize = limit })
	big := ttlv.Struct(ttlv.TagRequestMessage, ttlv.Bytes(ttlv.TagKeyMaterial, make([]byte, 4*limit)))
	for _, enc := range encodings {
		body, err := enc.Marshal(big)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(enc.String()+" with Content-Length", func(t *testing.T) {
			hr, b := e.post(t, http.MethodPost, server.HTTPPath, enc.MediaType(), bytes.NewReader(body))
			checkTooLarge(t, enc, hr, b)
		})
		t.Run(enc.String()+" chunked", func(t *testing.T) {
			// An io.Reader of unknown length is sent chunked: the limit
			// is met while reading.
			hr, b := e.post(t, http.MethodPost, server.HTTPPath, enc.MediaType(), io.MultiReader(bytes.NewReader(body)))
			checkTooLarge(t, enc, hr, b)
		})
		t.Run(enc.String()+" client", func(t *testing.T) {
			c, _ := client.NewHTTPConn(e.addr, e.clientTLS, enc)
			defer c.Close()
			resp, err := c.RoundTrip(context.Background(), big)
			if err != nil || !isMalformed(resp) {
				t.Fatalf("%+v, %v; want the Invalid Message response", resp, err)
			}
		})
	}
	if e.h.served.Load() != 0 {
		t.Errorf("an oversize body reached ServeKMIP")
	}
}

func checkTooLarge(t *testing.T, enc ttlv.Encoding, hr *http.Response, b []byte) {
	t.Helper()
	if hr.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", hr.StatusCode)
	}
	if hr.Header.Get("Content-Type") != enc.MediaType() {
		t.Fatalf("Content-Type %q", hr.Header.Get("Content-Type"))
	}
	if it, err := enc.Decode(b, ttlv.Limits{}); err != nil || !isMalformed(it) {
		t.Fatalf("body: %+v, %v", it, err)
	}
}

func TestHTTPHandlerPanic(t *testing.T) {
	e := startHTTP(t, nil)
	c, _ := client.NewHTTPConn(e.addr, e.clientTLS, ttlv.EncodingJSON)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.RoundTrip(ctx, request("panic")); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("panicking handler: err = %v, want an HTTP 500 error", err)
	}
	if resp, err := c.RoundTrip(ctx, request("hello")); err != nil || !isOK(resp) {
		t.Fatalf("after a panic: %+v, %v", resp, err)
	}
}

// TestHTTPLogsQuoteNoValues: a malformed body's values (key material
// among them) never reach the server's log.
func TestHTTPLogsQuoteNoValues(t *testing.T) {
	e := startHTTP(t, nil)
	h := hex.EncodeToString(secret)
	bodies := map[ttlv.Encoding]string{
		ttlv.EncodingXML:  `<RequestMessage><KeyMaterial type="ByteString" value="` + h + `z"/></RequestMessage>`,
		ttlv.EncodingJSON: `{"tag":"RequestMessage","value":[{"tag":"KeyMaterial","type":"ByteString","value":"` + h + `z"}]}`,
	}
	for enc, body := range bodies {
		hr, _ := e.post(t, http.MethodPost, server.HTTPPath, enc.MediaType(), strings.NewReader(body))
		if hr.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", enc, hr.StatusCode)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, h[:12]) {
		t.Fatalf("server log contains request values:\n%s", logs)
	}
}

func TestHTTPShutdownWaitsForInFlightRequest(t *testing.T) {
	e := startHTTP(t, nil)
	c, _ := client.NewHTTPConn(e.addr, e.clientTLS, ttlv.EncodingTTLV)
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		resp, err := c.RoundTrip(context.Background(), request("block"))
		if err == nil && !isOK(resp) {
			err = errors.New("response not OK")
		}
		res <- err
	}()
	<-e.h.entered
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- e.srv.Shutdown(ctx)
	}()
	select {
	case err := <-e.serveErr:
		if !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		e.serveErr <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running after Shutdown")
	}
	if nc, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		nc.Close()
		t.Error("new connection accepted during Shutdown")
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(e.h.release)
	if err := <-res; err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-e.h.ctxErr:
		t.Errorf("request context ended (%v) during a graceful shutdown", err)
	default:
	}
}

func TestHTTPShutdownDeadlineCancelsRequests(t *testing.T) {
	e := startHTTP(t, nil)
	c, _ := client.NewHTTPConn(e.addr, e.clientTLS, ttlv.EncodingTTLV)
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		_, err := c.RoundTrip(context.Background(), request("block"))
		res <- err
	}()
	<-e.h.entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-e.h.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("request context: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request context not cancelled after the Shutdown deadline")
	}
	if err := <-res; err == nil {
		t.Error("request answered after its connection was force-closed")
	}
}

func TestHTTPMaxConnections(t *testing.T) {
	e := startHTTP(t, func(cfg *server.HTTPConfig) { cfg.MaxConnections = 1 })
	c1, _ := client.NewHTTPConn(e.addr, e.clientTLS, ttlv.EncodingTTLV)
	defer c1.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c1.RoundTrip(ctx, request("hello")); err != nil {
		t.Fatal(err)
	}
	// c1 keeps its connection alive: a second client is refused.
	c2, _ := client.NewHTTPConn(e.addr, e.clientTLS, ttlv.EncodingTTLV)
	defer c2.Close()
	if _, err := c2.RoundTrip(ctx, request("hello")); err == nil {
		t.Fatal("second connection served over a limit of one")
	}
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c2.RoundTrip(ctx, request("hello"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNewHTTPRejectsUnsafeConfig(t *testing.T) {
	e := startHTTP(t, nil)
	tcfg := e.clientTLS.Clone()
	tcfg.ClientAuth = tls.RequireAndVerifyClientCert
	tcfg.ClientCAs = e.ca.Pool
	for name, mutate := range map[string]func(*server.HTTPConfig){
		"no handler":           func(c *server.HTTPConfig) { c.Handler = nil },
		"no TLS":               func(c *server.HTTPConfig) { c.TLS = nil },
		"optional client cert": func(c *server.HTTPConfig) { c.TLS.ClientAuth = tls.VerifyClientCertIfGiven },
		"negative timeout":     func(c *server.HTTPConfig) { c.ReadTimeout = -time.Second },
	} {
		cfg := server.HTTPConfig{TLS: tcfg.Clone(), Handler: e.h}
		mutate(&cfg)
		if _, err := server.NewHTTP(cfg); err == nil {
			t.Errorf("%s: NewHTTP accepted the config", name)
		}
	}
}
