package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	"github.com/strongroom/strongroom/internal/pki"
)

func TestSignCSR(t *testing.T) {
	ca := newCA(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "bob", OrganizationalUnit: []string{"payments"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	tests := []struct {
		name, user, group string
		wantUser, wantOU  string
	}{
		{"identity from the request", "", "", "bob", "payments"},
		{"identity from the administrator", "robert", "audit", "robert", "audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := ca.SignCSR(csr, tt.user, tt.group, pki.RoleAuditor, day)
			if err != nil {
				t.Fatalf("SignCSR: %v", err)
			}
			cert := mustCert(t, certPEM)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("signed certificate does not verify: %v", err)
			}
			id := pki.IdentityOf(cert)
			if id.User != tt.wantUser || id.Group != tt.wantOU || id.Role != pki.RoleAuditor {
				t.Errorf("identity %+v", id)
			}
			if !key.PublicKey.Equal(cert.PublicKey) {
				t.Error("certificate is not for the request's key")
			}
		})
	}
	bad := append([]byte{}, der...)
	bad[len(bad)-5] ^= 1
	for name, in := range map[string][]byte{
		"not PEM":        []byte("junk"),
		"bad signature":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad}),
		"wrong PEM type": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	} {
		if _, err := ca.SignCSR(in, "u", "", pki.RoleKeyClient, day); err == nil {
			t.Errorf("%s: SignCSR succeeded", name)
		}
	}
	if _, err := ca.SignCSR(csr, "u", "", pki.Role("root"), day); err == nil {
		t.Error("SignCSR accepted an unknown role")
	}
}
