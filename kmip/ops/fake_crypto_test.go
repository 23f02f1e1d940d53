package ops

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
)

// The fake keystore's cryptography: AES in ECB, CBC and GCM, HMAC and
// digests with Go's primitives, enough for the operations layer's unit
// tests. The real thing (in the token) is proven in hsm/pkcs11 and
// softhsm-tests.

var _ hsm.Cryptor = (*fakeKeys)(nil)

func (f *fakeKeys) material(k hsm.Key) ([]byte, error) {
	return f.Unwrap(context.Background(), k.Kind, k.Wrapped)
}

func (f *fakeKeys) block(k hsm.Key) (cipher.Block, error) {
	m, err := f.material(k)
	if err != nil {
		return nil, err
	}
	if k.Kind != hsm.KindAES {
		return nil, fmt.Errorf("%w: fake encrypts with AES only", hsm.ErrUnsupported)
	}
	return aes.NewCipher(m)
}

func (f *fakeKeys) Encrypt(ctx context.Context, key hsm.Key, c hsm.Cipher, data []byte) (hsm.Sealed, error) {
	b, err := f.block(key)
	if err != nil {
		return hsm.Sealed{}, err
	}
	switch c.Mode {
	case hsm.ModeGCM:
		if c.TagLen < 12 || c.TagLen > 16 {
			return hsm.Sealed{}, fmt.Errorf("%w: GCM tag length %d", hsm.ErrInvalidInput, c.TagLen)
		}
		if len(c.IV) == 0 {
			c.IV = make([]byte, 12)
			rand.Read(c.IV)
		}
		g, err := cipher.NewGCMWithNonceSize(b, len(c.IV))
		if err != nil {
			return hsm.Sealed{}, err
		}
		out := g.Seal(nil, c.IV, data, c.AAD)
		return hsm.Sealed{Data: out[:len(data)], Tag: out[len(data):][:c.TagLen], IV: c.IV}, nil
	case hsm.ModeCBC, hsm.ModeECB:
		if c.Pad {
			n := 16 - len(data)%16
			for range n {
				data = append(data[:len(data):len(data)], byte(n))
			}
		}
		if len(data)%16 != 0 {
			return hsm.Sealed{}, fmt.Errorf("%w: not whole blocks", hsm.ErrInvalidInput)
		}
		out := make([]byte, len(data))
		if c.Mode == hsm.ModeECB {
			for i := 0; i < len(data); i += 16 {
				b.Encrypt(out[i:], data[i:])
			}
			return hsm.Sealed{Data: out}, nil
		}
		if len(c.IV) == 0 {
			c.IV = make([]byte, 16)
			rand.Read(c.IV)
		}
		cipher.NewCBCEncrypter(b, c.IV).CryptBlocks(out, data)
		return hsm.Sealed{Data: out, IV: c.IV}, nil
	}
	return hsm.Sealed{}, fmt.Errorf("%w: fake mode %d", hsm.ErrUnsupported, c.Mode)
}

func (f *fakeKeys) Decrypt(ctx context.Context, key hsm.Key, c hsm.Cipher, data, tag []byte) ([]byte, error) {
	b, err := f.block(key)
	if err != nil {
		return nil, err
	}
	switch c.Mode {
	case hsm.ModeGCM:
		g, err := cipher.NewGCMWithNonceSize(b, len(c.IV))
		if err != nil {
			return nil, err
		}
		pt, err := g.Open(nil, c.IV, append(append([]byte(nil), data...), tag...), c.AAD)
		if err != nil {
			return nil, hsm.ErrAuthentication
		}
		return pt, nil
	case hsm.ModeCBC, hsm.ModeECB:
		if len(data)%16 != 0 || len(data) == 0 {
			return nil, fmt.Errorf("%w: not whole blocks", hsm.ErrInvalidInput)
		}
		out := make([]byte, len(data))
		if c.Mode == hsm.ModeECB {
			for i := 0; i < len(data); i += 16 {
				b.Decrypt(out[i:], data[i:])
			}
		} else {
			cipher.NewCBCDecrypter(b, c.IV).CryptBlocks(out, data)
		}
		if c.Pad {
			n := int(out[len(out)-1])
			if n == 0 || n > 16 {
				return nil, hsm.ErrAuthentication
			}
			out = out[:len(out)-n]
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: fake mode %d", hsm.ErrUnsupported, c.Mode)
}

func (f *fakeKeys) StartCipher(ctx context.Context, key hsm.Key, c hsm.Cipher, encrypt bool) (hsm.CipherStream, error) {
	return nil, hsm.ErrUnsupported
}

func (f *fakeKeys) Sign(ctx context.Context, key hsm.Key, s hsm.Signature, data []byte) ([]byte, error) {
	return nil, hsm.ErrUnsupported
}

func (f *fakeKeys) Verify(ctx context.Context, key hsm.Key, s hsm.Signature, data, sig []byte) (bool, error) {
	return false, hsm.ErrUnsupported
}

func (f *fakeKeys) HMAC(ctx context.Context, key hsm.Key, h crypto.Hash, data []byte) ([]byte, error) {
	m, err := f.material(key)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(h.New, m)
	mac.Write(data)
	return mac.Sum(nil), nil
}

func (f *fakeKeys) VerifyHMAC(ctx context.Context, key hsm.Key, h crypto.Hash, data, want []byte) (bool, error) {
	got, err := f.HMAC(ctx, key, h, data)
	return err == nil && hmac.Equal(got, want), err
}

func (f *fakeKeys) Digest(ctx context.Context, h crypto.Hash, data []byte) ([]byte, error) {
	d := h.New()
	d.Write(data)
	return d.Sum(nil), nil
}

func (f *fakeKeys) DigestKey(ctx context.Context, key hsm.Key, h crypto.Hash) ([]byte, error) {
	m, err := f.material(key)
	if err != nil {
		return nil, err
	}
	return f.Digest(ctx, h, m)
}

func (f *fakeKeys) SeedRandom(ctx context.Context, seed []byte) error { return nil }

func (f *fakeKeys) GenerateKeyPair(ctx context.Context, spec hsm.KeyPairSpec) (hsm.KeyPair, error) {
	return hsm.KeyPair{}, hsm.ErrUnsupported
}

func (f *fakeKeys) WrapKey(ctx context.Context, wrapping hsm.Key, m hsm.WrapMode, target hsm.Key) ([]byte, error) {
	return nil, hsm.ErrUnsupported
}

func (f *fakeKeys) WrapUnder(ctx context.Context, key hsm.Key, kind hsm.KeyKind, material []byte) (hsm.Wrapped, error) {
	if _, err := f.material(key); err != nil {
		return hsm.Wrapped{}, err
	}
	return f.put(material), nil
}
