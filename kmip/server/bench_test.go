package server_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// getHandler answers every request with the Get response of a 256-bit key.
type getHandler struct{ resp ttlv.Item }

func (h getHandler) ServeKMIP(context.Context, server.Peer, ttlv.Item) ttlv.Item { return h.resp }

func (h getHandler) Malformed(context.Context, server.Peer, []byte, error) ttlv.Item {
	return malformedResponse()
}

// BenchmarkServeGet measures the server's own per-request path (frame
// read, decode, encode, write, TLS) with a handler that does nothing: a
// Get request in, a Get response out, over 8 connections. The client side
// writes pre-encoded bytes and reads into a fixed buffer, so that what
// changes between versions is the server's.
func BenchmarkServeGet(b *testing.B) {
	resp := ttlv.Struct(ttlv.TagResponseMessage,
		ttlv.Struct(ttlv.TagResponseHeader,
			ttlv.Struct(ttlv.TagProtocolVersion, ttlv.Int(ttlv.TagProtocolVersionMajor, 1), ttlv.Int(ttlv.TagProtocolVersionMinor, 2)),
			ttlv.DateTime(ttlv.TagTimeStamp, time.Unix(1700000000, 0)),
			ttlv.Int(ttlv.TagBatchCount, 1)),
		ttlv.Struct(ttlv.TagBatchItem,
			ttlv.Enum(ttlv.TagOperation, uint32(ttlv.OperationGet)),
			ttlv.Enum(ttlv.TagResultStatus, uint32(ttlv.ResultStatusSuccess)),
			ttlv.Struct(ttlv.TagResponsePayload,
				ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
				ttlv.Text(ttlv.TagUniqueIdentifier, "0b7cbe42-5c38-4c5d-9a2f-1d3e5f708192"),
				ttlv.Struct(ttlv.TagSymmetricKey, ttlv.Struct(ttlv.TagKeyBlock,
					ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
					ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, make([]byte, 32))),
					ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES)),
					ttlv.Int(ttlv.TagCryptographicLength, 256))))))
	req, err := ttlv.Encode(ttlv.Struct(ttlv.TagRequestMessage,
		ttlv.Struct(ttlv.TagRequestHeader,
			ttlv.Struct(ttlv.TagProtocolVersion, ttlv.Int(ttlv.TagProtocolVersionMajor, 1), ttlv.Int(ttlv.TagProtocolVersionMinor, 2)),
			ttlv.Int(ttlv.TagBatchCount, 1)),
		ttlv.Struct(ttlv.TagBatchItem,
			ttlv.Enum(ttlv.TagOperation, uint32(ttlv.OperationGet)),
			ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, "0b7cbe42-5c38-4c5d-9a2f-1d3e5f708192")))))
	if err != nil {
		b.Fatal(err)
	}
	e := start(b, func(c *server.Config) {
		c.Handler = getHandler{resp: resp}
		c.Logger = slog.New(slog.DiscardHandler)
	})
	const conns = 8
	cs := make([]*tls.Conn, conns)
	for i := range cs {
		cs[i] = dialRaw(b, e.addr, e.clientTLS)
	}
	work := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range cs {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for range work {
				if _, err := c.Write(req); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, buf[:8]); err != nil {
					b.Error(err)
					return
				}
				n := 8 + (int(binary.BigEndian.Uint32(buf[4:8]))+7)&^7
				if _, err := io.ReadFull(c, buf[8:n]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
}
