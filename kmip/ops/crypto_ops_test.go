package ops

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage/memstore"
)

// activeKey creates an AES-256 key with a usage mask and activates it.
func activeKey(t *testing.T, s *Service, v kmip.ProtocolVersion, mask ttlv.CryptographicUsageMask) string {
	t.Helper()
	ta := ttlv.Struct(ttlv.TagTemplateAttribute, kmip.EncodeAttributes(kmip.ProtocolVersion{Major: 1, Minor: 2}, []kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, 256)),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(mask))),
	})...)
	resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationCreate, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), ta)})
	mustOK(t, resp)
	u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	mustOK(t, serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationActivate, Payload: uidPayload(uid)}))
	return uid
}

func field(t *testing.T, p *ttlv.Item, tag ttlv.Tag) []byte {
	t.Helper()
	it, ok := p.Find(tag)
	if !ok {
		t.Fatalf("response has no %s", tag)
	}
	b, _ := it.BytesValue()
	return b
}

// TestEncryptDefaults is mongod's audit-log encryption: Encrypt and Decrypt
// with no Cryptographic Parameters (AES-CBC, PKCS#5, server IV).
func TestEncryptDefaults(t *testing.T) {
	s := newTestService(memstore.New("a"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	uid := activeKey(t, s, v, ttlv.CryptographicUsageMaskEncrypt|ttlv.CryptographicUsageMaskDecrypt)
	msg := bytes.Repeat([]byte{7}, 32)
	resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationEncrypt, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, msg))})
	mustOK(t, resp)
	ct, iv := field(t, resp.Items[0].Payload, ttlv.TagData), field(t, resp.Items[0].Payload, ttlv.TagIVCounterNonce)
	if len(ct) != 48 || len(iv) != 16 {
		t.Fatalf("ciphertext %d bytes, IV %d bytes; want 48 (PKCS#5-padded CBC) and 16", len(ct), len(iv))
	}
	resp = serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationDecrypt, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, ct), ttlv.Bytes(ttlv.TagIVCounterNonce, iv))})
	mustOK(t, resp)
	if !bytes.Equal(field(t, resp.Items[0].Payload, ttlv.TagData), msg) {
		t.Error("Decrypt did not return the plaintext")
	}
}

