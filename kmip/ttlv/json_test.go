package ttlv

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// msgencJSONRequest is the first request of the MSGENC-JSON-M-1-21 test
// case written in the KMIP JSON encoding, laid out as the Additional Message
// Encodings specification shows its examples.
const msgencJSONRequest = `{
  "tag": "RequestMessage", "value": [
    {"tag": "RequestHeader", "value": [
      {"tag": "ProtocolVersion", "value": [
        {"tag": "ProtocolVersionMajor", "type": "Integer", "value": 2},
        {"tag": "ProtocolVersionMinor", "type": "Integer", "value": 1}
      ]},
      {"tag": "MaximumResponseSize", "type": "Integer", "value": 256},
      {"tag": "ClientCorrelationValue", "type": "TextString", "value": "MSGENC-JSON-M-1-21 step=0"},
      {"tag": "BatchCount", "type": "Integer", "value": 1}
    ]},
    {"tag": "BatchItem", "value": [
      {"tag": "Operation", "type": "Enumeration", "value": "Query"},
      {"tag": "RequestPayload", "value": [
        {"tag": "QueryFunction", "type": "Enumeration", "value": "QueryOperations"},
        {"tag": "QueryFunction", "type": "Enumeration", "value": "QueryObjects"}
      ]}
    ]}
  ]
}`

func TestJSONGoldenDecode(t *testing.T) {
	path := filepath.Join(vectorDir, "v2.1", "mandatory", "MSGENC-JSON-M-1-21.xml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("vector not available: %v", err)
	}
	want, err := NewXMLDecoder(bytes.NewReader(data), XMLOptions{}).Next()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalJSON([]byte(msgencJSONRequest))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Fatalf("JSON request differs from the XML vector:\n%+v\n%+v", got, want)
	}
}

