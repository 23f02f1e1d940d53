package ttlv

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// stallReader yields its data then blocks forever would be a hang; here it
// fails the test if anything reads past the header.
type headerOnly struct {
	data []byte
	t    *testing.T
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if len(h.data) == 0 {
		h.t.Fatal("ReadFrame read past a refused header")
	}
	n := copy(p, h.data)
	h.data = h.data[n:]
	return n, nil
}

func TestReadFrame(t *testing.T) {
	msg := unhex(t, "42 00 78 | 01 | 00 00 00 10 | 42 00 0D | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00")
	text := unhex(t, "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00")
	stream := bytes.NewReader(append(append([]byte{}, msg...), text...))
	for _, want := range [][]byte{msg, text} {
		got, err := ReadFrame(stream, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadFrame = %X, want %X", got, want)
		}
	}
	if _, err := ReadFrame(stream, 0); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

func TestReadFrameRejects(t *testing.T) {
	// A header announcing 2^31 bytes is refused before anything else is read.
	h := unhex(t, "42 00 78 | 01 | 80 00 00 00")
	_, err := ReadFrame(&headerOnly{data: h, t: t}, 1<<20)
	var tooLarge *FrameTooLargeError
	if !errors.As(err, &tooLarge) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want *FrameTooLargeError wrapping ErrTooLarge", err)
	}
	if tooLarge.Tag != TagRequestMessage || tooLarge.Length != 1<<31 || tooLarge.Max != 1<<20 {
		t.Errorf("FrameTooLargeError = %+v", tooLarge)
	}

	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"short header", unhex(t, "42 00 78 01"), io.ErrUnexpectedEOF},
		{"short value", unhex(t, "42 00 78 | 01 | 00 00 00 10 | 42 00 0D"), io.ErrUnexpectedEOF},
		{"unknown type", unhex(t, "42 00 78 | 0F | 00 00 00 00"), ErrMalformed},
		{"just over limit", unhex(t, "42 00 78 | 01 | 00 00 00 11"), ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.in), 24)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestReadFrameSizes reads frames on both sides of the size ReadFrame
// allocates whole, from readers that return a byte at a time or the last
// bytes together with io.EOF, and cut short.
func TestReadFrameSizes(t *testing.T) {
	for _, n := range []int{0, 8, 4088 - 8, 4088, 4096, 1 << 16} {
		it := Bytes(TagKeyMaterial, bytes.Repeat([]byte{0xA5}, n))
		msg, err := Encode(it)
		if err != nil {
			t.Fatal(err)
		}
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(msg) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(msg)) },
			"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(msg)) },
		}
		for name, r := range readers {
			got, err := ReadFrame(r(), 1<<20)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%d-byte value, %s: ReadFrame = %d bytes, %v", n, name, len(got), err)
			}
		}
		_, err = ReadFrame(bytes.NewReader(msg[:len(msg)-1]), 1<<20)
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d-byte value cut short: err = %v", n, err)
		}
	}
}
