package ttlv

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// nested builds depth structures, each holding the next.
func nested(depth int) []byte {
	var b []byte
	for i := 0; i < depth; i++ {
		b = append(b, 0x42, 0x00, 0x20, 0x01, 0, 0, 0, 0)
	}
	for i := depth - 1; i >= 0; i-- {
		l := (depth - 1 - i) * 8
		b[i*8+4], b[i*8+5], b[i*8+6], b[i*8+7] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"truncated header", unhex(t, "42 00 20 02 00 00 00"), ErrMalformed},
		{"truncated value", unhex(t, "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08"), ErrMalformed},
		{"trailing garbage", append(unhex(t, "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"), 0), ErrMalformed},
		{"two items", bytes.Repeat(unhex(t, "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"), 2), ErrMalformed},
		{"integer bad padding", unhex(t, "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 01"), ErrMalformed},
		{"integer length 8", unhex(t, "42 00 20 | 02 | 00 00 00 08 | 00 00 00 08 00 00 00 00"), ErrMalformed},
		{"enumeration length 3", unhex(t, "42 00 20 | 05 | 00 00 00 03 | 00 00 08 00 00 00 00 00"), ErrMalformed},
		{"interval length 8", unhex(t, "42 00 20 | 0A | 00 00 00 08 | 00 00 00 08 00 00 00 00"), ErrMalformed},
		{"long length 4", unhex(t, "42 00 20 | 03 | 00 00 00 04 | 00 00 00 08 00 00 00 00"), ErrMalformed},
		{"datetime length 4", unhex(t, "42 00 20 | 09 | 00 00 00 04 | 00 00 00 08 00 00 00 00"), ErrMalformed},
		{"boolean 2", unhex(t, "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02"), ErrMalformed},
		{"boolean length 1", unhex(t, "42 00 20 | 06 | 00 00 00 01 | 01 00 00 00 00 00 00 00"), ErrMalformed},
		{"big integer length 4", unhex(t, "42 00 20 | 04 | 00 00 00 04 | 00 00 00 01 00 00 00 00"), ErrMalformed},
		{"big integer length 0", unhex(t, "42 00 20 | 04 | 00 00 00 00"), ErrMalformed},
		{"text bad padding", unhex(t, "42 00 20 | 07 | 00 00 00 01 | 41 00 00 00 00 00 00 20"), ErrMalformed},
		{"text not utf-8", unhex(t, "42 00 20 | 07 | 00 00 00 01 | FF 00 00 00 00 00 00 00"), ErrMalformed},
		{"bytes unpadded", unhex(t, "42 00 20 | 08 | 00 00 00 03 | 01 02 03"), ErrMalformed},
		{"unknown type", unhex(t, "42 00 20 | 0C | 00 00 00 04 | 00 00 00 08 00 00 00 00"), ErrMalformed},
		{"type zero", unhex(t, "42 00 20 | 00 | 00 00 00 00"), ErrMalformed},
		{"length 2^31", unhex(t, "42 00 20 | 08 | 80 00 00 00 | 00 00 00 00 00 00 00 00"), ErrMalformed},
		{"length 2^32-1", unhex(t, "42 00 20 | 01 | FF FF FF FF"), ErrMalformed},
		{"structure too long for children", unhex(t, "42 00 20 | 01 | 00 00 00 18 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00"), ErrMalformed},
		{"child overruns structure", unhex(t, "42 00 20 | 01 | 00 00 00 08 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00"), ErrMalformed},
		{"structure length not multiple of 8", unhex(t, "42 00 20 | 01 | 00 00 00 04 | 00 00 00 00 00 00 00 00"), ErrMalformed},
		{"depth 1000", nested(1000), ErrTooDeep},
		{"depth 33", nested(33), ErrTooDeep},
		{"too large", make([]byte, DefaultMaxSize+8), ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in, Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "ttlv: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	if _, err := Decode(nested(32), Limits{}); err != nil {
		t.Errorf("depth 32 with default limit: %v", err)
	}
	if _, err := Decode(nested(5), Limits{MaxDepth: 4}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth 5 with MaxDepth 4: %v", err)
	}
	b := unhex(t, "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00")
	if _, err := Decode(b, Limits{MaxSize: 16}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("24 bytes with MaxSize 16: %v", err)
	}
}

