package server_test

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/server"
)

// countingObserver counts the events the server reports.
type countingObserver struct{ opened, closed, failed atomic.Int64 }

func (o *countingObserver) ConnOpened()      { o.opened.Add(1) }
func (o *countingObserver) ConnClosed()      { o.closed.Add(1) }
func (o *countingObserver) HandshakeFailed() { o.failed.Add(1) }

func TestObserver(t *testing.T) {
	obs := &countingObserver{}
	e := start(t, func(c *server.Config) { c.Observer = obs })

	c := e.dial(t)
	if _, err := roundTrip(c, "ok"); err != nil {
		t.Fatal(err)
	}
	if got := obs.opened.Load() - obs.closed.Load(); got != 1 {
		t.Fatalf("open connections %d, want 1", got)
	}
	c.Close()

	// A client without a certificate fails the handshake.
	noCert := e.clientTLS.Clone()
	noCert.Certificates = nil
	noCert.MaxVersion = tls.VersionTLS12 // the refusal then comes in the handshake itself
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := (&tls.Dialer{Config: noCert}).DialContext(ctx, "tcp", e.addr); err == nil {
		conn.Close()
	}

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if obs.failed.Load() == 1 && obs.opened.Load() == 2 && obs.closed.Load() == 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("opened %d, closed %d, handshakes failed %d; want 2, 2, 1", obs.opened.Load(), obs.closed.Load(), obs.failed.Load())
}
