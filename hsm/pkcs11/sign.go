package pkcs11hsm

import (
	"context"
	"crypto"
	_ "crypto/sha1" // hashes for ECDSA pre-hashing and OAEP encoding
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// rsaSignMechs are the hash-and-sign mechanisms (PKCS#1 v1.5, PSS).
var rsaSignMechs = map[crypto.Hash][2]uint{
	crypto.SHA1:   {pkcs11.CKM_SHA1_RSA_PKCS, pkcs11.CKM_SHA1_RSA_PKCS_PSS},
	crypto.SHA224: {pkcs11.CKM_SHA224_RSA_PKCS, pkcs11.CKM_SHA224_RSA_PKCS_PSS},
	crypto.SHA256: {pkcs11.CKM_SHA256_RSA_PKCS, pkcs11.CKM_SHA256_RSA_PKCS_PSS},
	crypto.SHA384: {pkcs11.CKM_SHA384_RSA_PKCS, pkcs11.CKM_SHA384_RSA_PKCS_PSS},
	crypto.SHA512: {pkcs11.CKM_SHA512_RSA_PKCS, pkcs11.CKM_SHA512_RSA_PKCS_PSS},
}

// signPlan returns the mechanism and the input the token signs or
// verifies. ECDSA hashes here first: SoftHSM2 2.6.1 has no
// CKM_ECDSA_SHA256, and the digest is not secret.
func signPlan(key hsm.Key, ok opKey, s hsm.Signature, data []byte) (*pkcs11.Mechanism, []byte, error) {
	switch s.Scheme {
	case hsm.SchemeRSAPKCS1, hsm.SchemeRSAPSS:
		if ok.modBits == 0 {
			return nil, nil, fmt.Errorf("%w: RSA signature with a non-RSA key", hsm.ErrInvalidInput)
		}
		m, found := rsaSignMechs[s.Hash]
		if !found {
			return nil, nil, fmt.Errorf("%w: RSA signature with hash %v", hsm.ErrUnsupported, s.Hash)
		}
		if s.Scheme == hsm.SchemeRSAPKCS1 {
			return pkcs11.NewMechanism(m[0], nil), data, nil
		}
		digest, mgf, _ := hashMech(s.Hash)
		salt := s.SaltLength
		if maxSalt := (ok.modBits-1+7)/8 - s.Hash.Size() - 2; salt <= 0 || salt > maxSalt {
			if salt > maxSalt {
				return nil, nil, fmt.Errorf("%w: PSS salt length %d exceeds %d", hsm.ErrInvalidInput, salt, maxSalt)
			}
			salt = maxSalt
		}
		return pkcs11.NewMechanism(m[1], pkcs11.NewPSSParams(digest, mgf, uint(salt))), data, nil
	case hsm.SchemeECDSA:
		if ok.curve == nil {
			return nil, nil, fmt.Errorf("%w: ECDSA with a non-EC key", hsm.ErrInvalidInput)
		}
		if !s.Hash.Available() {
			return nil, nil, fmt.Errorf("%w: ECDSA with hash %v", hsm.ErrUnsupported, s.Hash)
		}
		h := s.Hash.New()
		h.Write(data)
		return pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), h.Sum(nil), nil
	}
	return nil, nil, fmt.Errorf("%w: signature scheme %d", hsm.ErrUnsupported, s.Scheme)
}

// Sign signs data inside the token with a private key unwrapped for this
// operation only. ECDSA signatures come back DER-encoded.
func (k *Keystore) Sign(ctx context.Context, key hsm.Key, s hsm.Signature, data []byte) ([]byte, error) {
	var sig []byte
	err := k.do(ctx, "sign", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		ok, err := k.loadKey(sh, keys, key, useSign, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		mech, in, err := signPlan(key, ok, s, data)
		if err != nil {
			return err
		}
		if err := k.p.SignInit(sh, []*pkcs11.Mechanism{mech}, ok.h); err != nil {
			return cryptoErr("start signature", err)
		}
		if sig, err = k.p.Sign(sh, in); err != nil {
			return cryptoErr("sign", err)
		}
		if s.Scheme == hsm.SchemeECDSA {
			sig, err = ecdsaToDER(sig)
		}
		return err
	})
	return sig, err
}

