package ops

import (
	"context"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage/memstore"
)

var (
	v14 = kmip.ProtocolVersion{Major: 1, Minor: 4}
	v20 = kmip.ProtocolVersion{Major: 2, Minor: 1}
)

// newKey creates an AES-128 key and returns its identifier.
func newKey(t *testing.T, s *Service) string {
	t.Helper()
	resp := serve(t, s, v14, kmip.RequestItem{Operation: ttlv.OperationCreate, Payload: createPayload(ttlv.CryptographicAlgorithmAES, 128)})
	it := resp.Items[0]
	if it.Status != ttlv.ResultStatusSuccess {
		t.Fatalf("create: %s %s", it.Reason, it.Message)
	}
	u, _ := it.Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	return uid
}

func attrPayload(uid string, children ...ttlv.Item) ttlv.Item {
	return ttlv.Struct(ttlv.TagRequestPayload, append([]ttlv.Item{ttlv.Text(ttlv.TagUniqueIdentifier, uid)}, children...)...)
}

func attr1Item(name string, v ttlv.Item) ttlv.Item {
	return kmip.Attribute{Name: name, Value: v}.TTLV1(0)
}

func newAttr(v ttlv.Item) ttlv.Item { return ttlv.Struct(ttlv.TagNewAttribute, v) }
func curAttr(v ttlv.Item) ttlv.Item { return ttlv.Struct(ttlv.TagCurrentAttribute, v) }
func nameItem(n string) ttlv.Item {
	return ttlv.Struct(ttlv.TagName, ttlv.Text(ttlv.TagNameValue, n), ttlv.Enum(ttlv.TagNameType, 1))
}
func descItem(d string) ttlv.Item { return ttlv.Text(ttlv.TagDescription, d) }
func vendorX(n, v string) ttlv.Item {
	return kmip.Attribute{Name: "x-" + n, Value: ttlv.Text(ttlv.TagAttributeValue, v)}.TTLV2()
}
func textAV(v string) ttlv.Item        { return ttlv.Text(ttlv.TagAttributeValue, v) }
func refTag(tag ttlv.Tag) ttlv.Item    { return ttlv.Enum(ttlv.TagAttributeReference, uint32(tag)) }
func usageItem(m uint32) ttlv.Item     { return ttlv.Int(ttlv.TagCryptographicUsageMask, int32(m)) }
func stateItem(s ttlv.State) ttlv.Item { return ttlv.Enum(ttlv.TagState, uint32(s)) }

