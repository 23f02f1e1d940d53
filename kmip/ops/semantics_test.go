package ops

import (
	"context"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage/memstore"
)

func mustOK(t *testing.T, resp *kmip.Response) {
	t.Helper()
	for i, it := range resp.Items {
		if it.Status != ttlv.ResultStatusSuccess {
			t.Fatalf("item %d (%s): %s %s", i, it.Operation, it.Reason, it.Message)
		}
	}
}

func locateUIDs(t *testing.T, s *Service, v kmip.ProtocolVersion, extra ...ttlv.Item) []string {
	t.Helper()
	resp := serve(t, s, v, kmip.RequestItem{Operation: ttlv.OperationLocate, Payload: ttlv.Struct(ttlv.TagRequestPayload, extra...)})
	mustOK(t, resp)
	var out []string
	for _, u := range resp.Items[0].Payload.FindAll(ttlv.TagUniqueIdentifier) {
		s, _ := u.TextValue()
		out = append(out, s)
	}
	return out
}

func TestCheckInteropLog(t *testing.T) {
	s := newTestService(memstore.New("a"))
	uid := newKey(t, s) // default mask Encrypt|Decrypt
	tests := []struct {
		name   string
		v      kmip.ProtocolVersion
		item   kmip.RequestItem
		reason ttlv.ResultReason
	}{
		{"check allowed", v20, kmip.RequestItem{Operation: ttlv.OperationCheck, Payload: attrPayload(uid, usageItem(uint32(ttlv.CryptographicUsageMaskEncrypt)))}, 0},
		{"check refused 2.x", v20, kmip.RequestItem{Operation: ttlv.OperationCheck, Payload: attrPayload(uid, usageItem(uint32(ttlv.CryptographicUsageMaskSign)))}, ttlv.ResultReasonIncompatibleCryptographicUsageMask},
		{"check refused 1.x", v14, kmip.RequestItem{Operation: ttlv.OperationCheck, Payload: attrPayload(uid, usageItem(uint32(ttlv.CryptographicUsageMaskSign)))}, ttlv.ResultReasonPermissionDenied},
		{"interop begin", v20, kmip.RequestItem{Operation: ttlv.OperationInterop, Payload: ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Enum(ttlv.TagInteropFunction, uint32(ttlv.InteropFunctionBegin)), ttlv.Text(ttlv.TagInteropIdentifier, "T-1"))}, 0},
		{"interop without function", v20, kmip.RequestItem{Operation: ttlv.OperationInterop, Payload: ttlv.Struct(ttlv.TagRequestPayload)}, ttlv.ResultReasonInvalidMessage},
		{"log", v20, kmip.RequestItem{Operation: ttlv.OperationLog, Payload: ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagLogMessage, "hello"))}, 0},
		{"get unknown object 2.x", v20, kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload("00000000-0000-4000-8000-000000000000")}, ttlv.ResultReasonObjectNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := serve(t, s, tt.v, tt.item).Items[0]
			if tt.reason == 0 && it.Status != ttlv.ResultStatusSuccess {
				t.Fatalf("%s %s", it.Reason, it.Message)
			}
			if tt.reason != 0 && it.Reason != tt.reason {
				t.Fatalf("got %s %s, want %s", it.Status, it.Reason, tt.reason)
			}
		})
	}
}

func TestArchiveAndStorageStatusMask(t *testing.T) {
	s := newTestService(memstore.New("a"))
	uid := newKey(t, s)
	mustOK(t, serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationArchive, Payload: uidPayload(uid)}))
	if it := serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload(uid)}).Items[0]; it.Reason != ttlv.ResultReasonObjectArchived {
		t.Fatalf("get of an archived key: %s %s", it.Status, it.Reason)
	}
	mask := func(m ttlv.StorageStatusMask) ttlv.Item { return ttlv.Int(ttlv.TagStorageStatusMask, int32(m)) }
	if got := locateUIDs(t, s, v14); len(got) != 0 {
		t.Fatalf("default locate found archived %v", got)
	}
	if got := locateUIDs(t, s, v14, mask(ttlv.StorageStatusMaskArchivalStorage)); len(got) != 1 {
		t.Fatalf("archival locate found %v", got)
	}
	mustOK(t, serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationRecover, Payload: uidPayload(uid)}))
	if got := locateUIDs(t, s, v14); len(got) != 1 {
		t.Fatalf("locate after recover found %v", got)
	}
	mustOK(t, serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationDestroy, Payload: uidPayload(uid)}))
	if got := locateUIDs(t, s, v20); len(got) != 0 {
		t.Fatalf("default locate found destroyed %v", got)
	}
	if got := locateUIDs(t, s, v20, mask(ttlv.StorageStatusMaskDestroyedStorage)); len(got) != 1 {
		t.Fatalf("destroyed-storage locate found %v", got)
	}
}

