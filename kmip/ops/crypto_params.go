package ops

import (
	"crypto"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// cryptoParams are the Cryptographic Parameters (KMIP 1.4 §3.6) an
// operation runs with: the request's, field by field over the key's
// Cryptographic Parameters attribute.
type cryptoParams struct {
	// given reports whether the request or the key had any parameters.
	given     bool
	mode      ttlv.BlockCipherMode
	padding   ttlv.PaddingMethod
	hash      ttlv.HashingAlgorithm
	algorithm ttlv.CryptographicAlgorithm
	dsa       ttlv.DigitalSignatureAlgorithm
	randomIV  bool
	tagLen    int32
	saltLen   int32
	mgfHash   ttlv.HashingAlgorithm
	pSource   []byte
}

// paramsFor merges the request's Cryptographic Parameters over the first
// instance of the key's attribute.
func paramsFor(o *object, p ttlv.Item) cryptoParams {
	var items []ttlv.Item
	if o != nil {
		if v, ok := o.value(ttlv.TagCryptographicParameters); ok {
			items = append(items, v)
		}
	}
	if v, ok := p.Find(ttlv.TagCryptographicParameters); ok {
		items = append(items, v)
	}
	var cp cryptoParams
	for _, it := range items {
		cp.given = true
		for _, c := range it.Children() {
			e, _ := c.EnumValue()
			switch c.Tag {
			case ttlv.TagBlockCipherMode:
				cp.mode = ttlv.BlockCipherMode(e)
			case ttlv.TagPaddingMethod:
				cp.padding = ttlv.PaddingMethod(e)
			case ttlv.TagHashingAlgorithm:
				cp.hash = ttlv.HashingAlgorithm(e)
			case ttlv.TagCryptographicAlgorithm:
				cp.algorithm = ttlv.CryptographicAlgorithm(e)
			case ttlv.TagDigitalSignatureAlgorithm:
				cp.dsa = ttlv.DigitalSignatureAlgorithm(e)
			case ttlv.TagRandomIV:
				cp.randomIV, _ = c.BoolValue()
			case ttlv.TagTagLength:
				cp.tagLen, _ = c.Int32()
			case ttlv.TagSaltLength:
				cp.saltLen, _ = c.Int32()
			case ttlv.TagMaskGeneratorHashingAlgorithm:
				cp.mgfHash = ttlv.HashingAlgorithm(e)
			case ttlv.TagPSource:
				cp.pSource, _ = c.BytesValue()
			}
		}
	}
	return cp
}

// goHash maps a KMIP hashing algorithm; 0 maps to def.
func goHash(h ttlv.HashingAlgorithm, def crypto.Hash) (crypto.Hash, error) {
	switch h {
	case 0:
		return def, nil
	case ttlv.HashingAlgorithmSHA1:
		return crypto.SHA1, nil
	case ttlv.HashingAlgorithmSHA224:
		return crypto.SHA224, nil
	case ttlv.HashingAlgorithmSHA256:
		return crypto.SHA256, nil
	case ttlv.HashingAlgorithmSHA384:
		return crypto.SHA384, nil
	case ttlv.HashingAlgorithmSHA512:
		return crypto.SHA512, nil
	}
	return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "hashing algorithm %s is not supported", h)
}

// cipherFor works out the hsm.Cipher of an Encrypt or Decrypt. With no
// Cryptographic Parameters at all, an AES or Triple-DES key encrypts in CBC
// with PKCS#5 padding under a server-generated IV returned in the response
// (what mongod's audit-log encryption expects).
func cipherFor(key hsm.Key, cp cryptoParams, p ttlv.Item, encrypt bool) (hsm.Cipher, error) {
	var c hsm.Cipher
	if iv, ok := p.Find(ttlv.TagIVCounterNonce); ok {
		c.IV, _ = iv.BytesValue()
	}
	switch key.Kind {
	case hsm.KindAES, hsm.KindDES3:
		switch cp.mode {
		case 0:
			c.Mode = hsm.ModeCBC
			if !cp.given {
				c.Pad = true
			}
		case ttlv.BlockCipherModeCBC:
			c.Mode = hsm.ModeCBC
		case ttlv.BlockCipherModeECB:
			c.Mode = hsm.ModeECB
		case ttlv.BlockCipherModeCTR:
			c.Mode = hsm.ModeCTR
		case ttlv.BlockCipherModeGCM:
			c.Mode = hsm.ModeGCM
			c.TagLen = 16
			if cp.tagLen != 0 {
				c.TagLen = int(cp.tagLen)
			}
			if aad, ok := p.Find(ttlv.TagAuthenticatedEncryptionAdditionalData); ok {
				c.AAD, _ = aad.BytesValue()
			}
		default:
			return c, kmip.Errorf(ttlv.ResultReasonInvalidField, "block cipher mode %s is not supported (the HSM has no mechanism for it)", cp.mode)
		}
		switch cp.padding {
		case 0, ttlv.PaddingMethodNone:
		case ttlv.PaddingMethodPKCS5:
			if c.Mode != hsm.ModeCBC && c.Mode != hsm.ModeECB {
				return c, kmip.Errorf(ttlv.ResultReasonInvalidField, "PKCS5 padding applies to CBC and ECB only")
			}
			c.Pad = true
		default:
			return c, kmip.Errorf(ttlv.ResultReasonInvalidField, "padding method %s is not supported for block ciphers", cp.padding)
		}
		if c.Mode != hsm.ModeECB && len(c.IV) == 0 && !encrypt {
			return c, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "IV/Counter/Nonce is required to decrypt")
		}
		if c.Mode == hsm.ModeECB {
			c.IV = nil
		}
		return c, nil
	case hsm.KindPublic, hsm.KindRSAPrivate:
		switch cp.padding {
		case ttlv.PaddingMethodPKCS1V15:
			c.Mode = hsm.ModeRSAPKCS1
			return c, nil
		case 0, ttlv.PaddingMethodOAEP:
			var err error
			c.Mode = hsm.ModeRSAOAEP
			if c.Hash, err = goHash(cp.hash, crypto.SHA1); err != nil {
				return c, err
			}
			if c.MGFHash, err = goHash(cp.mgfHash, c.Hash); err != nil {
				return c, err
			}
			c.Label = cp.pSource
			c.IV = nil
			return c, nil
		}
		return c, kmip.Errorf(ttlv.ResultReasonInvalidField, "padding method %s is not supported for RSA encryption", cp.padding)
	}
	return c, kmip.Errorf(ttlv.ResultReasonInvalidField, "the HSM has no cipher for this key's algorithm (AES, Triple-DES and RSA are offered)")
}

