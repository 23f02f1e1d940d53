package ops

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage/memstore"
)

var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// tplAttr is a 1.x Attribute structure of a standard attribute.
func tplAttr(v ttlv.Item) ttlv.Item { return kmip.Attr(v).TTLV1(0) }

func algItem(a ttlv.CryptographicAlgorithm) ttlv.Item {
	return ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(a))
}
func lenItem(n int32) ttlv.Item    { return ttlv.Int(ttlv.TagCryptographicLength, n) }
func groupItem(g string) ttlv.Item { return ttlv.Text(ttlv.TagObjectGroup, g) }
func tplName(n string) ttlv.Item   { return nameItem(n) } // a Name child of a Template-Attribute
func nameAttr(n string) ttlv.Item  { return tplAttr(nameItem(n)) }
func ta(children ...ttlv.Item) ttlv.Item {
	return ttlv.Struct(ttlv.TagTemplateAttribute, children...)
}

// registerTemplatePayload is a Register of a Template whose content is
// content and whose own attributes (Template-Attribute) are own.
func registerTemplatePayload(own []ttlv.Item, content ...ttlv.Item) ttlv.Item {
	return ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate)),
		ta(own...),
		ttlv.Struct(ttlv.TagTemplate, content...))
}

func createWith(taItem ttlv.Item) ttlv.Item {
	return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)), taItem)
}

// do runs one operation and returns its result item.
func do(t *testing.T, s *Service, v kmip.ProtocolVersion, op ttlv.Operation, p ttlv.Item) kmip.ResponseItem {
	t.Helper()
	return serve(t, s, v, kmip.RequestItem{Operation: op, Payload: p}).Items[0]
}

func mustUID(t *testing.T, it kmip.ResponseItem) string {
	t.Helper()
	if it.Status != ttlv.ResultStatusSuccess {
		t.Fatalf("%s: %s %s", it.Operation, it.Reason, it.Message)
	}
	u, _ := it.Payload.Find(ttlv.TagUniqueIdentifier)
	uid, _ := u.TextValue()
	return uid
}

// registerAES128 registers a template "aes" (AES-128, Encrypt only, group
// g1) and returns its identifier.
func registerAES128(t *testing.T, s *Service, name string) string {
	t.Helper()
	return mustUID(t, do(t, s, v14, ttlv.OperationRegister, registerTemplatePayload(
		[]ttlv.Item{nameAttr(name)},
		tplAttr(algItem(ttlv.CryptographicAlgorithmAES)), tplAttr(lenItem(128)),
		tplAttr(usageItem(uint32(ttlv.CryptographicUsageMaskEncrypt))), tplAttr(groupItem("g1")))))
}

