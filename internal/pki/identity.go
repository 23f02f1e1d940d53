// Package pki issues the certificates of a Strongroom deployment: one CA, the
// KMIP server's certificate and the clients' certificates, all ECDSA P-256
// with SHA-256 signatures (stdlib crypto/x509 only).
//
// A client's identity lives in its certificate's Subject so that the server
// can authorise a request from the TLS peer certificate alone, with no
// account database: Common Name = user, Organizational Unit = group, and the
// role in the "title" attribute (OID 2.5.4.12). The CA signs through a
// crypto.Signer so that its key can live in the HSM (hsm/pkcs11 CASigner,
// the default for new installs); older installs keep a PEM key of mode 0600.
package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
)

// Role is what a certificate's holder may do on the server.
type Role string

// The roles of the manual: a Crypto Officer creates and manages keys (and may
// read them, which is what mongod's manual setup uses); a key client only
// retrieves keys; an auditor reads attributes and the audit trail.
const (
	RoleCryptoOfficer Role = "crypto-officer"
	RoleKeyClient     Role = "key-client"
	RoleAuditor       Role = "auditor"
)

// Roles lists every known role.
func Roles() []Role { return []Role{RoleCryptoOfficer, RoleKeyClient, RoleAuditor} }

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	for _, k := range Roles() {
		if r == k {
			return true
		}
	}
	return false
}

// ParseRole checks a role name given on a command line or in a file.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("pki: unknown role %q (want %s, %s or %s)", s, RoleCryptoOfficer, RoleKeyClient, RoleAuditor)
	}
	return r, nil
}

// oidTitle is the X.520 "title" attribute that carries the role.
var oidTitle = asn1.ObjectIdentifier{2, 5, 4, 12}

// Identity is who a client certificate says its holder is.
type Identity struct {
	User  string // Subject Common Name
	Group string // first Subject Organizational Unit
	// Role comes from the Subject title attribute; it is returned as written
	// (possibly empty or unknown): callers check Role.Valid before granting
	// anything.
	Role Role
	// Serial is the certificate serial number in lowercase hex, for logs.
	Serial string
	// Fingerprint is the SHA-256 of the DER certificate in lowercase hex.
	Fingerprint string
}

// IdentityOf reads the identity from a (verified) client certificate. It does
// not verify anything itself: call it on tls.ConnectionState.VerifiedChains[0][0].
func IdentityOf(cert *x509.Certificate) Identity {
	id := Identity{User: cert.Subject.CommonName}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		id.Group = cert.Subject.OrganizationalUnit[0]
	}
	for _, atv := range cert.Subject.Names {
		if atv.Type.Equal(oidTitle) {
			if s, ok := atv.Value.(string); ok {
				id.Role = Role(s)
			}
			break
		}
	}
	if cert.SerialNumber != nil {
		id.Serial = cert.SerialNumber.Text(16)
	}
	sum := sha256.Sum256(cert.Raw)
	id.Fingerprint = hex.EncodeToString(sum[:])
	return id
}