// signatureFor works out the hsm.Signature of a Sign or Signature Verify.
func signatureFor(key hsm.Key, o *object, cp cryptoParams) (hsm.Signature, error) {
	var s hsm.Signature
	alg := ttlv.CryptographicAlgorithm(o.row.Algorithm)
	if cp.algorithm != 0 {
		alg = cp.algorithm
	}
	hash := cp.hash
	switch cp.dsa {
	case 0:
	case ttlv.DigitalSignatureAlgorithmSHA1WithRSAEncryption, ttlv.DigitalSignatureAlgorithmECDSAWithSHA1:
		hash = ttlv.HashingAlgorithmSHA1
	case ttlv.DigitalSignatureAlgorithmSHA224WithRSAEncryption, ttlv.DigitalSignatureAlgorithmECDSAWithSHA224:
		hash = ttlv.HashingAlgorithmSHA224
	case ttlv.DigitalSignatureAlgorithmSHA256WithRSAEncryption, ttlv.DigitalSignatureAlgorithmECDSAWithSHA256:
		hash = ttlv.HashingAlgorithmSHA256
	case ttlv.DigitalSignatureAlgorithmSHA384WithRSAEncryption, ttlv.DigitalSignatureAlgorithmECDSAWithSHA384:
		hash = ttlv.HashingAlgorithmSHA384
	case ttlv.DigitalSignatureAlgorithmSHA512WithRSAEncryption, ttlv.DigitalSignatureAlgorithmECDSAWithSHA512:
		hash = ttlv.HashingAlgorithmSHA512
	case ttlv.DigitalSignatureAlgorithmRSASSAPSS:
		cp.padding = ttlv.PaddingMethodPSS
	default:
		return s, kmip.Errorf(ttlv.ResultReasonInvalidField, "digital signature algorithm %s is not supported", cp.dsa)
	}
	var err error
	if s.Hash, err = goHash(hash, crypto.SHA256); err != nil {
		return s, err
	}
	switch alg {
	case ttlv.CryptographicAlgorithmRSA:
		switch cp.padding {
		case 0, ttlv.PaddingMethodPKCS1V15:
			s.Scheme = hsm.SchemeRSAPKCS1
		case ttlv.PaddingMethodPSS:
			s.Scheme = hsm.SchemeRSAPSS
			s.SaltLength = int(cp.saltLen)
		default:
			return s, kmip.Errorf(ttlv.ResultReasonInvalidField, "padding method %s is not supported for RSA signatures", cp.padding)
		}
	case ttlv.CryptographicAlgorithmECDSA, ttlv.CryptographicAlgorithmEC:
		s.Scheme = hsm.SchemeECDSA
	default:
		return s, kmip.Errorf(ttlv.ResultReasonInvalidField, "cryptographic algorithm %s cannot sign", alg)
	}
	return s, nil
}

// macHash is the hash of a MAC: the parameters' or the key's HMAC
// algorithm.
func macHash(o *object, cp cryptoParams) (crypto.Hash, error) {
	alg := cp.algorithm
	if alg == 0 {
		alg = ttlv.CryptographicAlgorithm(o.row.Algorithm)
	}
	switch alg {
	case ttlv.CryptographicAlgorithmHMACSHA1:
		return crypto.SHA1, nil
	case ttlv.CryptographicAlgorithmHMACSHA224:
		return crypto.SHA224, nil
	case ttlv.CryptographicAlgorithmHMACSHA256:
		return crypto.SHA256, nil
	case ttlv.CryptographicAlgorithmHMACSHA384:
		return crypto.SHA384, nil
	case ttlv.CryptographicAlgorithmHMACSHA512:
		return crypto.SHA512, nil
	}
	return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "MAC needs an HMAC algorithm (HMAC-SHA1 to HMAC-SHA512); got %s", alg)
}