// objectAttrs folds a stored object's attributes.
func objectAttrs(t *testing.T, s *Service, uid string) *object {
	t.Helper()
	o, err := s.load(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func intAttr(o *object, tag ttlv.Tag) int32 {
	v, _ := o.value(tag)
	n, _ := v.Int32()
	return n
}

func groups(o *object) map[string]bool {
	out := map[string]bool{}
	for _, a := range o.all(ttlv.TagObjectGroup.String()) {
		g, _ := a.Value.TextValue()
		out[g] = true
	}
	return out
}

func TestRegisterTemplate(t *testing.T) {
	content := []ttlv.Item{tplAttr(algItem(ttlv.CryptographicAlgorithmAES)), tplAttr(lenItem(256))}
	tests := []struct {
		name    string
		v       kmip.ProtocolVersion
		payload ttlv.Item
		reason  ttlv.ResultReason // 0: success
	}{
		{"named template", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1")}, content...), 0},
		{"KMIP 1.0", kmip.ProtocolVersion{Major: 1, Minor: 0}, registerTemplatePayload([]ttlv.Item{nameAttr("t1")}, content...), 0},
		{"empty template", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1")}), 0},
		{"with own description and x- attribute", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1"), tplAttr(descItem("d"))},
			append(content, kmip.Attribute{Name: "x-app", Value: textAV("v")}.TTLV1(0))...), 0},
		{"no name", v14, registerTemplatePayload(nil, content...), ttlv.ResultReasonInvalidField},
		{"empty name", v14, registerTemplatePayload([]ttlv.Item{nameAttr("")}, content...), ttlv.ResultReasonInvalidField},
		{"name inside the template", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1")}, append(content, nameAttr("t2"))...), ttlv.ResultReasonInvalidField},
		{"object type inside the template", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1")},
			append(content, tplAttr(ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey))))...), ttlv.ResultReasonInvalidField},
		{"server attribute", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1")}, append(content, tplAttr(stateItem(ttlv.StateActive)))...), ttlv.ResultReasonInvalidField},
		{"two lengths", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1"), tplAttr(lenItem(128))}, content...), ttlv.ResultReasonInvalidField},
		{"from another template", v14, registerTemplatePayload([]ttlv.Item{nameAttr("t1"), tplName("base")}, content...), ttlv.ResultReasonInvalidField},
		{"template missing", v14, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate)), ta(nameAttr("t1"))), ttlv.ResultReasonInvalidMessage},
		{"KMIP 2.1", v21, registerTemplatePayload([]ttlv.Item{nameAttr("t1")}, content...), ttlv.ResultReasonInvalidObjectType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := newFakeKeys()
			s := New(Config{Keys: keys, Store: memstore.New("a"), Identify: officer})
			it := do(t, s, tc.v, ttlv.OperationRegister, tc.payload)
			if tc.reason != 0 {
				if it.Status == ttlv.ResultStatusSuccess || it.Reason != tc.reason {
					t.Fatalf("got %s %s (%s), want %s", it.Status, it.Reason, it.Message, tc.reason)
				}
				return
			}
			uid := mustUID(t, it)
			o := objectAttrs(t, s, uid)
			if o.objectType() != ttlv.ObjectTypeTemplate || o.row.Blob != nil || o.state() != 0 {
				t.Fatalf("stored as type %s, blob %v, state %s", o.objectType(), o.row.Blob != nil, o.state())
			}
			if len(keys.keys) != 0 {
				t.Fatalf("a template put %d items in the HSM", len(keys.keys))
			}
			if o.ownerGroup() != "" || len(o.all(attrOwnerUser)) != 1 {
				t.Fatalf("template has no owner attributes")
			}
		})
	}
}

// TestTemplateNamesUnique: a name is taken while a template holding it
// lives, and free again once it is destroyed.
func TestTemplateNamesUnique(t *testing.T) {
	s := newTestService(memstore.New("a"))
	uid := registerAES128(t, s, "aes")
	dup := do(t, s, v14, ttlv.OperationRegister, registerTemplatePayload([]ttlv.Item{nameAttr("aes")}))
	if dup.Reason != ttlv.ResultReasonInvalidField {
		t.Fatalf("second template named aes: %s %s", dup.Status, dup.Reason)
	}
	mustUID(t, do(t, s, v14, ttlv.OperationDestroy, uidPayload(uid)))
	registerAES128(t, s, "aes")
}

