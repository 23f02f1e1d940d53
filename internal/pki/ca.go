package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrKeyNotExportable is returned by Save when the CA's signer is not a
// private key held in memory (for instance a key inside an HSM).
var ErrKeyNotExportable = errors.New("pki: the CA private key is not exportable")

// CA is a certificate authority: its certificate and a signer for its key.
type CA struct {
	cert   *x509.Certificate
	signer crypto.Signer
}

// CAName is the Subject Common Name CreateCA gives the CA of a server named
// serverName: "<serverName> Root CA".
//
// The manual says kmipServerName "matches the issuer CN name in the CA
// certificate", but mongod (OpenSSL) never compares the CA's name with
// kmipServerName: it checks the name against the SERVER certificate's
// subjectAltName (then CN), which IssueServer fills. Giving the CA exactly
// the server's name would instead make the CA's and the server certificate's
// Subject identical, and OpenSSL treats a certificate whose Subject equals
// its Issuer as self-issued, which produces confusing "self-signed
// certificate" failures. So the CA carries the server name with a suffix.
func CAName(serverName string) string { return serverName + " Root CA" }

// CreateCA makes a new self-signed CA for the server named serverName (its
// Common Name is CAName(serverName)), with an ECDSA P-256 key held in memory.
// The CA may sign only end-entity certificates (path length 0).
func CreateCA(serverName string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	return CreateCAWithSigner(serverName, validity, key)
}

// NewCA wraps an existing CA certificate and a signer for its key, for
// instance a crypto11 key in the HSM (hsm/pkcs11 CASigner). The signer's public key must be the
// certificate's.
func NewCA(cert *x509.Certificate, signer crypto.Signer) (*CA, error) {
	if cert == nil || signer == nil {
		return nil, errors.New("pki: NewCA needs a certificate and a signer")
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("pki: certificate %q is not a CA certificate", cert.Subject.CommonName)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("pki: the CA key does not match the certificate %q", cert.Subject.CommonName)
	}
	return &CA{cert: cert, signer: signer}, nil
}

// LoadCA reads a CA written by Save. The key file must not be readable by
// group or others: a CA key anyone can read makes every certificate forgeable.
func LoadCA(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA certificate: %w", err)
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, certPath)
	}
	st, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("pki: CA key %s has mode %04o; it must be readable by its owner only (chmod 600)", keyPath, perm)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, keyPath)
	}
	return NewCA(cert, key)
}

// Save writes the CA certificate and private key as PEM files of mode 0600,
// each atomically. With an empty keyPath only the certificate is written,
// which is the only possibility when the key lives in an HSM.
func (ca *CA) Save(certPath, keyPath string) error {
	if err := writeFileAtomic(certPath, ca.CertPEM()); err != nil {
		return err
	}
	if keyPath == "" {
		return nil
	}
	key, ok := ca.signer.(*ecdsa.PrivateKey)
	if !ok {
		return ErrKeyNotExportable
	}
	keyPEM, err := encodeKeyPEM(key)
	if err != nil {
		return err
	}
	return writeFileAtomic(keyPath, keyPEM)
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form (the manual's
// AKMRootCACertificate.pem, mongod's --kmipServerCAFile).
func (ca *CA) CertPEM() []byte { return encodeCertPEM(ca.cert.Raw) }

// Signer returns the signer of the CA key.
func (ca *CA) Signer() crypto.Signer { return ca.signer }

// Pool returns a certificate pool holding only this CA, for verifying peers.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}
