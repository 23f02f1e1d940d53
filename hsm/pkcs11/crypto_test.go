package pkcs11hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"hash"
	"testing"

	"github.com/strongroom/strongroom/hsm"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// importKey registers fixed test key material and returns it as an
// operation key.
func importKey(t *testing.T, ks hsm.Keystore, kind hsm.KeyKind, material []byte) hsm.Key {
	t.Helper()
	w, err := ks.ImportWrapped(context.Background(), kind, material)
	if err != nil {
		t.Fatal(err)
	}
	return hsm.Key{Kind: kind, Wrapped: w}
}

func pkcs7(b []byte, block int) []byte {
	n := block - len(b)%block
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}

// TestSymmetricCiphers compares the token's output with Go's for the same
// (test-only) key, then decrypts it back in the token.
func TestSymmetricCiphers(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	aesKey := mustHex(t, "0123456789abcdef0123456789abcdef")
	desKey := mustHex(t, "0123456789abcdeffedcba9876543210899aabbccddeeff0")
	ak := importKey(t, ks, hsm.KindAES, aesKey)
	dk := importKey(t, ks, hsm.KindDES3, desKey)
	ab, _ := aes.NewCipher(aesKey)
	db, _ := des.NewTripleDESCipher(desKey)
	iv16 := mustHex(t, "01020304050607080910111213141516")
	iv8 := iv16[:8]
	msg := mustHex(t, "0102030405060708091011121314151617181920212223242526272829303132ff")
	block16 := msg[:32]
	ecb := func(b cipher.Block, in []byte) []byte {
		out := make([]byte, len(in))
		for i := 0; i < len(in); i += b.BlockSize() {
			b.Encrypt(out[i:], in[i:])
		}
		return out
	}
	cbc := func(b cipher.Block, iv, in []byte) []byte {
		out := make([]byte, len(in))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, in)
		return out
	}
	ctr := make([]byte, len(msg))
	cipher.NewCTR(ab, iv16).XORKeyStream(ctr, msg)
	tests := []struct {
		name string
		key  hsm.Key
		c    hsm.Cipher
		in   []byte
		want []byte
	}{
		{"AES ECB", ak, hsm.Cipher{Mode: hsm.ModeECB}, block16, ecb(ab, block16)},
		{"AES ECB PKCS5", ak, hsm.Cipher{Mode: hsm.ModeECB, Pad: true}, msg, ecb(ab, pkcs7(msg, 16))},
		{"AES CBC", ak, hsm.Cipher{Mode: hsm.ModeCBC, IV: iv16}, block16, cbc(ab, iv16, block16)},
		{"AES CBC PKCS5", ak, hsm.Cipher{Mode: hsm.ModeCBC, Pad: true, IV: iv16}, msg, cbc(ab, iv16, pkcs7(msg, 16))},
		{"AES CTR", ak, hsm.Cipher{Mode: hsm.ModeCTR, IV: iv16}, msg, ctr},
		{"3DES ECB", dk, hsm.Cipher{Mode: hsm.ModeECB}, block16, ecb(db, block16)},
		{"3DES CBC PKCS5", dk, hsm.Cipher{Mode: hsm.ModeCBC, Pad: true, IV: iv8}, msg, cbc(db, iv8, pkcs7(msg, 8))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ks.Encrypt(ctx, tc.key, tc.c, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, tc.want) {
				t.Errorf("ciphertext differs from crypto/cipher's")
			}
			back, err := ks.Decrypt(ctx, tc.key, tc.c, got.Data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, tc.in) {
				t.Errorf("decryption did not give the plaintext back")
			}
		})
	}
}

