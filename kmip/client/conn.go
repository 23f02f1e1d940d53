// Package client is Strongroom's KMIP client: a mutually authenticated TLS
// connection that sends one TTLV request at a time and reads its response.
// The KMIP operations built on it live in the other files of the package.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// DefaultMaxResponseSize bounds a response frame unless SetMaxResponseSize
// says otherwise. Key server responses are small; a larger frame is refused
// before it is read.
const DefaultMaxResponseSize = 4 << 20

// ErrClosed is returned by RoundTrip on a closed connection.
var ErrClosed = errors.New("client: connection closed")

// Conn is one KMIP connection. RoundTrip calls are serialised, since KMIP
// servers and clients exchange one message at a time per connection; a Conn
// is safe for use by several goroutines.
type Conn struct {
	tc *tls.Conn
	// sem is the right to use the connection (capacity 1); it guards the
	// fields below and, unlike a mutex, can be waited for with a context.
	sem     chan struct{}
	maxSize int
	// deadline is the socket's, as last set.
	deadline time.Time
	// broken records the error that left the connection unusable.
	broken error

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Dial connects to addr and completes the TLS handshake within ctx. With
// TLS 1.3 a server that refuses the client certificate says so only after
// the handshake, so that refusal surfaces in the first RoundTrip.
func Dial(ctx context.Context, addr string, cfg *tls.Config) (*Conn, error) {
	if cfg == nil {
		return nil, errors.New("client: TLS config is required")
	}
	d := tls.Dialer{Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	return &Conn{
		tc:      nc.(*tls.Conn),
		sem:     make(chan struct{}, 1),
		maxSize: DefaultMaxResponseSize,
	}, nil
}

// SetMaxResponseSize changes the largest response frame accepted (bytes,
// header included); n <= 0 restores the default.
func (c *Conn) SetMaxResponseSize(n int) {
	if n <= 0 {
		n = DefaultMaxResponseSize
	}
	c.sem <- struct{}{}
	c.maxSize = n
	<-c.sem
}

// RoundTrip sends req and returns the decoded response. The context's
// deadline and cancellation bound the whole exchange. After an I/O or
// framing error (including the context ending mid-exchange) the connection
// is closed, since where the next message starts is unknown; a response
// that was read whole but does not decode leaves it usable.
func (c *Conn) RoundTrip(ctx context.Context, req ttlv.Item) (ttlv.Item, error) {
	b, err := ttlv.Encode(req)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: encode request: %w", err)
	}
	// The request may carry key material (Register) and the response does
	// (Get): both buffers are zeroed once used. Decode copies what it
	// returns.
	defer clear(b)
	var resp ttlv.Item
	err = c.Exchange(ctx, b, func(frame []byte) error {
		var err error
		resp, err = ttlv.Decode(frame, ttlv.Limits{MaxSize: c.maxSize})
		if err != nil {
			return fmt.Errorf("client: decode response: %w", err)
		}
		return nil
	})
	return resp, err
}

// Exchange sends req, one whole encoded request message, and hands the
// response frame to read, whose error it returns. It is RoundTrip without
// the encoding and decoding, for a caller that sends the same bytes many
// times (the load generator encodes its requests once) or looks at a few
// fields only. read must not keep the frame, which is zeroed when read
// returns since it may hold key material. The context and errors are as in
// RoundTrip; an error from read leaves the connection usable.
func (c *Conn) Exchange(ctx context.Context, req []byte, read func(frame []byte) error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("client: round trip: %w", ctx.Err())
	}
	defer func() { <-c.sem }()
	if c.closed.Load() {
		return ErrClosed
	}
	if c.broken != nil {
		return c.broken
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("client: round trip: %w", err)
	}

	frame, err := c.exchange(ctx, req)
	if err != nil {
		switch {
		case c.closed.Load():
			return ErrClosed
		case ctx.Err() != nil:
			err = ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded) && deadlinePassed(ctx):
			// The socket deadline is the context's and may fire first.
			err = context.DeadlineExceeded
		}
		c.broken = fmt.Errorf("client: connection unusable after an earlier error: %w", err)
		c.close()
		return fmt.Errorf("client: round trip: %w", err)
	}
	defer clear(frame)
	return read(frame)
}

func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// exchange writes one request frame and reads one response frame under the
// context's deadline; cancellation moves the deadline to the past, which
// unblocks the I/O at once. The socket's deadline is set only when it
// changes: a context without one (most of the load generator's) costs no
// deadline update, and one that cannot be cancelled no AfterFunc.
func (c *Conn) exchange(ctx context.Context, req []byte) ([]byte, error) {
	dl, _ := ctx.Deadline()
	if !dl.Equal(c.deadline) {
		if err := c.tc.SetDeadline(dl); err != nil {
			return nil, err
		}
		c.deadline = dl
	}
	if ctx.Done() != nil {
		cancelled := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(cancelled)
			_ = c.tc.SetDeadline(time.Unix(1, 0))
		})
		defer func() {
			if !stop() {
				// Let the callback finish, so that it cannot move the
				// deadline of a later exchange, which must set it anew.
				<-cancelled
				c.deadline = time.Unix(1, 0)
			}
		}()
	}
	if _, err := c.tc.Write(req); err != nil {
		return nil, err
	}
	return ttlv.ReadFrame(c.tc, c.maxSize)
}

// Close closes the connection; a RoundTrip under way fails with ErrClosed.
// Later calls return the first call's result.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.close()
}

// close closes the socket once, without marking the Conn closed by its user.
func (c *Conn) close() error {
	c.closeOnce.Do(func() { c.closeErr = c.tc.Close() })
	return c.closeErr
}
