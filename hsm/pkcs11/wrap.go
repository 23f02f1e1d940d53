package pkcs11hsm

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// maxGenericBytes bounds generic secrets: KMIP Secret Data, HMAC keys and
// Opaque Objects (OMOS-O-1 registers 5213 bytes), all stored as generic
// secrets; the bound keeps a hostile Register from making the token
// allocate without limit.
const maxGenericBytes = 64 << 10

// kindSpec validates a key kind and plaintext length and returns the
// PKCS#11 key type and generation mechanism for it.
func kindSpec(kind hsm.KeyKind, n int) (keyType, genMech uint, err error) {
	switch kind {
	case hsm.KindAES:
		if n != 16 && n != 24 && n != 32 {
			return 0, 0, fmt.Errorf("hsm: AES key length %d bytes is not 16, 24 or 32", n)
		}
		return pkcs11.CKK_AES, pkcs11.CKM_AES_KEY_GEN, nil
	case hsm.KindDES3:
		if n != 24 {
			return 0, 0, fmt.Errorf("hsm: Triple-DES key length %d bytes is not 24", n)
		}
		return pkcs11.CKK_DES3, pkcs11.CKM_DES3_KEY_GEN, nil
	case hsm.KindGeneric:
		if n < 1 || n > maxGenericBytes {
			return 0, 0, fmt.Errorf("hsm: generic secret length %d bytes is outside 1..%d", n, maxGenericBytes)
		}
		return pkcs11.CKK_GENERIC_SECRET, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, nil
	default:
		return 0, 0, fmt.Errorf("hsm: unknown key kind %d", int(kind))
	}
}

// dataKeyAttrs are the attributes shared by every short-lived data key: a
// session object with no usage at all. It exists only to be wrapped
// (EXTRACTABLE, which C_WrapKey needs) or read after an unwrap, so it may do
// nothing else. A sensitive one (a key generated, imported or unwrapped to
// be wrapped) lives within one call; a readable one (sensitive false) is
// what an unwrap leaves for Get to read, and the key cache keeps.
//
// None is CKA_PRIVATE. A session object is visible only to the sessions of
// the process that made it, and this process's sessions are logged in for
// their whole life, so CKA_PRIVATE grants or withholds nothing here; an HSM
// keeps the object inside itself either way, and SENSITIVE alone decides
// whether its value can be read. What CKA_PRIVATE did cost: SoftHSM2 keeps
// a private object's byte attributes encrypted under the token key in its
// own (our process's) memory, encrypts CKA_VALUE when the key is made and
// decrypts it at every use. That was more than half of a cached Get's time
// in the token (BenchmarkUnwrap: warm 47 -> 20 µs, cold 105 -> 85 µs) and
// about a sixth of a Create's (BenchmarkGenerateWrapped: serial 230-237 ->
// 191-201 µs, parallel 251-253 -> 166-210 µs, alternated twice). The
// process itself is kept from core dumps and ptrace (cmd/strongroom's
// hardening), which is what protects that memory.
func dataKeyAttrs(keyType uint, sensitive bool) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, sensitive),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
}

// GenerateWrapped generates a key of the kind and size inside the token as
// a sensitive session object, wraps it under the KEK and destroys it.
func (k *Keystore) GenerateWrapped(ctx context.Context, kind hsm.KeyKind, bits int) (hsm.Wrapped, error) {
	if bits <= 0 || bits%8 != 0 {
		return hsm.Wrapped{}, fmt.Errorf("hsm: generate key: size %d bits is not a positive multiple of 8", bits)
	}
	n := bits / 8
	keyType, genMech, err := kindSpec(kind, n)
	if err != nil {
		return hsm.Wrapped{}, err
	}
	if err := k.requireKeys(true, false); err != nil {
		return hsm.Wrapped{}, err
	}
	tmpl := dataKeyAttrs(keyType, true)
	if kind != hsm.KindDES3 { // DES keys have a fixed length; CKA_VALUE_LEN is invalid for them
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, n))
	}
	var blob, sum []byte
	err = k.do(ctx, "generate key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		obj, err := k.p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(genMech, nil)}, tmpl)
		if err != nil {
			return fmt.Errorf("hsm: generate %d-bit %s key: %w", bits, kindName(kind), err)
		}
		defer k.destroy(sh, obj)
		if blob, err = k.wrap(sh, keys.kek, obj); err != nil {
			return err
		}
		if n%8 == 0 { // the lengths DigestKey digests
			sum = k.digestObject(sh, obj) // for DigestKey (digestmemo.go)
		}
		return nil
	})
	if err != nil {
		return hsm.Wrapped{}, err
	}
	w := k.wrapped(blob, n)
	if sum != nil {
		k.digests.remember(w.Blob, w.Length, sum)
	}
	return w, nil
}

