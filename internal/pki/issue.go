package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// clockSkew backdates NotBefore so that a client whose clock is a little
// behind the server's accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// IssueServer issues the KMIP server's certificate and a new P-256 key.
//
// The Common Name is name (mongod's --kmipServerName, the manual's
// "akmmongo") and the subjectAltName holds name plus every host: a host that
// parses as an IP address becomes an IP SAN, anything else a DNS SAN.
// Unspecified addresses (0.0.0.0, ::) are skipped, as a listen address of
// 0.0.0.0 means "every interface" and can never be dialled. mongod verifies
// kmipServerName against these SANs, so the server certificate, not the CA,
// is what must carry the name.
func (ca *CA) IssueServer(name string, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	tmpl, err := serverTemplate(name, hosts)
	if err != nil {
		return nil, nil, err
	}
	return ca.issue(tmpl, validity)
}

// IssueServerFor issues the server certificate for an existing public key,
// for instance a TLS key that lives in the HSM (config tls.key_in_hsm).
func (ca *CA) IssueServerFor(name string, hosts []string, validity time.Duration, pub crypto.PublicKey) (certPEM []byte, err error) {
	tmpl, err := serverTemplate(name, hosts)
	if err != nil {
		return nil, err
	}
	der, err := ca.sign(tmpl, pub, validity)
	if err != nil {
		return nil, err
	}
	return encodeCertPEM(der), nil
}

// serverTemplate is the template of IssueServer.
func serverTemplate(name string, hosts []string) (*x509.Certificate, error) {
	if name == "" {
		return nil, errors.New("pki: the server certificate needs a name")
	}
	var dnsNames []string
	var ips []net.IP
	seen := map[string]bool{}
	for _, h := range append([]string{name}, hosts...) {
		h = strings.TrimSpace(h)
		if h == "" || seen[strings.ToLower(h)] {
			continue
		}
		seen[strings.ToLower(h)] = true
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				ips = append(ips, ip)
			}
			continue
		}
		if strings.ContainsAny(h, " /\\:") {
			return nil, fmt.Errorf("pki: %q is neither a host name nor an IP address", h)
		}
		dnsNames = append(dnsNames, h)
	}
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		DNSNames:    dnsNames,
		IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, nil
}

// IssueClient issues a client certificate and a new P-256 key for user in
// group with role. The identity is written into the Subject (see the package
// documentation) and read back with IdentityOf.
func (ca *CA) IssueClient(user, group string, role Role, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if user == "" {
		return nil, nil, errors.New("pki: a client certificate needs a user name")
	}
	if !role.Valid() {
		return nil, nil, fmt.Errorf("pki: unknown role %q", role)
	}
	subject := pkix.Name{
		CommonName: user,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidTitle, Value: string(role)}},
	}
	if group != "" {
		subject.OrganizationalUnit = []string{group}
	}
	tmpl := &x509.Certificate{
		Subject:     subject,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.issue(tmpl, validity)
}

// issue fills the fields common to every end-entity certificate, generates
// its key and signs it. NotAfter never exceeds the CA's own NotAfter: a
// certificate outliving its issuer would fail verification anyway.
func (ca *CA) issue(tmpl *x509.Certificate, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if validity <= 0 {
		return nil, nil, fmt.Errorf("pki: validity must be positive, got %s", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %w", err)
	}
	der, err := ca.sign(tmpl, key.Public(), validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCertPEM(der), keyPEM, nil
}

// serialLimit is 2^128: serial numbers are random 128-bit integers, so they
// are unique without a counter and unpredictable (RFC 5280 allows 20 octets).
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

func newSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("pki: serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