// TestTemplateApplied: the attributes a Create, Register, Create Key Pair
// or Re-key ends up with when its Template-Attribute names templates.
func TestTemplateApplied(t *testing.T) {
	type check func(t *testing.T, o *object)
	wantLen := func(n int32) check {
		return func(t *testing.T, o *object) {
			if got := intAttr(o, ttlv.TagCryptographicLength); got != n {
				t.Errorf("length %d, want %d", got, n)
			}
		}
	}
	wantUsage := func(m ttlv.CryptographicUsageMask) check {
		return func(t *testing.T, o *object) {
			if got := intAttr(o, ttlv.TagCryptographicUsageMask); got != int32(m) {
				t.Errorf("usage mask %d, want %d", got, m)
			}
		}
	}
	wantGroups := func(gs ...string) check {
		return func(t *testing.T, o *object) {
			got := groups(o)
			if len(got) != len(gs) {
				t.Errorf("groups %v, want %v", got, gs)
			}
			for _, g := range gs {
				if !got[g] {
					t.Errorf("groups %v, want %v", got, gs)
				}
			}
		}
	}
	noTemplateName := func(t *testing.T, o *object) {
		for _, a := range o.all(ttlv.TagName.String()) {
			if n, _ := nameValue(a); n == "aes" || n == "long" {
				t.Errorf("the template's Name %q was copied to the object", n)
			}
		}
	}
	keyBlock := func(n int) ttlv.Item {
		return ttlv.Struct(ttlv.TagSymmetricKey, ttlv.Struct(ttlv.TagKeyBlock,
			ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
			ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, make([]byte, n))),
			algItem(ttlv.CryptographicAlgorithmAES), lenItem(int32(n*8))))
	}
	pairPayload := func(common, priv, pub ttlv.Item) ttlv.Item {
		common.Tag, priv.Tag, pub.Tag = ttlv.TagCommonTemplateAttribute, ttlv.TagPrivateKeyTemplateAttribute, ttlv.TagPublicKeyTemplateAttribute
		return ttlv.Struct(ttlv.TagRequestPayload, common, priv, pub)
	}
	tests := []struct {
		name    string
		v       kmip.ProtocolVersion
		op      ttlv.Operation
		payload func(keyUID string) ttlv.Item
		reason  ttlv.ResultReason
		checks  []check
	}{
		{"create from template", v14, ttlv.OperationCreate, func(string) ttlv.Item { return createWith(ta(tplName("aes"))) }, 0,
			[]check{wantLen(128), wantUsage(ttlv.CryptographicUsageMaskEncrypt), wantGroups("g1"), noTemplateName}},
		{"explicit attributes win, groups are the union", v14, ttlv.OperationCreate, func(string) ttlv.Item {
			return createWith(ta(tplName("aes"), tplAttr(lenItem(256)), tplAttr(groupItem("g2")), nameAttr("k1")))
		}, 0, []check{wantLen(256), wantUsage(ttlv.CryptographicUsageMaskEncrypt), wantGroups("g1", "g2")}},
		{"the last template wins", v14, ttlv.OperationCreate, func(string) ttlv.Item { return createWith(ta(tplName("aes"), tplName("long"))) }, 0,
			[]check{wantLen(256), wantUsage(ttlv.CryptographicUsageMaskEncrypt), wantGroups("g1", "g3"), noTemplateName}},
		{"unknown template", v14, ttlv.OperationCreate, func(string) ttlv.Item { return createWith(ta(tplName("nope"))) }, ttlv.ResultReasonItemNotFound, nil},
		{"destroyed template", v14, ttlv.OperationCreate, func(string) ttlv.Item { return createWith(ta(tplName("gone"))) }, ttlv.ResultReasonItemNotFound, nil},
		{"archived template", v14, ttlv.OperationCreate, func(string) ttlv.Item { return createWith(ta(tplName("cold"))) }, ttlv.ResultReasonObjectArchived, nil},
		{"template name in 2.1", v21, ttlv.OperationCreate, func(string) ttlv.Item { return createWith(ta(tplName("aes"))) }, ttlv.ResultReasonInvalidObjectType, nil},
		{"register a key from a template", v14, ttlv.OperationRegister, func(string) ttlv.Item {
			return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
				ta(tplName("aes"), tplAttr(lenItem(128))), keyBlock(16))
		}, 0, []check{wantLen(128), wantUsage(ttlv.CryptographicUsageMaskEncrypt), wantGroups("g1")}},
		{"register a key whose template disagrees with it", v14, ttlv.OperationRegister, func(string) ttlv.Item {
			return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
				ta(tplName("long")), keyBlock(16))
		}, ttlv.ResultReasonInvalidField, nil},
		{"re-key from a template", v14, ttlv.OperationReKey, func(k string) ttlv.Item {
			return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, k), ta(tplName("aes"), tplAttr(groupItem("g2"))))
		}, 0, []check{wantLen(128), wantUsage(ttlv.CryptographicUsageMaskEncrypt), wantGroups("g1", "g2")}},
		{"re-key with an unknown template", v14, ttlv.OperationReKey, func(k string) ttlv.Item {
			return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, k), ta(tplName("nope")))
		}, ttlv.ResultReasonItemNotFound, nil},
		{"key pair: unknown template in the public set", v14, ttlv.OperationCreateKeyPair, func(string) ttlv.Item {
			return pairPayload(ta(tplName("rsa")), ta(), ta(tplName("nope")))
		}, ttlv.ResultReasonItemNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(memstore.New("a"))
			registerAES128(t, s, "aes")
			mustUID(t, do(t, s, v14, ttlv.OperationRegister, registerTemplatePayload([]ttlv.Item{nameAttr("long")},
				tplAttr(lenItem(256)), tplAttr(groupItem("g3")))))
			mustUID(t, do(t, s, v14, ttlv.OperationRegister, registerTemplatePayload([]ttlv.Item{nameAttr("rsa")},
				tplAttr(algItem(ttlv.CryptographicAlgorithmRSA)), tplAttr(lenItem(2048)), tplAttr(groupItem("rsa")),
				tplAttr(usageItem(uint32(ttlv.CryptographicUsageMaskEncrypt))))))
			gone := registerAES128(t, s, "gone")
			mustUID(t, do(t, s, v14, ttlv.OperationDestroy, uidPayload(gone)))
			cold := registerAES128(t, s, "cold")
			mustUID(t, do(t, s, v14, ttlv.OperationArchive, uidPayload(cold)))
			key := newKey(t, s)
			it := do(t, s, tc.v, tc.op, tc.payload(key))
			if failedAsWanted(t, tc.op, it, tc.reason) {
				return
			}
			tag := ttlv.TagUniqueIdentifier
			if tc.op == ttlv.OperationCreateKeyPair {
				tag = ttlv.TagPrivateKeyUniqueIdentifier
			}
			u, _ := it.Payload.Find(tag)
			uid, _ := u.TextValue()
			o := objectAttrs(t, s, uid)
			for _, c := range tc.checks {
				c(t, o)
			}
		})
	}
}

