package kmipbench

import (
	"errors"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// getResponse encodes a Get response as a server sends it, with a key of
// n bytes, in the object structure objTag.
func getResponse(t testing.TB, n int, objTag ttlv.Tag) []byte {
	p := ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
		ttlv.Text(ttlv.TagUniqueIdentifier, "0b7cbe42-5c38-4c5d-9a2f-1d3e5f708192"),
		ttlv.Struct(objTag, ttlv.Struct(ttlv.TagKeyBlock,
			ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
			ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, make([]byte, n))),
			ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES)),
			ttlv.Int(ttlv.TagCryptographicLength, int32(n*8)))))
	return encodeResponse(t, kmip.ResponseItem{Operation: ttlv.OperationGet, Status: ttlv.ResultStatusSuccess, Payload: &p})
}

func encodeResponse(t testing.TB, items ...kmip.ResponseItem) []byte {
	resp := kmip.Response{Version: kmip.ProtocolVersion{Major: 1, Minor: 2}, TimeStamp: time.Unix(1700000000, 0), Items: items}
	b, err := ttlv.Encode(resp.TTLV())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// slowAccepts is what the benchmark's Get accepted before checkGet: the
// response decoded (ttlv.Decode with the client's limits), parsed, one
// successful batch item, and Client.GetKey's key material of 32 bytes.
func slowAccepts(frame []byte) bool {
	msg, err := ttlv.Decode(frame, ttlv.Limits{MaxSize: 4 << 20})
	if err != nil {
		return false
	}
	resp, err := kmip.ParseResponse(msg)
	if err != nil || len(resp.Items) != 1 || resp.Items[0].Status != ttlv.ResultStatusSuccess || resp.Items[0].Payload == nil {
		return false
	}
	b, ok := client.RawKeyMaterial(*resp.Items[0].Payload)
	return ok && len(b) == 32
}

func TestCheckGet(t *testing.T) {
	for _, objTag := range []ttlv.Tag{ttlv.TagSymmetricKey, ttlv.TagSecretData} {
		if err := checkGet(getResponse(t, 32, objTag), 32); err != nil {
			t.Errorf("%s: %v", objTag, err)
		}
	}
	if err := checkGet(getResponse(t, 16, ttlv.TagSymmetricKey), 32); err == nil {
		t.Error("a 16-byte key passed")
	}

	failed := encodeResponse(t, kmip.Failure(ttlv.OperationGet, nil, kmip.Errorf(ttlv.ResultReasonItemNotFound, "no such object")))
	var kerr *kmip.Error
	if err := checkGet(failed, 32); !errors.As(err, &kerr) || kerr.Reason != ttlv.ResultReasonItemNotFound {
		t.Errorf("failed Get: %v, want the server's *kmip.Error", err)
	}

	p := ttlv.Struct(ttlv.TagResponsePayload)
	ok := kmip.ResponseItem{Operation: ttlv.OperationGet, Status: ttlv.ResultStatusSuccess, Payload: &p}
	if err := checkGet(encodeResponse(t, ok, ok), 32); err == nil {
		t.Error("two batch items passed")
	}
	if err := checkGet(encodeResponse(t, ok), 32); err == nil {
		t.Error("a payload without key material passed")
	}

	good := getResponse(t, 32, ttlv.TagSymmetricKey)
	for i := range good {
		// Every single-byte corruption either still satisfies the old
		// path or is refused.
		for _, x := range []byte{0x01, 0x80, 0xFF} {
			b := append([]byte{}, good...)
			b[i] ^= x
			if checkGet(b, 32) == nil && !slowAccepts(b) {
				t.Fatalf("byte %d ^ %02X: checkGet passed what Client.GetKey refuses", i, x)
			}
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = checkGet(good, 32) }); allocs != 0 {
		t.Errorf("checkGet allocates %v times", allocs)
	}
}

// FuzzCheckGet holds checkGet's walk to ttlv.Decode's rules, and checkGet
// to accepting nothing the full decoding would refuse.
func FuzzCheckGet(f *testing.F) {
	f.Add(getResponse(f, 32, ttlv.TagSymmetricKey))
	f.Add(getResponse(f, 32, ttlv.TagSecretData))
	f.Add(encodeResponse(f, kmip.Failure(ttlv.OperationGet, nil, kmip.Errorf(ttlv.ResultReasonItemNotFound, "gone"))))
	// Structures nested as deep as the client accepts, and one deeper.
	for _, depth := range []int{ttlv.DefaultMaxDepth, ttlv.DefaultMaxDepth + 1} {
		it := ttlv.Int(ttlv.TagBatchCount, 1)
		for range depth {
			it = ttlv.Struct(ttlv.TagResponseMessage, it)
		}
		b, err := ttlv.Encode(it)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s getShape
		walkErr := s.walk(b)
		_, decErr := ttlv.Decode(b, ttlv.Limits{MaxSize: 4 << 20})
		if (walkErr == nil) != (decErr == nil) {
			t.Fatalf("walk: %v; ttlv.Decode: %v", walkErr, decErr)
		}
		if checkGet(b, 32) == nil && !slowAccepts(b) {
			t.Fatal("checkGet passed what Client.GetKey refuses")
		}
	})
}
