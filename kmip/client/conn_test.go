package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"github.com/strongroom/strongroom/internal/tlstest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// fakeServer is a TLS server requiring client certificates from ca that
// runs serve on each connection.
func fakeServer(t *testing.T, ca *tlstest.CA, serve func(c *tls.Conn)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.Issue(t, "localhost", true)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c.(*tls.Conn))
			}()
		}
	}()
	return ln.Addr().String()
}

// echo answers every frame with itself.
func echo(c *tls.Conn) {
	for {
		b, err := ttlv.ReadFrame(c, 1<<20)
		if err != nil {
			return
		}
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

// silent reads requests and never answers.
func silent(c *tls.Conn) {
	for {
		if _, err := ttlv.ReadFrame(c, 1<<20); err != nil {
			return
		}
	}
}

func request(uid string) ttlv.Item {
	return ttlv.Struct(ttlv.TagRequestMessage, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
}

func clientConfig(t *testing.T, ca *tlstest.CA) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      ca.Pool,
		Certificates: []tls.Certificate{ca.Issue(t, "client", false)},
		ServerName:   "localhost",
	}
}

func dial(t *testing.T, addr string, cfg *tls.Config) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sameItem(t *testing.T, got, want ttlv.Item) {
	t.Helper()
	g, err := ttlv.Encode(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ttlv.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestRoundTripConcurrent(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	c := dial(t, fakeServer(t, ca, echo), clientConfig(t, ca))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				req := request(strings.Repeat("x", g*10+i))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := c.RoundTrip(ctx, req)
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				sameItem(t, resp, req)
			}
		})
	}
	wg.Wait()
}

func TestRoundTripContext(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	addr := fakeServer(t, ca, silent)
	cfg := clientConfig(t, ca)
	cases := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr, cfg)
			ctx, cancel := tc.ctx()
			defer cancel()
			begin := time.Now()
			_, err := c.RoundTrip(ctx, request("x"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("RoundTrip: %v, want %v", err, tc.want)
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Errorf("RoundTrip returned after %v", d)
			}
			// The exchange was cut in the middle: the connection is done.
			_, err = c.RoundTrip(context.Background(), request("y"))
			if err == nil {
				t.Fatal("RoundTrip succeeded on a connection left mid-exchange")
			}
		})
	}
}