// TestAttributeOperations runs sequences of attribute operations on a fresh
// key and checks each result and the attributes left.
func TestAttributeOperations(t *testing.T) {
	type step struct {
		v       kmip.ProtocolVersion
		op      ttlv.Operation
		args    func(uid string) []ttlv.Item
		reason  ttlv.ResultReason // 0: success
		echoIdx int32             // 1.x: expected Attribute Index in the response (-1: not checked)
	}
	ok := func(v kmip.ProtocolVersion, op ttlv.Operation, args ...ttlv.Item) step {
		return step{v: v, op: op, args: func(string) []ttlv.Item { return args }, echoIdx: -1}
	}
	fail := func(v kmip.ProtocolVersion, op ttlv.Operation, reason ttlv.ResultReason, args ...ttlv.Item) step {
		s := ok(v, op, args...)
		s.reason = reason
		return s
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string]int // attribute name → instance count afterwards
	}{
		{"2.x add single-valued twice", []step{
			ok(v20, ttlv.OperationAddAttribute, newAttr(descItem("one"))),
			fail(v20, ttlv.OperationAddAttribute, ttlv.ResultReasonAttributeSingleValued, newAttr(descItem("two"))),
		}, map[string]int{"Description": 1}},
		{"1.x add single-valued twice", []step{
			ok(v14, ttlv.OperationAddAttribute, attr1Item("Description", textAV("one"))),
			fail(v14, ttlv.OperationAddAttribute, ttlv.ResultReasonIllegalOperation, attr1Item("Description", textAV("two"))),
		}, map[string]int{"Description": 1}},
		{"1.x add with index", []step{
			fail(v14, ttlv.OperationAddAttribute, ttlv.ResultReasonInvalidField,
				kmip.Attribute{Name: "x-a", Value: textAV("1")}.TTLV1(1)),
		}, map[string]int{"x-a": 0}},
		{"read-only attributes", []step{
			fail(v20, ttlv.OperationModifyAttribute, ttlv.ResultReasonAttributeReadOnly, newAttr(stateItem(ttlv.StateCompromised))),
			fail(v20, ttlv.OperationAddAttribute, ttlv.ResultReasonAttributeReadOnly, newAttr(ttlv.Int(ttlv.TagCryptographicLength, 256))),
			fail(v14, ttlv.OperationModifyAttribute, ttlv.ResultReasonPermissionDenied, attr1Item("State", ttlv.Enum(ttlv.TagAttributeValue, 3))),
			fail(v20, ttlv.OperationDeleteAttribute, ttlv.ResultReasonAttributeReadOnly, refTag(ttlv.TagCryptographicUsageMask)),
			fail(v20, ttlv.OperationSetAttribute, ttlv.ResultReasonReadOnlyAttribute, newAttr(usageItem(4))),
			fail(v20, ttlv.OperationAddAttribute, ttlv.ResultReasonAttributeReadOnly,
				newAttr(kmip.Attribute{Name: "y-server", Value: textAV("v")}.TTLV2())),
		}, map[string]int{"State": 1}},
		{"names are unique", []step{
			ok(v20, ttlv.OperationAddAttribute, newAttr(nameItem("n1"))),
			fail(v20, ttlv.OperationAddAttribute, ttlv.ResultReasonNonUniqueNameAttribute, newAttr(nameItem("n1"))),
			ok(v20, ttlv.OperationAddAttribute, newAttr(nameItem("n2"))),
			fail(v14, ttlv.OperationAddAttribute, ttlv.ResultReasonIllegalOperation, attr1Item("Name", nameItem("n2"))),
		}, map[string]int{"Name": 2}},
		{"2.x modify multi-valued needs the current value", []step{
			ok(v20, ttlv.OperationAddAttribute, newAttr(nameItem("m1"))),
			ok(v20, ttlv.OperationAddAttribute, newAttr(nameItem("m2"))),
			fail(v20, ttlv.OperationModifyAttribute, ttlv.ResultReasonAttributeInstanceNotFound, newAttr(nameItem("m3"))),
			fail(v20, ttlv.OperationModifyAttribute, ttlv.ResultReasonAttributeInstanceNotFound, curAttr(nameItem("zz")), newAttr(nameItem("m3"))),
			ok(v20, ttlv.OperationModifyAttribute, curAttr(nameItem("m2")), newAttr(nameItem("m3"))),
		}, map[string]int{"Name": 2}},
		{"modify a missing attribute", []step{
			fail(v20, ttlv.OperationModifyAttribute, ttlv.ResultReasonAttributeNotFound, newAttr(descItem("d"))),
			fail(v14, ttlv.OperationModifyAttribute, ttlv.ResultReasonInvalidField, attr1Item("Description", textAV("d"))),
		}, map[string]int{"Description": 0}},
		{"custom attributes, 1.x and 2.x forms", []step{
			ok(v14, ttlv.OperationAddAttribute, attr1Item("x-tag", textAV("a"))),
			{v: v14, op: ttlv.OperationAddAttribute, args: func(string) []ttlv.Item { return []ttlv.Item{attr1Item("x-tag", textAV("b"))} }, echoIdx: 1},
			ok(v20, ttlv.OperationModifyAttribute, curAttr(vendorX("tag", "a")), newAttr(vendorX("tag", "c"))),
			{v: v14, op: ttlv.OperationDeleteAttribute, args: func(string) []ttlv.Item {
				return []ttlv.Item{ttlv.Text(ttlv.TagAttributeName, "x-tag"), ttlv.Int(ttlv.TagAttributeIndex, 1)}
			}, echoIdx: 1},
			fail(v14, ttlv.OperationDeleteAttribute, ttlv.ResultReasonItemNotFound, ttlv.Text(ttlv.TagAttributeName, "x-tag"), ttlv.Int(ttlv.TagAttributeIndex, 3)),
		}, map[string]int{"x-tag": 1}},
		{"2.x delete by reference removes every instance", []step{
			ok(v20, ttlv.OperationAddAttribute, newAttr(nameItem("d1"))),
			ok(v20, ttlv.OperationAddAttribute, newAttr(nameItem("d2"))),
			ok(v20, ttlv.OperationDeleteAttribute, refTag(ttlv.TagName)),
			fail(v20, ttlv.OperationDeleteAttribute, ttlv.ResultReasonAttributeNotFound, refTag(ttlv.TagName)),
			fail(v14, ttlv.OperationDeleteAttribute, ttlv.ResultReasonItemNotFound, ttlv.Text(ttlv.TagAttributeName, "Name")),
		}, map[string]int{"Name": 0}},
		{"set and adjust", []step{
			ok(v20, ttlv.OperationSetAttribute, newAttr(descItem("s1"))),
			ok(v20, ttlv.OperationSetAttribute, newAttr(descItem("s2"))),
			fail(v20, ttlv.OperationSetAttribute, ttlv.ResultReasonMultiValuedAttribute, newAttr(nameItem("s"))),
			ok(v20, ttlv.OperationAdjustAttribute,
				ttlv.Struct(ttlv.TagAttributeReference, ttlv.Text(ttlv.TagVendorIdentification, "x"), ttlv.Text(ttlv.TagAttributeName, "count")),
				ttlv.Enum(ttlv.TagAdjustmentType, uint32(ttlv.AdjustmentTypeIncrement)), ttlv.Int(ttlv.TagAdjustmentValue, 5)),
			fail(v20, ttlv.OperationAdjustAttribute, ttlv.ResultReasonReadOnlyAttribute,
				refTag(ttlv.TagCryptographicLength), ttlv.Enum(ttlv.TagAdjustmentType, uint32(ttlv.AdjustmentTypeIncrement))),
		}, map[string]int{"Description": 1, "x-count": 1}},
		{"activation date only while pre-active", []step{
			ok(v14, ttlv.OperationActivate),
			fail(v14, ttlv.OperationModifyAttribute, ttlv.ResultReasonPermissionDenied, attr1Item("Activation Date", ttlv.DateTime(ttlv.TagAttributeValue, time.Now()))),
			fail(v20, ttlv.OperationModifyAttribute, ttlv.ResultReasonWrongKeyLifecycleState, newAttr(ttlv.DateTime(ttlv.TagActivationDate, time.Now()))),
		}, map[string]int{"Activation Date": 1}},
		{"sensitive only turns on", []step{
			ok(v20, ttlv.OperationModifyAttribute, newAttr(ttlv.Bool(ttlv.TagSensitive, true))),
			fail(v20, ttlv.OperationModifyAttribute, ttlv.ResultReasonAttributeReadOnly, newAttr(ttlv.Bool(ttlv.TagSensitive, false))),
			fail(v20, ttlv.OperationGet, ttlv.ResultReasonSensitive),
		}, map[string]int{"Sensitive": 1, "Always Sensitive": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestService(memstore.New("a"))
			uid := newKey(t, s)
			for i, st := range tt.steps {
				resp := serve(t, s, st.v, kmip.RequestItem{Operation: st.op, Payload: attrPayload(uid, st.args(uid)...)})
				it := resp.Items[0]
				if st.reason == 0 && it.Status != ttlv.ResultStatusSuccess {
					t.Fatalf("step %d (%s): %s %s", i, st.op, it.Reason, it.Message)
				}
				if st.reason != 0 && (it.Status != ttlv.ResultStatusOperationFailed || it.Reason != st.reason) {
					t.Fatalf("step %d (%s): got %s %s, want %s", i, st.op, it.Status, it.Reason, st.reason)
				}
				if st.echoIdx >= 0 {
					a, _ := it.Payload.Find(ttlv.TagAttribute)
					ix, has := a.Find(ttlv.TagAttributeIndex)
					got, _ := ix.Int32()
					if (st.echoIdx == 0 && has) || (st.echoIdx > 0 && got != st.echoIdx) {
						t.Fatalf("step %d: echoed index %d, want %d", i, got, st.echoIdx)
					}
				}
			}
			o, err := s.load(context.Background(), uid)
			if err != nil {
				t.Fatal(err)
			}
			for name, n := range tt.want {
				if got := len(o.all(name)); got != n {
					t.Errorf("%d instances of %q, want %d", got, name, n)
				}
			}
		})
	}
}

