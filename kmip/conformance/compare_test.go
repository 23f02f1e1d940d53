package conformance

import (
	"strings"
	"testing"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// resp14 wraps batch items in a KMIP 1.4 Response Message.
func resp14(ts string, items ...string) string {
	return `<ResponseMessage><ResponseHeader><ProtocolVersion>
<ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion>
<TimeStamp type="DateTime" value="` + ts + `"/>
<BatchCount type="Integer" value="` + string(rune('0'+len(items))) + `"/></ResponseHeader>` + strings.Join(items, "") + `</ResponseMessage>`
}

// req14 wraps batch items in a KMIP 1.4 Request Message.
func req14(items ...string) string {
	return `<RequestMessage><RequestHeader><ProtocolVersion>
<ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion>
<BatchCount type="Integer" value="` + string(rune('0'+len(items))) + `"/></RequestHeader>` + strings.Join(items, "") + `</RequestMessage>`
}

func ok(op, payload string) string {
	return `<BatchItem><Operation type="Enumeration" value="` + op + `"/><ResultStatus type="Enumeration" value="Success"/><ResponsePayload>` + payload + `</ResponsePayload></BatchItem>`
}

func reqItem(op, payload string) string {
	return `<BatchItem><Operation type="Enumeration" value="` + op + `"/><RequestPayload>` + payload + `</RequestPayload></BatchItem>`
}

func uid(v string) string { return `<UniqueIdentifier type="TextString" value="` + v + `"/>` }

func attr(name, value string) string {
	return `<Attribute><AttributeName type="TextString" value="` + name + `"/>` + value + `</Attribute>`
}

func mustXML(t *testing.T, s string) ttlv.Item {
	t.Helper()
	it, err := ttlv.UnmarshalXML([]byte(s))
	if err != nil {
		t.Fatalf("xml: %v\n%s", err, s)
	}
	return it
}

const (
	t1 = "2024-01-02T03:04:05+00:00"
	t2 = "2025-06-07T08:09:10+00:00"
)

func TestCompareResponse(t *testing.T) {
	state := `<AttributeValue type="Enumeration" value="PreActive"/>`
	length := `<AttributeValue type="Integer" value="256"/>`
	iv16 := `<IVCounterNonce type="ByteString" value="00112233445566778899aabbccddeeff"/>`
	ivOther := `<IVCounterNonce type="ByteString" value="ffeeddccbbaa99887766554433221100"/>`
	data16 := `<Data type="ByteString" value="0102030405060708090a0b0c0d0e0f10"/>`
	dataOther := `<Data type="ByteString" value="a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"/>`
	tests := []struct {
		name     string
		vars     map[string]binding
		req      string // request message; default: one Get item
		exp, got string
		wantPath string // "" when the response must match
		wantIn   string // text the difference must contain
	}{
		{
			name: "identical",
			exp:  resp14("$NOW", ok("Get", uid("abc"))),
			got:  resp14(t1, ok("Get", uid("abc"))),
		},
		{
			name: "header time stamp is the server's",
			exp:  resp14(t2, ok("Destroy", uid("abc"))),
			got:  resp14(t1, ok("Destroy", uid("abc"))),
		},
		{
			name:     "literal identifier differs",
			exp:      resp14("$NOW", ok("Destroy", uid("abc"))),
			got:      resp14(t1, ok("Destroy", uid("abd"))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/UniqueIdentifier",
			wantIn:   `expected <UniqueIdentifier type="TextString" value="abc"/>, got <UniqueIdentifier type="TextString" value="abd"/>`,
		},
		{
			name: "placeholder captures any identifier",
			exp:  resp14("$NOW", ok("Create", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("$UNIQUE_IDENTIFIER_0"))),
			got:  resp14(t1, ok("Create", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("9a1f"))),
		},
		{
			name:     "captured placeholder must repeat",
			vars:     map[string]binding{"UNIQUE_IDENTIFIER_0": {typ: ttlv.TypeTextString, value: "9a1f"}},
			exp:      resp14("$NOW", ok("Locate", uid("$UNIQUE_IDENTIFIER_0"))),
			got:      resp14(t1, ok("Locate", uid("77"))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/UniqueIdentifier",
			wantIn:   "captured earlier as",
		},
		{
			name:     "result status",
			exp:      resp14("$NOW", ok("Get", uid("abc"))),
			got:      resp14(t1, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="no such object"/></BatchItem>`),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResultStatus",
			wantIn:   `(ItemNotFound: "no such object")`,
		},
		{
			name: "result message is free text",
			exp:  resp14("$NOW", `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="DENIED"/></BatchItem>`),
			got:  resp14(t1, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="no such object"/></BatchItem>`),
		},
		{
			name:     "result reason is not",
			exp:      resp14("$NOW", `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="PermissionDenied"/></BatchItem>`),
			got:      resp14(t1, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/></BatchItem>`),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResultReason",
		},
		{
			name: "get attributes in another order",
			exp:  resp14("$NOW", ok("GetAttributes", uid("abc")+attr("State", state)+attr("Cryptographic Length", length))),
			got:  resp14(t1, ok("GetAttributes", uid("abc")+attr("Cryptographic Length", length)+attr("State", state))),
		},
		{
			name:     "get attributes: wrong value explained against the same attribute",
			exp:      resp14("$NOW", ok("GetAttributes", uid("abc")+attr("State", state)+attr("Cryptographic Length", length))),
			got:      resp14(t1, ok("GetAttributes", uid("abc")+attr("Cryptographic Length", `<AttributeValue type="Integer" value="128"/>`)+attr("State", state))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Attribute[1]/AttributeValue",
			wantIn:   `expected <AttributeValue type="Integer" value="256"/>, got <AttributeValue type="Integer" value="128"/>`,
		},
		{
			name:     "get attributes: one too many",
			exp:      resp14("$NOW", ok("GetAttributes", uid("abc")+attr("State", state))),
			got:      resp14(t1, ok("GetAttributes", uid("abc")+attr("State", state)+attr("Cryptographic Length", length))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Attribute[1]",
			wantIn:   "expected (nothing)",
		},
		{
			name:     "get attributes: one missing",
			exp:      resp14("$NOW", ok("GetAttributes", uid("abc")+attr("State", state)+attr("Cryptographic Length", length))),
			got:      resp14(t1, ok("GetAttributes", uid("abc")+attr("State", state))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Attribute[1]",
			wantIn:   "got (missing)",
		},
		{
			name:     "order kept where the specification fixes it",
			exp:      resp14("$NOW", ok("Get", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("abc"))),
			got:      resp14(t1, ok("Get", uid("abc")+`<ObjectType type="Enumeration" value="SymmetricKey"/>`)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/ObjectType",
		},
		{
			name: "locate without maximum: any order",
			req:  req14(reqItem("Locate", "")),
			exp:  resp14("$NOW", ok("Locate", uid("a")+uid("b"))),
			got:  resp14(t1, ok("Locate", `<LocatedItems type="Integer" value="2"/>`+uid("b")+uid("a"))),
		},
		{
			name:     "locate with maximum: order kept",
			req:      req14(reqItem("Locate", `<MaximumItems type="Integer" value="2"/>`)),
			exp:      resp14("$NOW", ok("Locate", uid("a")+uid("b"))),
			got:      resp14(t1, ok("Locate", uid("b")+uid("a"))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/UniqueIdentifier[0]",
		},
		{
			name: "encrypt with a server-chosen IV",
			req:  req14(reqItem("Encrypt", uid("k")+data16)),
			exp:  resp14("$NOW", ok("Encrypt", uid("k")+data16+iv16)),
			got:  resp14(t1, ok("Encrypt", uid("k")+dataOther+ivOther)),
		},
		{
			name:     "encrypt with the client's IV is deterministic",
			req:      req14(reqItem("Encrypt", uid("k")+data16+iv16)),
			exp:      resp14("$NOW", ok("Encrypt", uid("k")+data16)),
			got:      resp14(t1, ok("Encrypt", uid("k")+dataOther)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Data",
		},
		{
			name:     "server-chosen IV of another length",
			req:      req14(reqItem("Encrypt", uid("k")+data16)),
			exp:      resp14("$NOW", ok("Encrypt", uid("k")+data16+iv16)),
			got:      resp14(t1, ok("Encrypt", uid("k")+data16+`<IVCounterNonce type="ByteString" value="001122334455667788990011"/>`)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/IVCounterNonce",
			wantIn:   "12 bytes long, not 16",
		},
		{
			name: "query: more operations, other vendor",
			req:  req14(reqItem("Query", "")),
			exp:  resp14("$NOW", ok("Query", `<Operation type="Enumeration" value="Get"/><Operation type="Enumeration" value="Create"/><VendorIdentification type="TextString" value="server-vendor.com"/><ServerInformation/>`)),
			got:  resp14(t1, ok("Query", `<Operation type="Enumeration" value="Create"/><Operation type="Enumeration" value="Get"/><Operation type="Enumeration" value="Locate"/><VendorIdentification type="TextString" value="Strongroom"/><ServerInformation><ServerName type="TextString" value="x"/></ServerInformation>`)),
		},
		{
			name:     "query: an operation missing",
			req:      req14(reqItem("Query", "")),
			exp:      resp14("$NOW", ok("Query", `<Operation type="Enumeration" value="Get"/><Operation type="Enumeration" value="AddAttribute"/>`)),
			got:      resp14(t1, ok("Query", `<Operation type="Enumeration" value="Get"/><Operation type="Enumeration" value="Create"/>`)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Operation[1]",
			wantIn:   "got (missing)",
		},
		{
			name: "random number generator describes the server's",
			exp: resp14("$NOW", ok("GetAttributes", uid("abc")+attr("Random Number Generator",
				`<AttributeValue><RNGAlgorithm type="Enumeration" value="ANSIX9_31"/><CryptographicLength type="Integer" value="256"/></AttributeValue>`))),
			got: resp14(t1, ok("GetAttributes", uid("abc")+attr("Random Number Generator",
				`<AttributeValue><RNGAlgorithm type="Enumeration" value="Unspecified"/></AttributeValue>`))),
		},
		{
			name:     "random number generator must be there",
			exp:      resp14("$NOW", ok("GetAttributes", uid("abc")+attr("Random Number Generator", `<AttributeValue><RNGAlgorithm type="Enumeration" value="ANSIX9_31"/></AttributeValue>`))),
			got:      resp14(t1, ok("GetAttributes", uid("abc"))),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Attribute[0]",
			wantIn:   "got (missing)",
		},
		{
			name:     "generated key: any key material, but of the same length",
			req:      req14(reqItem("Get", uid("gen"))),
			exp:      resp14("$NOW", ok("Get", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("gen")+`<SymmetricKey><KeyBlock><KeyValue><KeyMaterial type="ByteString" value="2a2a2a2a"/></KeyValue></KeyBlock></SymmetricKey>`)),
			got:      resp14(t1, ok("Get", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("gen")+`<SymmetricKey><KeyBlock><KeyValue><KeyMaterial type="ByteString" value="0102030405"/></KeyValue></KeyBlock></SymmetricKey>`)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial",
			wantIn:   `value="(5 bytes, not shown)"/> (a server-chosen value, but 5 bytes long, not 4)`,
		},
		{
			name:     "long byte strings are cut",
			exp:      resp14("$NOW", ok("Hash", `<Data type="ByteString" value="`+strings.Repeat("ab", 100)+`"/>`)),
			got:      resp14(t1, ok("Hash", `<Data type="ByteString" value="`+strings.Repeat("cd", 100)+`"/>`)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/Data",
			wantIn:   strings.Repeat("ab", 64) + "...(100 bytes)",
		},
		{
			name:     "received key material is never printed",
			exp:      resp14("$NOW", ok("Get", `<SymmetricKey><KeyBlock><KeyValue><KeyMaterial type="ByteString" value="0011"/></KeyValue></KeyBlock></SymmetricKey>`)),
			got:      resp14(t1, ok("Get", `<SymmetricKey><KeyBlock><KeyValue><KeyMaterial type="ByteString" value="a1b2"/></KeyValue></KeyBlock></SymmetricKey>`)),
			wantPath: "ResponseMessage[0]/BatchItem[0]/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial",
			wantIn:   `got <KeyMaterial type="ByteString" value="(2 bytes, not shown)"/>`,
		},
		{
			name:     "batch count checked after the items",
			exp:      resp14("$NOW", ok("Get", uid("a")), ok("Get", uid("b"))),
			got:      resp14(t1, ok("Get", uid("a"))),
			wantPath: "ResponseMessage[0]/BatchItem[1]",
			wantIn:   "got (missing)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(nil)
			for k, v := range tc.vars {
				s.vars[k] = v
			}
			req := tc.req
			if req == "" {
				req = req14(reqItem("Get", uid("abc")))
			}
			r, e, g := mustXML(t, req), mustXML(t, tc.exp), mustXML(t, tc.got)
			s.generated["gen"] = true
			s.keys["gen"] = keyInfo{objectType: uint32(ttlv.ObjectTypeSymmetricKey)}
			s.learn(r, g)
			d := s.compareResponse(0, r, e, g)
			if tc.wantPath == "" {
				if d != nil {
					t.Fatalf("unexpected difference: %s", d)
				}
				return
			}
			if d == nil {
				t.Fatalf("no difference; want one at %s", tc.wantPath)
			}
			if d.Path != tc.wantPath {
				t.Errorf("path %q, want %q (%s)", d.Path, tc.wantPath, d)
			}
			if !strings.Contains(d.String(), tc.wantIn) {
				t.Errorf("difference %q does not contain %q", d, tc.wantIn)
			}
		})
	}
}

// A response that differs captures nothing.
func TestCompareCommitsOnlyOnMatch(t *testing.T) {
	s := newState(nil)
	r := mustXML(t, req14(reqItem("Get", "")))
	e := mustXML(t, resp14("$NOW", ok("Get", uid("$UNIQUE_IDENTIFIER_0")+`<ObjectType type="Enumeration" value="SymmetricKey"/>`)))
	g := mustXML(t, resp14(t1, ok("Get", uid("x")+`<ObjectType type="Enumeration" value="SecretData"/>`)))
	if d := s.compareResponse(0, r, e, g); d == nil {
		t.Fatal("no difference")
	}
	if _, ok := s.vars["UNIQUE_IDENTIFIER_0"]; ok {
		t.Fatal("a failed comparison kept its capture")
	}
}
