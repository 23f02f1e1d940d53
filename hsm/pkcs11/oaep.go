package pkcs11hsm

import (
	"crypto"
	"crypto/subtle"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
)

// RSA-OAEP (RFC 8017 §7.1) with any SHA-2 hash. SoftHSM2 2.6.1 implements
// CKM_RSA_PKCS_OAEP with SHA-1 only, so the RSA operation itself runs in
// the token as CKM_RSA_X_509 and only the encoding, which involves no key,
// is done here. Decoding is constant-time in the manner of crypto/rsa so
// that the token cannot be used as a padding oracle.

// oaepEncode builds the k-byte encoded message EM for msg; random draws
// the seed from the token.
func oaepEncode(c hsm.Cipher, k int, msg []byte, random func(int) ([]byte, error)) ([]byte, error) {
	h, mgfH := c.Hash, c.MGFHash
	if mgfH == 0 {
		mgfH = h
	}
	hLen := h.Size()
	if len(msg) > k-2*hLen-2 {
		return nil, fmt.Errorf("%w: %d bytes are too long for RSA-OAEP with a %d-byte modulus", hsm.ErrInvalidInput, len(msg), k)
	}
	seed, err := random(hLen)
	if err != nil {
		return nil, fmt.Errorf("hsm: generate OAEP seed: %w", err)
	}
	em := make([]byte, k)
	s := em[1 : 1+hLen]
	db := em[1+hLen:]
	lh := h.New()
	lh.Write(c.Label)
	copy(db, lh.Sum(nil))
	db[len(db)-len(msg)-1] = 1
	copy(db[len(db)-len(msg):], msg)
	copy(s, seed)
	mgf1XOR(db, mgfH, s)
	mgf1XOR(s, mgfH, db)
	return em, nil
}

// oaepDecode checks and strips the encoding of em (the raw RSA output).
func oaepDecode(c hsm.Cipher, em []byte) ([]byte, error) {
	h, mgfH := c.Hash, c.MGFHash
	if mgfH == 0 {
		mgfH = h
	}
	hLen := h.Size()
	k := len(em)
	fail := fmt.Errorf("%w: RSA-OAEP decoding failed", hsm.ErrAuthentication)
	if k < 2*hLen+2 {
		return nil, fail
	}
	lh := h.New()
	lh.Write(c.Label)
	lHash := lh.Sum(nil)
	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	seed := em[1 : hLen+1]
	db := em[hLen+1:]
	mgf1XOR(seed, mgfH, db)
	mgf1XOR(db, mgfH, seed)
	lHash2Good := subtle.ConstantTimeCompare(lHash, db[:hLen])
	// The remainder is zeros, a one, then the message: find the one
	// without branching on secret data.
	var lookingForIndex, index, invalid int
	lookingForIndex = 1
	rest := db[hLen:]
	for i := range rest {
		equals0 := subtle.ConstantTimeByteEq(rest[i], 0)
		equals1 := subtle.ConstantTimeByteEq(rest[i], 1)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals1, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals1, 0, lookingForIndex)
		invalid = subtle.ConstantTimeSelect(lookingForIndex&^equals0, 1, invalid)
	}
	if firstByteIsZero&lHash2Good&^invalid&^lookingForIndex != 1 {
		clear(em)
		return nil, fail
	}
	out := make([]byte, len(rest)-index-1)
	copy(out, rest[index+1:])
	clear(em)
	return out, nil
}

// mgf1XOR XORs out with MGF1(seed) using hash h.
func mgf1XOR(out []byte, h crypto.Hash, seed []byte) {
	var counter [4]byte
	done := 0
	for done < len(out) {
		d := h.New()
		d.Write(seed)
		d.Write(counter[:])
		sum := d.Sum(nil)
		for i := 0; i < len(sum) && done < len(out); i++ {
			out[done] ^= sum[i]
			done++
		}
		for i := 3; i >= 0; i-- {
			counter[i]++
			if counter[i] != 0 {
				break
			}
		}
	}
}