// TestFoldIsDeterministic checks that the instance-level events fold to the
// same attributes however the same rows are listed before sorting, i.e.
// that fold depends only on the fold order.
func TestFoldIsDeterministic(t *testing.T) {
	o := &object{attrs: []kmip.Attribute{kmip.Attr(nameItem("a"))}}
	o.add([]kmip.Attribute{kmip.Attr(nameItem("b")), kmip.Attr(nameItem("a"))})
	o.modify([]kmip.Attribute{kmip.Attr(nameItem("a")), kmip.Attr(nameItem("c"))})
	o.modify([]kmip.Attribute{kmip.Attr(nameItem("gone")), kmip.Attr(nameItem("d"))})
	o.add([]kmip.Attribute{kmip.Attr(descItem("first"))})
	o.add([]kmip.Attribute{kmip.Attr(descItem("second"))})
	var names []string
	for _, a := range o.all("Name") {
		v, _ := a.Value.Find(ttlv.TagNameValue)
		n, _ := v.TextValue()
		names = append(names, n)
	}
	if len(names) != 2 || names[0] != "c" || names[1] != "b" {
		t.Fatalf("names %v, want [c b]", names)
	}
	d := o.all("Description")
	if len(d) != 1 {
		t.Fatalf("%d descriptions, want 1 (first add wins)", len(d))
	}
	if v, _ := d[0].Value.TextValue(); v != "first" {
		t.Fatalf("description %q, want first", v)
	}
}

