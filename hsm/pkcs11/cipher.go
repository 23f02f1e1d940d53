package pkcs11hsm

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

var _ hsm.Cryptor = (*Keystore)(nil)

// cipherPlan is one encryption or decryption worked out for the token.
type cipherPlan struct {
	mech *pkcs11.Mechanism
	// gcm must be freed after the operation.
	gcm *pkcs11.GCMParams
	// padInGo: ECB with PKCS#7 padding, which PKCS#11 has no mechanism
	// for; the padding (not key material) is added and checked here.
	padInGo bool
	block   int
	// oaep: RSA-OAEP the token cannot do (SoftHSM2 2.6.1 only knows
	// SHA-1); the raw RSA operation (CKM_RSA_X_509) runs in the token and
	// the OAEP encoding here, so the private key never leaves the token.
	oaep bool
}

func (p *cipherPlan) free() {
	if p.gcm != nil {
		p.gcm.Free()
	}
}

// ivSize is the IV the token generates when the caller gives none.
func ivSize(kind hsm.KeyKind, mode hsm.Mode) int {
	switch {
	case mode == hsm.ModeGCM:
		return 12
	case kind == hsm.KindDES3 && mode == hsm.ModeCBC:
		return 8
	case mode == hsm.ModeCBC || mode == hsm.ModeCTR:
		return 16
	}
	return 0
}

// plan validates c for the key and picks the mechanism. c.IV must be set
// already for the modes that need one.
func plan(kind hsm.KeyKind, c hsm.Cipher, encrypt bool) (cipherPlan, error) {
	bad := func(format string, args ...any) (cipherPlan, error) {
		return cipherPlan{}, fmt.Errorf("%w: %s", hsm.ErrInvalidInput, fmt.Sprintf(format, args...))
	}
	switch kind {
	case hsm.KindAES, hsm.KindDES3:
		block := 16
		ecb, cbc, cbcPad := uint(pkcs11.CKM_AES_ECB), uint(pkcs11.CKM_AES_CBC), uint(pkcs11.CKM_AES_CBC_PAD)
		if kind == hsm.KindDES3 {
			block = 8
			ecb, cbc, cbcPad = pkcs11.CKM_DES3_ECB, pkcs11.CKM_DES3_CBC, pkcs11.CKM_DES3_CBC_PAD
		}
		switch c.Mode {
		case hsm.ModeECB:
			return cipherPlan{mech: pkcs11.NewMechanism(ecb, nil), padInGo: c.Pad, block: block}, nil
		case hsm.ModeCBC:
			if len(c.IV) != block {
				return bad("CBC needs a %d-byte IV, got %d bytes", block, len(c.IV))
			}
			m := cbc
			if c.Pad {
				m = cbcPad
			}
			return cipherPlan{mech: pkcs11.NewMechanism(m, c.IV), block: block}, nil
		case hsm.ModeCTR:
			if kind != hsm.KindAES || len(c.IV) != 16 {
				return bad("CTR needs an AES key and a 16-byte counter block")
			}
			return cipherPlan{mech: pkcs11.NewMechanism(pkcs11.CKM_AES_CTR, ctrParams(c.IV)), block: 1}, nil
		case hsm.ModeGCM:
			if kind != hsm.KindAES {
				return bad("GCM needs an AES key")
			}
			if len(c.IV) == 0 || len(c.IV) > 128 {
				return bad("GCM needs a 1 to 128-byte IV, got %d bytes", len(c.IV))
			}
			switch c.TagLen {
			case 4, 8, 12, 13, 14, 15, 16:
			default:
				return bad("GCM tag length %d bytes is not 4, 8 or 12 to 16", c.TagLen)
			}
			g := pkcs11.NewGCMParams(c.IV, c.AAD, c.TagLen*8)
			return cipherPlan{mech: pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, g), gcm: g, block: 1}, nil
		}
		return cipherPlan{}, fmt.Errorf("%w: mode %d with a symmetric key", hsm.ErrUnsupported, c.Mode)
	case hsm.KindPublic, hsm.KindRSAPrivate:
		if kind == hsm.KindPublic && !encrypt || kind == hsm.KindRSAPrivate && encrypt {
			return bad("RSA encrypts with the public key and decrypts with the private key")
		}
		switch c.Mode {
		case hsm.ModeRSAPKCS1:
			return cipherPlan{mech: pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, nil
		case hsm.ModeRSAOAEP:
			h, mgfH := c.Hash, c.MGFHash
			if mgfH == 0 {
				mgfH = h
			}
			if _, _, err := hashMech(h); err != nil {
				return cipherPlan{}, err
			}
			if _, _, err := hashMech(mgfH); err != nil {
				return cipherPlan{}, err
			}
			return cipherPlan{mech: pkcs11.NewMechanism(pkcs11.CKM_RSA_X_509, nil), oaep: true}, nil
		}
		return cipherPlan{}, fmt.Errorf("%w: mode %d with an RSA key", hsm.ErrUnsupported, c.Mode)
	}
	return cipherPlan{}, fmt.Errorf("%w: encryption with key kind %d", hsm.ErrUnsupported, int(kind))
}

