package ttlv

import (
	"bytes"
	"testing"
	"time"
)

// getResponse is the message a KMIP server sends for a Get of a 256-bit
// AES key, the benchmark's hot path: what the frame, encode and decode
// benchmarks measure.
func getResponse() Item {
	return Struct(TagResponseMessage,
		Struct(TagResponseHeader,
			Struct(TagProtocolVersion, Int(TagProtocolVersionMajor, 1), Int(TagProtocolVersionMinor, 2)),
			DateTime(TagTimeStamp, time.Unix(1700000000, 0)),
			Int(TagBatchCount, 1)),
		Struct(TagBatchItem,
			Enum(TagOperation, uint32(OperationGet)),
			Enum(TagResultStatus, uint32(ResultStatusSuccess)),
			Struct(TagResponsePayload,
				Enum(TagObjectType, uint32(ObjectTypeSymmetricKey)),
				Text(TagUniqueIdentifier, "0b7cbe42-5c38-4c5d-9a2f-1d3e5f708192"),
				Struct(TagSymmetricKey, Struct(TagKeyBlock,
					Enum(TagKeyFormatType, uint32(KeyFormatTypeRaw)),
					Struct(TagKeyValue, Bytes(TagKeyMaterial, make([]byte, 32))),
					Enum(TagCryptographicAlgorithm, uint32(CryptographicAlgorithmAES)),
					Int(TagCryptographicLength, 256))))))
}

func BenchmarkEncodeGetResponse(b *testing.B) {
	it := getResponse()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(it); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEncodeGetResponse(b *testing.B) {
	it := getResponse()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEncode(buf[:0], it); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGetResponse(b *testing.B) {
	msg, err := Encode(getResponse())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFrameGetResponse(b *testing.B) {
	msg, err := Encode(getResponse())
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(msg)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(msg)
		if _, err := ReadFrame(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}