// TestTemplateOperations: what the operations do to a template.
func TestTemplateOperations(t *testing.T) {
	tests := []struct {
		name   string
		v      kmip.ProtocolVersion
		op     ttlv.Operation
		args   []ttlv.Item
		reason ttlv.ResultReason
		check  func(t *testing.T, it kmip.ResponseItem)
	}{
		{"get returns the template's content", v14, ttlv.OperationGet, nil, 0, func(t *testing.T, it kmip.ResponseItem) {
			tpl, ok := it.Payload.Find(ttlv.TagTemplate)
			if ot, _ := it.Payload.Find(ttlv.TagObjectType); !ok || !isEnum(ot, uint32(ttlv.ObjectTypeTemplate)) {
				t.Fatalf("no Template object in %v", it.Payload)
			}
			names := map[string]int{}
			for _, a := range tpl.FindAll(ttlv.TagAttribute) {
				n, _ := a.Find(ttlv.TagAttributeName)
				s, _ := n.TextValue()
				names[s]++
			}
			want := map[string]int{"Cryptographic Algorithm": 1, "Cryptographic Length": 1, "Cryptographic Usage Mask": 1, "Object Group": 1}
			if len(names) != len(want) {
				t.Fatalf("template attributes %v, want %v", names, want)
			}
			for n, c := range want {
				if names[n] != c {
					t.Fatalf("template attributes %v, want %v", names, want)
				}
			}
		}},
		{"get attributes", v14, ttlv.OperationGetAttributes, nil, 0, func(t *testing.T, it kmip.ResponseItem) {
			names := map[string]bool{}
			for _, a := range it.Payload.FindAll(ttlv.TagAttribute) {
				n, _ := a.Find(ttlv.TagAttributeName)
				s, _ := n.TextValue()
				names[s] = true
			}
			for _, n := range []string{"Name", "Object Type", "Unique Identifier", "Cryptographic Algorithm", "Initial Date"} {
				if !names[n] {
					t.Errorf("Get Attributes lacks %s: %v", n, names)
				}
			}
			for _, n := range []string{"State", "Fresh"} {
				if names[n] {
					t.Errorf("a template has %s", n)
				}
			}
		}},
		{"get attribute list", v14, ttlv.OperationGetAttributeList, nil, 0, nil},
		{"add description", v14, ttlv.OperationAddAttribute, []ttlv.Item{attr1Item("Description", textAV("d"))}, 0, nil},
		{"add second name", v14, ttlv.OperationAddAttribute, []ttlv.Item{attr1Item("Name", nameItem("aes-2"))}, 0, nil},
		{"add activation date (no state limit on a template)", v14, ttlv.OperationAddAttribute,
			[]ttlv.Item{attr1Item("Activation Date", ttlv.DateTime(ttlv.TagAttributeValue, farFuture))}, 0, nil},
		{"modify object group", v14, ttlv.OperationModifyAttribute, []ttlv.Item{attr1Item("Object Group", textAV("g9"))}, 0, nil},
		{"modify algorithm is read-only", v14, ttlv.OperationModifyAttribute,
			[]ttlv.Item{attr1Item("Cryptographic Algorithm", ttlv.Enum(ttlv.TagAttributeValue, uint32(ttlv.CryptographicAlgorithm3DES)))}, ttlv.ResultReasonPermissionDenied, nil},
		{"delete the last name", v14, ttlv.OperationDeleteAttribute, []ttlv.Item{ttlv.Text(ttlv.TagAttributeName, "Name")}, ttlv.ResultReasonPermissionDenied, nil},
		{"delete object group", v14, ttlv.OperationDeleteAttribute, []ttlv.Item{ttlv.Text(ttlv.TagAttributeName, "Object Group")}, 0, nil},
		{"archive", v14, ttlv.OperationArchive, nil, 0, nil},
		{"destroy", v14, ttlv.OperationDestroy, nil, 0, nil},
		{"activate", v14, ttlv.OperationActivate, nil, ttlv.ResultReasonIllegalOperation, nil},
		{"revoke", v14, ttlv.OperationRevoke, []ttlv.Item{ttlv.Struct(ttlv.TagRevocationReason,
			ttlv.Enum(ttlv.TagRevocationReasonCode, uint32(ttlv.RevocationReasonCodeCessationOfOperation)))}, ttlv.ResultReasonIllegalOperation, nil},
		{"encrypt", v14, ttlv.OperationEncrypt, []ttlv.Item{ttlv.Bytes(ttlv.TagData, []byte("x"))}, ttlv.ResultReasonIllegalOperation, nil},
		{"re-key", v14, ttlv.OperationReKey, nil, ttlv.ResultReasonIllegalOperation, nil},
		{"get in 2.1", v21, ttlv.OperationGet, nil, ttlv.ResultReasonInvalidObjectType, nil},
		{"get attributes in 2.1", v21, ttlv.OperationGetAttributes, nil, ttlv.ResultReasonInvalidObjectType, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestService(memstore.New("a"))
			uid := registerAES128(t, s, "aes")
			it := do(t, s, tc.v, tc.op, attrPayload(uid, tc.args...))
			if failedAsWanted(t, tc.op, it, tc.reason) {
				return
			}
			if tc.check != nil {
				tc.check(t, it)
			}
		})
	}
}