// TestCryptoRefusals: usage mask, lifecycle and parameter checks, with the
// reason each version expects.
func TestCryptoRefusals(t *testing.T) {
	v14, v21 := kmip.ProtocolVersion{Major: 1, Minor: 4}, kmip.ProtocolVersion{Major: 2, Minor: 1}
	s := newTestService(memstore.New("a"))
	encOnly := activeKey(t, s, v14, ttlv.CryptographicUsageMaskEncrypt)
	preActive := newKey(t, s)
	data := func(uid string, more ...ttlv.Item) ttlv.Item {
		return ttlv.Struct(ttlv.TagRequestPayload, append([]ttlv.Item{ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, make([]byte, 16))}, more...)...)
	}
	cbc := ttlv.Struct(ttlv.TagCryptographicParameters, ttlv.Enum(ttlv.TagBlockCipherMode, uint32(ttlv.BlockCipherModeCBC)))
	gcmTag1 := ttlv.Struct(ttlv.TagCryptographicParameters, ttlv.Enum(ttlv.TagBlockCipherMode, uint32(ttlv.BlockCipherModeGCM)), ttlv.Int(ttlv.TagTagLength, 1))
	tests := []struct {
		name   string
		v      kmip.ProtocolVersion
		op     ttlv.Operation
		p      ttlv.Item
		reason ttlv.ResultReason
	}{
		{"decrypt without the Decrypt bit (1.4)", v14, ttlv.OperationDecrypt, data(encOnly, ttlv.Bytes(ttlv.TagIVCounterNonce, make([]byte, 16))), ttlv.ResultReasonPermissionDenied},
		{"decrypt without the Decrypt bit (2.1)", v21, ttlv.OperationDecrypt, data(encOnly, ttlv.Bytes(ttlv.TagIVCounterNonce, make([]byte, 16))), ttlv.ResultReasonIncompatibleCryptographicUsageMask},
		{"encrypt with a Pre-Active key (1.4)", v14, ttlv.OperationEncrypt, data(preActive), ttlv.ResultReasonPermissionDenied},
		{"encrypt with a Pre-Active key (2.1)", v21, ttlv.OperationEncrypt, data(preActive), ttlv.ResultReasonWrongKeyLifecycleState},
		{"CBC decrypt without IV", v14, ttlv.OperationDecrypt, data(encOnly, cbc), ttlv.ResultReasonPermissionDenied},
		{"GCM with a 1-byte tag", v14, ttlv.OperationEncrypt, data(encOnly, gcmTag1), ttlv.ResultReasonGeneralFailure},
		{"XTS", v14, ttlv.OperationEncrypt, data(encOnly, ttlv.Struct(ttlv.TagCryptographicParameters, ttlv.Enum(ttlv.TagBlockCipherMode, uint32(ttlv.BlockCipherModeXTS)))), ttlv.ResultReasonInvalidField},
		{"unknown correlation value", v14, ttlv.OperationEncrypt, data(encOnly, ttlv.Bytes(ttlv.TagCorrelationValue, []byte("nope"))), ttlv.ResultReasonInvalidField},
		{"sign with a symmetric key", v14, ttlv.OperationSign, data(encOnly), ttlv.ResultReasonPermissionDenied},
		{"RNG retrieve of 0 bytes", v14, ttlv.OperationRNGRetrieve, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Int(ttlv.TagDataLength, 0)), ttlv.ResultReasonInvalidField},
		{"hash without algorithm", v14, ttlv.OperationHash, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Bytes(ttlv.TagData, []byte("x"))), ttlv.ResultReasonInvalidMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := serve(t, s, tt.v, kmip.RequestItem{Operation: tt.op, Payload: tt.p}).Items[0]
			if it.Status != ttlv.ResultStatusOperationFailed || it.Reason != tt.reason {
				t.Errorf("got %s / %s (%q), want %s", it.Status, it.Reason, it.Message, tt.reason)
			}
		})
	}
}

// TestMACWithShortKey registers a 16-byte AES key with MAC usage (as the
// OASIS CS-AC vectors do): MAC and MAC Verify use its zero-extended form.
func TestMACWithShortKey(t *testing.T) {
	s := newTestService(memstore.New("a"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 4}
	key := bytes.Repeat([]byte{0x42}, 16)
	ta := ttlv.Struct(ttlv.TagTemplateAttribute, kmip.EncodeAttributes(v, []kmip.Attribute{
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskMACGenerate|ttlv.CryptographicUsageMaskMACVerify))),
		kmip.Attr(ttlv.Struct(ttlv.TagCryptographicParameters, ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmHMACSHA256)))),
	})...)
	resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationRegister, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), ta,
		ttlv.Struct(ttlv.TagSymmetricKey, ttlv.Struct(ttlv.TagKeyBlock,
			ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
			ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, key)),
			ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES)),
			ttlv.Int(ttlv.TagCryptographicLength, 128))))})
	mustOK(t, resp)
	u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	mustOK(t, serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationActivate, Payload: uidPayload(uid)}))
	msg := []byte("message")
	resp = serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationMAC, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, msg))})
	mustOK(t, resp)
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	mac := field(t, resp.Items[0].Payload, ttlv.TagMACData)
	if !hmac.Equal(mac, h.Sum(nil)) {
		t.Fatal("MAC differs from HMAC-SHA256 with the registered key")
	}
	for _, tc := range []struct {
		mac  []byte
		want ttlv.ValidityIndicator
	}{{mac, ttlv.ValidityIndicatorValid}, {append([]byte{mac[0] ^ 1}, mac[1:]...), ttlv.ValidityIndicatorInvalid}} {
		resp = serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationMACVerify, Payload: ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, msg), ttlv.Bytes(ttlv.TagMACData, tc.mac))})
		mustOK(t, resp)
		vi, _ := resp.Items[0].Payload.Find(ttlv.TagValidityIndicator)
		if e, _ := vi.EnumValue(); ttlv.ValidityIndicator(e) != tc.want {
			t.Errorf("MAC Verify = %s, want %s", ttlv.ValidityIndicator(e), tc.want)
		}
	}
}

