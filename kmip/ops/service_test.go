package ops

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage/memstore"
)

func officer(*x509.Certificate) Caller { return Caller{User: "admin", Role: RoleCryptoOfficer} }

func newTestService(store *memstore.Store) *Service {
	return New(Config{Keys: newFakeKeys(), Store: store, Identify: officer})
}

// serve sends one message and parses the answer.
func serve(t *testing.T, s *Service, v kmip.ProtocolVersion, items ...kmip.RequestItem) *kmip.Response {
	t.Helper()
	out := s.ServeKMIP(context.Background(), server.Peer{}, kmip.NewRequest(v, items...))
	resp, err := kmip.ParseResponse(out)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != v {
		t.Fatalf("answered in %s to a %s request", resp.Version, v)
	}
	return resp
}

func uidPayload(uid string) ttlv.Item {
	return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
}

func createPayload(alg ttlv.CryptographicAlgorithm, bits int32) ttlv.Item {
	ta := ttlv.Struct(ttlv.TagTemplateAttribute, kmip.EncodeAttributes(kmip.ProtocolVersion{Major: 1, Minor: 2}, []kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(alg))),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, bits)),
	})...)
	return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), ta)
}

func TestOperationErrors(t *testing.T) {
	s := newTestService(memstore.New("a"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 0}
	missing := "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name   string
		item   kmip.RequestItem
		reason ttlv.ResultReason
	}{
		{"unknown operation", kmip.RequestItem{Operation: 0x99}, ttlv.ResultReasonOperationNotSupported},
		{"get without id or placeholder", kmip.RequestItem{Operation: ttlv.OperationGet}, ttlv.ResultReasonInvalidField},
		{"get of an unknown key", kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload(missing)}, ttlv.ResultReasonItemNotFound},
		{"get with an uppercase id", kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload("ABCDEF00-0000-4000-8000-000000000000")}, ttlv.ResultReasonItemNotFound},
		{"get with a path as id", kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload("../../etc/passwd")}, ttlv.ResultReasonItemNotFound},
		{"create DES", kmip.RequestItem{Operation: ttlv.OperationCreate, Payload: createPayload(ttlv.CryptographicAlgorithmDES, 56)}, ttlv.ResultReasonInvalidField},
		{"create AES-100", kmip.RequestItem{Operation: ttlv.OperationCreate, Payload: createPayload(ttlv.CryptographicAlgorithmAES, 100)}, ttlv.ResultReasonInvalidField},
		{"create without object type", kmip.RequestItem{Operation: ttlv.OperationCreate}, ttlv.ResultReasonInvalidMessage},
		{"revoke without reason", kmip.RequestItem{Operation: ttlv.OperationRevoke, Payload: uidPayload(missing)}, ttlv.ResultReasonInvalidMessage},
		{"locate with negative maximum", kmip.RequestItem{Operation: ttlv.OperationLocate, Payload: ttlv.Struct(ttlv.TagRequestPayload, ttlv.Int(ttlv.TagMaximumItems, -1))}, ttlv.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serve(t, s, v, tt.item)
			it := resp.Items[0]
			if it.Status != ttlv.ResultStatusOperationFailed || it.Reason != tt.reason || it.Message == "" {
				t.Fatalf("got %s / %s / %q, want failure %s with a message", it.Status, it.Reason, it.Message, tt.reason)
			}
		})
	}
}

func TestMaximumResponseSize(t *testing.T) {
	s := newTestService(memstore.New("a"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	msg := kmip.NewRequest(v, kmip.RequestItem{Operation: ttlv.OperationDiscoverVersions})
	hdr := msg.Children()[0].Append(ttlv.Int(ttlv.TagMaximumResponseSize, 64))
	msg.Value.([]ttlv.Item)[0] = hdr
	resp, err := kmip.ParseResponse(s.ServeKMIP(context.Background(), server.Peer{}, msg))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Items[0].Reason != ttlv.ResultReasonResponseTooLarge {
		t.Fatalf("got %s, want Response Too Large", resp.Items[0].Reason)
	}
}

func TestDiscoverVersions(t *testing.T) {
	s := newTestService(memstore.New("a"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 1}
	p := ttlv.Struct(ttlv.TagRequestPayload,
		kmip.ProtocolVersion{Major: 3, Minor: 0}.TTLV(),
		kmip.ProtocolVersion{Major: 1, Minor: 4}.TTLV(),
		kmip.ProtocolVersion{Major: 1, Minor: 0}.TTLV())
	resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationDiscoverVersions, Payload: p})
	got := resp.Items[0].Payload.FindAll(ttlv.TagProtocolVersion)
	if len(got) != 2 {
		t.Fatalf("got %d versions, want 1.4 and 1.0", len(got))
	}
	all := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationDiscoverVersions})
	if n := len(all.Items[0].Payload.FindAll(ttlv.TagProtocolVersion)); n != len(kmip.SupportedVersions()) {
		t.Fatalf("got %d versions, want all %d", n, len(kmip.SupportedVersions()))
	}
}

// TestMirroredLifecycleConverges: an Activate on one node and a Revoke on
// another for the same key leave both nodes with the same state.
func TestMirroredLifecycleConverges(t *testing.T) {
	storeA := memstore.New("a")
	a, b := newTestService(storeA), newTestService(storeA.Peer("b"))
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	resp := serve(t, a, v, kmip.RequestItem{Operation: ttlv.OperationCreate, Payload: createPayload(ttlv.CryptographicAlgorithmAES, 256)})
	u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	serve(t, a, v, kmip.RequestItem{Operation: ttlv.OperationActivate, Payload: uidPayload(uid)})
	rr := ttlv.Struct(ttlv.TagRevocationReason, ttlv.Enum(ttlv.TagRevocationReasonCode, uint32(ttlv.RevocationReasonCodeCessationOfOperation)))
	serve(t, b, v, kmip.RequestItem{Operation: ttlv.OperationRevoke, Payload: uidPayload(uid).Append(rr)})
	for name, s := range map[string]*Service{"a": a, "b": b} {
		o, err := s.load(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		if o.state() != ttlv.StateDeactivated {
			t.Errorf("node %s: state %s, want Deactivated", name, o.state())
		}
	}
}

// TestActivationDate: a key created with an Activation Date in the past is
// Active at once; one in the future stays Pre-Active until then.
func TestActivationDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := now
	s := New(Config{Keys: newFakeKeys(), Store: memstore.New("a"), Identify: officer, Now: func() time.Time { return clock }})
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	create := func(at time.Time) string {
		p := createPayload(ttlv.CryptographicAlgorithmAES, 128)
		ta, _ := p.Find(ttlv.TagTemplateAttribute)
		ta = ta.Append(kmip.Attr(ttlv.DateTime(ttlv.TagActivationDate, at)).TTLV1(0))
		p = ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), ta)
		resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationCreate, Payload: p})
		u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
		uid, _ := u.TextValue()
		return uid
	}
	past, future := create(now.Add(-time.Hour)), create(now.Add(time.Hour))
	stateOf := func(uid string) ttlv.State {
		o, err := s.load(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		return o.state()
	}
	if st := stateOf(past); st != ttlv.StateActive {
		t.Fatalf("past activation date: %s", st)
	}
	if st := stateOf(future); st != ttlv.StatePreActive {
		t.Fatalf("future activation date: %s", st)
	}
	clock = now.Add(2 * time.Hour)
	if st := stateOf(future); st != ttlv.StateActive {
		t.Fatalf("after the activation date: %s", st)
	}
}