// TestTemplateLifecycle: Archive, Recover and Destroy change what a
// template name resolves to.
func TestTemplateLifecycle(t *testing.T) {
	s := newTestService(memstore.New("a"))
	uid := registerAES128(t, s, "aes")
	steps := []struct {
		op     ttlv.Operation
		p      ttlv.Item
		reason ttlv.ResultReason
	}{
		{ttlv.OperationCreate, createWith(ta(tplName("aes"))), 0},
		{ttlv.OperationArchive, uidPayload(uid), 0},
		{ttlv.OperationGet, uidPayload(uid), ttlv.ResultReasonObjectArchived},
		{ttlv.OperationCreate, createWith(ta(tplName("aes"))), ttlv.ResultReasonObjectArchived},
		{ttlv.OperationRecover, uidPayload(uid), 0},
		{ttlv.OperationCreate, createWith(ta(tplName("aes"))), 0},
		{ttlv.OperationDestroy, uidPayload(uid), 0},
		{ttlv.OperationDestroy, uidPayload(uid), ttlv.ResultReasonPermissionDenied},
		{ttlv.OperationGet, uidPayload(uid), ttlv.ResultReasonItemNotFound},
		{ttlv.OperationGetAttributes, uidPayload(uid), 0},
		{ttlv.OperationCreate, createWith(ta(tplName("aes"))), ttlv.ResultReasonItemNotFound},
	}
	for i, st := range steps {
		it := do(t, s, v14, st.op, st.p)
		if st.reason == 0 && it.Status != ttlv.ResultStatusSuccess {
			t.Fatalf("step %d %s: %s %s", i, st.op, it.Reason, it.Message)
		}
		if st.reason != 0 && (it.Status == ttlv.ResultStatusSuccess || it.Reason != st.reason) {
			t.Fatalf("step %d %s: got %s %s (%s), want %s", i, st.op, it.Status, it.Reason, it.Message, st.reason)
		}
	}
}

