package ttlv

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// unhex turns "42 00 20 | 02 | ..." (the spec's notation) into bytes.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func bigFromString(s string) *big.Int {
	v, _ := new(big.Int).SetString(s, 10)
	return v
}

// specExamples are the TTLV examples of KMIP 1.4 §9.1.2, tag 0x420020.
var specExamples = []struct {
	name string
	item Item
	hex  string
}{
	{"Integer 8", Int(0x420020, 8), "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"},
	{"Long Integer", Long(0x420020, 123456789000000000), "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00"},
	{"Big Integer", Big(0x420020, bigFromString("1234567890000000000000000000")),
		"42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00"},
	{"Enumeration 255", Enum(0x420020, 255), "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"},
	{"Boolean true", Bool(0x420020, true), "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01"},
	{"Text String", Text(0x420020, "Hello World"), "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00"},
	{"Byte String", Bytes(0x420020, []byte{1, 2, 3}), "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00"},
	{"Date-Time", DateTime(0x420020, time.Date(2008, 3, 14, 11, 56, 40, 0, time.UTC)), "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8"},
	{"Interval 10 days", Interval(0x420020, 10*24*3600), "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00"},
	{"Structure", Struct(0x420020, Enum(0x420004, 254), Int(0x420005, 255)),
		"42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"},
}

func TestSpecExamples(t *testing.T) {
	for _, tc := range specExamples {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := Encode(tc.item)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Encode =\n%X\nwant\n%X", got, want)
			}
			back, err := Decode(want, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(back), normalize(tc.item)) {
				t.Errorf("Decode = %#v, want %#v", back, tc.item)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	items := []Item{
		Int(TagCryptographicLength, -1),
		Int(TagCryptographicLength, 1<<31-1),
		Long(TagUsageLimitsTotal, -1<<63),
		Big(TagModulus, big.NewInt(0)),
		Big(TagModulus, big.NewInt(-1)),
		Big(TagModulus, big.NewInt(-128)),
		Big(TagModulus, bigFromString("-1234567890000000000000000000")),
		Big(TagModulus, new(big.Int).Lsh(big.NewInt(1), 63)),
		Big(TagModulus, new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 63))),
		Bool(TagFresh, false),
		Text(TagNameValue, ""),
		Text(TagNameValue, "12345678"),
		Bytes(TagKeyMaterial, nil),
		Bytes(TagKeyMaterial, bytes.Repeat([]byte{0xAB}, 33)),
		DateTime(TagActivationDate, time.Unix(-62135596800, 0)),
		DateTimeExtended(TagActivationDate, time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)),
		Struct(TagRequestMessage),
		Struct(TagRequestMessage, Struct(TagRequestHeader, Struct(TagProtocolVersion,
			Int(TagProtocolVersionMajor, 1), Int(TagProtocolVersionMinor, 0)))),
		Text(0x540001, "extension"),
	}
	for _, it := range items {
		b, err := Encode(it)
		if err != nil {
			t.Fatalf("%v: %v", it, err)
		}
		if len(b)%8 != 0 {
			t.Errorf("%v: encoding length %d not a multiple of 8", it, len(b))
		}
		back, err := Decode(b, Limits{})
		if err != nil {
			t.Fatalf("%v: %v", it, err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(it)) {
			t.Errorf("round trip of %#v gave %#v", it, back)
		}
		x, err := MarshalXML(it)
		if err != nil {
			t.Fatalf("%v: MarshalXML: %v", it, err)
		}
		xb, err := UnmarshalXML(x)
		if err != nil {
			t.Fatalf("%s: UnmarshalXML: %v", x, err)
		}
		if !reflect.DeepEqual(normalize(xb), normalize(it)) {
			t.Errorf("XML round trip of %#v gave %#v (%s)", it, xb, x)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, it := range []Item{
		{Tag: TagNameValue, Type: TypeTextString, Value: []byte("x")},
		{Tag: TagNameValue, Type: TypeInteger, Value: 1},
		{Tag: TagNameValue, Type: 0x0C, Value: uint32(1)},
		{Tag: 0x1000000, Type: TypeInteger, Value: int32(1)},
		{Tag: TagModulus, Type: TypeBigInteger, Value: (*big.Int)(nil)},
		{Tag: TagActivationDate, Type: TypeDateTime, Value: Placeholder("$NOW")},
	} {
		if _, err := Encode(it); err == nil {
			t.Errorf("Encode(%#v) succeeded", it)
		}
	}
	prefix := []byte("keep")
	out, err := AppendEncode(prefix, Item{Tag: TagNameValue, Type: TypeTextString})
	if err == nil || string(out) != "keep" {
		t.Errorf("AppendEncode on error = %q, %v", out, err)
	}
}
