package softhsmtests

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// header builds an 8-byte TTLV item header.
func header(tag ttlv.Tag, typ ttlv.Type, length uint32) []byte {
	b := make([]byte, 8)
	b[0], b[1], b[2] = byte(tag>>16), byte(tag>>8), byte(tag)
	b[3] = byte(typ)
	binary.BigEndian.PutUint32(b[4:], length)
	return b
}

// nested builds a structure nested depth deep.
func nested(depth int) []byte {
	inner := []byte{}
	for i := 0; i < depth; i++ {
		inner = append(header(ttlv.TagRequestMessage, ttlv.TypeStructure, uint32(len(inner))), inner...)
	}
	return inner
}

func mustEncode(t *testing.T, it ttlv.Item) []byte {
	b, err := ttlv.Encode(it)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInput sends hostile frames over a real TLS connection. Each gets a
// well-formed KMIP failure where framing allows (and the connection stays
// usable), or a closed connection where it does not; the server stays up
// for the next client and its memory stays bounded.
func TestBadInput(t *testing.T) {
	s := newStack(t)
	v12 := kmip.ProtocolVersion{Major: 1, Minor: 2}
	query := kmip.NewRequest(v12, kmip.RequestItem{Operation: ttlv.OperationQuery,
		Payload: ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagQueryFunction, uint32(ttlv.QueryFunctionQueryOperations)))})
	wrongType := kmip.NewRequest(v12, kmip.RequestItem{Operation: ttlv.OperationGet,
		Payload: ttlv.Struct(ttlv.TagRequestPayload, ttlv.Int(ttlv.TagUniqueIdentifier, 7))})
	unknownOp := kmip.NewRequest(v12, kmip.RequestItem{Operation: ttlv.Operation(0x7777)})
	unknownItemTag := kmip.NewRequest(v12, kmip.RequestItem{Operation: ttlv.OperationQuery})
	unknownItemTag.Value = append(unknownItemTag.Children(), ttlv.Text(ttlv.Tag(0x54FFFF), "vendor"))
	badVersion := kmip.NewRequest(kmip.ProtocolVersion{Major: 9, Minor: 9}, kmip.RequestItem{Operation: ttlv.OperationQuery})
	notARequest := ttlv.Struct(ttlv.TagResponseMessage, ttlv.Int(ttlv.TagBatchCount, 1))
	badCount := mustEncode(t, query)
	// Batch Count says 2 but there is one item.
	idx := bytes.Index(badCount, header(ttlv.TagBatchCount, ttlv.TypeInteger, 4))
	badCount[idx+11] = 2

	tests := []struct {
		name      string
		frame     []byte
		wantReply bool              // a KMIP response comes back
		reason    ttlv.ResultReason // when wantReply
		keepsConn bool              // a good request on the same connection still works
	}{
		{"wrong type for unique identifier", mustEncode(t, wrongType), true, ttlv.ResultReasonInvalidMessage, true},
		{"unknown operation", mustEncode(t, unknownOp), true, ttlv.ResultReasonOperationNotSupported, true},
		{"unknown protocol version", mustEncode(t, badVersion), true, ttlv.ResultReasonUnsupportedProtocolVersion, true},
		{"unknown tag in the message", mustEncode(t, unknownItemTag), true, ttlv.ResultReasonInvalidMessage, true},
		{"response instead of request", mustEncode(t, notARequest), true, ttlv.ResultReasonInvalidMessage, true},
		{"batch count mismatch", badCount, true, ttlv.ResultReasonInvalidMessage, true},
		{"deep nesting", nested(200), true, ttlv.ResultReasonInvalidMessage, true},
		{"bad padding", append(header(ttlv.TagRequestMessage, ttlv.TypeStructure, 16),
			append(header(ttlv.TagBatchCount, ttlv.TypeInteger, 4), 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff)...), true, ttlv.ResultReasonInvalidMessage, true},
		{"unknown type byte", append(header(ttlv.TagRequestMessage, ttlv.Type(0x3f), 8), make([]byte, 8)...), true, ttlv.ResultReasonInvalidMessage, false},
		{"length 2^31", header(ttlv.TagRequestMessage, ttlv.TypeStructure, 1<<31), true, ttlv.ResultReasonInvalidMessage, false},
		{"garbage", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64), true, ttlv.ResultReasonInvalidMessage, false},
		{"garbage after a valid header", append(header(ttlv.TagRequestMessage, ttlv.TypeStructure, 64), bytes.Repeat([]byte{0xff}, 64)...), true, ttlv.ResultReasonInvalidMessage, true},
		{"truncated frame", mustEncode(t, query)[:20], false, 0, false},
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for round := 0; round < 5; round++ {
				conn, err := tls.Dial("tcp", s.addr, s.tlsConfig(t, "admin"))
				if err != nil {
					t.Fatal(err)
				}
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := conn.Write(tt.frame); err != nil {
					t.Fatal(err)
				}
				if tt.name == "truncated frame" || tt.name == "garbage" {
					conn.CloseWrite()
				}
				frame, err := ttlv.ReadFrame(conn, 1<<20)
				if !tt.wantReply {
					if err == nil {
						t.Fatalf("got a reply to a frame that cannot be answered")
					}
					conn.Close()
					continue
				}
				if err != nil {
					t.Fatalf("no KMIP reply: %v", err)
				}
				it, err := ttlv.Decode(frame, ttlv.Limits{})
				if err != nil {
					t.Fatalf("reply does not decode: %v", err)
				}
				resp, err := kmip.ParseResponse(it)
				if err != nil || len(resp.Items) != 1 {
					t.Fatalf("reply is not a one-item response: %v", err)
				}
				r := resp.Items[0]
				if r.Status != ttlv.ResultStatusOperationFailed || r.Reason != tt.reason || r.Message == "" {
					t.Fatalf("reply: status %s reason %s message %q, want failure %s with a message", r.Status, r.Reason, r.Message, tt.reason)
				}
				if tt.keepsConn {
					if _, err := conn.Write(mustEncode(t, query)); err != nil {
						t.Fatal(err)
					}
					if _, err := ttlv.ReadFrame(conn, 1<<20); err != nil {
						t.Fatalf("connection unusable after the error reply: %v", err)
					}
				} else if _, err := io.ReadAll(conn); err != nil && !isClosed(err) {
					t.Fatalf("connection not closed: %v", err)
				}
				conn.Close()
			}
		})
	}
	// The server is still there for the next client.
	if _, err := s.dial(t, "admin", v12).Locate(ctxT(t), 1); err != nil {
		t.Fatalf("server unusable after bad input: %v", err)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB over the bad-input rounds", grown>>20)
	}
}

func isClosed(err error) bool {
	return err == io.EOF || bytes.Contains([]byte(err.Error()), []byte("closed")) || bytes.Contains([]byte(err.Error()), []byte("reset"))
}
