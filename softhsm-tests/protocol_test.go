package softhsmtests

import (
	"bytes"
	"testing"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// roundTrip sends a raw request message and parses the response.
func roundTrip(t *testing.T, s *stack, who string, msg ttlv.Item) *kmip.Response {
	t.Helper()
	conn, err := client.Dial(ctxT(t), s.addr, s.tlsConfig(t, who))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.RoundTrip(ctxT(t), msg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := kmip.ParseResponse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func aesTemplate(v kmip.ProtocolVersion) ttlv.Item {
	attrs := []kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, 128)),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskEncrypt|ttlv.CryptographicUsageMaskDecrypt))),
		client.NameAttr("batch-key-" + v.String()),
		kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, "batch-group")),
	}
	p := ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)))
	if v.V2() {
		return p.Append(kmip.EncodeAttributes(v, attrs)...)
	}
	return p.Append(ttlv.Struct(ttlv.TagTemplateAttribute).Append(kmip.EncodeAttributes(v, attrs)...))
}

// TestBatchAndPlaceholder sends Create, Activate, Get Attributes and Get in
// one message, the last three naming no object: the ID Placeholder carries
// the new key's identifier. Each item's Unique Batch Item ID is echoed, and
// the 1.x and 2.x attribute forms are used by version.
func TestBatchAndPlaceholder(t *testing.T) {
	s := newStack(t)
	for _, v := range []kmip.ProtocolVersion{{Major: 1, Minor: 0}, {Major: 1, Minor: 4}, {Major: 2, Minor: 1}} {
		t.Run("v"+v.String(), func(t *testing.T) {
			msg := kmip.NewRequest(v,
				kmip.RequestItem{Operation: ttlv.OperationCreate, ID: []byte{1}, Payload: aesTemplate(v)},
				kmip.RequestItem{Operation: ttlv.OperationActivate, ID: []byte{2}},
				kmip.RequestItem{Operation: ttlv.OperationGetAttributes, ID: []byte{3}},
				kmip.RequestItem{Operation: ttlv.OperationGet, ID: []byte{4}},
			)
			resp := roundTrip(t, s, "admin", msg)
			if resp.Version != v {
				t.Fatalf("response version %s, want %s", resp.Version, v)
			}
			if len(resp.Items) != 4 {
				t.Fatalf("%d batch items, want 4", len(resp.Items))
			}
			for i, it := range resp.Items {
				if it.Status != ttlv.ResultStatusSuccess {
					t.Fatalf("item %d (%s): %s %s", i, it.Operation, it.Reason, it.Message)
				}
				if !bytes.Equal(it.ID, []byte{byte(i + 1)}) {
					t.Fatalf("item %d: batch item id not echoed", i)
				}
			}
			ga := *resp.Items[2].Payload
			_, has2 := ga.Find(ttlv.TagAttributes)
			has1 := len(ga.FindAll(ttlv.TagAttribute)) > 0
			if v.V2() != has2 || v.V2() == has1 {
				t.Fatalf("get attributes in the wrong form for %s (Attributes=%v, Attribute=%v)", v, has2, has1)
			}
			var attrs []kmip.Attribute
			if has2 {
				a, _ := ga.Find(ttlv.TagAttributes)
				attrs, _ = kmip.ParseAttributes2(a)
			} else {
				for _, it := range ga.FindAll(ttlv.TagAttribute) {
					a, err := kmip.ParseAttribute1(it)
					if err != nil {
						t.Fatal(err)
					}
					attrs = append(attrs, a)
				}
			}
			names := map[string]bool{}
			for _, a := range attrs {
				names[a.Name] = true
				info, _ := ttlv.TagInfo(a.Value.Tag)
				if !a.Custom() && !info.InVersion(ttlv.Version{Major: int(v.Major), Minor: int(v.Minor)}) {
					t.Errorf("attribute %q does not exist in KMIP %s but was returned", a.Name, v)
				}
			}
			for _, want := range []string{"State", "Activation Date", "Name", "Object Group", "Cryptographic Usage Mask", "Unique Identifier"} {
				if !names[want] {
					t.Errorf("attribute %q missing from Get Attributes", want)
				}
			}
		})
	}
}

