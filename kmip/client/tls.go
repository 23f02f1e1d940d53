package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// cipherSuites are the TLS 1.2 suites the client offers: ECDHE and AEAD
// only, the same set the server accepts.
func cipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// ClientTLSConfig returns a TLS 1.2/1.3 configuration that trusts only the
// CAs in caFile, presents the certificate in certFile and expects the server
// certificate to carry serverName (when empty, Dial uses the host of the
// address). When keyFile is empty, certFile must hold the certificate and
// its private key together, like the Crypto Officer's combined PEM.
func ClientTLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	pemCA, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("client: read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, fmt.Errorf("client: no PEM certificate in CA file %s", caFile)
	}
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: cipherSuites(),
		RootCAs:      pool,
		Certificates: []tls.Certificate{cert},
		ServerName:   serverName,
	}, nil
}

// loadKeyPair loads a certificate and key from two files, or from one
// combined file when keyFile is empty. Its errors never quote the PEM.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" {
		return tls.Certificate{}, errors.New("client: a client certificate is required")
	}
	if keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("client: load client certificate %s: %w", certFile, err)
		}
		return cert, nil
	}
	data, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client: read client certificate: %w", err)
	}
	// The private key's PEM is not kept once parsed.
	defer clear(data)
	// X509KeyPair takes the CERTIFICATE blocks of its first argument and
	// the first PRIVATE KEY block of its second, skipping the others.
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client: load combined certificate and key %s: %w", certFile, err)
	}
	return cert, nil
}
