package server

import (
	"context"
	"crypto/x509"
	"net"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Peer is the authenticated client of one connection.
type Peer struct {
	// Addr is the client's network address.
	Addr net.Addr
	// Certificate is the verified client certificate (leaf).
	Certificate *x509.Certificate
	// ConnID numbers connections for logs and audit records.
	ConnID uint64
}

// Handler answers KMIP messages. The server owns framing, TLS and limits;
// the handler owns KMIP semantics.
type Handler interface {
	// ServeKMIP answers one decoded request message with a response message.
	// It must always return a well-formed ResponseMessage item.
	ServeKMIP(ctx context.Context, peer Peer, req ttlv.Item) ttlv.Item
	// Malformed answers a frame that was read whole but could not be
	// decoded, or that exceeded the size limit (err says which). raw holds
	// what was read of it (possibly only the 8-byte header).
	Malformed(ctx context.Context, peer Peer, raw []byte, err error) ttlv.Item
}