func TestReKey(t *testing.T) {
	s := newTestService(memstore.New("a"))
	old := newKey(t, s)
	mustOK(t, serve(t, s, v20, kmip.RequestItem{Operation: ttlv.OperationAddAttribute, Payload: attrPayload(old, newAttr(nameItem("master")))}))
	resp := serve(t, s, v20, kmip.RequestItem{Operation: ttlv.OperationReKey, Payload: attrPayload(old, ttlv.Interval(ttlv.TagOffset, 0))})
	mustOK(t, resp)
	u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
	nu, _ := u.TextValue()
	o, _ := s.load(t.Context(), old)
	n, _ := s.load(t.Context(), nu)
	if len(o.all("Name")) != 0 || len(n.all("Name")) != 1 {
		t.Fatalf("names: old %d, new %d; want 0, 1", len(o.all("Name")), len(n.all("Name")))
	}
	if !o.has(link(ttlv.LinkTypeReplacementObjectLink, nu)) || !n.has(link(ttlv.LinkTypeReplacedObjectLink, old)) {
		t.Fatal("replacement links missing")
	}
	if n.state() != ttlv.StateActive || o.state() != ttlv.StatePreActive {
		t.Fatalf("states: old %s, new %s", o.state(), n.state())
	}
}

func TestUndoBatch(t *testing.T) {
	s := newTestService(memstore.New("a"))
	uid := newKey(t, s)
	req := kmip.NewRequest(v20,
		kmip.RequestItem{Operation: ttlv.OperationActivate, Payload: uidPayload(uid)},
		kmip.RequestItem{Operation: ttlv.OperationCheck, Payload: attrPayload(uid, usageItem(uint32(ttlv.CryptographicUsageMaskSign)))})
	hdr, _ := req.Find(ttlv.TagRequestHeader)
	hdr = hdr.Append(ttlv.Enum(ttlv.TagBatchErrorContinuationOption, uint32(ttlv.BatchErrorContinuationOptionUndo)))
	kids := req.Children()
	kids[0] = hdr
	req = ttlv.Struct(req.Tag, kids...)
	resp, err := kmip.ParseResponse(s.ServeKMIP(t.Context(), server.Peer{}, req))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Items[0].Status != ttlv.ResultStatusOperationUndone || resp.Items[1].Status != ttlv.ResultStatusOperationFailed {
		t.Fatalf("statuses %s, %s", resp.Items[0].Status, resp.Items[1].Status)
	}
	o, _ := s.load(t.Context(), uid)
	if o.state() != ttlv.StatePreActive {
		t.Fatalf("undone activate left the key %s", o.state())
	}
}

func TestRegisterOpaqueObject(t *testing.T) {
	s := newTestService(memstore.New("a"))
	value := []byte("opaque bytes")
	resp := serve(t, s, v20, kmip.RequestItem{Operation: ttlv.OperationRegister, Payload: ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeOpaqueObject)),
		ttlv.Struct(ttlv.TagAttributes),
		ttlv.Struct(ttlv.TagOpaqueObject, ttlv.Enum(ttlv.TagOpaqueDataType, 0x80000001), ttlv.Bytes(ttlv.TagOpaqueDataValue, value)))})
	mustOK(t, resp)
	u, _ := resp.Items[0].Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	got := serve(t, s, v20, kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload(uid)})
	mustOK(t, got)
	obj, _ := got.Items[0].Payload.Find(ttlv.TagOpaqueObject)
	dv, _ := obj.Find(ttlv.TagOpaqueDataValue)
	b, _ := dv.BytesValue()
	dt, _ := obj.Find(ttlv.TagOpaqueDataType)
	e, _ := dt.EnumValue()
	if string(b) != string(value) || e != 0x80000001 {
		t.Fatal("opaque object did not come back as registered")
	}
	list := serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationGetAttributeList, Payload: uidPayload(uid)})
	for _, n := range list.Items[0].Payload.FindAll(ttlv.TagAttributeName) {
		if name, _ := n.TextValue(); internal(name) || name == "Key Format Type" {
			t.Fatalf("attribute %q shown to a 1.4 client", name)
		}
	}
}

// TestDestroyForgetsCachedKey: Destroy tells a keystore that caches
// unwrapped keys (hsm.Forgetter) to drop the key's copy at once.
func TestDestroyForgetsCachedKey(t *testing.T) {
	keys := newFakeKeys()
	store := memstore.New("a")
	s := New(Config{Keys: keys, Store: store, Identify: officer})
	uid := newKey(t, s)
	mustOK(t, serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationGet, Payload: uidPayload(uid)}))
	row, _, err := store.Object(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	w := hsm.Wrapped{Blob: row.Blob}
	if keys.wasForgotten(w) {
		t.Fatal("forgotten before Destroy")
	}
	mustOK(t, serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationDestroy, Payload: uidPayload(uid)}))
	if !keys.wasForgotten(w) {
		t.Fatal("Destroy did not make the keystore forget the key")
	}
}