// TestGCM checks the NIST vector the OASIS files use, truncated tags,
// tampering, and that a missing IV is generated fresh every time.
func TestGCM(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	k := importKey(t, ks, hsm.KindAES, mustHex(t, "feffe9928665731c6d6a8f9467308308"))
	pt := mustHex(t, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
	aad := mustHex(t, "feedfacedeadbeeffeedfacedeadbeefabaddad2")
	iv := mustHex(t, "cafebabefacedbaddecaf888")
	wantCT := mustHex(t, "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091")
	wantTag := mustHex(t, "5bc94fbc3221a5db94fae95ae7121a47")
	for _, tagLen := range []int{16, 12} {
		c := hsm.Cipher{Mode: hsm.ModeGCM, IV: iv, AAD: aad, TagLen: tagLen}
		got, err := ks.Encrypt(ctx, k, c, pt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, wantCT) || !bytes.Equal(got.Tag, wantTag[:tagLen]) {
			t.Errorf("tag %d: ciphertext or tag differs from the NIST vector", tagLen)
		}
		back, err := ks.Decrypt(ctx, k, c, got.Data, got.Tag)
		if err != nil || !bytes.Equal(back, pt) {
			t.Errorf("tag %d: decrypt = %v", tagLen, err)
		}
		bad := bytes.Clone(got.Tag)
		bad[0] ^= 0xff
		if _, err := ks.Decrypt(ctx, k, c, got.Data, bad); !errors.Is(err, hsm.ErrAuthentication) {
			t.Errorf("tag %d: tampered tag: err = %v, want ErrAuthentication", tagLen, err)
		}
	}
	for _, tagLen := range []int{1, 32} {
		if _, err := ks.Encrypt(ctx, k, hsm.Cipher{Mode: hsm.ModeGCM, IV: iv, TagLen: tagLen}, pt); !errors.Is(err, hsm.ErrInvalidInput) {
			t.Errorf("tag length %d: err = %v, want ErrInvalidInput", tagLen, err)
		}
	}
	a, err := ks.Encrypt(ctx, k, hsm.Cipher{Mode: hsm.ModeGCM, TagLen: 16}, pt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.Encrypt(ctx, k, hsm.Cipher{Mode: hsm.ModeGCM, TagLen: 16}, pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.IV) != 12 || bytes.Equal(a.IV, b.IV) || bytes.Equal(a.Data, b.Data) {
		t.Errorf("generated GCM IVs are not fresh 12-byte values (%d bytes, equal=%v)", len(a.IV), bytes.Equal(a.IV, b.IV))
	}
	// Multi-part, as in CS-BC-M-GCM-3: the parts join to the one-shot result.
	s, err := ks.StartCipher(ctx, k, hsm.Cipher{Mode: hsm.ModeGCM, IV: iv[:8], AAD: aad, TagLen: 16}, true)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Update(ctx, pt[:32])
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.Final(ctx, pt[32:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, mustHex(t, "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423")) ||
		!bytes.Equal(last.Data, mustHex(t, "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598")) ||
		!bytes.Equal(last.Tag, mustHex(t, "3612d2e79e3b0785561be14aaca2fccb")) {
		t.Error("multi-part GCM differs from the vector")
	}
	s.Close()
}

func TestRSA(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	goKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(goKey)
	priv := importKey(t, ks, hsm.KindRSAPrivate, der)
	pubDER, _ := x509.MarshalPKIXPublicKey(&goKey.PublicKey)
	pub := hsm.Key{Kind: hsm.KindPublic, Public: pubDER}
	back, err := ks.Unwrap(ctx, hsm.KindRSAPrivate, priv.Wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := x509.ParsePKCS8PrivateKey(back); err != nil || !goKey.Equal(k) {
		t.Errorf("Unwrap of an imported RSA key did not give it back (%v)", err)
	}
	msg := []byte("attack at dawn")
	digest := sha256.Sum256(msg)
	t.Run("sign", func(t *testing.T) {
		for _, s := range []hsm.Signature{
			{Scheme: hsm.SchemeRSAPKCS1, Hash: crypto.SHA256},
			{Scheme: hsm.SchemeRSAPSS, Hash: crypto.SHA256},
			{Scheme: hsm.SchemeRSAPSS, Hash: crypto.SHA256, SaltLength: 32},
		} {
			sig, err := ks.Sign(ctx, priv, s, msg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Scheme == hsm.SchemeRSAPKCS1 {
				err = rsa.VerifyPKCS1v15(&goKey.PublicKey, crypto.SHA256, digest[:], sig)
			} else {
				err = rsa.VerifyPSS(&goKey.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
			}
			if err != nil {
				t.Errorf("%+v: crypto/rsa rejects the token's signature: %v", s, err)
			}
			ok, err := ks.Verify(ctx, pub, s, msg, sig)
			if err != nil || !ok {
				t.Errorf("%+v: Verify = %v, %v", s, ok, err)
			}
			if ok, err := ks.Verify(ctx, pub, s, []byte("attack at dusk"), sig); err != nil || ok {
				t.Errorf("%+v: Verify of another message = %v, %v", s, ok, err)
			}
		}
	})
	t.Run("OAEP", func(t *testing.T) {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			label := []byte("label")
			c := hsm.Cipher{Mode: hsm.ModeRSAOAEP, Hash: h, MGFHash: crypto.SHA256, Label: label}
			ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, &goKey.PublicKey, msg, &rsa.OAEPOptions{Hash: h, MGFHash: crypto.SHA256, Label: label})
			if err != nil {
				t.Fatal(err)
			}
			got, err := ks.Decrypt(ctx, priv, c, ct, nil)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%v: Decrypt = %v", h, err)
			}
			sealed, err := ks.Encrypt(ctx, pub, c, msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err = goKey.Decrypt(nil, sealed.Data, &rsa.OAEPOptions{Hash: h, MGFHash: crypto.SHA256, Label: label})
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%v: crypto/rsa cannot decrypt the token's OAEP: %v", h, err)
			}
			ct[10] ^= 1
			if _, err := ks.Decrypt(ctx, priv, c, ct, nil); !errors.Is(err, hsm.ErrAuthentication) {
				t.Errorf("%v: tampered ciphertext: err = %v", h, err)
			}
		}
	})
	t.Run("PKCS1 encryption", func(t *testing.T) {
		sealed, err := ks.Encrypt(ctx, pub, hsm.Cipher{Mode: hsm.ModeRSAPKCS1}, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ks.Decrypt(ctx, priv, hsm.Cipher{Mode: hsm.ModeRSAPKCS1}, sealed.Data, nil)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("Decrypt = %v", err)
		}
	})
}

func TestGenerateKeyPair(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	tests := []struct {
		name string
		spec hsm.KeyPairSpec
		s    hsm.Signature
	}{
		{"RSA-2048", hsm.KeyPairSpec{Kind: hsm.KindRSAPrivate, Bits: 2048}, hsm.Signature{Scheme: hsm.SchemeRSAPKCS1, Hash: crypto.SHA256}},
		{"P-256", hsm.KeyPairSpec{Kind: hsm.KindECPrivate, Curve: "P-256"}, hsm.Signature{Scheme: hsm.SchemeECDSA, Hash: crypto.SHA256}},
		{"P-384", hsm.KeyPairSpec{Kind: hsm.KindECPrivate, Curve: "P-384"}, hsm.Signature{Scheme: hsm.SchemeECDSA, Hash: crypto.SHA384}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kp, err := ks.GenerateKeyPair(ctx, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := x509.ParsePKIXPublicKey(kp.Public)
			if err != nil {
				t.Fatal(err)
			}
			priv := hsm.Key{Kind: tc.spec.Kind, Wrapped: kp.Private}
			msg := []byte("message")
			sig, err := ks.Sign(ctx, priv, tc.s, msg)
			if err != nil {
				t.Fatal(err)
			}
			h := tc.s.Hash.New()
			h.Write(msg)
			switch p := pub.(type) {
			case *rsa.PublicKey:
				err = rsa.VerifyPKCS1v15(p, tc.s.Hash, h.Sum(nil), sig)
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(p, h.Sum(nil), sig) {
					err = errors.New("ecdsa.VerifyASN1 failed")
				}
			}
			if err != nil {
				t.Errorf("Go rejects the token's signature: %v", err)
			}
			if ok, err := ks.Verify(ctx, hsm.Key{Kind: hsm.KindPublic, Public: kp.Public}, tc.s, msg, sig); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
			der, err := ks.Unwrap(ctx, tc.spec.Kind, kp.Private)
			if err != nil {
				t.Fatal(err)
			}
			k, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.(crypto.Signer).Public()) {
				t.Error("unwrapped private key does not match the public key")
			}
		})
	}
}

func TestHMACDigest(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	material := mustHex(t, "0123456789abcdef0123456789abcdef")
	data := mustHex(t, "01020304050607080910111213141516")
	for _, tc := range []struct {
		name string
		kind hsm.KeyKind
		n    int
		h    crypto.Hash
		hf   func() hash.Hash
	}{
		// A 16-byte key zero-extended to a 64-byte generic secret gives
		// the 16-byte key's HMAC (what ops does for short keys).
		{"16-byte key extended, SHA-256", hsm.KindGeneric, 16, crypto.SHA256, sha256.New},
		{"16-byte key extended, SHA-512", hsm.KindGeneric, 16, crypto.SHA512, sha512.New},
		{"20-byte generic, SHA-1", hsm.KindGeneric, 20, crypto.SHA1, sha1.New},
		{"32-byte generic, SHA-256", hsm.KindGeneric, 32, crypto.SHA256, sha256.New},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := bytes.Repeat(material, 2)[:tc.n]
			imported := m
			if tc.n < tc.h.Size() {
				if _, err := ks.HMAC(ctx, importKey(t, ks, tc.kind, m), tc.h, data); !errors.Is(err, hsm.ErrUnsupported) {
					t.Errorf("HMAC with a %d-byte key: err = %v, want ErrUnsupported", tc.n, err)
				}
				imported = append(bytes.Clone(m), make([]byte, 64-tc.n)...)
			}
			k := importKey(t, ks, tc.kind, imported)
			mac, err := ks.HMAC(ctx, k, tc.h, data)
			if err != nil {
				t.Fatal(err)
			}
			h := hmac.New(tc.hf, m)
			h.Write(data)
			if !hmac.Equal(mac, h.Sum(nil)) {
				t.Error("HMAC differs from crypto/hmac's")
			}
			if ok, err := ks.VerifyHMAC(ctx, k, tc.h, data, mac); !ok || err != nil {
				t.Errorf("VerifyHMAC = %v, %v", ok, err)
			}
			mac[0] ^= 1
			if ok, err := ks.VerifyHMAC(ctx, k, tc.h, data, mac); ok || err != nil {
				t.Errorf("VerifyHMAC of a wrong MAC = %v, %v", ok, err)
			}
		})
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		got, err := ks.Digest(ctx, h, data)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		if h == crypto.SHA256 {
			s := sha256.Sum256(data)
			want = s[:]
		} else {
			s := sha512.Sum512(data)
			want = s[:]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v digest differs", h)
		}
	}
	if err := ks.SeedRandom(ctx, []byte("some entropy")); err != nil {
		t.Errorf("SeedRandom: %v", err)
	}
}

