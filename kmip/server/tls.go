package server

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// CipherSuites returns the only TLS 1.2 cipher suites Strongroom allows:
// ECDHE for forward secrecy and AEAD ciphers only. RSA key exchange and CBC
// suites are left out on purpose (no forward secrecy; padding oracles).
// TLS 1.3 suites are not configurable in crypto/tls and are all AEAD. It is a
// function, not a variable, so that no caller can change the list for all.
func CipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// CertReloader holds the server certificate behind an atomic pointer so that
// a new certificate (renewal, added listen address) can be loaded while the
// server runs: handshakes already under way keep the certificate they got,
// later ones get the new one.
type CertReloader struct {
	certFile, keyFile string
	// signer, when set, is the private key (in the HSM) and keyFile unused.
	signer crypto.Signer
	cur    atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the certificate chain and private key from PEM files.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the certificate and key files again and, if they form a valid
// pair, makes them the certificate of every later handshake. On error the
// previous certificate stays in use.
func (r *CertReloader) Reload() error {
	if r.signer != nil {
		return r.reloadSigner()
	}
	// LoadX509KeyPair's errors name the problem, never the key bytes.
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("server: load certificate %s: %w", r.certFile, err)
	}
	r.cur.Store(&cert)
	return nil
}

// GetCertificate is a tls.Config.GetCertificate callback returning the
// current certificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// NewTLSConfig returns the server TLS configuration: TLS 1.2 and 1.3 only,
// ECDHE+AEAD suites for TLS 1.2, the server certificate from certPEMFile and
// keyPEMFile, and a client certificate chaining to the CAs in caFile
// required on every connection.
func NewTLSConfig(certPEMFile, keyPEMFile, caFile string) (*tls.Config, error) {
	r, err := NewCertReloader(certPEMFile, keyPEMFile)
	if err != nil {
		return nil, err
	}
	return NewReloadableTLSConfig(r, caFile)
}

// NewReloadableTLSConfig is NewTLSConfig with a certificate the caller can
// reload later through r.
func NewReloadableTLSConfig(r *CertReloader, caFile string) (*tls.Config, error) {
	if r == nil {
		return nil, errors.New("server: nil certificate reloader")
	}
	pool, err := LoadCertPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		MaxVersion:     tls.VersionTLS13,
		CipherSuites:   CipherSuites(),
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      pool,
		GetCertificate: r.GetCertificate,
	}, nil
}

// LoadCertPool reads the PEM certificates of caFile into a pool. A file with
// no certificate in it is an error, not an empty pool that trusts nobody.
func LoadCertPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("server: read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("server: no PEM certificate in CA file %s", caFile)
	}
	return pool, nil
}

// checkTLSConfig refuses a configuration that would let a client in without a
// verified certificate or below TLS 1.2, and returns a copy the server owns.
func checkTLSConfig(cfg *tls.Config) (*tls.Config, error) {
	if cfg == nil {
		return nil, errors.New("server: TLS config is required")
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, errors.New("server: TLS config must require and verify client certificates")
	}
	if cfg.ClientCAs == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("server: TLS config has no client CA pool")
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("server: TLS config has no server certificate")
	}
	out := cfg.Clone()
	if out.MinVersion < tls.VersionTLS12 {
		out.MinVersion = tls.VersionTLS12
	}
	return out, nil
}