// ctrParams encodes CK_AES_CTR_PARAMS {CK_ULONG ulCounterBits; CK_BYTE
// cb[16]} in the host's layout: the whole block counts.
func ctrParams(cb []byte) []byte {
	n := strconv.IntSize / 8
	out := make([]byte, n+16)
	if n == 8 {
		binary.NativeEndian.PutUint64(out, 128)
	} else {
		binary.NativeEndian.PutUint32(out, 128)
	}
	copy(out[n:], cb)
	return out
}

// cryptoErr classifies a token error of an operation on caller data.
func cryptoErr(op string, err error) error {
	switch {
	case isCode(err, pkcs11.CKR_ENCRYPTED_DATA_INVALID):
		return fmt.Errorf("%w: hsm: %s: %w", hsm.ErrAuthentication, op, err)
	case isCode(err, pkcs11.CKR_MECHANISM_INVALID):
		return fmt.Errorf("%w: hsm: %s: %w", hsm.ErrUnsupported, op, err)
	case isCode(err, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE, pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_DATA_INVALID,
		pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_MECHANISM_PARAM_INVALID, pkcs11.CKR_KEY_SIZE_RANGE,
		pkcs11.CKR_KEY_TYPE_INCONSISTENT, pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED):
		return fmt.Errorf("%w: hsm: %s: %w", hsm.ErrInvalidInput, op, err)
	}
	return fmt.Errorf("hsm: %s: %w", op, err)
}

// Encrypt encrypts data inside the token with key, unwrapped for this one
// operation into a sensitive, non-extractable session object. A missing IV
// is generated by the token's RNG and returned.
func (k *Keystore) Encrypt(ctx context.Context, key hsm.Key, c hsm.Cipher, data []byte) (hsm.Sealed, error) {
	var out hsm.Sealed
	err := k.do(ctx, "encrypt", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		cc := c
		if n := ivSize(key.Kind, c.Mode); n > 0 && len(cc.IV) == 0 {
			iv, err := k.p.GenerateRandom(sh, n)
			if err != nil {
				return fmt.Errorf("hsm: generate IV: %w", err)
			}
			cc.IV = iv
		}
		pl, err := plan(key.Kind, cc, true)
		if err != nil {
			return err
		}
		defer pl.free()
		in := data
		switch {
		case pl.padInGo:
			in = pad(data, pl.block)
		case pl.block > 1 && len(data)%pl.block != 0 && !cc.Pad:
			return fmt.Errorf("%w: %d bytes are not a whole number of %d-byte blocks", hsm.ErrInvalidInput, len(data), pl.block)
		}
		ok, err := k.loadKey(sh, keys, key, useEncrypt, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		if pl.oaep {
			em, err := oaepEncode(cc, (ok.modBits+7)/8, data, func(n int) ([]byte, error) { return k.p.GenerateRandom(sh, n) })
			if err != nil {
				return err
			}
			in = em
		}
		if err := k.p.EncryptInit(sh, []*pkcs11.Mechanism{pl.mech}, ok.h); err != nil {
			return cryptoErr("start encryption", err)
		}
		ct, err := k.p.Encrypt(sh, in)
		if err != nil {
			return cryptoErr("encrypt", err)
		}
		out = hsm.Sealed{Data: ct, IV: cc.IV}
		if cc.Mode == hsm.ModeGCM {
			cut := len(ct) - cc.TagLen
			out.Data, out.Tag = ct[:cut:cut], ct[cut:]
		}
		return nil
	})
	return out, err
}