// TestTemplateLocateAndQuery: Locate finds templates by Object Type and
// name for 1.x clients only; Query lists the type to 1.x clients only.
func TestTemplateLocateAndQuery(t *testing.T) {
	s := newTestService(memstore.New("a"))
	uid := registerAES128(t, s, "aes")
	newKey(t, s)
	byType := func(v kmip.ProtocolVersion) ttlv.Item {
		if v.V2() {
			return ttlv.Struct(ttlv.TagRequestPayload, ttlv.Struct(ttlv.TagAttributes, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate))))
		}
		return ttlv.Struct(ttlv.TagRequestPayload, tplAttr(ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate))))
	}
	tests := []struct {
		name string
		v    kmip.ProtocolVersion
		p    ttlv.Item
		want []string
	}{
		{"by type", v14, byType(v14), []string{uid}},
		{"by name", v14, ttlv.Struct(ttlv.TagRequestPayload, nameAttr("aes")), []string{uid}},
		{"by type in 2.1", v21, byType(v21), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := do(t, s, tc.v, ttlv.OperationLocate, tc.p)
			if it.Status != ttlv.ResultStatusSuccess {
				t.Fatalf("locate: %s %s", it.Reason, it.Message)
			}
			var got []string
			for _, u := range it.Payload.FindAll(ttlv.TagUniqueIdentifier) {
				s, _ := u.TextValue()
				got = append(got, s)
			}
			if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Fatalf("located %v, want %v", got, tc.want)
			}
		})
	}
	for _, v := range []kmip.ProtocolVersion{{Major: 1, Minor: 0}, v14, {Major: 2, Minor: 0}, v21} {
		it := do(t, s, v, ttlv.OperationQuery, ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Enum(ttlv.TagQueryFunction, uint32(ttlv.QueryFunctionQueryObjects))))
		has := false
		for _, ot := range it.Payload.FindAll(ttlv.TagObjectType) {
			if e, _ := ot.EnumValue(); ttlv.ObjectType(e) == ttlv.ObjectTypeTemplate {
				has = true
			}
		}
		if has == v.V2() {
			t.Errorf("Query Objects in %s lists Template: %v", v, has)
		}
	}
}

// TestTemplateOwnership: templates follow the object rules: key clients
// cannot register them, and a template of another group is not found.
func TestTemplateOwnership(t *testing.T) {
	store := memstore.New("a")
	officerIn := func(group string) func(*x509.Certificate) Caller {
		return func(*x509.Certificate) Caller {
			return Caller{User: "o-" + group, Group: group, Role: RoleCryptoOfficer}
		}
	}
	clientIn := func(group string) func(*x509.Certificate) Caller {
		return func(*x509.Certificate) Caller { return Caller{User: "c-" + group, Group: group, Role: RoleKeyClient} }
	}
	keys := newFakeKeys()
	s := New(Config{Keys: keys, Store: store, Identify: officerIn("g1")})
	// Owned by group g1: the officer's group, and also the Object Group the
	// officer gave the new object (ownership.go), here in the content.
	uid := registerAES128(t, s, "aes")
	tests := []struct {
		name     string
		identify func(*x509.Certificate) Caller
		op       ttlv.Operation
		p        ttlv.Item
		reason   ttlv.ResultReason
	}{
		{"key client registers", clientIn("g1"), ttlv.OperationRegister, registerTemplatePayload([]ttlv.Item{nameAttr("x")}), ttlv.ResultReasonPermissionDenied},
		{"key client of the group gets it", clientIn("g1"), ttlv.OperationGet, uidPayload(uid), 0},
		{"key client of another group", clientIn("g2"), ttlv.OperationGet, uidPayload(uid), ttlv.ResultReasonItemNotFound},
		{"auditor", func(*x509.Certificate) Caller { return Caller{User: "a", Role: RoleAuditor} }, ttlv.OperationGetAttributes, uidPayload(uid), ttlv.ResultReasonPermissionDenied},
		{"officer of another group uses it", officerIn("g2"), ttlv.OperationCreate, createWith(ta(tplName("aes"))), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Keys: keys, Store: store, Identify: tc.identify})
			it := do(t, s, v14, tc.op, tc.p)
			if tc.reason == 0 && it.Status != ttlv.ResultStatusSuccess {
				t.Fatalf("%s: %s %s", tc.op, it.Reason, it.Message)
			}
			if tc.reason != 0 && (it.Status == ttlv.ResultStatusSuccess || it.Reason != tc.reason) {
				t.Fatalf("got %s %s (%s), want %s", it.Status, it.Reason, it.Message, tc.reason)
			}
		})
	}
}

