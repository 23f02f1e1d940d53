package kmipbench_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/benchceiling"
	"github.com/strongroom/strongroom/internal/kmipbench"
	"github.com/strongroom/strongroom/internal/tlstest"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// ceiling starts the bare benchmark server and returns its address and a
// client TLS configuration for it.
func ceiling(t *testing.T) (string, *tls.Config) {
	t.Helper()
	return serveTLS(t, func(ctx context.Context, ln net.Listener, cfg *tls.Config) error {
		return benchceiling.New().Serve(ctx, ln, cfg)
	})
}

// silent starts a server that completes the handshake, reads requests and
// never answers.
func silent(t *testing.T) (string, *tls.Config) {
	t.Helper()
	return serveTLS(t, func(ctx context.Context, ln net.Listener, cfg *tls.Config) error {
		var wg sync.WaitGroup
		defer wg.Wait()
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		for {
			c, err := ln.Accept()
			if err != nil {
				return nil
			}
			wg.Go(func() {
				tc := tls.Server(c, cfg)
				defer tc.Close()
				stop := context.AfterFunc(ctx, func() { tc.Close() })
				defer stop()
				for {
					if _, err := ttlv.ReadFrame(tc, 1<<20); err != nil {
						return
					}
				}
			})
		}
	})
}

// serveTLS runs serve with a listener and a server TLS configuration
// requiring client certificates, until the test ends.
func serveTLS(t *testing.T, serve func(context.Context, net.Listener, *tls.Config) error) (string, *tls.Config) {
	t.Helper()
	ca := tlstest.NewCA(t, "bench CA")
	dir := t.TempDir()
	certPEM, keyPEM := tlstest.CertPEM(t, ca.Issue(t, "server", true))
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	scfg, err := server.NewTLSConfig(write("s.pem", certPEM), write("s-key.pem", keyPEM), write("ca.pem", ca.PEM()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, scfg) }()
	t.Cleanup(func() { cancel(); <-done })
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cc := ca.Issue(t, "bench", false)
	return ln.Addr().String(), &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cc}, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

func TestRunEveryOperation(t *testing.T) {
	addr, cfg := ceiling(t)
	v, err := kmipbench.ParseVersion("1.2")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		op      string
		newConn bool
		count   int64
		keys    int
	}{
		{op: "get"}, {op: "create"}, {op: "encrypt"}, {op: "locate"}, {op: "get-attributes"}, {op: "mongod"},
		{op: "get", newConn: true},
		{op: "get", count: 50},
		{op: "get", keys: 5}, {op: "locate", keys: 5}, {op: "mongod", keys: 5},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			opt := kmipbench.Options{
				Addr: addr, TLS: cfg, Version: v, Op: tc.op, Conns: 2,
				Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond, NewConnPerOp: tc.newConn,
				Keys: tc.keys,
			}
			if tc.count > 0 {
				opt.Count, opt.Duration = tc.count, 0
			}
			res, err := kmipbench.Run(context.Background(), opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Ops == 0 || res.OpsPerSec <= 0 {
				t.Fatalf("ops %d, errors %d (%s)", res.Ops, res.Errors, res.FirstError)
			}
			if res.Keys != tc.keys {
				t.Fatalf("result says %d keys, want %d", res.Keys, tc.keys)
			}
			if tc.count > 0 && res.Ops != tc.count {
				t.Fatalf("ops %d, want exactly %d", res.Ops, tc.count)
			}
			if !(res.P50Ms <= res.P95Ms && res.P95Ms <= res.P99Ms && res.P99Ms <= res.MaxMs) {
				t.Fatalf("percentiles out of order: %+v", res)
			}
			b, _ := json.Marshal(res)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"ops_per_sec", "p50_ms", "p95_ms", "p99_ms", "errors"} {
				if _, ok := m[k]; !ok {
					t.Fatalf("JSON lacks %s: %s", k, b)
				}
			}
		})
	}
}

func TestRunRefusesUnknownOperation(t *testing.T) {
	addr, cfg := ceiling(t)
	v, _ := kmipbench.ParseVersion("1.4")
	_, err := kmipbench.Run(context.Background(), kmipbench.Options{Addr: addr, TLS: cfg, Version: v, Op: "dance", Conns: 1, Duration: time.Second})
	if err == nil {
		t.Fatal("unknown operation accepted")
	}
}

