package softhsmtests

import (
	"context"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// TestTemplates: KMIP 1.x Template objects on a node with SoftHSM2 and
// PostgreSQL. A template is registered (nothing reaches the token), read
// back, applied by Create, Register and Create Key Pair (explicit attributes
// override it), changed, archived and destroyed, after which its name no
// longer resolves; KMIP 2.x clients can neither register nor name one.
func TestTemplates(t *testing.T) {
	s := newStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v14 := kmip.ProtocolVersion{Major: 1, Minor: 4}
	v21 := kmip.ProtocolVersion{Major: 2, Minor: 1}
	c := s.dial(t, "admin", v14)
	c21 := s.dial(t, "admin", v21)

	attr := func(v ttlv.Item) ttlv.Item { return kmip.Attr(v).TTLV1(0) }
	nameRef := func(n string) ttlv.Item {
		return ttlv.Struct(ttlv.TagName, ttlv.Text(ttlv.TagNameValue, n), ttlv.Enum(ttlv.TagNameType, uint32(ttlv.NameTypeUninterpretedTextString)))
	}
	registerTemplate := func(cl *client.Client, name string, content ...ttlv.Item) (string, error) {
		resp, err := cl.Do(ctx, ttlv.OperationRegister, ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate)),
			ttlv.Struct(ttlv.TagTemplateAttribute, client.NameAttr(name).TTLV1(0)),
			ttlv.Struct(ttlv.TagTemplate, content...)))
		if err != nil {
			return "", err
		}
		u, _ := resp.Find(ttlv.TagUniqueIdentifier)
		uid, _ := u.TextValue()
		return uid, nil
	}
	wantReason := func(what string, err error, reason ttlv.ResultReason) {
		t.Helper()
		if !isReason(err, reason) {
			t.Fatalf("%s: got %v, want %s", what, err, reason)
		}
	}
	value := func(attrs []kmip.Attribute, tag ttlv.Tag) (ttlv.Item, bool) {
		for _, a := range attrs {
			if a.Value.Tag == tag && !a.Custom() {
				return a.Value, true
			}
		}
		return ttlv.Item{}, false
	}
	intOf := func(attrs []kmip.Attribute, tag ttlv.Tag) int32 {
		v, _ := value(attrs, tag)
		n, _ := v.Int32()
		return n
	}

	aes := []ttlv.Item{
		attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		attr(ttlv.Int(ttlv.TagCryptographicLength, 128)),
		attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskEncrypt))),
		attr(ttlv.Text(ttlv.TagObjectGroup, "tpl-group")),
	}
	tpl, err := registerTemplate(c, "aes-template", aes...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = registerTemplate(c, "aes-template", aes...)
	wantReason("second template with the name", err, ttlv.ResultReasonInvalidField)
	_, err = registerTemplate(c21, "v2-template", aes...)
	wantReason("Register of a Template in 2.1", err, ttlv.ResultReasonInvalidObjectType)

	// The row holds no blob: nothing went to the HSM.
	row, _, err := s.store.Object(ctx, tpl)
	if err != nil {
		t.Fatal(err)
	}
	if row.Blob != nil || row.KEK != "" || row.ObjectType != uint32(ttlv.ObjectTypeTemplate) {
		t.Fatalf("template row: type %d, blob %v, KEK %q", row.ObjectType, row.Blob != nil, row.KEK)
	}

	// Get returns the Template with its content.
	resp, err := c.Do(ctx, ttlv.OperationGet, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, tpl)))
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := resp.Find(ttlv.TagTemplate)
	if !ok || len(obj.FindAll(ttlv.TagAttribute)) != len(aes) {
		t.Fatalf("Get of the template: %v", resp)
	}
	got, err := c.GetAttributes(ctx, tpl)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := value(got, ttlv.TagName); !ok || intOf(got, ttlv.TagCryptographicLength) != 128 {
		t.Fatalf("Get Attributes of the template: %v", got)
	}
	if _, ok := value(got, ttlv.TagState); ok {
		t.Fatalf("a template has a State: %v", got)
	}
	found, err := c.Locate(ctx, -1, kmip.Attr(ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeTemplate))))
	if err != nil || len(found) != 1 || found[0] != tpl {
		t.Fatalf("Locate Template: %v %v", found, err)
	}
	if found, err := c21.Locate(ctx, -1); err != nil || len(found) != 0 {
		t.Fatalf("2.1 Locate sees %v (%v)", found, err)
	}

	// Create from the template; an explicit length wins over it.
	create := func(cl *client.Client, children ...ttlv.Item) (string, error) {
		resp, err := cl.Do(ctx, ttlv.OperationCreate, ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
			ttlv.Struct(ttlv.TagTemplateAttribute, children...)))
		if err != nil {
			return "", err
		}
		u, _ := resp.Find(ttlv.TagUniqueIdentifier)
		uid, _ := u.TextValue()
		return uid, nil
	}
	k1, err := create(c, nameRef("aes-template"))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := create(c, nameRef("aes-template"), attr(ttlv.Int(ttlv.TagCryptographicLength, 256)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		uid  string
		bits int32
	}{{k1, 128}, {k2, 256}} {
		attrs, err := c.GetAttributes(ctx, k.uid)
		if err != nil {
			t.Fatal(err)
		}
		if intOf(attrs, ttlv.TagCryptographicLength) != k.bits || intOf(attrs, ttlv.TagCryptographicUsageMask) != int32(ttlv.CryptographicUsageMaskEncrypt) {
			t.Fatalf("key %s from the template: %v", k.uid, attrs)
		}
		if g, _ := value(attrs, ttlv.TagObjectGroup); g.Type != ttlv.TypeTextString {
			t.Fatalf("key %s has no Object Group from the template", k.uid)
		}
		key, err := c.GetKey(ctx, k.uid) // generated in the token, returned Raw
		if err != nil || len(key)*8 != int(k.bits) {
			t.Fatalf("Get of key %s: %d bytes, %v", k.uid, len(key), err)
		}
	}

	// Register a key from the template.
	resp, err = c.Do(ctx, ttlv.OperationRegister, ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
		ttlv.Struct(ttlv.TagTemplateAttribute, nameRef("aes-template")),
		ttlv.Struct(ttlv.TagSymmetricKey, ttlv.Struct(ttlv.TagKeyBlock,
			ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
			ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, make([]byte, 16))),
			ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES)),
			ttlv.Int(ttlv.TagCryptographicLength, 128)))))
	if err != nil {
		t.Fatalf("Register from the template: %v", err)
	}
	ru, _ := resp.Find(ttlv.TagUniqueIdentifier)
	reg, _ := ru.TextValue()
	if attrs, err := c.GetAttributes(ctx, reg); err != nil || intOf(attrs, ttlv.TagCryptographicUsageMask) != int32(ttlv.CryptographicUsageMaskEncrypt) {
		t.Fatalf("registered key %s did not get the template's usage mask: %v %v", reg, attrs, err)
	}

	// Create Key Pair: an RSA template in the Common set, the usage of
	// each half given explicitly (private/public beat common).
	rsaTpl, err := registerTemplate(c, "rsa-template",
		attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmRSA))),
		attr(ttlv.Int(ttlv.TagCryptographicLength, 2048)),
		attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskEncrypt))))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.Do(ctx, ttlv.OperationCreateKeyPair, ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Struct(ttlv.TagCommonTemplateAttribute, nameRef("rsa-template")),
		ttlv.Struct(ttlv.TagPrivateKeyTemplateAttribute, attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskSign)))),
		ttlv.Struct(ttlv.TagPublicKeyTemplateAttribute, attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskVerify))))))
	if err != nil {
		t.Fatalf("Create Key Pair from the template: %v", err)
	}
	pu, _ := resp.Find(ttlv.TagPrivateKeyUniqueIdentifier)
	priv, _ := pu.TextValue()
	attrs, err := c.GetAttributes(ctx, priv)
	if err != nil {
		t.Fatal(err)
	}
	if intOf(attrs, ttlv.TagCryptographicLength) != 2048 || intOf(attrs, ttlv.TagCryptographicUsageMask) != int32(ttlv.CryptographicUsageMaskSign) {
		t.Fatalf("private key from the template: %v", attrs)
	}

	// Errors: unknown name, a 2.x client naming a template, an operation
	// a template does not take.
	_, err = create(c, nameRef("no-such-template"))
	wantReason("unknown template", err, ttlv.ResultReasonItemNotFound)
	_, err = create(c21, nameRef("aes-template"))
	wantReason("template name in 2.1", err, ttlv.ResultReasonInvalidObjectType)
	wantReason("Activate of a template", c.Activate(ctx, tpl), ttlv.ResultReasonIllegalOperation)
	// The key client may not register templates.
	_, err = registerTemplate(s.dial(t, "client", v14), "client-template")
	wantReason("key client registers a template", err, ttlv.ResultReasonPermissionDenied)

	// Modify, Archive, Recover, Destroy.
	if _, err := c.Do(ctx, ttlv.OperationAddAttribute, ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, tpl), attr(ttlv.Text(ttlv.TagDescription, "for tests")))); err != nil {
		t.Fatalf("Add Attribute: %v", err)
	}
	if _, err := c.Do(ctx, ttlv.OperationArchive, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, tpl))); err != nil {
		t.Fatal(err)
	}
	_, err = create(c, nameRef("aes-template"))
	wantReason("archived template", err, ttlv.ResultReasonObjectArchived)
	if _, err := c.Do(ctx, ttlv.OperationRecover, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, tpl))); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{tpl, rsaTpl} {
		if err := c.Destroy(ctx, uid); err != nil {
			t.Fatalf("Destroy of template %s: %v", uid, err)
		}
	}
	_, err = create(c, nameRef("aes-template"))
	wantReason("destroyed template", err, ttlv.ResultReasonItemNotFound)
	_, err = c.Do(ctx, ttlv.OperationGet, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, tpl)))
	wantReason("Get of a destroyed template", err, ttlv.ResultReasonItemNotFound)
	// The name is free again.
	if _, err := registerTemplate(c, "aes-template", aes...); err != nil {
		t.Fatalf("register after destroy: %v", err)
	}

	// Query Objects: Template for 1.x only.
	query := func(cl *client.Client) bool {
		resp, err := cl.Do(ctx, ttlv.OperationQuery, ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Enum(ttlv.TagQueryFunction, uint32(ttlv.QueryFunctionQueryObjects))))
		if err != nil {
			t.Fatal(err)
		}
		for _, ot := range resp.FindAll(ttlv.TagObjectType) {
			if v, _ := ot.EnumValue(); ttlv.ObjectType(v) == ttlv.ObjectTypeTemplate {
				return true
			}
		}
		return false
	}
	if !query(c) || query(c21) {
		t.Fatalf("Query Objects: 1.4 lists Template %v, 2.1 %v", query(c), query(c21))
	}
}
