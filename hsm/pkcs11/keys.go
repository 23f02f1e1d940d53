package pkcs11hsm

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/miekg/pkcs11"
)

// kekTemplate describes the key-encryption key: a token AES-256 key that is
// born sensitive and non-extractable (so ALWAYS_SENSITIVE and
// NEVER_EXTRACTABLE hold) and can only wrap and unwrap.
func kekTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
}

// macTemplate describes the row-binding HMAC key: a 32-byte token generic
// secret that can only sign and verify.
func macTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
}

// tokenKey says how to find, create and vet one of the two token keys.
type tokenKey struct {
	what     string // "KEK" or "MAC key", for messages
	label    string
	keyTypes []uint // acceptable CKA_KEY_TYPE values
	mech     uint   // generation mechanism
	template []*pkcs11.Attribute
	// usage lists the usage attributes that must be true.
	usage []uint
}

func (k *Keystore) tokenKeys() [2]tokenKey {
	return [2]tokenKey{
		{
			what: "KEK", label: k.cfg.KEKLabel,
			keyTypes: []uint{pkcs11.CKK_AES},
			mech:     pkcs11.CKM_AES_KEY_GEN, template: k.template(kekTemplate(k.cfg.KEKLabel)),
			usage: []uint{pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP},
		},
		{
			what: "MAC key", label: k.cfg.MACLabel,
			keyTypes: []uint{pkcs11.CKK_GENERIC_SECRET, pkcs11.CKK_SHA256_HMAC},
			mech:     pkcs11.CKM_GENERIC_SECRET_KEY_GEN, template: k.template(macTemplate(k.cfg.MACLabel)),
			usage: []uint{pkcs11.CKA_SIGN},
		},
	}
}

// findKeys looks both keys up by label and records their handles.
func (k *Keystore) findKeys(ctx context.Context) error {
	var handles keyHandles
	err := k.do(ctx, "find keys", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		dst := [2]*pkcs11.ObjectHandle{&handles.kek, &handles.mac}
		for i, spec := range k.tokenKeys() {
			h, err := k.findKey(sh, spec)
			if err != nil {
				return err
			}
			if h == 0 && !k.cfg.AllowMissingKeys {
				return k.missing(spec)
			}
			*dst[i] = h
		}
		return nil
	})
	if err != nil {
		return err
	}
	k.keys.Store(&handles)
	return nil
}

func (k *Keystore) missing(spec tokenKey) error {
	return &notFoundError{
		msg:  fmt.Sprintf("hsm: %s %q not found in token %q: run strongroom init", spec.what, spec.label, k.cfg.TokenLabel),
		kind: ErrKeyNotFound,
	}
}

// EnsureKeys creates the KEK and the MAC key if they are absent, one after
// the other, and reports whether it created either. `strongroom init` calls
// it on a Keystore opened with Config.AllowMissingKeys. Existing keys are
// vetted exactly as at Open.
func (k *Keystore) EnsureKeys(ctx context.Context) (created bool, err error) {
	k.ensureMu.Lock()
	defer k.ensureMu.Unlock()
	var handles keyHandles
	err = k.do(ctx, "ensure keys", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		dst := [2]*pkcs11.ObjectHandle{&handles.kek, &handles.mac}
		for i, spec := range k.tokenKeys() {
			h, err := k.findKey(sh, spec)
			if err != nil {
				return err
			}
			if h == 0 {
				if h, err = k.p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(spec.mech, nil)}, spec.template); err != nil {
					return fmt.Errorf("hsm: create %s %q in token %q: %w", spec.what, spec.label, k.cfg.TokenLabel, err)
				}
				k.log.Info("hsm: created token key", "key", spec.what, "label", spec.label, "token", k.cfg.TokenLabel)
				created = true
				if err := k.vetKey(sh, h, spec); err != nil {
					return err
				}
			}
			*dst[i] = h
		}
		return nil
	})
	if err != nil {
		return created, err
	}
	k.keys.Store(&handles)
	return created, nil
}