// ImportWrapped creates a sensitive session object holding material, wraps
// it under the KEK and destroys it. material is not modified or retained.
func (k *Keystore) ImportWrapped(ctx context.Context, kind hsm.KeyKind, material []byte) (hsm.Wrapped, error) {
	if kind == hsm.KindDSAPrivate {
		return k.importDSAPrivate(ctx, material)
	}
	if kind == hsm.KindRSAPrivate || kind == hsm.KindECPrivate {
		return k.importPrivate(ctx, kind, material)
	}
	keyType, _, err := kindSpec(kind, len(material))
	if err != nil {
		return hsm.Wrapped{}, err
	}
	if err := k.requireKeys(true, false); err != nil {
		return hsm.Wrapped{}, err
	}
	// NewAttribute keeps a reference to material rather than a copy.
	tmpl := append(dataKeyAttrs(keyType, true), pkcs11.NewAttribute(pkcs11.CKA_VALUE, material))
	var blob []byte
	err = k.do(ctx, "import key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		obj, err := k.createSecret(sh, tmpl)
		if err != nil {
			return fmt.Errorf("hsm: import %d-byte %s key: %w", len(material), kindName(kind), err)
		}
		defer k.destroy(sh, obj)
		blob, err = k.wrap(sh, keys.kek, obj)
		return err
	})
	if err != nil {
		return hsm.Wrapped{}, err
	}
	return k.wrapped(blob, len(material)), nil
}

func (k *Keystore) wrap(sh pkcs11.SessionHandle, kek, obj pkcs11.ObjectHandle) ([]byte, error) {
	blob, err := k.p.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(k.cfg.WrapMechanism, nil)}, kek, obj)
	if err != nil {
		return nil, fmt.Errorf("hsm: wrap key under %q: %w", k.cfg.KEKLabel, err)
	}
	return blob, nil
}

// wrapped records the true plaintext length next to the blob: SoftHSM2
// 2.6.1 zero-pads a key whose length is not a multiple of 8 before RFC 5649
// wrapping (fixed upstream after 2.6.1), so its blobs unwrap to the padded
// length and Unwrap must trim.
func (k *Keystore) wrapped(blob []byte, n int) hsm.Wrapped {
	return hsm.Wrapped{KEK: k.cfg.KEKLabel, Mechanism: k.cfg.WrapMechanism, Blob: blob, Length: n}
}