func TestJSONGoldenEncode(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
	cases := []struct {
		name string
		item Item
		want string
	}{
		{"structure", Struct(TagProtocolVersion, Int(TagProtocolVersionMajor, 1), Int(TagProtocolVersionMinor, 4)),
			`{"tag":"ProtocolVersion","value":[{"tag":"ProtocolVersionMajor","type":"Integer","value":1},{"tag":"ProtocolVersionMinor","type":"Integer","value":4}]}`},
		{"empty structure", Struct(TagRequestPayload), `{"tag":"RequestPayload","value":[]}`},
		{"enumeration", Enum(TagObjectType, 2), `{"tag":"ObjectType","type":"Enumeration","value":"SymmetricKey"}`},
		{"unknown enumeration value", Enum(TagObjectType, 0x80000001), `{"tag":"ObjectType","type":"Enumeration","value":"0x80000001"}`},
		{"mask", Int(TagCryptographicUsageMask, 12), `{"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt|Decrypt"}`},
		{"zero mask", Int(TagCryptographicUsageMask, 0), `{"tag":"CryptographicUsageMask","type":"Integer","value":0}`},
		{"long small", Long(TagUsageLimitsTotal, -42), `{"tag":"UsageLimitsTotal","type":"LongInteger","value":-42}`},
		{"long large", Long(TagUsageLimitsTotal, 1<<60), `{"tag":"UsageLimitsTotal","type":"LongInteger","value":"0x1000000000000000"}`},
		{"long large negative", Long(TagUsageLimitsTotal, -1<<60), `{"tag":"UsageLimitsTotal","type":"LongInteger","value":"0xF000000000000000"}`},
		{"big small", Big(TagModulus, big.NewInt(-5)), `{"tag":"Modulus","type":"BigInteger","value":-5}`},
		{"big large", Big(TagModulus, new(big.Int).Lsh(big.NewInt(1), 64)), `{"tag":"Modulus","type":"BigInteger","value":"0x00000000000000010000000000000000"}`},
		{"boolean", Bool(TagSensitive, true), `{"tag":"Sensitive","type":"Boolean","value":true}`},
		{"text", Text(TagUniqueIdentifier, `a"<b>&\`), `{"tag":"UniqueIdentifier","type":"TextString","value":"a\"<b>&\\"}`},
		{"bytes", Bytes(TagKeyMaterial, []byte{0x01, 0xAB}), `{"tag":"KeyMaterial","type":"ByteString","value":"01ab"}`},
		{"empty bytes", Bytes(TagKeyMaterial, nil), `{"tag":"KeyMaterial","type":"ByteString","value":""}`},
		{"date-time", DateTime(TagActivationDate, ts), `{"tag":"ActivationDate","type":"DateTime","value":"2024-03-01T12:30:00+00:00"}`},
		{"date-time extended", DateTimeExtended(TagTimeStamp, ts.Add(5*time.Microsecond)), `{"tag":"TimeStamp","type":"DateTimeExtended","value":"2024-03-01T12:30:00.000005+00:00"}`},
		{"interval", Interval(TagLeaseTime, 3600), `{"tag":"LeaseTime","type":"Interval","value":3600}`},
		{"extension tag", Text(Tag(0x540001), "x"), `{"tag":"0x540001","type":"TextString","value":"x"}`},
		{"1.x attribute value names", Struct(TagAttribute,
			Text(TagAttributeName, "Cryptographic Algorithm"), Enum(TagAttributeValue, 3)),
			`{"tag":"Attribute","value":[{"tag":"AttributeName","type":"TextString","value":"Cryptographic Algorithm"},{"tag":"AttributeValue","type":"Enumeration","value":"AES"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalJSON(tc.item)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("MarshalJSON:\n got %s\nwant %s", got, tc.want)
			}
			back, err := UnmarshalJSON(got)
			if err != nil {
				t.Fatalf("UnmarshalJSON of own output: %v", err)
			}
			if !reflect.DeepEqual(normalize(back), normalize(tc.item)) {
				t.Fatalf("round trip differs: %+v, want %+v", back, tc.item)
			}
		})
	}
}

// TestJSONAlternativeForms checks the value forms the encoding allows
// besides the ones MarshalJSON writes.
func TestJSONAlternativeForms(t *testing.T) {
	cases := []struct {
		json string
		want Item
	}{
		{`{"tag":"0x42006A","type":"Integer","value":"0x00000001"}`, Int(TagProtocolVersionMajor, 1)},
		{`{"tag":"Cryptographic Usage Mask","type":"Integer","value":"Encrypt Decrypt"}`, Int(TagCryptographicUsageMask, 12)},
		{`{"tag":"CryptographicUsageMask","type":"Integer","value":"0x00000004|Decrypt"}`, Int(TagCryptographicUsageMask, 12)},
		{`{"tag":"ObjectType","type":"Enumeration","value":2}`, Enum(TagObjectType, 2)},
		{`{"tag":"ObjectType","type":"Enumeration","value":"0x00000002"}`, Enum(TagObjectType, 2)},
		{`{"tag":"Sensitive","type":"Boolean","value":"0x0000000000000001"}`, Bool(TagSensitive, true)},
		{`{"tag":"UsageLimitsTotal","type":"LongInteger","value":123456789000000000}`, Long(TagUsageLimitsTotal, 123456789000000000)},
		{`{"tag":"Modulus","type":"BigInteger","value":"0xFF"}`, Big(TagModulus, big.NewInt(-1))},
		{`{"tag":"ActivationDate","type":"DateTime","value":"0x0000000065E1CA58"}`, DateTime(TagActivationDate, time.Unix(0x65E1CA58, 0))},
		{`{"tag":"ActivationDate","type":"DateTime","value":"2024-03-01T12:30:00Z"}`, DateTime(TagActivationDate, time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC))},
		{`{"tag":"LeaseTime","type":"Interval","value":"0x00000010"}`, Interval(TagLeaseTime, 16)},
		{`{"type":"TextString","value":"x","tag":"UniqueIdentifier"}`, Text(TagUniqueIdentifier, "x")},
		{`{"tag":"0x540001","name":"VendorThing","type":"TextString","value":"x"}`, Text(Tag(0x540001), "x")},
		{"  \n" + `{"value":[],"tag":"RequestPayload"}` + "\n", Struct(TagRequestPayload)},
	}
	for _, tc := range cases {
		got, err := UnmarshalJSON([]byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if !reflect.DeepEqual(normalize(got), normalize(tc.want)) {
			t.Errorf("%s: got %+v, want %+v", tc.json, got, tc.want)
		}
	}
}

func TestJSONStrict(t *testing.T) {
	cases := []struct {
		name, json string
		want       error
	}{
		{"empty", ``, ErrMalformed},
		{"not an object", `[1]`, ErrMalformed},
		{"trailing data", `{"tag":"RequestPayload","value":[]} {}`, ErrMalformed},
		{"trailing garbage", `{"tag":"RequestPayload","value":[]}x`, ErrMalformed},
		{"truncated", `{"tag":"RequestPayload","value":[`, ErrMalformed},
		{"no tag", `{"type":"Integer","value":1}`, ErrMalformed},
		{"no value", `{"tag":"BatchCount","type":"Integer"}`, ErrMalformed},
		{"unknown key", `{"tag":"BatchCount","type":"Integer","value":1,"extra":0}`, ErrMalformed},
		{"duplicate value", `{"tag":"BatchCount","type":"Integer","value":1,"value":2}`, ErrMalformed},
		{"duplicate tag", `{"tag":"BatchCount","tag":"BatchCount","type":"Integer","value":1}`, ErrMalformed},
		{"unknown tag", `{"tag":"NoSuchTag","type":"Integer","value":1}`, ErrUnknownName},
		{"tag not a string", `{"tag":66,"type":"Integer","value":1}`, ErrMalformed},
		{"unknown type", `{"tag":"BatchCount","type":"Int","value":1}`, ErrMalformed},
		{"structure with scalar", `{"tag":"RequestPayload","value":1}`, ErrMalformed},
		{"structure value null", `{"tag":"RequestPayload","value":null}`, ErrMalformed},
		{"scalar with array", `{"tag":"BatchCount","type":"Integer","value":[]}`, ErrMalformed},
		{"object value", `{"tag":"BatchCount","type":"Integer","value":{}}`, ErrMalformed},
		{"fraction", `{"tag":"BatchCount","type":"Integer","value":1.5}`, ErrMalformed},
		{"exponent", `{"tag":"BatchCount","type":"Integer","value":1e3}`, ErrMalformed},
		{"integer overflow", `{"tag":"BatchCount","type":"Integer","value":2147483648}`, ErrMalformed},
		{"negative enumeration", `{"tag":"ObjectType","type":"Enumeration","value":-1}`, ErrMalformed},
		{"unknown enumeration name", `{"tag":"ObjectType","type":"Enumeration","value":"Nope"}`, ErrUnknownName},
		{"boolean as number", `{"tag":"Sensitive","type":"Boolean","value":1}`, ErrMalformed},
		{"boolean hex 2", `{"tag":"Sensitive","type":"Boolean","value":"0x02"}`, ErrMalformed},
		{"text as number", `{"tag":"UniqueIdentifier","type":"TextString","value":1}`, ErrMalformed},
		{"bytes not hex", `{"tag":"KeyMaterial","type":"ByteString","value":"zz"}`, ErrMalformed},
		{"bytes odd hex", `{"tag":"KeyMaterial","type":"ByteString","value":"abc"}`, ErrMalformed},
		{"long decimal string", `{"tag":"UsageLimitsTotal","type":"LongInteger","value":"12"}`, ErrMalformed},
		{"bad date", `{"tag":"ActivationDate","type":"DateTime","value":"yesterday"}`, ErrMalformed},
		{"null", `{"tag":"BatchCount","type":"Integer","value":null}`, ErrMalformed},
		{"invalid UTF-8", "{\"tag\":\"UniqueIdentifier\",\"type\":\"TextString\",\"value\":\"\xff\"}", ErrMalformed},
		{"item in array not an object", `{"tag":"RequestPayload","value":[1]}`, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalJSON([]byte(tc.json))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func nestedJSON(n int) []byte {
	var b strings.Builder
	for range n {
		b.WriteString(`{"tag":"RequestPayload","value":[`)
	}
	for range n {
		b.WriteString(`]}`)
	}
	return []byte(b.String())
}

func TestJSONLimits(t *testing.T) {
	if _, err := DecodeJSON(nestedJSON(8), Limits{MaxDepth: 8}); err != nil {
		t.Fatalf("depth 8 within a limit of 8: %v", err)
	}
	if _, err := DecodeJSON(nestedJSON(9), Limits{MaxDepth: 8}); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("depth 9 over a limit of 8: err = %v, want ErrTooDeep", err)
	}
	if _, err := UnmarshalJSON(nestedJSON(100000)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("deep input: err = %v, want ErrTooDeep", err)
	}
	big := []byte(`{"tag":"UniqueIdentifier","type":"TextString","value":"` + strings.Repeat("a", 2000) + `"}`)
	if _, err := DecodeJSON(big, Limits{MaxSize: 1024}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize input: err = %v, want ErrTooLarge", err)
	}
}

// TestJSONErrorsQuoteNoValue checks that decoding errors, which servers log,
// never carry the values of the message (key material among them).
func TestJSONErrorsQuoteNoValue(t *testing.T) {
	const secretHex = "5ec2e75ec2e75ec2e7"
	inputs := []string{
		`{"tag":"KeyMaterial","type":"ByteString","value":"` + secretHex + `z"}`,
		`{"tag":"KeyMaterial","type":"Integer","value":"` + secretHex + `"}`,
		`{"tag":"KeyMaterial","type":"DateTime","value":"` + secretHex + `"}`,
		`{"tag":"KeyMaterial","type":"Enumeration","value":"` + secretHex + `"}`,
		`{"tag":"` + secretHex + `","type":"TextString","value":"x"}`,
	}
	for _, in := range inputs {
		_, err := UnmarshalJSON([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "5ec2e7") {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

// TestJSONVectors converts every message of every OASIS test case from XML
// to an Item, to JSON and back, and checks that nothing changed.
func TestJSONVectors(t *testing.T) {
	var messages int
	for _, f := range vectorFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := NewXMLDecoder(bytes.NewReader(data), XMLOptions{Placeholders: substitute})
		for n := 1; ; n++ {
			it, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s: message %d: %v", filepath.Base(f), n, err)
				break
			}
			messages++
			js, err := MarshalJSON(it)
			if err != nil {
				t.Errorf("%s: message %d: MarshalJSON: %v", filepath.Base(f), n, err)
				continue
			}
			back, err := UnmarshalJSON(js)
			if err != nil {
				t.Errorf("%s: message %d: UnmarshalJSON: %v", filepath.Base(f), n, err)
				continue
			}
			if !reflect.DeepEqual(normalize(it), normalize(back)) {
				t.Errorf("%s: message %d: JSON round trip differs", filepath.Base(f), n)
			}
		}
	}
	t.Logf("%d messages through JSON", messages)
}

func FuzzJSON(f *testing.F) {
	f.Add([]byte(msgencJSONRequest))
	f.Add(nestedJSON(40))
	f.Add([]byte(`{"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt|Decrypt"}`))
	f.Add([]byte(`{"tag":"Modulus","type":"BigInteger","value":"0x00000000000000010000000000000000"}`))
	f.Add([]byte(`{"tag":"Attribute","value":[{"tag":"AttributeName","type":"TextString","value":"State"},{"tag":"AttributeValue","type":"Enumeration","value":"Active"}]}`))
	f.Add([]byte(`{"tag":"TimeStamp","type":"DateTimeExtended","value":"2024-03-01T12:30:00.000005+00:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := DecodeJSON(b, Limits{MaxDepth: 16, MaxSize: 1 << 16})
		if err != nil {
			return
		}
		out, err := MarshalJSON(it)
		if err != nil {
			t.Fatalf("MarshalJSON of decoded item: %v", err)
		}
		again, err := DecodeJSON(out, Limits{MaxDepth: 16, MaxSize: 1 << 20})
		if err != nil {
			t.Fatalf("DecodeJSON of own output: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalize(it), normalize(again)) {
			t.Fatalf("JSON round trip differs:\n%s", out)
		}
		if _, err := Encode(it); err != nil {
			t.Fatalf("Encode of decoded item: %v", err)
		}
	})
}