// Decrypt decrypts data inside the token; tag is GCM's tag.
func (k *Keystore) Decrypt(ctx context.Context, key hsm.Key, c hsm.Cipher, data, tag []byte) ([]byte, error) {
	pl, err := plan(key.Kind, c, false)
	if err != nil {
		return nil, err
	}
	defer pl.free()
	in := data
	if c.Mode == hsm.ModeGCM {
		if len(tag) != c.TagLen {
			return nil, fmt.Errorf("%w: GCM tag is %d bytes, not %d", hsm.ErrInvalidInput, len(tag), c.TagLen)
		}
		in = append(append(make([]byte, 0, len(data)+len(tag)), data...), tag...)
	} else if pl.block > 1 && len(data)%pl.block != 0 {
		return nil, fmt.Errorf("%w: %d bytes are not a whole number of %d-byte blocks", hsm.ErrInvalidInput, len(data), pl.block)
	}
	var out []byte
	err = k.do(ctx, "decrypt", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		ok, err := k.loadKey(sh, keys, key, useDecrypt, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		if pl.oaep && len(in) != (ok.modBits+7)/8 {
			return fmt.Errorf("%w: RSA ciphertext is %d bytes, the key's modulus %d", hsm.ErrInvalidInput, len(in), (ok.modBits+7)/8)
		}
		if err := k.p.DecryptInit(sh, []*pkcs11.Mechanism{pl.mech}, ok.h); err != nil {
			return cryptoErr("start decryption", err)
		}
		pt, err := k.p.Decrypt(sh, in)
		if err != nil {
			if (c.Mode == hsm.ModeGCM || c.Pad) && isCode(err, pkcs11.CKR_GENERAL_ERROR) {
				// SoftHSM2 2.6.1 reports a wrong GCM tag or CBC padding so.
				return fmt.Errorf("%w: hsm: decrypt: %w", hsm.ErrAuthentication, err)
			}
			return cryptoErr("decrypt", err)
		}
		out = pt
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case pl.padInGo:
		return unpad(out, pl.block)
	case pl.oaep:
		return oaepDecode(c, out)
	}
	return out, nil
}

// pad appends PKCS#7 padding.
func pad(data []byte, block int) []byte {
	n := block - len(data)%block
	out := make([]byte, len(data), len(data)+n)
	copy(out, data)
	for range n {
		out = append(out, byte(n))
	}
	return out
}

// unpad removes PKCS#7 padding; a bad pad is an authentication failure.
func unpad(data []byte, block int) ([]byte, error) {
	if len(data) == 0 || len(data)%block != 0 {
		return nil, fmt.Errorf("%w: padded data is %d bytes", hsm.ErrAuthentication, len(data))
	}
	n := int(data[len(data)-1])
	bad := 0
	if n == 0 || n > block {
		bad = 1
		n = 1
	}
	for _, b := range data[len(data)-n:] {
		if int(b) != n {
			bad = 1
		}
	}
	if bad != 0 {
		clear(data)
		return nil, fmt.Errorf("%w: bad padding", hsm.ErrAuthentication)
	}
	return data[: len(data)-n : len(data)-n], nil
}
