// Package benchceiling is the bare KMIP server of the benchmark: the same
// mutually authenticated TLS as Strongroom, one TTLV frame read per request,
// and a canned response of the size Strongroom sends for that operation,
// written back without decoding, storing or calling anything. What it
// sustains is the ceiling any KMIP server can reach on this machine with
// this TLS stack and load generator.
package benchceiling

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// UID is the identifier every canned response names: the benchmark's
// Create gets it back and its Get, Locate and Get Attributes find it.
const UID = "0b7cbe42-5c38-4c5d-9a2f-1d3e5f708192"

// maxFrame bounds a request frame, like Strongroom's default.
const maxFrame = 1 << 20

// Server answers KMIP frames with canned responses.
type Server struct {
	mu     sync.Mutex
	canned map[key][]byte
	wg     sync.WaitGroup
}

type key struct {
	major, minor uint32
	op           ttlv.Operation
}

// New returns a server with no connections yet.
func New() *Server { return &Server{canned: map[key][]byte{}} }

// Serve accepts TLS connections on ln (cfg must require client
// certificates, as Strongroom's does) until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener, cfg *tls.Config) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer s.wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, tls.Server(c, cfg))
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, tc *tls.Conn) {
	defer tc.Close()
	stop := context.AfterFunc(ctx, func() { tc.Close() })
	defer stop()
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		return
	}
	for {
		frame, err := ttlv.ReadFrame(tc, maxFrame)
		if err != nil {
			return
		}
		if _, err := tc.Write(s.Response(frame)); err != nil {
			return
		}
	}
}

// Response returns the canned response for a request frame: the protocol
// version and operation are found by scanning the bytes for their tags, not
// by decoding the message.
func (s *Server) Response(frame []byte) []byte {
	k := key{major: 1, minor: 2, op: ttlv.OperationGet}
	if v, ok := scan(frame, ttlv.TagProtocolVersionMajor, ttlv.TypeInteger); ok {
		k.major = v
	}
	if v, ok := scan(frame, ttlv.TagProtocolVersionMinor, ttlv.TypeInteger); ok {
		k.minor = v
	}
	if v, ok := scan(frame, ttlv.TagOperation, ttlv.TypeEnumeration); ok {
		k.op = ttlv.Operation(v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.canned[k]
	if !ok {
		b = build(k)
		s.canned[k] = b
	}
	return b
}

// scan finds the first 4-byte item with tag and type in a TTLV frame.
func scan(b []byte, tag ttlv.Tag, typ ttlv.Type) (uint32, bool) {
	for i := 0; i+12 <= len(b); i += 8 {
		// Items start on 8-byte boundaries in TTLV.
		if b[i] == byte(tag>>16) && b[i+1] == byte(tag>>8) && b[i+2] == byte(tag) &&
			b[i+3] == byte(typ) && binary.BigEndian.Uint32(b[i+4:]) == 4 {
			return binary.BigEndian.Uint32(b[i+8:]), true
		}
	}
	return 0, false
}

// build encodes the response Strongroom gives for the benchmark's request
// of k.op (same items, same sizes; the key is zeros).
func build(k key) []byte {
	v := kmip.ProtocolVersion{Major: int32(k.major), Minor: int32(k.minor)}
	uid := ttlv.Text(ttlv.TagUniqueIdentifier, UID)
	var p ttlv.Item
	switch k.op {
	case ttlv.OperationGet:
		p = ttlv.Struct(ttlv.TagResponsePayload,
			ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), uid,
			ttlv.Struct(ttlv.TagSymmetricKey, ttlv.Struct(ttlv.TagKeyBlock,
				ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
				ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, make([]byte, 32))),
				ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES)),
				ttlv.Int(ttlv.TagCryptographicLength, 256))))
	case ttlv.OperationCreate:
		p = ttlv.Struct(ttlv.TagResponsePayload,
			ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), uid)
	case ttlv.OperationGetAttributes:
		p = ttlv.Struct(ttlv.TagResponsePayload, uid)
		p = p.Append(kmip.EncodeAttributes(v, []kmip.Attribute{kmip.Attr(ttlv.Enum(ttlv.TagState, uint32(ttlv.StateActive)))})...)
	case ttlv.OperationEncrypt:
		p = ttlv.Struct(ttlv.TagResponsePayload, uid,
			ttlv.Bytes(ttlv.TagData, make([]byte, 48)),
			ttlv.Bytes(ttlv.TagIVCounterNonce, make([]byte, 16)))
	default: // Locate, Activate and the rest: the identifier only
		p = ttlv.Struct(ttlv.TagResponsePayload, uid)
	}
	resp := kmip.Response{Version: v, Items: []kmip.ResponseItem{{
		Operation: k.op, Status: ttlv.ResultStatusSuccess, Payload: &p,
	}}}
	b, err := ttlv.Encode(resp.TTLV())
	if err != nil {
		panic("benchceiling: canned response does not encode: " + err.Error())
	}
	return b
}