// TestBatchStopsAtFailure: with the default continuation option a failed
// item ends the batch; with Continue the rest still runs.
func TestBatchStopsAtFailure(t *testing.T) {
	s := newStack(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	bad := ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, "00000000-0000-0000-0000-000000000000"))
	msg := kmip.NewRequest(v,
		kmip.RequestItem{Operation: ttlv.OperationGet, Payload: bad},
		kmip.RequestItem{Operation: ttlv.OperationQuery, Payload: ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Enum(ttlv.TagQueryFunction, uint32(ttlv.QueryFunctionQueryOperations)))},
	)
	resp := roundTrip(t, s, "admin", msg)
	if len(resp.Items) != 1 || resp.Items[0].Reason != ttlv.ResultReasonItemNotFound || resp.Items[0].Message == "" {
		t.Fatalf("stop: got %+v", resp.Items)
	}
	hdr := msg.Children()[0].Append(ttlv.Enum(ttlv.TagBatchErrorContinuationOption, uint32(ttlv.BatchErrorContinuationOptionContinue)))
	msg.Value.([]ttlv.Item)[0] = hdr
	resp = roundTrip(t, s, "admin", msg)
	if len(resp.Items) != 2 || resp.Items[1].Status != ttlv.ResultStatusSuccess {
		t.Fatalf("continue: got %d items", len(resp.Items))
	}
}

// TestLocate finds keys by name, object type, state, algorithm and length,
// object group, and pages with Maximum Items.
func TestLocate(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	c := s.dial(t, "admin", kmip.ProtocolVersion{Major: 1, Minor: 4})
	var uids []string
	for i := 0; i < 5; i++ {
		uid, err := c.CreateAES(ctx, 128+64*int32(i%3), client.NameAttr("locate-"+string(rune('a'+i))),
			kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, "grp-"+string(rune('0'+i%2)))))
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	if err := c.Activate(ctx, uids[3]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		max   int32
		attrs []kmip.Attribute
		want  []string
	}{
		{"by name", -1, []kmip.Attribute{client.NameAttr("locate-c")}, []string{uids[2]}},
		{"by group", -1, []kmip.Attribute{kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, "grp-1"))}, []string{uids[1], uids[3]}},
		{"by state", -1, []kmip.Attribute{kmip.Attr(ttlv.Enum(ttlv.TagState, uint32(ttlv.StateActive)))}, []string{uids[3]}},
		{"by length", -1, []kmip.Attribute{kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, 192))}, []string{uids[1], uids[4]}},
		{"by type and algorithm, max 2", 2, []kmip.Attribute{
			kmip.Attr(ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey))),
			kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		}, []string{uids[0], uids[1]}},
		{"no match", -1, []kmip.Attribute{client.NameAttr("nothing")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []kmip.ProtocolVersion{{Major: 1, Minor: 0}, {Major: 2, Minor: 1}} {
				// A Crypto Officer sees every group's keys (key clients:
				// TestKeyAccessMatrix).
				got, err := s.dial(t, "admin", v).Locate(ctx, tt.max, tt.attrs...)
				if err != nil {
					t.Fatalf("%s: %v", v, err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("%s: got %d identifiers, want %d", v, len(got), len(tt.want))
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("%s: result %d is %s, want %s", v, i, got[i], tt.want[i])
					}
				}
			}
		})
	}
}

// TestRoles: key clients read and cannot create or manage; auditors get
// nothing about keys.
func TestRoles(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	uid, err := s.dial(t, "admin", v).CreateAES(ctx, 256, kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, "key-clients")))
	if err != nil {
		t.Fatal(err)
	}
	kc := s.dial(t, "client", v)
	if _, err := kc.GetKey(ctx, uid); err != nil {
		t.Fatalf("key client get: %v", err)
	}
	if _, err := kc.CreateAES(ctx, 256); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("key client create: got %v", err)
	}
	if err := kc.Activate(ctx, uid); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("key client activate: got %v", err)
	}
	au := s.dial(t, "auditor", v)
	if _, err := au.GetKey(ctx, uid); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("auditor get: got %v", err)
	}
	if _, err := au.Locate(ctx, -1); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("auditor locate: got %v", err)
	}
}