// TestKeyClientMayUseKeys: key clients encrypt, hash and draw random
// bytes; they still may not create keys.
func TestKeyClientMayUseKeys(t *testing.T) {
	for _, tt := range []struct {
		op   ttlv.Operation
		want bool
	}{
		{ttlv.OperationEncrypt, true}, {ttlv.OperationSign, true}, {ttlv.OperationMAC, true},
		{ttlv.OperationHash, true}, {ttlv.OperationRNGRetrieve, true},
		{ttlv.OperationCreateKeyPair, false}, {ttlv.OperationRNGSeed, false},
	} {
		err := authorize(Caller{Role: RoleKeyClient}, tt.op)
		if (err == nil) != tt.want {
			t.Errorf("%s by a key client: allowed=%v, want %v", tt.op, err == nil, tt.want)
		}
	}
}

// TestRegisterPublicKeyFormats: a public key registered as PKCS#1 comes
// back in PKCS#1 by default and as X.509 on request.
func TestRegisterPublicKeyFormats(t *testing.T) {
	s := newTestService(memstore.New("a"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 4}
	der := x509.MarshalPKCS1PublicKey(testRSAPublicKey(t))
	resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationRegister, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypePublicKey)),
		ttlv.Struct(ttlv.TagTemplateAttribute),
		ttlv.Struct(ttlv.TagPublicKey, ttlv.Struct(ttlv.TagKeyBlock,
			ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypePKCS1)),
			ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, der)),
			ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmRSA)),
			ttlv.Int(ttlv.TagCryptographicLength, 2048))))})
	mustOK(t, resp)
	u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	for _, tc := range []struct {
		ask  ttlv.KeyFormatType
		want ttlv.KeyFormatType
	}{{0, ttlv.KeyFormatTypePKCS1}, {ttlv.KeyFormatTypeX509, ttlv.KeyFormatTypeX509}} {
		p := uidPayload(uid)
		if tc.ask != 0 {
			p = p.Append(ttlv.Enum(ttlv.TagKeyFormatType, uint32(tc.ask)))
		}
		out := s.ServeKMIP(t.Context(), server.Peer{}, kmip.NewRequest(v, kmip.RequestItem{Operation: ttlv.OperationGet, Payload: p}))
		resp, err := kmip.ParseResponse(out)
		if err != nil {
			t.Fatal(err)
		}
		mustOK(t, resp)
		pk, _ := resp.Items[0].Payload.Find(ttlv.TagPublicKey)
		kb, _ := pk.Find(ttlv.TagKeyBlock)
		f, _ := kb.Find(ttlv.TagKeyFormatType)
		kv, _ := kb.Find(ttlv.TagKeyValue)
		km, _ := kv.Find(ttlv.TagKeyMaterial)
		got, _ := km.BytesValue()
		if e, _ := f.EnumValue(); ttlv.KeyFormatType(e) != tc.want {
			t.Errorf("format %s, want %s", ttlv.KeyFormatType(e), tc.want)
		}
		if tc.want == ttlv.KeyFormatTypePKCS1 && !bytes.Equal(got, der) {
			t.Error("PKCS#1 public key did not come back unchanged")
		}
		if tc.want == ttlv.KeyFormatTypeX509 {
			if _, err := x509.ParsePKIXPublicKey(got); err != nil {
				t.Errorf("X.509 form does not parse: %v", err)
			}
		}
	}
}

func testRSAPublicKey(t *testing.T) *rsa.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey
}
