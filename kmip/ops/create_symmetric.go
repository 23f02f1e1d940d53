package ops

import (
	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// symmetricSpec maps a Create template to the key the HSM generates: AES
// (128, 192, 256 bits), Triple-DES (KMIP length 168 or 192: 24 bytes with
// parity, CKK_DES3) and HMAC keys (a generic secret of the given length,
// at least the hash output so that the token accepts it for HMAC).
func symmetricSpec(t *template) (hsm.KeyKind, int, error) {
	switch t.algorithm {
	case ttlv.CryptographicAlgorithmAES:
		switch t.length {
		case 128, 192, 256:
			return hsm.KindAES, int(t.length), nil
		}
		return 0, 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "AES Cryptographic Length must be 128, 192 or 256")
	case ttlv.CryptographicAlgorithm3DES:
		switch t.length {
		case 168, 192:
			return hsm.KindDES3, 192, nil
		}
		return 0, 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "Triple-DES Cryptographic Length must be 168 (or 192 counting parity)")
	case ttlv.CryptographicAlgorithmHMACSHA1, ttlv.CryptographicAlgorithmHMACSHA224, ttlv.CryptographicAlgorithmHMACSHA256,
		ttlv.CryptographicAlgorithmHMACSHA384, ttlv.CryptographicAlgorithmHMACSHA512:
		min := map[ttlv.CryptographicAlgorithm]int32{
			ttlv.CryptographicAlgorithmHMACSHA1: 160, ttlv.CryptographicAlgorithmHMACSHA224: 224,
			ttlv.CryptographicAlgorithmHMACSHA256: 256, ttlv.CryptographicAlgorithmHMACSHA384: 384,
			ttlv.CryptographicAlgorithmHMACSHA512: 512,
		}[t.algorithm]
		if t.length == 0 {
			t.length = min
		}
		if t.length < min || t.length > 4096 || t.length%8 != 0 {
			return 0, 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "%s Cryptographic Length must be %d to 4096 bits in whole bytes", t.algorithm, min)
		}
		return hsm.KindGeneric, int(t.length), nil
	case 0:
		return 0, 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "Create needs a Cryptographic Algorithm")
	}
	return 0, 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "Create supports AES, Triple-DES and HMAC keys; got %s", t.algorithm)
}

// des3Length accepts a 24-byte Triple-DES key registered with KMIP's
// length 168 (parity bits not counted) or 192.
func des3Length(kb *keyBlock, t *template) (hsm.KeyKind, error) {
	for _, l := range []int32{t.length, kb.length} {
		if l != 0 && l != 168 && l != 192 {
			return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "Triple-DES Cryptographic Length must be 168 or 192")
		}
	}
	if t.length == 0 {
		t.length = 168
		if kb.length != 0 {
			t.length = kb.length
		}
	}
	return hsm.KindDES3, nil
}
