package ops

import (
	"crypto"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

func TestFIPSApproved(t *testing.T) {
	on, off := &Service{fips: true}, &Service{}
	tests := []struct {
		name   string
		check  func(s *Service) error
		wantOK bool
	}{
		{"AES-256", func(s *Service) error { return s.fipsApproved(ttlv.CryptographicAlgorithmAES, 256) }, true},
		{"HMAC-SHA256", func(s *Service) error { return s.fipsApproved(ttlv.CryptographicAlgorithmHMACSHA256, 256) }, true},
		{"RSA-2048", func(s *Service) error { return s.fipsApproved(ttlv.CryptographicAlgorithmRSA, 2048) }, true},
		{"RSA-1024", func(s *Service) error { return s.fipsApproved(ttlv.CryptographicAlgorithmRSA, 1024) }, false},
		{"Triple-DES", func(s *Service) error { return s.fipsApproved(ttlv.CryptographicAlgorithm3DES, 168) }, false},
		{"ECDSA", func(s *Service) error { return s.fipsApproved(ttlv.CryptographicAlgorithmECDSA, 256) }, true},
		{"AES-GCM encrypt", func(s *Service) error {
			return s.fipsCipher(hsm.Key{Kind: hsm.KindAES}, hsm.Cipher{Mode: hsm.ModeGCM}, true)
		}, true},
		{"Triple-DES encrypt", func(s *Service) error {
			return s.fipsCipher(hsm.Key{Kind: hsm.KindDES3}, hsm.Cipher{Mode: hsm.ModeCBC}, true)
		}, false},
		{"Triple-DES decrypt", func(s *Service) error {
			return s.fipsCipher(hsm.Key{Kind: hsm.KindDES3}, hsm.Cipher{Mode: hsm.ModeCBC}, false)
		}, true},
		{"RSA PKCS#1 v1.5 encrypt", func(s *Service) error {
			return s.fipsCipher(hsm.Key{Kind: hsm.KindPublic}, hsm.Cipher{Mode: hsm.ModeRSAPKCS1}, true)
		}, false},
		{"SHA-1 signature", func(s *Service) error { return s.fipsSignature(hsm.Signature{Hash: crypto.SHA1}, true) }, false},
		{"SHA-256 signature", func(s *Service) error { return s.fipsSignature(hsm.Signature{Hash: crypto.SHA256}, true) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(off); err != nil {
				t.Errorf("refused with FIPS mode off: %v", err)
			}
			err := tt.check(on)
			if (err == nil) != tt.wantOK {
				t.Fatalf("FIPS mode: err = %v, want ok=%v", err, tt.wantOK)
			}
			if err != nil && !strings.Contains(err.Error(), "FIPS mode") {
				t.Errorf("refusal does not say why: %v", err)
			}
		})
	}
}
