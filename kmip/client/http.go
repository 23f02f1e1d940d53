package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// RoundTripper sends one request message and returns the response message.
// *Conn (TTLV over TLS) and *HTTPConn (KMIP over HTTPS) implement it.
type RoundTripper interface {
	RoundTrip(ctx context.Context, req ttlv.Item) (ttlv.Item, error)
	Close() error
}

var (
	_ RoundTripper = (*Conn)(nil)
	_ RoundTripper = (*HTTPConn)(nil)
)

// Transports lists the names DialTransport accepts.
func Transports() []string { return []string{"tls", "https-ttlv", "https-json", "https-xml"} }

// DialTransport connects to addr over the named transport: "tls" (TTLV over
// TLS, the KMIP port) or "https-ttlv", "https-json", "https-xml" (KMIP over
// HTTPS with that message encoding).
func DialTransport(ctx context.Context, transport, addr string, cfg *tls.Config) (RoundTripper, error) {
	switch transport {
	case "tls", "":
		return Dial(ctx, addr, cfg)
	case "https-ttlv":
		return NewHTTPConn(addr, cfg, ttlv.EncodingTTLV)
	case "https-json":
		return NewHTTPConn(addr, cfg, ttlv.EncodingJSON)
	case "https-xml":
		return NewHTTPConn(addr, cfg, ttlv.EncodingXML)
	}
	return nil, fmt.Errorf("client: unknown transport %q (want one of %s)", transport, strings.Join(Transports(), ", "))
}

// HTTPPath is the request URI of KMIP over HTTPS.
const HTTPPath = "/kmip"

// HTTPConn sends KMIP messages over HTTPS: each request is POSTed to
// https://addr/kmip in one encoding, with the client certificate of the
// TLS configuration. Connections are kept alive between requests. It is
// safe for use by several goroutines.
type HTTPConn struct {
	url     string
	enc     ttlv.Encoding
	hc      *http.Client
	maxSize int
}

// NewHTTPConn prepares requests to addr ("host:port") in enc. No
// connection is made before the first RoundTrip.
func NewHTTPConn(addr string, cfg *tls.Config, enc ttlv.Encoding) (*HTTPConn, error) {
	if cfg == nil {
		return nil, errors.New("client: TLS config is required")
	}
	switch enc {
	case ttlv.EncodingTTLV, ttlv.EncodingJSON, ttlv.EncodingXML:
	default:
		return nil, fmt.Errorf("client: unknown encoding %v", enc)
	}
	tcfg := cfg.Clone()
	tcfg.NextProtos = []string{"http/1.1"}
	tr := &http.Transport{
		TLSClientConfig:     tcfg,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		// The environment's proxy settings do not apply to a key server.
		Proxy: nil,
	}
	return &HTTPConn{
		url:     "https://" + addr + HTTPPath,
		enc:     enc,
		hc:      &http.Client{Transport: tr},
		maxSize: DefaultMaxResponseSize,
	}, nil
}

// Encoding is the message encoding the connection sends.
func (c *HTTPConn) Encoding() ttlv.Encoding { return c.enc }

// SetMaxResponseSize changes the largest response body accepted; n <= 0
// restores the default. Call it before the first RoundTrip.
func (c *HTTPConn) SetMaxResponseSize(n int) {
	if n <= 0 {
		n = DefaultMaxResponseSize
	}
	c.maxSize = n
}

// RoundTrip POSTs req and returns the decoded response message. A KMIP
// response that comes with an HTTP error status (413 for a request over the
// server's size limit) is returned as a response, since it is one; other
// HTTP errors are errors.
func (c *HTTPConn) RoundTrip(ctx context.Context, req ttlv.Item) (ttlv.Item, error) {
	body, err := c.enc.Marshal(req)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: encode request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: https request: %w", err)
	}
	hreq.Header.Set("Content-Type", c.enc.MediaType())
	hreq.Header.Set("Accept", c.enc.MediaType())
	hreq.Header.Set("Cache-Control", "no-cache")
	hreq.Header.Set("Pragma", "no-cache")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: https round trip: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.maxSize)+1))
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: https response: %w", err)
	}
	enc, ok := ttlv.EncodingForContentType(resp.Header.Get("Content-Type"))
	if !ok || enc != c.enc {
		return ttlv.Item{}, fmt.Errorf("client: https status %d, Content-Type %q: %s", resp.StatusCode,
			resp.Header.Get("Content-Type"), firstLine(data))
	}
	if len(data) > c.maxSize {
		return ttlv.Item{}, fmt.Errorf("client: https response exceeds %d bytes: %w", c.maxSize, ttlv.ErrTooLarge)
	}
	it, err := c.enc.Decode(data, ttlv.Limits{MaxSize: c.maxSize})
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: decode response (https status %d): %w", resp.StatusCode, err)
	}
	return it, nil
}

// firstLine returns the start of a plain-text HTTP error body.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.ToValidUTF8(s, "?")
}

// Close closes the idle connections.
func (c *HTTPConn) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}