func TestUsable(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(st ttlv.State, mask ttlv.CryptographicUsageMask, extra ...kmip.Attribute) *object {
		return &object{attrs: append([]kmip.Attribute{stateAttr(st), kmip.Attr(usageItem(uint32(mask)))}, extra...)}
	}
	enc, dec := ttlv.CryptographicUsageMaskEncrypt, ttlv.CryptographicUsageMaskDecrypt
	tests := []struct {
		name    string
		o       *object
		purpose ttlv.CryptographicUsageMask
		r1, r2  ttlv.ResultReason // 0: usable
	}{
		{"active encrypt", mk(ttlv.StateActive, enc|dec), enc, 0, 0},
		{"mask lacks the bit", mk(ttlv.StateActive, dec), enc, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonIncompatibleCryptographicUsageMask},
		{"pre-active", mk(ttlv.StatePreActive, enc), enc, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonWrongKeyLifecycleState},
		{"deactivated decrypts", mk(ttlv.StateDeactivated, enc|dec), dec, 0, 0},
		{"deactivated does not encrypt", mk(ttlv.StateDeactivated, enc|dec), enc, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonWrongKeyLifecycleState},
		{"past protect stop", mk(ttlv.StateActive, enc|dec, dateAttr(ttlv.TagProtectStopDate, now.Add(-time.Hour))), enc, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonWrongKeyLifecycleState},
		{"before process start", mk(ttlv.StateActive, enc|dec, dateAttr(ttlv.TagProcessStartDate, now.Add(time.Hour))), dec, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonWrongKeyLifecycleState},
		{"archived", mk(ttlv.StateActive, enc, kmip.Attribute{Name: attrArchived, Value: ttlv.Bool(ttlv.TagAttributeValue, true)}), enc, ttlv.ResultReasonObjectArchived, ttlv.ResultReasonObjectArchived},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				v    kmip.ProtocolVersion
				want ttlv.ResultReason
			}{{v14, tt.r1}, {v20, tt.r2}} {
				err := tt.o.usable(c.v, now, tt.purpose)
				kerr, _ := kmip.AsError(err)
				switch {
				case c.want == 0 && err != nil:
					t.Fatalf("%s: %v", c.v, err)
				case c.want != 0 && (kerr == nil || kerr.Reason != c.want):
					t.Fatalf("%s: got %v, want %s", c.v, err, c.want)
				}
			}
		})
	}
}