// Verify checks sig over data inside the token with a public key.
func (k *Keystore) Verify(ctx context.Context, key hsm.Key, s hsm.Signature, data, sig []byte) (bool, error) {
	valid := false
	err := k.do(ctx, "verify", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		ok, err := k.loadKey(sh, keys, key, useVerify, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		mech, in, err := signPlan(key, ok, s, data)
		if err != nil {
			return err
		}
		raw := sig
		if s.Scheme == hsm.SchemeECDSA {
			if raw, err = ecdsaFromDER(sig, (ok.curve.Params().BitSize+7)/8); err != nil {
				return nil // a malformed signature does not verify
			}
		}
		if err := k.p.VerifyInit(sh, []*pkcs11.Mechanism{mech}, ok.h); err != nil {
			return cryptoErr("start verification", err)
		}
		switch err := k.p.Verify(sh, in, raw); {
		case err == nil:
			valid = true
		case isCode(err, pkcs11.CKR_SIGNATURE_INVALID, pkcs11.CKR_SIGNATURE_LEN_RANGE):
		default:
			return cryptoErr("verify", err)
		}
		return nil
	})
	return valid, err
}

// hmacMechs are the HMAC mechanisms by hash.
var hmacMechs = map[crypto.Hash]uint{
	crypto.SHA1:   pkcs11.CKM_SHA_1_HMAC,
	crypto.SHA224: pkcs11.CKM_SHA224_HMAC,
	crypto.SHA256: pkcs11.CKM_SHA256_HMAC,
	crypto.SHA384: pkcs11.CKM_SHA384_HMAC,
	crypto.SHA512: pkcs11.CKM_SHA512_HMAC,
}

// HMAC computes an HMAC inside the token. The key is unwrapped as a
// generic secret whatever its kind (PKCS#11 HMAC refuses CKK_AES), which
// the OASIS vectors need: they MAC with AES-typed keys. SoftHSM2 2.6.1 pads
// keys whose length is not a multiple of 8 with zeros before wrapping; for
// HMAC keys up to the hash's block size that padding changes nothing, since
// HMAC zero-pads the key to a block anyway.
func (k *Keystore) HMAC(ctx context.Context, key hsm.Key, h crypto.Hash, data []byte) ([]byte, error) {
	m, found := hmacMechs[h]
	if !found {
		return nil, fmt.Errorf("%w: HMAC with hash %v", hsm.ErrUnsupported, h)
	}
	if err := hmacKeyOK(key, h); err != nil {
		return nil, err
	}
	var mac []byte
	err := k.do(ctx, "HMAC", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		ok, err := k.loadHMACKey(sh, keys, key, h, useSign)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		if err := k.p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}, ok.h); err != nil {
			return cryptoErr("start HMAC", err)
		}
		if mac, err = k.p.Sign(sh, data); err != nil {
			return cryptoErr("HMAC", err)
		}
		return nil
	})
	return mac, err
}

// VerifyHMAC checks mac inside the token (C_Verify).
func (k *Keystore) VerifyHMAC(ctx context.Context, key hsm.Key, h crypto.Hash, data, mac []byte) (bool, error) {
	m, found := hmacMechs[h]
	if !found {
		return false, fmt.Errorf("%w: HMAC with hash %v", hsm.ErrUnsupported, h)
	}
	if err := hmacKeyOK(key, h); err != nil {
		return false, err
	}
	valid := false
	err := k.do(ctx, "verify HMAC", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		ok, err := k.loadHMACKey(sh, keys, key, h, useVerify)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		if err := k.p.VerifyInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}, ok.h); err != nil {
			return cryptoErr("start HMAC verification", err)
		}
		switch err := k.p.Verify(sh, data, mac); {
		case err == nil:
			valid = true
		case isCode(err, pkcs11.CKR_SIGNATURE_INVALID, pkcs11.CKR_SIGNATURE_LEN_RANGE):
		default:
			return cryptoErr("verify HMAC", err)
		}
		return nil
	})
	return valid, err
}

// hmacKeyOK refuses secret keys whose wrapped form SoftHSM2 2.6.1 padded
// (length not a multiple of 8) when the padding would change the HMAC: keys
// longer than the hash's block size are hashed, padding included.
func hmacKeyOK(key hsm.Key, h crypto.Hash) error {
	switch key.Kind {
	case hsm.KindAES, hsm.KindDES3, hsm.KindGeneric:
	default:
		return fmt.Errorf("%w: HMAC needs a secret key", hsm.ErrInvalidInput)
	}
	if n := key.Wrapped.Length; n%8 != 0 && n > h.New().BlockSize() {
		return fmt.Errorf("%w: HMAC key of %d bytes (not a multiple of 8, longer than a block)", hsm.ErrUnsupported, n)
	}
	return nil
}

// Digest hashes data in the token.
func (k *Keystore) Digest(ctx context.Context, h crypto.Hash, data []byte) ([]byte, error) {
	m, _, err := hashMech(h)
	if err != nil {
		return nil, err
	}
	var sum []byte
	err = k.do(ctx, "digest", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		if err := k.p.DigestInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}); err != nil {
			return cryptoErr("start digest", err)
		}
		var err error
		if sum, err = k.p.Digest(sh, data); err != nil {
			return cryptoErr("digest", err)
		}
		return nil
	})
	return sum, err
}

