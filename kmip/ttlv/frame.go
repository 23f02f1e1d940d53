package ttlv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FrameTooLargeError reports a well-formed TTLV header whose length exceeds
// the limit. ReadFrame returns it before reading the value, so the stream is
// positioned right after the header: a server can still answer with a KMIP
// error (Response Too Large / Invalid Message) before it closes the
// connection. It wraps ErrTooLarge.
type FrameTooLargeError struct {
	Tag    Tag
	Type   Type
	Length uint32 // the length field as received
	Max    int    // the limit it exceeds
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("ttlv: %s item of %d bytes exceeds the %d-byte limit", e.Tag, e.Length, e.Max)
}

// Unwrap makes errors.Is(err, ErrTooLarge) hold.
func (e *FrameTooLargeError) Unwrap() error { return ErrTooLarge }

// ReadFrame reads one whole top-level TTLV item (its 8-byte header, then
// the length it announces, padded to 8) from r and returns its bytes, ready
// for Decode. maxSize bounds the whole item (0 means DefaultMaxSize); a
// larger length is refused with a *FrameTooLargeError before any of the
// value is read or buffer allocated. io.EOF is returned unwrapped when the
// stream ends cleanly before a header; a stream cut short inside an item
// gives an error wrapping io.ErrUnexpectedEOF and ErrMalformed.
func ReadFrame(r io.Reader, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("ttlv: reading frame header: %w (%w)", ErrMalformed, err)
		}
		return nil, fmt.Errorf("ttlv: reading frame header: %w", err)
	}
	tag := Tag(uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]))
	typ := Type(h[3])
	if typ.xmlName() == "" {
		return nil, fmt.Errorf("ttlv: frame header (%s): unknown item type 0x%02X: %w", tag, uint8(typ), ErrMalformed)
	}
	length := binary.BigEndian.Uint32(h[4:])
	total := 8 + (uint64(length)+7)&^7
	if total > uint64(maxSize) {
		return nil, &FrameTooLargeError{Tag: tag, Type: typ, Length: length, Max: maxSize}
	}
	if total <= frameGrowStart {
		// The common case, a message of a few hundred bytes: one buffer of
		// exactly its size, filled in one read when the bytes are there.
		buf := make([]byte, total)
		copy(buf, h[:])
		if _, err := io.ReadFull(r, buf[8:]); err != nil {
			return nil, frameReadError(total, tag, err)
		}
		return buf, nil
	}
	// Grow the buffer as bytes arrive rather than trusting the length up
	// front: a peer that announces a large item and stalls costs little.
	var buf bytes.Buffer
	buf.Grow(frameGrowStart)
	buf.Write(h[:])
	if _, err := io.CopyN(&buf, r, int64(total-8)); err != nil {
		return nil, frameReadError(total, tag, err)
	}
	return buf.Bytes(), nil
}

// frameGrowStart is the largest frame ReadFrame allocates whole once its
// header is read, and the first size of the buffer that grows for larger
// ones: what a peer can make a connection hold by announcing a length and
// stalling.
const frameGrowStart = 4096

// frameReadError describes a failure to read the value of a total-byte
// frame; a stream that ends inside it is malformed.
func frameReadError(total uint64, tag Tag, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("ttlv: reading %d-byte frame (%s): %w (%w)", total, tag, ErrMalformed, err)
	}
	return fmt.Errorf("ttlv: reading %d-byte frame (%s): %w", total, tag, err)
}