func TestDecodeUnknownTag(t *testing.T) {
	b := unhex(t, "54 00 01 | 01 | 00 00 00 10 | 42 FF FF | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00")
	it, err := Decode(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if it.Tag != 0x540001 || it.Children()[0].Tag != 0x42FFFF {
		t.Errorf("Decode = %#v", it)
	}
}

// TestDecodeAllocation checks that a length field far beyond the input does
// not make Decode allocate it.
func TestDecodeAllocation(t *testing.T) {
	b := unhex(t, "42 00 20 | 08 | 7F FF FF F8 | 00 00 00 00 00 00 00 00")
	// Bytes, not allocation counts: the count varies under -race, and the
	// danger is a 2 GiB buffer, not a few small ones.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		_, _ = Decode(b, Limits{MaxSize: 1 << 30})
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Errorf("%d bytes allocated for 10 decodes of a lying length", grown)
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range specExamples {
		f.Add(unhex(f, tc.hex))
	}
	f.Add(nested(40))
	f.Add(unhex(f, "42 00 20 | 04 | 00 00 00 08 | FF FF FF FF FF FF FF 80"))
	f.Add(unhex(f, "42 00 20 | 0B | 00 00 00 08 | 00 05 F0 00 00 00 00 00"))
	f.Add(unhex(f, "42 00 78 | 01 | 00 00 00 20 | 42 00 77 | 01 | 00 00 00 18 | 42 00 0D | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := Decode(b, Limits{MaxDepth: 16})
		if err != nil {
			return
		}
		out, err := Encode(it)
		if err != nil {
			t.Fatalf("Encode of decoded item: %v", err)
		}
		// Big Integers may be re-encoded more compactly; everything else is
		// canonical, so the bytes must match.
		if !bytes.Equal(out, b) && !hasBig(it) {
			t.Fatalf("re-encoding differs:\n%X\n%X", b, out)
		}
		// Encode's buffer is sized by encodedSize: exact but for Big
		// Integers, where it may be generous.
		if n := encodedSize(it, 0); n < len(out) || n != len(out) && !hasBig(it) {
			t.Fatalf("encodedSize = %d for a %d-byte encoding", n, len(out))
		}
		again, err := Decode(out, Limits{MaxDepth: 16})
		if err != nil {
			t.Fatalf("Decode of re-encoding: %v", err)
		}
		if _, err := Encode(again); err != nil {
			t.Fatal(err)
		}
		if x, err := MarshalXML(it); err != nil {
			t.Fatalf("MarshalXML: %v", err)
		} else if _, err := UnmarshalXML(x); err != nil {
			t.Fatalf("UnmarshalXML(%s): %v", x, err)
		}
	})
}

func hasBig(it Item) bool {
	if it.Type == TypeBigInteger {
		return true
	}
	for _, c := range it.Children() {
		if hasBig(c) {
			return true
		}
	}
	return false
}

// TestDecodeCopies checks that no decoded value shares memory with the
// input: the server and the client zero and reuse the frames they decode,
// which may hold key material.
func TestDecodeCopies(t *testing.T) {
	it := getResponse()
	km := []byte("0123456789abcdef0123456789abcdef")
	kv, _ := it.Find(TagBatchItem)
	p, _ := kv.Find(TagResponsePayload)
	sk, _ := p.Find(TagSymmetricKey)
	kb, _ := sk.Find(TagKeyBlock)
	v, _ := kb.Find(TagKeyValue)
	v.Children()[0].Value = km
	b, err := Encode(it)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	again, err := Encode(got)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Encode(it)
	if !bytes.Equal(again, want) {
		t.Fatal("zeroing the input changed the decoded item")
	}
}
