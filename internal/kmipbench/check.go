package kmipbench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// The measured Get does not decode its response into a tree of items (22
// allocations, a third of the load generator's CPU once TLS is set aside):
// checkGet walks the frame in place instead, holding it to the rules
// ttlv.Decode applies and to what kmip.ParseResponse, Client.Do and
// Client.GetKey require of it. A response that fails is counted as an
// error, and decoded the slow way to say why (the server's Result Reason
// and Message for a failed operation).

// errCheck is what a walk returns for a frame that does not hold.
var errCheck = errors.New("kmipbench: response refused")

// getShape walks a Get response and counts what checkGet looks for.
type getShape struct {
	headers, versions, majors, minors int
	batchItems, statuses, success     int
	keyMaterial                       int
	keyLen                            int
	// stack holds the tags of the open structures and the current item.
	stack [ttlv.DefaultMaxDepth + 1]ttlv.Tag
}

// walk calls visit for each item of the TTLV frame b in document order with
// its path of tags from the top (path[0] is the top-level tag), after the
// item's own checks and before its children's. It enforces ttlv.Decode's
// rules with the default depth limit (the client's): header and padded
// value within the enclosing structure, zero padding, lengths that suit the
// type, Booleans 0 or 1, UTF-8 text, positive multiple-of-8 Big Integers,
// known type bytes, nesting no deeper than ttlv.DefaultMaxDepth, one item
// that fills b (whose size the connection bounded). It allocates nothing.
func (s *getShape) walk(b []byte) error {
	n, err := s.walkItem(b, 0, len(b), 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return errCheck
	}
	return nil
}

// walkItem checks the item at off, at depth (0 for the top), which must end
// by end, and returns the offset after it.
func (s *getShape) walkItem(b []byte, off, end, depth int) (int, error) {
	if end-off < 8 {
		return 0, errCheck
	}
	h := b[off : off+8]
	tag := ttlv.Tag(uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]))
	typ := ttlv.Type(h[3])
	length := uint64(binary.BigEndian.Uint32(h[4:]))
	vstart := off + 8
	padded := (length + 7) &^ 7
	if padded > uint64(end-vstart) {
		return 0, errCheck
	}
	next := vstart + int(padded)
	val := b[vstart : vstart+int(length)]
	for _, c := range b[vstart+int(length) : next] {
		if c != 0 {
			return 0, errCheck
		}
	}
	ok := true
	switch typ {
	case ttlv.TypeStructure:
		ok = depth < ttlv.DefaultMaxDepth && length%8 == 0
	case ttlv.TypeInteger, ttlv.TypeEnumeration, ttlv.TypeInterval:
		ok = length == 4
	case ttlv.TypeLongInteger, ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		ok = length == 8
	case ttlv.TypeBoolean:
		ok = length == 8 && binary.BigEndian.Uint64(val) <= 1
	case ttlv.TypeTextString:
		ok = utf8.Valid(val)
	case ttlv.TypeByteString:
	case ttlv.TypeBigInteger:
		ok = length > 0 && length%8 == 0
	default:
		ok = false
	}
	if !ok {
		return 0, errCheck
	}
	s.stack[depth] = tag
	s.visit(s.stack[:depth+1], typ, val)
	if typ == ttlv.TypeStructure {
		for p := vstart; p < next; {
			var err error
			if p, err = s.walkItem(b, p, next, depth+1); err != nil {
				return 0, err
			}
		}
	}
	return next, nil
}

// visit counts the items checkGet looks for.
func (s *getShape) visit(path []ttlv.Tag, typ ttlv.Type, val []byte) {
	if path[0] != ttlv.TagResponseMessage {
		return
	}
	switch len(path) {
	case 2:
		switch path[1] {
		case ttlv.TagResponseHeader:
			s.headers++
		case ttlv.TagBatchItem:
			s.batchItems++
		}
	case 3:
		switch {
		case path[1] == ttlv.TagResponseHeader && path[2] == ttlv.TagProtocolVersion && typ == ttlv.TypeStructure:
			s.versions++
		case path[1] == ttlv.TagBatchItem && path[2] == ttlv.TagResultStatus:
			s.statuses++
			if typ == ttlv.TypeEnumeration && binary.BigEndian.Uint32(val) == uint32(ttlv.ResultStatusSuccess) {
				s.success++
			}
		}
	case 4:
		if path[1] == ttlv.TagResponseHeader && path[2] == ttlv.TagProtocolVersion && typ == ttlv.TypeInteger {
			switch path[3] {
			case ttlv.TagProtocolVersionMajor:
				s.majors++
			case ttlv.TagProtocolVersionMinor:
				s.minors++
			}
		}
	case 7:
		if path[1] == ttlv.TagBatchItem && path[2] == ttlv.TagResponsePayload &&
			(path[3] == ttlv.TagSymmetricKey || path[3] == ttlv.TagSecretData) &&
			path[4] == ttlv.TagKeyBlock && path[5] == ttlv.TagKeyValue && path[6] == ttlv.TagKeyMaterial &&
			typ == ttlv.TypeByteString {
			s.keyMaterial++
			s.keyLen = len(val)
		}
	}
}

// checkGet checks a Get response frame without decoding it: one Response
// Message with a Response Header and a Protocol Version of Integer major
// and minor (kmip.ParseResponse), one Batch Item (Client.Do) whose Result
// Status is Success, and a payload with one Symmetric Key or Secret Data
// whose Key Block's Key Value holds a byte string Key Material
// (Client.GetKey) of wantLen bytes. The key is neither kept nor copied.
func checkGet(frame []byte, wantLen int) error {
	var s getShape
	err := s.walk(frame)
	switch {
	case err != nil:
		return slowGet(frame, "malformed TTLV")
	case s.headers != 1 || s.versions != 1 || s.majors != 1 || s.minors != 1:
		return slowGet(frame, "no single response header with a protocol version")
	case s.batchItems != 1:
		return slowGet(frame, fmt.Sprintf("%d batch items, want 1", s.batchItems))
	case s.statuses != 1 || s.success != 1:
		return slowGet(frame, "result status is not Success")
	case s.keyMaterial != 1:
		return slowGet(frame, fmt.Sprintf("%d raw key materials in the response, want 1", s.keyMaterial))
	case s.keyLen != wantLen:
		return fmt.Errorf("kmipbench: get returned %d bytes, want %d", s.keyLen, wantLen)
	}
	return nil
}

// slowGet explains a Get response that checkGet refused by decoding it as
// Client.Do would, so that a failed operation reports the server's Result
// Reason and Message. It always returns an error: what the decoding found,
// else checkGet's reason.
func slowGet(frame []byte, why string) error {
	msg, err := ttlv.Decode(frame, ttlv.Limits{})
	if err != nil {
		return fmt.Errorf("client: decode response: %w", err)
	}
	resp, err := kmip.ParseResponse(msg)
	if err != nil {
		return fmt.Errorf("client: %s: %w", ttlv.OperationGet, err)
	}
	if len(resp.Items) == 1 && resp.Items[0].Status != ttlv.ResultStatusSuccess {
		return &kmip.Error{Reason: resp.Items[0].Reason, Message: resp.Items[0].Message}
	}
	return fmt.Errorf("kmipbench: get response refused: %s", why)
}
