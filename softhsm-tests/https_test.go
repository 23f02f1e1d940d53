package softhsmtests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/conformance"
	"github.com/strongroom/strongroom/kmip/ops"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// startHTTPS adds a KMIP over HTTPS listener to the node, with the TLS
// port's certificates and operations layer, and returns its address.
func (s *stack) startHTTPS(t *testing.T) string {
	t.Helper()
	tlsCfg, err := server.NewTLSConfig(filepath.Join(s.certs, pki.FileServerCert), filepath.Join(s.certs, pki.FileServerKey), filepath.Join(s.certs, pki.FileCA))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := server.HTTPConfig{TLS: tlsCfg, Logger: log, Handler: s.handler}
	if svc, ok := s.handler.(*ops.Service); ok {
		cfg.OnHandshakeError = svc.HandshakeRefused // as serve does
	}
	srv, err := server.NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("https Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// httpsClient is a KMIP client over HTTPS in one encoding as identity who.
func (s *stack) httpsClient(t *testing.T, addr, who string, enc ttlv.Encoding, v kmip.ProtocolVersion) *client.Client {
	t.Helper()
	conn, err := client.NewHTTPConn(addr, s.tlsConfig(t, who), enc)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(conn, v)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHTTPSCreateGet creates and fetches keys over KMIP over HTTPS in each
// encoding and protocol generation, with the roles of the TLS port, and
// checks that the TLS port serves the same key bytes.
func TestHTTPSCreateGet(t *testing.T) {
	s := newStack(t)
	addr := s.startHTTPS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, enc := range []ttlv.Encoding{ttlv.EncodingTTLV, ttlv.EncodingJSON, ttlv.EncodingXML} {
		for _, v := range []kmip.ProtocolVersion{{Major: 1, Minor: 4}, {Major: 2, Minor: 1}} {
			t.Run(enc.String()+"-"+v.String(), func(t *testing.T) {
				admin := s.httpsClient(t, addr, "admin", enc, v)
				// Owned by the key client's group, so that it may Get it.
				uid, err := admin.CreateAES(ctx, 256, client.NameAttr("https-"+enc.String()+"-"+v.String()),
					kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, "key-clients")))
				if err != nil {
					t.Fatal(err)
				}
				if err := admin.Activate(ctx, uid); err != nil {
					t.Fatal(err)
				}
				key, err := admin.GetKey(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				if len(key) != 32 {
					t.Fatalf("key of %d bytes, want 32", len(key))
				}
				// The key client may Get over HTTPS too; the auditor may not:
				// the identity is the certificate's, as on the TLS port.
				kc := s.httpsClient(t, addr, "client", enc, v)
				kkey, err := kc.GetKey(ctx, uid)
				if err != nil {
					t.Fatalf("key client Get: %v", err)
				}
				au := s.httpsClient(t, addr, "auditor", enc, v)
				if _, err := au.GetKey(ctx, uid); !isReason(err, ttlv.ResultReasonPermissionDenied) {
					t.Fatalf("auditor Get over HTTPS: %v, want Permission Denied", err)
				}
				tkey, err := s.dial(t, "admin", v).GetKey(ctx, uid)
				if err != nil {
					t.Fatalf("Get over TLS: %v", err)
				}
				if !bytes.Equal(key, kkey) || !bytes.Equal(key, tkey) {
					t.Fatal("the key bytes differ between identities or transports")
				}
			})
		}
	}
}

// msgencTransport returns the transport an MSGENC test case is meant for:
// the JSON and XML cases over HTTPS with their encoding, the HTTPS case
// with TTLV bodies. Other files return "".
func msgencTransport(path string) string {
	base := filepath.Base(path)
	switch {
	case strings.HasPrefix(base, "MSGENC-HTTPS-"):
		return "https-ttlv"
	case strings.HasPrefix(base, "MSGENC-JSON-"):
		return "https-json"
	case strings.HasPrefix(base, "MSGENC-XML-"):
		return "https-xml"
	}
	return ""
}

// TestConformanceHTTPS replays every mandatory MSGENC test case over KMIP
// over HTTPS in the encoding it names. Those listed in
// testdata/conformance-pass.txt must pass (TestConformance replays them over
// the TLS port as well); the others must at least get through their first
// exchange (Query with a Maximum Response Size too small: Response Too
// Large) without a transport or decoding error, since what they still lack
// is the server's capabilities (the operations and object types Query must
// list), not the message encoding.
func TestConformanceHTTPS(t *testing.T) {
	dir := vectorsDir(t)
	var files []string
	for _, v := range []string{"v1.4", "v2.1"} {
		m, err := filepath.Glob(filepath.Join(dir, v, "mandatory", "MSGENC-*.xml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) != 6 {
		t.Fatalf("found %d MSGENC test cases, want 6", len(files))
	}
	listed := map[string]bool{}
	for _, f := range passList(t) {
		listed[filepath.Join(dir, filepath.FromSlash(f))] = true
	}
	s := newStack(t)
	addr := s.startHTTPS(t)
	tlsCfg := s.tlsConfig(t, "admin")
	ctx := context.Background()
	for _, f := range files {
		transport := msgencTransport(f)
		r := &conformance.Runner{
			Dial: func(ctx context.Context) (conformance.RoundTripper, error) {
				return client.DialTransport(ctx, transport, addr, tlsCfg)
			},
			StepTimeout: 30 * time.Second,
		}
		res := r.RunFile(ctx, f)
		rel, _ := filepath.Rel(dir, f)
		switch {
		case res.Passed:
		case listed[f]:
			t.Errorf("FAIL %s over %s: %s", rel, transport, res.Reason())
		case res.Err != nil || res.Steps < 1:
			t.Errorf("%s over %s: the first exchange failed: %s", rel, transport, res.Reason())
		default:
			t.Logf("%s over %s: not passed yet, after %d step(s): %s", rel, transport, res.Steps, res.Reason())
		}
	}
}

// oneConnHTTPS is a client.RoundTripper that POSTs every request on one
// kept-alive TLS connection, so that a test knows which connection a
// request travels on (net/http's client would silently reconnect).
type oneConnHTTPS struct {
	conn *tls.Conn
	br   *bufio.Reader
}

// dialHTTPSAs opens a KMIP over HTTPS connection (TTLV bodies) with a
// combined certificate+key file and returns a client on it and the
// connection itself.
func dialHTTPSAs(t *testing.T, addr, caFile, pemFile string) (*client.Client, *tls.Conn, error) {
	t.Helper()
	cfg, err := client.ClientTLSConfig(caFile, pemFile, "", "akmmongo")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NextProtos = []string{"http/1.1"}
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	tc := nc.(*tls.Conn)
	return client.New(&oneConnHTTPS{conn: tc, br: bufio.NewReader(tc)}, kmip.ProtocolVersion{Major: 1, Minor: 2}), tc, nil
}

func (o *oneConnHTTPS) RoundTrip(ctx context.Context, req ttlv.Item) (ttlv.Item, error) {
	body, err := ttlv.Encode(req)
	if err != nil {
		return ttlv.Item{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://akmmongo"+server.HTTPPath, bytes.NewReader(body))
	if err != nil {
		return ttlv.Item{}, err
	}
	hr.Header.Set("Content-Type", ttlv.MediaTypeTTLV)
	if dl, ok := ctx.Deadline(); ok {
		o.conn.SetDeadline(dl)
	}
	if err := hr.Write(o.conn); err != nil {
		return ttlv.Item{}, err
	}
	resp, err := http.ReadResponse(o.br, hr)
	if err != nil {
		return ttlv.Item{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ttlv.Item{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return ttlv.Item{}, fmt.Errorf("https status %s", resp.Status)
	}
	return ttlv.Decode(b, ttlv.Limits{})
}

func (o *oneConnHTTPS) Close() error { return o.conn.Close() }

// TestHTTPSRefusedHandshakesAudited: handshakes the HTTPS listener refuses
// (a certificate of another CA, no certificate) each become an audit record
// as on the TLS port, the chain still verifies, and a served request is
// recorded as usual.
func TestHTTPSRefusedHandshakesAudited(t *testing.T) {
	s := newStack(t)
	addr := s.startHTTPS(t)
	ctx := ctxT(t)
	handshakes := func() int {
		n := 0
		for _, r := range s.records(t) {
			if r.Operation == "TLS Handshake" && r.Reason == "Authentication Not Successful" {
				n++
			}
		}
		return n
	}
	before := handshakes()
	for _, withCert := range []bool{true, false} {
		c, err := client.NewHTTPConn(addr, s.foreignTLS(t, withCert), ttlv.EncodingTTLV)
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.New(c, kmip.ProtocolVersion{Major: 2, Minor: 1}).Do(ctx, ttlv.OperationQuery, ttlv.Struct(ttlv.TagRequestPayload))
		c.Close()
		if err == nil {
			t.Fatalf("HTTPS request with a foreign certificate (%v) served", withCert)
		}
	}
	waitFor(t, 10*time.Second, "two refused HTTPS handshakes in the audit trail", func() error {
		if n := handshakes() - before; n != 2 {
			return fmt.Errorf("%d new handshake records", n)
		}
		return nil
	})
	admin := s.httpsClient(t, addr, "admin", ttlv.EncodingJSON, kmip.ProtocolVersion{Major: 2, Minor: 1})
	uid, err := admin.CreateAES(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	recs := s.records(t)
	if _, ok := findRecord(recs, "Create", "admin", "Success", ""); !ok {
		t.Errorf("no record of the Create of %s over HTTPS", uid)
	}
	for _, r := range recs {
		if r.Operation == "TLS Handshake" && (r.Addr == "" || !strings.HasPrefix(r.Addr, "127.0.0.1:")) {
			t.Errorf("handshake record without the client address: %+v", r)
		}
	}
	reps, err := audit.Verify(ctx, s.keys, s.records(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range reps {
		if rep.Problem != nil {
			t.Errorf("audit chain: %v", rep.Problem)
		}
	}
}
