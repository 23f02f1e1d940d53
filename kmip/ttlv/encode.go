package ttlv

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"
)

// Encode returns the TTLV encoding of it (KMIP 1.4 §9.1).
func Encode(it Item) ([]byte, error) {
	// One buffer of the encoded size, rather than the half dozen that
	// appending to nil would grow through (and copy) for a typical message.
	return AppendEncode(make([]byte, 0, encodedSize(it, 0)), it)
}

// encodedSize is the length of it's encoding, for sizing the buffer only:
// an item that does not encode stops the count (appendItem reports why).
func encodedSize(it Item, depth int) int {
	switch it.Type {
	case TypeStructure:
		children, _ := it.Value.([]Item)
		if depth >= maxEncodeDepth {
			return 8
		}
		n := 8
		for _, c := range children {
			n += encodedSize(c, depth+1)
		}
		return n
	case TypeInteger, TypeEnumeration, TypeInterval, TypeLongInteger, TypeBoolean,
		TypeDateTime, TypeDateTimeExtended:
		return 16
	case TypeTextString:
		v, _ := it.Value.(string)
		return 8 + (len(v)+7)&^7
	case TypeByteString:
		v, _ := it.Value.([]byte)
		return 8 + (len(v)+7)&^7
	case TypeBigInteger:
		if v, ok := it.Value.(*big.Int); ok && v != nil {
			// At least bigToTwos's length (a negative value may need 8
			// bytes fewer).
			return 8 + (v.BitLen()+1+63)/64*8
		}
	}
	return 8
}

// AppendEncode appends the TTLV encoding of it to dst. On error dst is
// returned unchanged in length.
func AppendEncode(dst []byte, it Item) ([]byte, error) {
	n := len(dst)
	out, err := appendItem(dst, it, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// maxEncodeDepth bounds recursion when encoding caller-built trees, which
// could otherwise be cyclic only through a bug, but deep all the same.
const maxEncodeDepth = 1000

func appendHeader(dst []byte, tag Tag, typ Type, length int) []byte {
	return append(dst, byte(tag>>16), byte(tag>>8), byte(tag), byte(typ),
		byte(length>>24), byte(length>>16), byte(length>>8), byte(length))
}

func pad8(dst []byte, n int) []byte {
	if r := n % 8; r != 0 {
		for i := r; i < 8; i++ {
			dst = append(dst, 0)
		}
	}
	return dst
}

func appendItem(dst []byte, it Item, depth int) ([]byte, error) {
	if it.Tag > 0xFFFFFF {
		return nil, fmt.Errorf("ttlv: encoding tag 0x%X: tag does not fit in 3 bytes: %w", uint32(it.Tag), ErrInvalidItem)
	}
	bad := func() error {
		return fmt.Errorf("ttlv: encoding %s: value of Go type %T does not suit item type %s: %w", it.Tag, it.Value, it.Type, ErrInvalidItem)
	}
	switch it.Type {
	case TypeStructure:
		children, ok := it.Value.([]Item)
		if !ok && it.Value != nil {
			return nil, bad()
		}
		if depth >= maxEncodeDepth {
			return nil, fmt.Errorf("ttlv: encoding %s: %w", it.Tag, ErrTooDeep)
		}
		start := len(dst)
		dst = appendHeader(dst, it.Tag, it.Type, 0)
		for _, c := range children {
			var err error
			if dst, err = appendItem(dst, c, depth+1); err != nil {
				return nil, err
			}
		}
		l := len(dst) - start - 8
		if l > math.MaxUint32 {
			return nil, fmt.Errorf("ttlv: encoding %s: %w", it.Tag, ErrTooLarge)
		}
		binary.BigEndian.PutUint32(dst[start+4:], uint32(l))
		return dst, nil
	case TypeInteger:
		v, ok := it.Value.(int32)
		if !ok {
			return nil, bad()
		}
		dst = appendHeader(dst, it.Tag, it.Type, 4)
		return append(binary.BigEndian.AppendUint32(dst, uint32(v)), 0, 0, 0, 0), nil
	case TypeEnumeration, TypeInterval:
		v, ok := it.Value.(uint32)
		if !ok {
			return nil, bad()
		}
		dst = appendHeader(dst, it.Tag, it.Type, 4)
		return append(binary.BigEndian.AppendUint32(dst, v), 0, 0, 0, 0), nil
	case TypeLongInteger:
		v, ok := it.Value.(int64)
		if !ok {
			return nil, bad()
		}
		dst = appendHeader(dst, it.Tag, it.Type, 8)
		return binary.BigEndian.AppendUint64(dst, uint64(v)), nil
	case TypeBoolean:
		v, ok := it.Value.(bool)
		if !ok {
			return nil, bad()
		}
		var x uint64
		if v {
			x = 1
		}
		dst = appendHeader(dst, it.Tag, it.Type, 8)
		return binary.BigEndian.AppendUint64(dst, x), nil
	case TypeDateTime:
		v, ok := it.Value.(time.Time)
		if !ok {
			return nil, bad()
		}
		dst = appendHeader(dst, it.Tag, it.Type, 8)
		return binary.BigEndian.AppendUint64(dst, uint64(v.Unix())), nil
	case TypeDateTimeExtended:
		v, ok := it.Value.(time.Time)
		if !ok {
			return nil, bad()
		}
		dst = appendHeader(dst, it.Tag, it.Type, 8)
		return binary.BigEndian.AppendUint64(dst, uint64(v.UnixMicro())), nil
	case TypeTextString:
		v, ok := it.Value.(string)
		if !ok {
			return nil, bad()
		}
		if uint64(len(v)) > math.MaxUint32 {
			return nil, fmt.Errorf("ttlv: encoding %s: %w", it.Tag, ErrTooLarge)
		}
		dst = appendHeader(dst, it.Tag, it.Type, len(v))
		return pad8(append(dst, v...), len(v)), nil
	case TypeByteString:
		v, ok := it.Value.([]byte)
		if !ok && it.Value != nil {
			return nil, bad()
		}
		if uint64(len(v)) > math.MaxUint32 {
			return nil, fmt.Errorf("ttlv: encoding %s: %w", it.Tag, ErrTooLarge)
		}
		dst = appendHeader(dst, it.Tag, it.Type, len(v))
		return pad8(append(dst, v...), len(v)), nil
	case TypeBigInteger:
		v, ok := it.Value.(*big.Int)
		if !ok || v == nil {
			return nil, bad()
		}
		b := bigToTwos(v)
		dst = appendHeader(dst, it.Tag, it.Type, len(b))
		return append(dst, b...), nil
	}
	return nil, fmt.Errorf("ttlv: encoding %s: unknown item type 0x%02X: %w", it.Tag, uint8(it.Type), ErrInvalidItem)
}

// bigToTwos returns v in big-endian two's complement, sign-extended to a
// multiple of 8 bytes (KMIP 1.4 §9.1.1.4: Big Integer). Zero encodes as 8
// zero bytes.
func bigToTwos(v *big.Int) []byte {
	if v.Sign() >= 0 {
		// One spare bit for the sign.
		n := (v.BitLen() + 1 + 63) / 64 * 8
		if n == 0 {
			n = 8
		}
		return v.FillBytes(make([]byte, n))
	}
	// -v-1 has the bits of v inverted.
	m := new(big.Int).Not(v) // = -v-1 >= 0
	n := (m.BitLen() + 1 + 63) / 64 * 8
	if n == 0 {
		n = 8
	}
	b := m.FillBytes(make([]byte, n))
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// twosToBig decodes big-endian two's complement.
func twosToBig(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return v
}
