package ttlv

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits bound what Decode accepts. Zero fields take the defaults.
type Limits struct {
	// MaxSize is the largest encoded message accepted, in bytes
	// (default DefaultMaxSize).
	MaxSize int
	// MaxDepth is the deepest nesting of structures accepted; the top-level
	// item is depth 1 (default DefaultMaxDepth).
	MaxDepth int
}

// Defaults for Limits. KMIP messages of a key server are small; 1 MiB leaves
// room for certificates and batches while bounding what a peer can cost.
const (
	DefaultMaxSize  = 1 << 20
	DefaultMaxDepth = 32
)

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Decode decodes exactly one TTLV item that fills b. It is strict: every
// length must suit its type, padding must be zero, Booleans 0 or 1,
// structure lengths must equal the sum of their children, and text must be
// UTF-8. Unknown tags are accepted (the operations layer decides what to do
// with them); unknown type bytes are not. Decode allocates no more than a
// small multiple of len(b), whatever the length fields claim.
func Decode(b []byte, lim Limits) (Item, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxSize {
		return Item{}, fmt.Errorf("ttlv: %d-byte message exceeds the %d-byte limit: %w", len(b), lim.MaxSize, ErrTooLarge)
	}
	d := decoder{buf: b, lim: lim}
	it, n, err := d.item(0, 1)
	if err != nil {
		return Item{}, err
	}
	if n != len(b) {
		return Item{}, fmt.Errorf("ttlv: %d trailing bytes after the %d-byte item: %w", len(b)-n, n, ErrMalformed)
	}
	return it, nil
}

type decoder struct {
	buf []byte
	lim Limits
}

// malformed builds an error that names the offset, tag and type at fault.
func malformed(off int, tag Tag, format string, a ...any) error {
	return fmt.Errorf("ttlv: at offset %d (%s): %s: %w", off, tag, fmt.Sprintf(format, a...), ErrMalformed)
}

// item decodes the item at off and returns it with the offset after it
// (header, value and padding).
func (d *decoder) item(off, depth int) (Item, int, error) {
	if len(d.buf)-off < 8 {
		return Item{}, 0, fmt.Errorf("ttlv: at offset %d: truncated header (%d bytes left): %w", off, len(d.buf)-off, ErrMalformed)
	}
	h := d.buf[off : off+8]
	tag := Tag(uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]))
	typ := Type(h[3])
	length := uint64(binary.BigEndian.Uint32(h[4:]))
	vstart := off + 8
	left := uint64(len(d.buf) - vstart)
	padded := (length + 7) &^ 7
	if padded > left {
		return Item{}, 0, malformed(off, tag, "length %d exceeds the %d bytes left", length, left)
	}
	end := vstart + int(padded)
	val := d.buf[vstart : vstart+int(length)]
	for _, c := range d.buf[vstart+int(length) : end] {
		if c != 0 {
			return Item{}, 0, malformed(off, tag, "non-zero padding byte")
		}
	}
	it := Item{Tag: tag, Type: typ}
	fixed := func(want uint64) error {
		if length != want {
			return malformed(off, tag, "%s length %d, want %d", typ, length, want)
		}
		return nil
	}
	switch typ {
	case TypeStructure:
		if depth > d.lim.MaxDepth {
			return Item{}, 0, fmt.Errorf("ttlv: at offset %d (%s): nesting deeper than %d: %w", off, tag, d.lim.MaxDepth, ErrTooDeep)
		}
		if length%8 != 0 {
			return Item{}, 0, malformed(off, tag, "structure length %d is not a multiple of 8", length)
		}
		children := make([]Item, 0, countChildren(d.buf[vstart:end]))
		p := vstart
		for p < end {
			c, next, err := d.subItem(p, end, depth+1)
			if err != nil {
				return Item{}, 0, err
			}
			children = append(children, c)
			p = next
		}
		it.Value = children
	case TypeInteger:
		if err := fixed(4); err != nil {
			return Item{}, 0, err
		}
		it.Value = int32(binary.BigEndian.Uint32(val))
	case TypeEnumeration, TypeInterval:
		if err := fixed(4); err != nil {
			return Item{}, 0, err
		}
		it.Value = binary.BigEndian.Uint32(val)
	case TypeLongInteger:
		if err := fixed(8); err != nil {
			return Item{}, 0, err
		}
		it.Value = int64(binary.BigEndian.Uint64(val))
	case TypeBoolean:
		if err := fixed(8); err != nil {
			return Item{}, 0, err
		}
		switch binary.BigEndian.Uint64(val) {
		case 0:
			it.Value = false
		case 1:
			it.Value = true
		default:
			return Item{}, 0, malformed(off, tag, "Boolean value is neither 0 nor 1")
		}
	case TypeDateTime:
		if err := fixed(8); err != nil {
			return Item{}, 0, err
		}
		it.Value = time.Unix(int64(binary.BigEndian.Uint64(val)), 0).UTC()
	case TypeDateTimeExtended:
		if err := fixed(8); err != nil {
			return Item{}, 0, err
		}
		it.Value = time.UnixMicro(int64(binary.BigEndian.Uint64(val))).UTC()
	case TypeTextString:
		if !utf8.Valid(val) {
			return Item{}, 0, malformed(off, tag, "Text String is not UTF-8")
		}
		it.Value = string(val)
	case TypeByteString:
		it.Value = append([]byte{}, val...)
	case TypeBigInteger:
		if length == 0 || length%8 != 0 {
			return Item{}, 0, malformed(off, tag, "Big Integer length %d is not a positive multiple of 8", length)
		}
		it.Value = twosToBig(val)
	default:
		return Item{}, 0, malformed(off, tag, "unknown item type 0x%02X", uint8(typ))
	}
	return it, end, nil
}

// countChildren returns how many items the value of a structure holds, by
// their headers alone, so that the children's slice is allocated once at its
// size. It checks nothing: when the headers do not add up it stops counting,
// and decoding them reports why. Each item takes at least 8 bytes, which
// bounds the count by the bytes received whatever the headers claim.
func countChildren(v []byte) int {
	n := 0
	for len(v) >= 8 {
		padded := (uint64(binary.BigEndian.Uint32(v[4:8])) + 7) &^ 7
		if padded > uint64(len(v)-8) {
			return n + 1
		}
		v = v[8+padded:]
		n++
	}
	return n
}

// subItem decodes a child that must end within its parent's value.
func (d *decoder) subItem(off, parentEnd, depth int) (Item, int, error) {
	sub := decoder{buf: d.buf[:parentEnd], lim: d.lim}
	it, next, err := sub.item(off, depth)
	if err != nil {
		return Item{}, 0, err
	}
	return it, next, nil
}