// findKey returns the handle of the secret key labelled spec.label, 0 if
// there is none, after checking that it is fit for its job.
func (k *Keystore) findKey(sh pkcs11.SessionHandle, spec tokenKey) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, spec.label),
	}
	if err := k.p.FindObjectsInit(sh, tmpl); err != nil {
		return 0, fmt.Errorf("hsm: find %s %q: %w", spec.what, spec.label, err)
	}
	objs, _, err := k.p.FindObjects(sh, 2)
	if ferr := k.p.FindObjectsFinal(sh); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return 0, fmt.Errorf("hsm: find %s %q: %w", spec.what, spec.label, err)
	}
	switch len(objs) {
	case 0:
		return 0, nil
	case 1:
		return objs[0], k.vetKey(sh, objs[0], spec)
	default:
		return 0, fmt.Errorf("hsm: token %q holds several keys labelled %q; expected one %s", k.cfg.TokenLabel, spec.label, spec.what)
	}
}

// vetKey refuses a key that could leave the token or cannot do its job, so
// that a key planted or mis-created by hand is caught at startup.
func (k *Keystore) vetKey(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, spec tokenKey) error {
	want := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, nil),
	}
	for _, u := range spec.usage {
		want = append(want, pkcs11.NewAttribute(u, nil))
	}
	got, err := k.p.GetAttributeValue(sh, h, want)
	if err != nil {
		return fmt.Errorf("hsm: read attributes of %s %q: %w", spec.what, spec.label, err)
	}
	bad := func(why string) error {
		return fmt.Errorf("hsm: %s %q in token %q %s; refusing to use it", spec.what, spec.label, k.cfg.TokenLabel, why)
	}
	keyType := attrUint(got[0].Value)
	typeOK := false
	for _, t := range spec.keyTypes {
		typeOK = typeOK || keyType == t
	}
	switch {
	case !typeOK:
		return bad(fmt.Sprintf("has key type 0x%X", keyType))
	case !attrBool(got[1].Value):
		return bad("is not sensitive")
	case attrBool(got[2].Value) && !attrBool(got[3].Value):
		// Extractable only under a trusted key (the KEK ceremony) is fine.
		return bad("is extractable")
	}
	for _, a := range got[4:] {
		if !attrBool(a.Value) {
			return bad(fmt.Sprintf("lacks usage attribute 0x%X", a.Type))
		}
	}
	return nil
}

// requireKeys fails with ErrKeyNotFound for a needed key that Open did not
// find and EnsureKeys has not created.
func (k *Keystore) requireKeys(needKEK, needMAC bool) error {
	h := k.keys.Load()
	switch {
	case needKEK && h.kek == 0:
		return k.missing(k.tokenKeys()[0])
	case needMAC && h.mac == 0:
		return k.missing(k.tokenKeys()[1])
	}
	return nil
}

// refreshKeys looks both keys up again on sh. Object handles are only
// stable while the application stays logged in: SoftHSM2 hands out new
// handles for private objects after a new login.
func (k *Keystore) refreshKeys(sh pkcs11.SessionHandle) error {
	var handles keyHandles
	dst := [2]*pkcs11.ObjectHandle{&handles.kek, &handles.mac}
	for i, spec := range k.tokenKeys() {
		h, err := k.findKey(sh, spec)
		if err != nil {
			return err
		}
		*dst[i] = h
	}
	k.keys.Store(&handles)
	k.log.Info("hsm: key handles looked up again", "token", k.cfg.TokenLabel)
	return nil
}

func attrBool(v []byte) bool { return len(v) > 0 && v[0] != 0 }

// attrUint decodes a CK_ULONG attribute, which the module returns in host
// byte order and width.
func attrUint(v []byte) uint {
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v))
	case 4:
		return uint(binary.NativeEndian.Uint32(v))
	case 1:
		return uint(v[0])
	}
	return ^uint(0)
}
