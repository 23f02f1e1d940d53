package pkcs11hsm

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// WrapKey wraps target under wrapping inside the token: the wrapping key is
// unwrapped (from the KEK) as a sensitive, non-extractable object that may
// only wrap; the target as a sensitive object that is extractable only so
// that C_WrapKey accepts it. Both die with the call.
func (k *Keystore) WrapKey(ctx context.Context, wrapping hsm.Key, m hsm.WrapMode, target hsm.Key) ([]byte, error) {
	if wrapping.Kind != hsm.KindAES {
		return nil, fmt.Errorf("%w: wrapping keys must be AES", hsm.ErrUnsupported)
	}
	if target.Kind != hsm.KindAES && target.Kind != hsm.KindDES3 && target.Kind != hsm.KindGeneric {
		return nil, fmt.Errorf("%w: only secret keys can be wrapped", hsm.ErrUnsupported)
	}
	var mech uint
	switch m {
	case hsm.WrapAESKW:
		mech = pkcs11.CKM_AES_KEY_WRAP
		if target.Wrapped.Length%8 != 0 || target.Wrapped.Length < 16 {
			return nil, fmt.Errorf("%w: RFC 3394 wraps keys of 16 bytes or more in whole 8-byte blocks", hsm.ErrInvalidInput)
		}
	case hsm.WrapAESKWP:
		mech = MechAESKeyWrapPad
		if target.Wrapped.Length%8 != 0 {
			// SoftHSM2 2.6.1 pads such keys wrongly before RFC 5649.
			return nil, fmt.Errorf("%w: RFC 5649 wrapping of a key that is not whole 8-byte blocks", hsm.ErrUnsupported)
		}
	default:
		return nil, fmt.Errorf("%w: wrap mode %d", hsm.ErrUnsupported, int(m))
	}
	if err := k.checkWrapped(target.Wrapped, false); err != nil {
		return nil, err
	}
	keyType, _, err := kindSpec(target.Kind, target.Wrapped.Length)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hsm.ErrIntegrity, err)
	}
	var blob []byte
	err = k.do(ctx, "wrap key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		wk, err := k.loadKey(sh, keys, wrapping, []uint{pkcs11.CKA_WRAP}, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, wk.h)
		obj, err := k.unwrapObject(sh, keys, target.Wrapped, dataKeyAttrs(keyType, true))
		if err != nil {
			return err
		}
		defer k.destroy(sh, obj)
		if blob, err = k.p.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, wk.h, obj); err != nil {
			return cryptoErr("wrap key", err)
		}
		return nil
	})
	return blob, err
}

// WrapUnder creates a sensitive session object holding material and wraps
// it with the KEK's mechanism under key (unwrapped from the KEK for the
// call, allowed only to wrap). See hsm.Cryptor.
func (k *Keystore) WrapUnder(ctx context.Context, key hsm.Key, kind hsm.KeyKind, material []byte) (hsm.Wrapped, error) {
	if key.Kind != hsm.KindAES || key.Under != nil {
		return hsm.Wrapped{}, fmt.Errorf("%w: only an AES key under the KEK can wrap", hsm.ErrUnsupported)
	}
	keyType, _, err := kindSpec(kind, len(material))
	if err != nil {
		return hsm.Wrapped{}, fmt.Errorf("%w: %w", hsm.ErrInvalidInput, err)
	}
	if len(material)%8 != 0 {
		// SoftHSM2 2.6.1 pads such lengths wrongly before RFC 5649.
		return hsm.Wrapped{}, fmt.Errorf("%w: material that is not whole 8-byte blocks", hsm.ErrUnsupported)
	}
	tmpl := append(dataKeyAttrs(keyType, true), pkcs11.NewAttribute(pkcs11.CKA_VALUE, material))
	var blob []byte
	err = k.do(ctx, "wrap under key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		wk, err := k.loadKey(sh, keys, key, []uint{pkcs11.CKA_WRAP}, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, wk.h)
		obj, err := k.createSecret(sh, tmpl)
		if err != nil {
			return cryptoErr("import secret", err)
		}
		defer k.destroy(sh, obj)
		if blob, err = k.p.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(k.cfg.WrapMechanism, nil)}, wk.h, obj); err != nil {
			return cryptoErr("wrap under key", err)
		}
		return nil
	})
	if err != nil {
		return hsm.Wrapped{}, err
	}
	return hsm.Wrapped{Mechanism: k.cfg.WrapMechanism, Blob: blob, Length: len(material)}, nil
}

// loadUnder unwraps a secret wrapped by WrapUnder: first its wrapping key
// from the KEK (allowed only to unwrap), then the secret under it, as a
// sensitive, non-extractable operation object.
func (k *Keystore) loadUnder(sh pkcs11.SessionHandle, keys *keyHandles, key hsm.Key, usage []uint, secretType uint) (opKey, error) {
	w := key.Wrapped
	if w.Mechanism != k.cfg.WrapMechanism || w.Length < 1 || len(w.Blob) != ((w.Length+7)&^7)+8 {
		return opKey{}, fmt.Errorf("%w: %d-byte blob cannot hold a %d-byte key", hsm.ErrIntegrity, len(w.Blob), w.Length)
	}
	keyType, _, err := kindSpec(key.Kind, w.Length)
	if err != nil {
		return opKey{}, fmt.Errorf("%w: %w", hsm.ErrIntegrity, err)
	}
	if secretType != 0 {
		keyType = secretType
	}
	uk, err := k.loadKey(sh, keys, *key.Under, []uint{pkcs11.CKA_UNWRAP}, 0)
	if err != nil {
		return opKey{}, err
	}
	defer k.destroy(sh, uk.h)
	tmpl := append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}, usageAttrs(usage)...)
	h, err := k.p.UnwrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(w.Mechanism, nil)}, uk.h, w.Blob, tmpl)
	if err != nil {
		if notBlobFault(err) {
			return opKey{}, fmt.Errorf("hsm: unwrap key under its parent: %w", err)
		}
		return opKey{}, fmt.Errorf("%w: unwrap key under its parent: %w", hsm.ErrIntegrity, err)
	}
	return opKey{h: h}, nil
}
