package server

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// NewSignerCertReloader is NewCertReloader for a private key that is not a
// file: signer (a key in the HSM, config tls.key_in_hsm) signs every
// handshake, and certFile holds the certificate chain for its public key.
func NewSignerCertReloader(certFile string, signer crypto.Signer) (*CertReloader, error) {
	if signer == nil {
		return nil, errors.New("server: nil TLS signer")
	}
	r := &CertReloader{certFile: certFile, signer: signer}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// reloadSigner reads the certificate chain and pairs it with the signer if
// the leaf certifies the signer's public key.
func (r *CertReloader) reloadSigner() error {
	data, err := os.ReadFile(r.certFile)
	if err != nil {
		return fmt.Errorf("server: load certificate %s: %w", r.certFile, err)
	}
	var cert tls.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			cert.Certificate = append(cert.Certificate, b.Bytes)
		}
	}
	if len(cert.Certificate) == 0 {
		return fmt.Errorf("server: no certificate in %s", r.certFile)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("server: load certificate %s: %w", r.certFile, err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(r.signer.Public()) {
		return fmt.Errorf("server: certificate %s is not for the TLS key in the HSM", r.certFile)
	}
	cert.Leaf = leaf
	cert.PrivateKey = r.signer
	r.cur.Store(&cert)
	return nil
}