// TestGetWrappedReasonPerVersion: a wrapping Get Strongroom does not do is
// answered with a reason the client's version defines.
func TestGetWrappedReasonPerVersion(t *testing.T) {
	tests := []struct {
		v    kmip.ProtocolVersion
		want ttlv.ResultReason
	}{
		{kmip.ProtocolVersion{Major: 1, Minor: 0}, ttlv.ResultReasonFeatureNotSupported},
		{v14, ttlv.ResultReasonFeatureNotSupported},
		{kmip.ProtocolVersion{Major: 2, Minor: 0}, ttlv.ResultReasonKeyWrapTypeNotSupported},
		{v21, ttlv.ResultReasonKeyWrapTypeNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.v.String(), func(t *testing.T) {
			s := newTestService(memstore.New("a"))
			uid := newKey(t, s)
			it := do(t, s, tc.v, ttlv.OperationGet, attrPayload(uid, ttlv.Struct(ttlv.TagKeyWrappingSpecification,
				ttlv.Enum(ttlv.TagWrappingMethod, uint32(ttlv.WrappingMethodMACSign)),
				ttlv.Struct(ttlv.TagEncryptionKeyInformation, ttlv.Text(ttlv.TagUniqueIdentifier, uid)))))
			if it.Status == ttlv.ResultStatusSuccess || it.Reason != tc.want {
				t.Fatalf("got %s %s (%s), want %s", it.Status, it.Reason, it.Message, tc.want)
			}
			info, ok := ttlv.EnumValueInfo(ttlv.TagResultReason, uint32(it.Reason))
			if !ok || !info.InVersion(ttlv.Version{Major: int(tc.v.Major), Minor: int(tc.v.Minor)}) {
				t.Fatalf("reason %s does not exist in KMIP %s", it.Reason, tc.v)
			}
		})
	}
}

func isEnum(it ttlv.Item, v uint32) bool {
	e, ok := it.EnumValue()
	return ok && e == v
}

// TestMergeAttrs: the precedence of KMIP 1.4 §4 and §4.2 (Create Key Pair
// layers common templates, common attributes, the key's templates and the
// key's attributes, in that order).
func TestMergeAttrs(t *testing.T) {
	l := func(n int32) kmip.Attribute { return kmip.Attr(lenItem(n)) }
	g := func(s string) kmip.Attribute { return kmip.Attr(groupItem(s)) }
	x := func(s string) kmip.Attribute { return kmip.Attribute{Name: "x-a", Value: textAV(s)} }
	tests := []struct {
		name   string
		layers [][]kmip.Attribute
		want   []kmip.Attribute
	}{
		{"explicit beats template", [][]kmip.Attribute{{l(128), g("a")}, {l(256)}}, []kmip.Attribute{g("a"), l(256)}},
		{"later template beats earlier", [][]kmip.Attribute{{l(128)}, {l(192)}, nil}, []kmip.Attribute{l(192)}},
		{"multi-instance union without duplicates", [][]kmip.Attribute{{g("a"), g("b")}, {g("b"), g("c")}}, []kmip.Attribute{g("a"), g("b"), g("c")}},
		{"custom attributes are multi-instance", [][]kmip.Attribute{{x("1")}, {x("2")}}, []kmip.Attribute{x("1"), x("2")}},
		{"key pair: private explicit > private template > common explicit > common template",
			[][]kmip.Attribute{{l(1024), g("ct")}, {l(2048)}, {l(3072)}, {g("pe")}}, []kmip.Attribute{g("ct"), l(3072), g("pe")}},
		{"two values in one layer stay for checkTemplate to refuse", [][]kmip.Attribute{{l(128)}, {l(192), l(256)}}, []kmip.Attribute{l(192), l(256)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []kmip.Attribute
			for _, layer := range tc.layers {
				got = mergeAttrs(got, layer)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d attributes %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i].Name != tc.want[i].Name || !equalItems(got[i].Value, tc.want[i].Value) {
					t.Fatalf("attribute %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// failedAsWanted checks an item's outcome: failure with reason, or success
// when reason is 0. It reports whether the item failed (as wanted), so
// that the caller checks a success further.
func failedAsWanted(t *testing.T, op ttlv.Operation, it kmip.ResponseItem, reason ttlv.ResultReason) bool {
	t.Helper()
	if reason != 0 {
		if it.Status == ttlv.ResultStatusSuccess || it.Reason != reason {
			t.Fatalf("got %s %s (%s), want %s", it.Status, it.Reason, it.Message, reason)
		}
		return true
	}
	if it.Status != ttlv.ResultStatusSuccess {
		t.Fatalf("%s: %s %s", op, it.Reason, it.Message)
	}
	return false
}