func TestRoundTripExpiredContextLeavesConnUsable(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	c := dial(t, fakeServer(t, ca, echo), clientConfig(t, ca))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.RoundTrip(ctx, request("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("RoundTrip: %v, want context.Canceled", err)
	}
	if _, err := c.RoundTrip(context.Background(), request("x")); err != nil {
		t.Fatalf("RoundTrip after a request that was never sent: %v", err)
	}
}

func TestResponseLimits(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	cfg := clientConfig(t, ca)
	huge := fakeServer(t, ca, func(c *tls.Conn) {
		if _, err := ttlv.ReadFrame(c, 1<<20); err != nil {
			return
		}
		// A header announcing 1 GiB, and nothing after it.
		_, _ = c.Write([]byte{0x42, 0x00, 0x7B, 0x01, 0x40, 0x00, 0x00, 0x00})
		silent(c)
	})
	badThenEcho := fakeServer(t, ca, func(c *tls.Conn) {
		if _, err := ttlv.ReadFrame(c, 1<<20); err != nil {
			return
		}
		// A whole frame whose child has an unknown type byte.
		_, _ = c.Write([]byte{0x42, 0x00, 0x7B, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x94, 0x0C, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0})
		echo(c)
	})

	t.Run("frame over the default limit", func(t *testing.T) {
		c := dial(t, huge, cfg)
		_, err := c.RoundTrip(context.Background(), request("x"))
		if !errors.Is(err, ttlv.ErrTooLarge) {
			t.Fatalf("RoundTrip: %v, want ErrTooLarge", err)
		}
	})
	t.Run("frame over SetMaxResponseSize", func(t *testing.T) {
		c := dial(t, fakeServer(t, ca, echo), cfg)
		c.SetMaxResponseSize(64)
		_, err := c.RoundTrip(context.Background(), request(strings.Repeat("x", 100)))
		if !errors.Is(err, ttlv.ErrTooLarge) {
			t.Fatalf("RoundTrip: %v, want ErrTooLarge", err)
		}
	})
	t.Run("undecodable response keeps the connection", func(t *testing.T) {
		c := dial(t, badThenEcho, cfg)
		_, err := c.RoundTrip(context.Background(), request("x"))
		if !errors.Is(err, ttlv.ErrMalformed) {
			t.Fatalf("RoundTrip: %v, want ErrMalformed", err)
		}
		resp, err := c.RoundTrip(context.Background(), request("y"))
		if err != nil {
			t.Fatal(err)
		}
		sameItem(t, resp, request("y"))
	})
}

func TestClose(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	cfg := clientConfig(t, ca)
	c := dial(t, fakeServer(t, ca, silent), cfg)
	res := make(chan error, 1)
	go func() {
		_, err := c.RoundTrip(context.Background(), request("x"))
		res <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, client.ErrClosed) {
			t.Errorf("RoundTrip under way: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the RoundTrip under way")
	}
	if _, err := c.RoundTrip(context.Background(), request("x")); !errors.Is(err, client.ErrClosed) {
		t.Errorf("RoundTrip after Close: %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDialRefusals(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	addr := fakeServer(t, ca, echo)
	other := tlstest.NewCA(t, "other")
	cases := []struct {
		name string
		cfg  *tls.Config
	}{
		{"nil config", nil},
		{"untrusted server", clientConfig(t, other)},
		{"wrong server name", func() *tls.Config { c := clientConfig(t, ca); c.ServerName = "akmmongo"; return c }()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, addr, tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
		})
	}
}

func TestClientTLSConfig(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	addr := fakeServer(t, ca, echo)
	dir := t.TempDir()
	cp, kp := tlstest.CertPEM(t, ca.Issue(t, "client", false))
	files := map[string][]byte{
		"ca.pem":       ca.PEM(),
		"cert.pem":     cp,
		"key.pem":      kp,
		"combined.pem": append(append([]byte{}, cp...), kp...),
		"keyfirst.pem": append(append([]byte{}, kp...), cp...),
		"empty.pem":    []byte("nothing\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name              string
		ca, cert, key, sn string
		ok                bool
	}{
		{"separate files", p("ca.pem"), p("cert.pem"), p("key.pem"), "localhost", true},
		{"combined PEM", p("ca.pem"), p("combined.pem"), "", "localhost", true},
		{"combined PEM, key first", p("ca.pem"), p("keyfirst.pem"), "", "localhost", true},
		{"certificate without key", p("ca.pem"), p("cert.pem"), "", "localhost", false},
		{"key as certificate", p("ca.pem"), p("key.pem"), p("key.pem"), "localhost", false},
		{"no certificate", p("ca.pem"), "", "", "localhost", false},
		{"CA file without certificates", p("empty.pem"), p("cert.pem"), p("key.pem"), "localhost", false},
		{"missing CA file", p("missing.pem"), p("cert.pem"), p("key.pem"), "localhost", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := client.ClientTLSConfig(tc.ca, tc.cert, tc.key, tc.sn)
			if !tc.ok {
				if err == nil {
					t.Fatal("ClientTLSConfig succeeded")
				}
				if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), string(kp[40:60])) {
					t.Fatal("error quotes PEM content")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion %x", cfg.MinVersion)
			}
			c := dial(t, addr, cfg)
			resp, err := c.RoundTrip(context.Background(), request("x"))
			if err != nil {
				t.Fatal(err)
			}
			sameItem(t, resp, request("x"))
		})
	}
}

// TestDeadlineDoesNotOutliveItsExchange: the socket deadline set for one
// exchange's context must not cut a later exchange without one.
func TestDeadlineDoesNotOutliveItsExchange(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	c := dial(t, fakeServer(t, ca, echo), clientConfig(t, ca))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.RoundTrip(ctx, request("x")); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	for _, ctx := range []context.Context{context.Background(), context.WithoutCancel(ctx)} {
		if _, err := c.RoundTrip(ctx, request("y")); err != nil {
			t.Fatalf("RoundTrip after an earlier context's deadline passed: %v", err)
		}
	}
}

// TestExchange sends pre-encoded bytes and reads the frame in place; the
// frame is zeroed once read returns, and read's error leaves the
// connection usable.
func TestExchange(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	c := dial(t, fakeServer(t, ca, echo), clientConfig(t, ca))
	req, err := ttlv.Encode(request("secret-looking"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []byte
	err = c.Exchange(context.Background(), req, func(frame []byte) error {
		if !bytes.Equal(frame, req) {
			t.Errorf("frame %X, want %X", frame, req)
		}
		kept = frame
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, make([]byte, len(req))) {
		t.Errorf("frame not zeroed after read: %X", kept)
	}
	errMine := errors.New("not what I wanted")
	if err := c.Exchange(context.Background(), req, func([]byte) error { return errMine }); !errors.Is(err, errMine) {
		t.Fatalf("Exchange: %v, want read's error", err)
	}
	if err := c.Exchange(context.Background(), req, func([]byte) error { return nil }); err != nil {
		t.Fatalf("Exchange after read's error: %v", err)
	}
}