// TestRunTimesOutAndCancels: an operation without an answer fails after
// Options.Timeout and is counted, and the run's context ends the run at
// once, although operations run under a context of their own.
func TestRunTimesOutAndCancels(t *testing.T) {
	addr, cfg := silent(t)
	v, _ := kmipbench.ParseVersion("1.2")
	// Create needs no set-up requests.
	opt := kmipbench.Options{Addr: addr, TLS: cfg, Version: v, Op: "create", Conns: 2,
		Duration: 700 * time.Millisecond, Timeout: 200 * time.Millisecond}
	begin := time.Now()
	res, err := kmipbench.Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors < 2 || !strings.Contains(res.FirstError, "no response within 200ms") {
		t.Fatalf("errors %d, first %q; want timeouts", res.Errors, res.FirstError)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("Run took %v", d)
	}

	opt.Timeout, opt.Duration = time.Minute, time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin = time.Now()
	if _, err := kmipbench.Run(ctx, opt); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the context's error", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("Run took %v after its context ended", d)
	}
}

// TestRunMix: a mix reports each operation besides the total, in the mix's
// order; the shares follow the weights (each worker goes round whole cycles
// but for its last), and the per-operation figures add up to the total's.
func TestRunMix(t *testing.T) {
	addr, cfg := ceiling(t)
	v, _ := kmipbench.ParseVersion("1.2")
	const conns = 3
	res, err := kmipbench.Run(context.Background(), kmipbench.Options{
		Addr: addr, TLS: cfg, Version: v, Op: "get=6, get-attributes=2,create=1,encrypt=1", Conns: conns,
		Duration: 400 * time.Millisecond, Warmup: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Op != "get=6,get-attributes=2,create=1,encrypt=1" {
		t.Fatalf("op %q, want the canonical mix", res.Op)
	}
	if res.Errors != 0 || res.Ops < 100 {
		t.Fatalf("ops %d, errors %d (%s)", res.Ops, res.Errors, res.FirstError)
	}
	want := []struct {
		op     string
		weight int
	}{{"get", 6}, {"get-attributes", 2}, {"create", 1}, {"encrypt", 1}}
	if len(res.Mix) != len(want) {
		t.Fatalf("mix has %d operations: %+v", len(res.Mix), res.Mix)
	}
	var ops int64
	var rate float64
	for i, o := range res.Mix {
		if o.Op != want[i].op || o.Weight != want[i].weight {
			t.Fatalf("mix[%d] = %s×%d, want %s×%d", i, o.Op, o.Weight, want[i].op, want[i].weight)
		}
		// Each worker may stop anywhere in its last cycle of 10.
		share := float64(res.Ops) * float64(o.Weight) / 10
		if d := float64(o.Ops) - share; d > conns*10 || d < -conns*10 {
			t.Errorf("%s: %d operations of %d, want about %.0f", o.Op, o.Ops, res.Ops, share)
		}
		if o.Ops > 0 && !(o.P50Ms <= o.P99Ms && o.P99Ms <= o.MaxMs && o.MaxMs <= res.MaxMs) {
			t.Errorf("%s: percentiles out of order: %+v (all: max %v)", o.Op, o.Stats, res.MaxMs)
		}
		ops += o.Ops
		rate += o.OpsPerSec
	}
	if ops != res.Ops || rate < res.OpsPerSec-0.01 || rate > res.OpsPerSec+0.01 {
		t.Fatalf("operations add up to %d at %.3f/s, total says %d at %.3f/s", ops, rate, res.Ops, res.OpsPerSec)
	}
	b, _ := json.Marshal(res)
	var m struct {
		OpsPerSec *float64         `json:"ops_per_sec"`
		Mix       []map[string]any `json:"mix"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.OpsPerSec == nil || len(m.Mix) != 4 || m.Mix[0]["p99_ms"] == nil {
		t.Fatalf("JSON: %s", b)
	}

	// A single operation's JSON has no mix.
	one, err := kmipbench.Run(context.Background(), kmipbench.Options{Addr: addr, TLS: cfg, Version: v, Op: "get", Conns: 1, Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(one); strings.Contains(string(b), `"mix"`) {
		t.Fatalf("single operation's JSON has a mix: %s", b)
	}
}