// Unwrap unwraps w inside the token into a readable session object, reads
// its value, destroys it and returns exactly w.Length bytes. Any failure
// that can come from the blob itself wraps hsm.ErrIntegrity: SoftHSM2
// reports a tampered blob as CKR_GENERAL_ERROR, not CKR_WRAPPED_KEY_INVALID.
func (k *Keystore) Unwrap(ctx context.Context, kind hsm.KeyKind, w hsm.Wrapped) ([]byte, error) {
	if kind == hsm.KindDSAPrivate {
		return k.unwrapDSAPrivate(ctx, w)
	}
	if kind == hsm.KindRSAPrivate || kind == hsm.KindECPrivate {
		return k.unwrapPrivate(ctx, kind, w)
	}
	if w.KEK != k.cfg.KEKLabel {
		return nil, fmt.Errorf("%w: blob is wrapped under KEK %q, this keystore uses %q", hsm.ErrIntegrity, w.KEK, k.cfg.KEKLabel)
	}
	if w.Mechanism != k.cfg.WrapMechanism {
		return nil, fmt.Errorf("%w: blob is wrapped with mechanism 0x%X, this keystore uses 0x%X", hsm.ErrIntegrity, w.Mechanism, k.cfg.WrapMechanism)
	}
	keyType, _, err := kindSpec(kind, w.Length)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hsm.ErrIntegrity, err)
	}
	// RFC 5649 output is whole 8-byte blocks, one more than the padded
	// plaintext, and at least two. (The check also keeps an empty blob away
	// from miekg's UnwrapKey, which indexes blob[0].)
	if padded := (w.Length + 7) &^ 7; len(w.Blob) != padded+8 {
		return nil, fmt.Errorf("%w: %d-byte blob cannot hold a %d-byte key", hsm.ErrIntegrity, len(w.Blob), w.Length)
	}
	if err := k.requireKeys(true, false); err != nil {
		return nil, err
	}
	var id cacheID
	if k.cache != nil {
		id = idOf(w)
	}
	var value []byte
	err = k.do(ctx, "unwrap key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		if k.cache != nil {
			if h, ok := k.cache.lookup(id, time.Now()); ok {
				if value, ok = k.readCached(sh, id, h, w.Length); ok {
					return nil
				}
				k.cache.drop(id, h)
			}
		}
		// Built only on a miss: a hit, the common case, needs neither.
		// No CKA_VALUE_LEN: the length comes from the blob, and SoftHSM2
		// rejects it with CKR_ATTRIBUTE_READ_ONLY. SENSITIVE=false and
		// EXTRACTABLE=true are what make CKA_VALUE readable.
		tmpl := dataKeyAttrs(keyType, false)
		if k.cache != nil {
			// The cached object carries its name, checked at every hit.
			tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id[:]))
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(w.Mechanism, nil)}
		obj, err := k.p.UnwrapKey(sh, mech, keys.kek, w.Blob, tmpl)
		if err != nil {
			if notBlobFault(err) {
				return fmt.Errorf("hsm: unwrap key under %q: %w", w.KEK, err)
			}
			return fmt.Errorf("%w: unwrap key under %q: %w", hsm.ErrIntegrity, w.KEK, err)
		}
		if value, err = k.readValue(sh, obj, w.Length); err != nil {
			k.destroy(sh, obj)
			return fmt.Errorf("hsm: read unwrapped key value: %w", err)
		}
		if k.cache == nil {
			k.destroy(sh, obj)
			return nil
		}
		for _, e := range k.cache.add(id, obj, time.Now()) {
			k.destroyCached(sh, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return trimUnwrapped(value, w.Length)
}

// readValue reads the CKA_VALUE of the unwrapped object h, expected to be
// length bytes (readAttrs; the token's may be padded, see trimUnwrapped).
func (k *Keystore) readValue(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, length int) ([]byte, error) {
	vals, err := k.readAttrs(sh, h, []uint{pkcs11.CKA_VALUE}, []int{length})
	if err != nil {
		return nil, err
	}
	return vals[0], nil
}

// trimUnwrapped cuts the zero padding that SoftHSM2 2.6.1 adds before
// wrapping (see wrapped). At most 7 bytes may be cut and they must be zero;
// anything else means the blob does not match its recorded length.
func trimUnwrapped(value []byte, n int) ([]byte, error) {
	extra := len(value) - n
	ok := extra >= 0 && extra < 8
	if ok {
		for _, b := range value[n:] {
			ok = ok && b == 0
		}
	}
	if !ok {
		got := len(value)
		clear(value)
		return nil, fmt.Errorf("%w: unwrapped %d bytes, blob records %d", hsm.ErrIntegrity, got, n)
	}
	return value[:n:n], nil
}

// notBlobFault reports the unwrap errors that say nothing about the blob —
// a dead session or device, memory, a stale KEK handle — so they are not
// reported as tampering.
func notBlobFault(err error) bool {
	return isSessionError(err) || isCode(err,
		pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
		pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_DEVICE_MEMORY,
		pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_HOST_MEMORY,
		pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID,
		pkcs11.CKR_KEY_HANDLE_INVALID,
		pkcs11.CKR_MECHANISM_INVALID,
	)
}

// destroy removes a session object; if that fails the object still dies
// with its session, so a warning is enough.
func (k *Keystore) destroy(sh pkcs11.SessionHandle, obj pkcs11.ObjectHandle) {
	if err := k.p.DestroyObject(sh, obj); err != nil {
		k.log.Warn("hsm: destroy session object", "error", err)
	}
}

func kindName(kind hsm.KeyKind) string {
	switch kind {
	case hsm.KindAES:
		return "AES"
	case hsm.KindGeneric:
		return "generic secret"
	case hsm.KindDES3:
		return "Triple-DES"
	}
	return fmt.Sprintf("kind-%d", int(kind))
}
