package ops

import (
	"crypto"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// FIPS mode (Config.FIPS, `serve --fips`) refuses algorithms and mechanisms
// that FIPS 140-3 does not approve (SP 800-131A rev. 2) with Invalid Field
// and a message naming the rule, so a client sees why. The token's
// mechanisms are governed by the HSM's own validation; these checks keep
// the server from asking it for anything a FIPS deployment must not use.

// fipsRefused is the error of a non-approved request.
func fipsRefused(what string) error {
	return kmip.Errorf(ttlv.ResultReasonInvalidField, "FIPS mode: %s is not an approved algorithm or mechanism", what)
}

// fipsApproved checks the algorithm and length of a key to be created or
// registered: AES, HMAC with SHA-2 (or SHA-1: HMAC-SHA-1 stays approved),
// RSA of at least 2048 bits, ECDSA/EC. Triple-DES and everything else are
// refused. It returns nil when FIPS mode is off.
func (s *Service) fipsApproved(alg ttlv.CryptographicAlgorithm, length int32) error {
	if !s.fips {
		return nil
	}
	switch alg {
	case ttlv.CryptographicAlgorithmAES:
		return nil
	case ttlv.CryptographicAlgorithmHMACSHA1, ttlv.CryptographicAlgorithmHMACSHA224, ttlv.CryptographicAlgorithmHMACSHA256,
		ttlv.CryptographicAlgorithmHMACSHA384, ttlv.CryptographicAlgorithmHMACSHA512:
		if length != 0 && length < 112 {
			return fipsRefused("an HMAC key shorter than 112 bits")
		}
		return nil
	case ttlv.CryptographicAlgorithmRSA:
		if length != 0 && length < 2048 {
			return fipsRefused("RSA shorter than 2048 bits")
		}
		return nil
	case ttlv.CryptographicAlgorithmECDSA, ttlv.CryptographicAlgorithmEC:
		return nil
	case 0:
		return nil // the operation's own check names the missing algorithm
	}
	return fipsRefused(alg.String())
}

// fipsCipher checks an Encrypt or Decrypt: Triple-DES may only decrypt
// (legacy data), RSA PKCS#1 v1.5 encryption is not approved.
func (s *Service) fipsCipher(key hsm.Key, c hsm.Cipher, encrypt bool) error {
	if !s.fips {
		return nil
	}
	switch {
	case key.Kind == hsm.KindDES3 && encrypt:
		return fipsRefused("Triple-DES encryption")
	case c.Mode == hsm.ModeRSAPKCS1:
		return fipsRefused("RSA PKCS#1 v1.5 encryption")
	}
	return nil
}

// fipsSignature checks a Sign: SHA-1 signatures may be verified (legacy)
// but not generated.
func (s *Service) fipsSignature(sg hsm.Signature, generate bool) error {
	if s.fips && generate && sg.Hash == crypto.SHA1 {
		return fipsRefused("a SHA-1 signature")
	}
	return nil
}
