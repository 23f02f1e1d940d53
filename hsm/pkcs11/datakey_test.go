package pkcs11hsm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
)

// TestDataKeyTemplate: the short-lived data keys are not CKA_PRIVATE (see
// dataKeyAttrs), so what keeps them in the token is the rest of the
// template. A key made the way GenerateWrapped makes one is a session
// object whose value cannot be read and that can do nothing but be
// wrapped; a readable one (Get's) can be read and do nothing else; and
// GenerateWrapped leaves no object behind.
func TestDataKeyTemplate(t *testing.T) {
	ks, _ := newKeystoreWith(t, 1, func(c *pkcs11hsm.Config) { c.KeyCacheSize = -1 })
	ctx := context.Background()
	if _, err := ks.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	before := sessionSecrets(t, ks)
	if _, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256); err != nil {
		t.Fatal(err)
	}
	if n := sessionSecrets(t, ks); n != before {
		t.Fatalf("%d secret session objects after GenerateWrapped, want %d", n, before)
	}
	for _, sensitive := range []bool{true, false} {
		err := ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, kek, _ pkcs11.ObjectHandle) error {
			tmpl := append(pkcs11hsm.DataKeyTemplateForTest(pkcs11.CKK_AES, sensitive), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32))
			h, err := p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
			if err != nil {
				return err
			}
			defer func() { _ = p.DestroyObject(sh, h) }()
			checkBools(t, p, sh, h, []uint{pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT,
				pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_DERIVE}, false)
			checkBools(t, p, sh, h, []uint{pkcs11.CKA_SENSITIVE}, sensitive)
			_, err = p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
			if sensitive != errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
				t.Errorf("sensitive %v: reading CKA_VALUE gave %v", sensitive, err)
			}
			err = p.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, h)
			if !errors.Is(err, pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED)) {
				t.Errorf("sensitive %v: encrypting with a data key gave %v", sensitive, err)
			}
			if sensitive {
				// What it exists for: wrapped under the KEK.
				if _, err := p.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11hsm.MechAESKeyWrapPad, nil)}, kek, h); err != nil {
					t.Errorf("wrapping the data key: %v", err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadValue: the one-call read of an unwrapped key's value returns it
// whole when the expected length is right, and falls back to the two-call
// read, which returns the value as the token has it, when it is not (the
// padding SoftHSM2 2.6.1 adds to keys that are not whole 8-byte blocks).
func TestReadValue(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	ctx := context.Background()
	material := randomBytes(t, 24)
	for _, expect := range []int{24, 20, 32, 1} {
		got, err := ks.ReadValueForTest(ctx, material, expect)
		if err != nil {
			t.Fatalf("expecting %d bytes: %v", expect, err)
		}
		if !bytes.Equal(got, material) {
			t.Errorf("expecting %d bytes: read %d bytes that differ from the %d stored (values not printed: key material)", expect, len(got), len(material))
		}
	}
}

// TestCreateDirect: an object created through the module's own
// C_CreateObject, with the template's values laid out one after another in
// one buffer, has every attribute it was given, whatever their lengths
// (empty, one byte, a CK_ULONG, a key's worth); and the module's refusal
// comes back as its PKCS#11 error.
func TestCreateDirect(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	ctx := context.Background()
	readable := func(value, id []byte, label string) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
		}
	}
	read := []uint{pkcs11.CKA_VALUE, pkcs11.CKA_ID, pkcs11.CKA_LABEL, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_SENSITIVE}
	for _, tc := range []struct {
		name      string
		valueLen  int
		id, label string
	}{
		{"one byte, empty label", 1, "a", ""},
		{"AES-128 size", 16, "0123456789abcdef", "k"},
		{"odd length", 24 + 3, "", "a longer label"},
		{"HMAC-SHA512 size", 128, "id", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value := randomBytes(t, tc.valueLen)
			vals, ok, err := ks.CreateDirectForTest(ctx, readable(value, []byte(tc.id), tc.label), read)
			if !ok {
				t.Skip("the module does not export C_CreateObject")
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(vals) != len(read) {
				t.Fatalf("read %d attributes, want %d", len(vals), len(read))
			}
			if !bytes.Equal(vals[0], value) {
				t.Errorf("CKA_VALUE: %d bytes that differ from the %d given (values not printed: key material)", len(vals[0]), len(value))
			}
			if string(vals[1]) != tc.id || string(vals[2]) != tc.label {
				t.Errorf("CKA_ID %q, CKA_LABEL %q; want %q, %q", vals[1], vals[2], tc.id, tc.label)
			}
			if want := pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET).Value; !bytes.Equal(vals[3], want) {
				t.Errorf("CKA_KEY_TYPE % x, want % x", vals[3], want)
			}
			if !bytes.Equal(vals[4], []byte{0}) {
				t.Errorf("CKA_SENSITIVE % x, want 00", vals[4])
			}
		})
	}
	// A secret key without CKA_VALUE is a template the module must refuse.
	incomplete := readable(nil, []byte("id"), "no value")
	_, ok, err := ks.CreateDirectForTest(ctx, incomplete[:len(incomplete)-1], nil)
	if ok && !errors.Is(err, pkcs11.Error(pkcs11.CKR_TEMPLATE_INCOMPLETE)) {
		t.Errorf("a secret key without CKA_VALUE: got %v, want CKR_TEMPLATE_INCOMPLETE", err)
	}
}