// DigestKey hashes a secret key's value inside the token: the key is
// unwrapped into a sensitive, non-extractable session object with no usage
// at all, fed to C_DigestKey and destroyed.
func (k *Keystore) DigestKey(ctx context.Context, key hsm.Key, h crypto.Hash) ([]byte, error) {
	switch key.Kind {
	case hsm.KindRSAPrivate, hsm.KindECPrivate, hsm.KindPublic:
		return nil, fmt.Errorf("%w: only secret keys can be digested in the token", hsm.ErrUnsupported)
	}
	if key.Wrapped.Length%8 != 0 {
		// SoftHSM2 2.6.1 pads such values before wrapping; the token would
		// digest the padding too.
		return nil, fmt.Errorf("%w: the token cannot digest a %d-byte key exactly", hsm.ErrUnsupported, key.Wrapped.Length)
	}
	m, _, err := hashMech(h)
	if err != nil {
		return nil, err
	}
	if h == crypto.SHA256 && key.Under == nil {
		if sum, ok := k.digests.take(key.Wrapped.Blob, key.Wrapped.Length); ok {
			return sum, nil // hashed in the token when it was generated
		}
	}
	var sum []byte
	err = k.do(ctx, "digest key", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		ok, err := k.loadKey(sh, keys, key, nil, 0)
		if err != nil {
			return err
		}
		defer k.destroy(sh, ok.h)
		if err := k.p.DigestInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}); err != nil {
			return cryptoErr("start key digest", err)
		}
		if err := k.p.DigestKey(sh, ok.h); err != nil {
			_, _ = k.p.DigestFinal(sh) // end the operation
			return cryptoErr("digest key", err)
		}
		if sum, err = k.p.DigestFinal(sh); err != nil {
			return cryptoErr("finish key digest", err)
		}
		return nil
	})
	return sum, err
}

// SeedRandom mixes seed into the token's RNG (C_SeedRandom).
func (k *Keystore) SeedRandom(ctx context.Context, seed []byte) error {
	if len(seed) == 0 {
		return fmt.Errorf("%w: empty seed", hsm.ErrInvalidInput)
	}
	return k.do(ctx, "seed random", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		if err := k.p.SeedRandom(sh, seed); err != nil {
			return cryptoErr("seed random", err)
		}
		return nil
	})
}

type ecdsaSig struct{ R, S *big.Int }

// ecdsaToDER turns the token's r||s into X9.62 DER.
func ecdsaToDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("hsm: token returned a %d-byte ECDSA signature", len(raw))
	}
	n := len(raw) / 2
	return asn1.Marshal(ecdsaSig{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
}

// ecdsaFromDER turns DER into r||s of size bytes each.
func ecdsaFromDER(der []byte, size int) ([]byte, error) {
	var s ecdsaSig
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 || s.R.Sign() <= 0 || s.S.Sign() <= 0 || s.R.BitLen() > size*8 || s.S.BitLen() > size*8 {
		return nil, fmt.Errorf("%w: malformed ECDSA signature", hsm.ErrInvalidInput)
	}
	out := make([]byte, 2*size)
	s.R.FillBytes(out[:size])
	s.S.FillBytes(out[size:])
	return out, nil
}

// loadHMACKey makes the session object of an HMAC key, unwrapped as a
// generic secret. SoftHSM2 refuses HMAC keys shorter than the hash output
// (CKR_KEY_SIZE_RANGE: HMAC-SHA256 wants 32 bytes) and has no mechanism
// that could lengthen one inside the token (no CKM_CONCATENATE_*, no
// CKM_AES_CBC unwrap), so such keys are refused with hsm.ErrUnsupported.
// Callers that hold the material anyway (KMIP Register) can import it
// zero-extended to the hash's block size instead: HMAC pads a short key
// with zeros to a block, so K and K||00..00 give the same MAC.
func (k *Keystore) loadHMACKey(sh pkcs11.SessionHandle, keys *keyHandles, key hsm.Key, h crypto.Hash, usage []uint) (opKey, error) {
	if have := (key.Wrapped.Length + 7) &^ 7; have < h.Size() {
		return opKey{}, fmt.Errorf("%w: HMAC key of %d bytes is shorter than the token accepts for %v", hsm.ErrUnsupported, key.Wrapped.Length, h)
	}
	return k.loadKey(sh, keys, key, usage, pkcs11.CKK_GENERIC_SECRET)
}
