package server

import (
	"crypto/tls"
)

// FIPSCipherSuites are the TLS 1.2 suites allowed in FIPS mode: ECDHE with
// AES-GCM (approved key agreement and AEAD); ChaCha20-Poly1305 is not an
// approved algorithm. TLS 1.3 suites are chosen by crypto/tls, which under
// GODEBUG=fips140=on offers only the AES-GCM ones.
func FIPSCipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	}
}

// FIPSCurves are the key exchange groups allowed in FIPS mode: the NIST
// curves and the hybrids with ML-KEM. Plain X25519 is not approved (the
// X25519MLKEM768 hybrid is, through its ML-KEM part, and crypto/tls keeps
// it in FIPS mode).
func FIPSCurves() []tls.CurveID {
	return []tls.CurveID{
		tls.SecP256r1MLKEM768, tls.X25519MLKEM768, tls.SecP384r1MLKEM1024,
		tls.CurveP256, tls.CurveP384, tls.CurveP521,
	}
}

// RestrictToFIPS narrows cfg to approved TLS versions (1.2, 1.3), suites and
// groups. crypto/tls applies the same limits by itself when the FIPS module
// is on; setting them here makes the configuration say so, and keeps a
// non-FIPS test build honest.
func RestrictToFIPS(cfg *tls.Config) {
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	cfg.CipherSuites = FIPSCipherSuites()
	cfg.CurvePreferences = FIPSCurves()
}
