package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// CreateCAWithSigner makes a new self-signed CA for serverName whose key is
// signer, typically a key generated inside the HSM that never leaves it
// (hsm/pkcs11 CASigner). The signer must hold an ECDSA P-256 key.
func CreateCAWithSigner(serverName string, validity time.Duration, signer crypto.Signer) (*CA, error) {
	if serverName == "" {
		return nil, errors.New("pki: the CA needs a server name")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("pki: CA validity must be positive, got %s", validity)
	}
	if pub, ok := signer.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("pki: the CA key must be ECDSA P-256")
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CAName(serverName), Organization: []string{"Strongroom"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	return NewCA(cert, signer)
}

// SignCSR issues a client certificate for the public key of a PEM
// certificate request. The Subject is not taken from the request: the
// identity (user, group, role) is what the administrator says, so a request
// cannot smuggle in another role. The request's signature must verify.
func (ca *CA) SignCSR(csrPEM []byte, user, group string, role Role, validity time.Duration) (certPEM []byte, err error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
		return nil, errors.New("pki: no CERTIFICATE REQUEST block in PEM data")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: parse certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: certificate request signature: %w", err)
	}
	if user == "" {
		user = csr.Subject.CommonName
	}
	if group == "" && len(csr.Subject.OrganizationalUnit) > 0 {
		group = csr.Subject.OrganizationalUnit[0]
	}
	tmpl, err := clientTemplate(user, group, role)
	if err != nil {
		return nil, err
	}
	der, err := ca.sign(tmpl, csr.PublicKey, validity)
	if err != nil {
		return nil, err
	}
	return encodeCertPEM(der), nil
}

// clientTemplate is the certificate template of a client identity.
func clientTemplate(user, group string, role Role) (*x509.Certificate, error) {
	if user == "" {
		return nil, errors.New("pki: a client certificate needs a user name")
	}
	if !role.Valid() {
		return nil, fmt.Errorf("pki: unknown role %q", role)
	}
	subject := pkix.Name{
		CommonName: user,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidTitle, Value: string(role)}},
	}
	if group != "" {
		subject.OrganizationalUnit = []string{group}
	}
	return &x509.Certificate{
		Subject:     subject,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, nil
}

// sign fills the common end-entity fields of tmpl and signs pub with the CA.
func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration) ([]byte, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("pki: validity must be positive, got %s", validity)
	}
	var err error
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.signer)
	if err != nil {
		return nil, fmt.Errorf("pki: sign certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	return der, nil
}