// TestWrapUnder: a 16-byte AES key's zero-extended HMAC form, wrapped under
// the key itself, gives the key's HMAC-SHA256; with another parent it does
// not unwrap.
func TestWrapUnder(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	material := mustHex(t, "0123456789abcdef0123456789abcdef")
	parent := importKey(t, ks, hsm.KindAES, material)
	other := importKey(t, ks, hsm.KindAES, mustHex(t, "00112233445566778899aabbccddeeff"))
	w, err := ks.WrapUnder(ctx, parent, hsm.KindGeneric, append(bytes.Clone(material), make([]byte, 48)...))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("data")
	mac, err := ks.HMAC(ctx, hsm.Key{Kind: hsm.KindGeneric, Wrapped: w, Under: &parent}, crypto.SHA256, data)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, material)
	h.Write(data)
	if !hmac.Equal(mac, h.Sum(nil)) {
		t.Error("HMAC with the extended form differs from the key's")
	}
	if _, err := ks.HMAC(ctx, hsm.Key{Kind: hsm.KindGeneric, Wrapped: w, Under: &other}, crypto.SHA256, data); !errors.Is(err, hsm.ErrIntegrity) {
		t.Errorf("HMAC under the wrong parent: err = %v, want ErrIntegrity", err)
	}
}

// TestWrapKey: RFC 3394 and RFC 5649 wrapping of an AES-256 key under
// another managed key (KMIP Get with a Key Wrapping Specification).
func TestWrapKey(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	wrapping := importKey(t, ks, hsm.KindAES, mustHex(t, "000102030405060708090a0b0c0d0e0f"))
	target := importKey(t, ks, hsm.KindAES, mustHex(t, "00112233445566778899aabbccddeeff"))
	// RFC 3394 §4.1: 128-bit key data under a 128-bit KEK.
	got, err := ks.WrapKey(ctx, wrapping, hsm.WrapAESKW, target)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, mustHex(t, "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5")) {
		t.Error("RFC 3394 wrap differs from the RFC's test vector")
	}
	if got, err := ks.WrapKey(ctx, wrapping, hsm.WrapAESKWP, target); err != nil || len(got) != 24 {
		t.Errorf("RFC 5649 wrap: %d bytes, %v", len(got), err)
	}
}
