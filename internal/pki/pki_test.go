package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/pki"
)

const day = 24 * time.Hour

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.CreateCA("akmmongo", 365*day)
	if err != nil {
		t.Fatalf("CreateCA: %v", err)
	}
	return ca
}

func mustCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatalf("ParseCertificatePEM: %v", err)
	}
	return c
}

func TestCreateCA(t *testing.T) {
	ca := newCA(t)
	c := ca.Certificate()
	if got, want := c.Subject.CommonName, pki.CAName("akmmongo"); got != want {
		t.Errorf("CA CN = %q, want %q", got, want)
	}
	if !c.IsCA || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA constraints: IsCA=%v MaxPathLenZero=%v KeyUsage=%v", c.IsCA, c.MaxPathLenZero, c.KeyUsage)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm = %v", c.SignatureAlgorithm)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	for _, bad := range []struct {
		name string
		v    time.Duration
	}{{"", day}, {"akmmongo", 0}, {"akmmongo", -time.Hour}} {
		if _, err := pki.CreateCA(bad.name, bad.v); err == nil {
			t.Errorf("CreateCA(%q, %s) succeeded", bad.name, bad.v)
		}
	}
}

func TestVerify(t *testing.T) {
	ca := newCA(t)
	other := newCA(t)
	srvPEM, _, err := ca.IssueServer("akmmongo", []string{"127.0.0.1", "::1", "kms.example", "0.0.0.0", "akmmongo"}, 30*day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	cliPEM, _, err := ca.IssueClient("admin1", "akm_admin", pki.RoleCryptoOfficer, 30*day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	foreignPEM, _, err := other.IssueClient("mallory", "x", pki.RoleCryptoOfficer, 30*day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	srv, cli, foreign := mustCert(t, srvPEM), mustCert(t, cliPEM), mustCert(t, foreignPEM)

	tests := []struct {
		name   string
		cert   *x509.Certificate
		usage  x509.ExtKeyUsage
		dns    string
		wantOK bool
	}{
		{"server for server auth by name", srv, x509.ExtKeyUsageServerAuth, "akmmongo", true},
		{"server for server auth by IPv4", srv, x509.ExtKeyUsageServerAuth, "127.0.0.1", true},
		{"server for server auth by IPv6", srv, x509.ExtKeyUsageServerAuth, "::1", true},
		{"server for server auth by extra DNS", srv, x509.ExtKeyUsageServerAuth, "kms.example", true},
		{"server with a wrong name", srv, x509.ExtKeyUsageServerAuth, "elsewhere", false},
		{"server used as a client", srv, x509.ExtKeyUsageClientAuth, "", false},
		{"client for client auth", cli, x509.ExtKeyUsageClientAuth, "", true},
		{"client used as a server", cli, x509.ExtKeyUsageServerAuth, "", false},
		{"client of another CA", foreign, x509.ExtKeyUsageClientAuth, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cert.Verify(x509.VerifyOptions{
				Roots:     ca.Pool(),
				DNSName:   tt.dns,
				KeyUsages: []x509.ExtKeyUsage{tt.usage},
			})
			if (err == nil) != tt.wantOK {
				t.Errorf("Verify error = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}

	if srv.Subject.CommonName != "akmmongo" {
		t.Errorf("server CN = %q", srv.Subject.CommonName)
	}
	if got := strings.Join(srv.DNSNames, ","); got != "akmmongo,kms.example" {
		t.Errorf("server DNS SANs = %q (duplicates or 0.0.0.0 must be dropped)", got)
	}
	if len(srv.IPAddresses) != 2 {
		t.Errorf("server IP SANs = %v, want 127.0.0.1 and ::1", srv.IPAddresses)
	}
	if srv.Subject.String() == ca.Certificate().Subject.String() {
		t.Errorf("server and CA share the Subject %q", srv.Subject)
	}
}

func TestIdentityOf(t *testing.T) {
	ca := newCA(t)
	tests := []struct {
		user, group string
		role        pki.Role
	}{
		{"admin1", "akm_admin", pki.RoleCryptoOfficer},
		{"mongod-1", "mongodb", pki.RoleKeyClient},
		{"auditor", "", pki.RoleAuditor},
		{"Ünïcode user", "group, with comma", pki.RoleKeyClient},
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+"/"+tt.user, func(t *testing.T) {
			certPEM, _, err := ca.IssueClient(tt.user, tt.group, tt.role, day)
			if err != nil {
				t.Fatalf("IssueClient: %v", err)
			}
			c := mustCert(t, certPEM)
			id := pki.IdentityOf(c)
			if id.User != tt.user || id.Group != tt.group || id.Role != tt.role {
				t.Errorf("IdentityOf = %+v, want user %q group %q role %q", id, tt.user, tt.group, tt.role)
			}
			if !id.Role.Valid() {
				t.Errorf("role %q not valid", id.Role)
			}
			if id.Serial != c.SerialNumber.Text(16) {
				t.Errorf("serial %q", id.Serial)
			}
			if len(id.Fingerprint) != 64 || strings.ToLower(id.Fingerprint) != id.Fingerprint {
				t.Errorf("fingerprint %q is not lowercase SHA-256 hex", id.Fingerprint)
			}
			if c.SerialNumber.BitLen() > 128 || c.SerialNumber.BitLen() < 64 {
				t.Errorf("serial has %d bits; want a random 128-bit number", c.SerialNumber.BitLen())
			}
		})
	}

	// A certificate without a title has no role.
	srvPEM, _, err := ca.IssueServer("akmmongo", nil, day)
	if err != nil {
		t.Fatal(err)
	}
	if id := pki.IdentityOf(mustCert(t, srvPEM)); id.Role != "" || id.Role.Valid() {
		t.Errorf("server certificate has role %q", id.Role)
	}
}

func TestIssueRejects(t *testing.T) {
	ca := newCA(t)
	tests := []struct {
		name string
		call func() error
	}{
		{"empty user", func() error { _, _, err := ca.IssueClient("", "g", pki.RoleKeyClient, day); return err }},
		{"unknown role", func() error { _, _, err := ca.IssueClient("u", "g", "root", day); return err }},
		{"zero validity", func() error { _, _, err := ca.IssueClient("u", "g", pki.RoleKeyClient, 0); return err }},
		{"empty server name", func() error { _, _, err := ca.IssueServer("", nil, day); return err }},
		{"bad host", func() error { _, _, err := ca.IssueServer("akmmongo", []string{"a b"}, day); return err }},
		{"host with port", func() error { _, _, err := ca.IssueServer("akmmongo", []string{"host:5696"}, day); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.call() == nil {
				t.Error("succeeded")
			}
		})
	}
	if _, err := pki.ParseRole("superuser"); err == nil {
		t.Error("ParseRole accepted an unknown role")
	}
	if r, err := pki.ParseRole("key-client"); err != nil || r != pki.RoleKeyClient {
		t.Errorf("ParseRole(key-client) = %q, %v", r, err)
	}
}

func TestValidityClampedToCA(t *testing.T) {
	ca, err := pki.CreateCA("akmmongo", day)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.IssueClient("u", "g", pki.RoleKeyClient, 3650*day)
	if err != nil {
		t.Fatal(err)
	}
	if c := mustCert(t, certPEM); c.NotAfter.After(ca.Certificate().NotAfter) {
		t.Errorf("certificate outlives its CA: %s > %s", c.NotAfter, ca.Certificate().NotAfter)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestWritePEMFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	ca := newCA(t)
	certPEM, keyPEM, err := ca.IssueClient("admin1", "akm_admin", pki.RoleCryptoOfficer, day)
	if err != nil {
		t.Fatal(err)
	}
	// A stale, world-readable file must be replaced by a 0600 one.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pki.FileAdminKey), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteCertKeySet(dir, "admin", certPEM, keyPEM); err != nil {
		t.Fatalf("WriteCertKeySet: %v", err)
	}
	if err := pki.WritePEMFiles(dir, map[string][]byte{pki.FileCA: ca.CertPEM()}); err != nil {
		t.Fatalf("WritePEMFiles: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if m := fileMode(t, filepath.Join(dir, e.Name())); m != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", e.Name(), m)
		}
	}
	if got, want := strings.Join(names, " "), "admin-cert.pem admin-key.pem admin.pem ca.pem"; got != want {
		t.Errorf("files = %q, want %q (no temporary files left)", got, want)
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Errorf("folder mode %04o, want 0700", m)
	}

	// The combined file works as certificate and key at once, as mongod uses it.
	both, err := os.ReadFile(filepath.Join(dir, pki.FileAdminPEM))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(both, both); err != nil {
		t.Errorf("combined PEM is not a usable key pair: %v", err)
	}

	for _, bad := range []string{"", "../x.pem", "sub/x.pem", ".hidden"} {
		if err := pki.WritePEMFiles(dir, map[string][]byte{bad: []byte("x")}); err == nil {
			t.Errorf("WritePEMFiles accepted the name %q", bad)
		}
	}
}

func TestSaveLoadCA(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, pki.FileCA), filepath.Join(dir, pki.FileCAKey)
	ca := newCA(t)
	if err := ca.Save(certPath, keyPath); err != nil {
		t.Fatalf("Save: %v", err)
	}
	for _, p := range []string{certPath, keyPath} {
		if m := fileMode(t, p); m != 0o600 {
			t.Errorf("%s mode %04o, want 0600", filepath.Base(p), m)
		}
	}
	loaded, err := pki.LoadCA(certPath, keyPath)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !loaded.Certificate().Equal(ca.Certificate()) {
		t.Fatal("reloaded CA certificate differs")
	}
	// A certificate issued by the reloaded CA verifies against the original.
	certPEM, _, err := loaded.IssueServer("akmmongo", []string{"127.0.0.1"}, day)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustCert(t, certPEM).Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "akmmongo"}); err != nil {
		t.Errorf("certificate from reloaded CA does not verify: %v", err)
	}

	t.Run("key readable by others", func(t *testing.T) {
		if err := os.Chmod(keyPath, 0o640); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = os.Chmod(keyPath, 0o600) }()
		if _, err := pki.LoadCA(certPath, keyPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("LoadCA error = %v, want a mode complaint", err)
		}
	})
	t.Run("key of another CA", func(t *testing.T) {
		otherKey := filepath.Join(dir, "other-key.pem")
		if err := newCA(t).Save(filepath.Join(dir, "other.pem"), otherKey); err != nil {
			t.Fatal(err)
		}
		if _, err := pki.LoadCA(certPath, otherKey); err == nil {
			t.Error("LoadCA accepted a key that does not match the certificate")
		}
	})
	t.Run("not a CA", func(t *testing.T) {
		certPEM, keyPEM, err := ca.IssueClient("u", "g", pki.RoleKeyClient, day)
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteCertKeySet(dir, "leaf", certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
		if _, err := pki.LoadCA(filepath.Join(dir, "leaf-cert.pem"), filepath.Join(dir, "leaf-key.pem")); err == nil {
			t.Error("LoadCA accepted an end-entity certificate")
		}
	})
	t.Run("key not exportable", func(t *testing.T) {
		hsmLike, err := pki.NewCA(ca.Certificate(), opaqueSigner{ca})
		if err != nil {
			t.Fatalf("NewCA: %v", err)
		}
		if err := hsmLike.Save(filepath.Join(dir, "h.pem"), filepath.Join(dir, "h-key.pem")); err != pki.ErrKeyNotExportable {
			t.Errorf("Save error = %v, want ErrKeyNotExportable", err)
		}
		if err := hsmLike.Save(filepath.Join(dir, "h.pem"), ""); err != nil {
			t.Errorf("Save of the certificate alone: %v", err)
		}
		// Issuing goes through the opaque signer.
		if _, _, err := hsmLike.IssueClient("u", "g", pki.RoleAuditor, day); err != nil {
			t.Errorf("IssueClient through a crypto.Signer: %v", err)
		}
	})
}

// opaqueSigner hides the concrete key type, as an HSM-backed signer does.
type opaqueSigner struct{ ca *pki.CA }

func (s opaqueSigner) Public() crypto.PublicKey { return s.ca.Signer().Public() }

func (s opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.ca.Signer().Sign(r, digest, opts)
}

// TestMutualTLS runs real handshakes with the issued certificates, as the KMIP
// listener will: TLS 1.2 and 1.3, client certificate required and verified
// against the CA, server name checked by the client.
func TestMutualTLS(t *testing.T) {
	ca := newCA(t)
	srvCert, srvKey, err := ca.IssueServer("akmmongo", []string{"127.0.0.1"}, day)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := ca.IssueClient("admin1", "akm_admin", pki.RoleCryptoOfficer, day)
	if err != nil {
		t.Fatal(err)
	}
	srvPair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliPair, err := tls.X509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		version    uint16
		serverName string
		clientCert bool
		wantOK     bool
	}{
		{"TLS 1.3", tls.VersionTLS13, "akmmongo", true, true},
		{"TLS 1.2", tls.VersionTLS12, "akmmongo", true, true},
		{"TLS 1.2 by IP", tls.VersionTLS12, "127.0.0.1", true, true},
		{"wrong server name", tls.VersionTLS13, "other", true, false},
		{"no client certificate", tls.VersionTLS12, "akmmongo", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Loopback TCP rather than net.Pipe: an unbuffered pipe makes both
			// close_notify writes wait for each other until Close's timeout.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			server := tls.Server(sc, &tls.Config{
				Certificates: []tls.Certificate{srvPair},
				ClientCAs:    ca.Pool(),
				ClientAuth:   tls.RequireAndVerifyClientCert,
				MinVersion:   tls.VersionTLS12,
			})
			ccfg := &tls.Config{RootCAs: ca.Pool(), ServerName: tt.serverName, MinVersion: tt.version, MaxVersion: tt.version}
			if tt.clientCert {
				ccfg.Certificates = []tls.Certificate{cliPair}
			}
			client := tls.Client(cc, ccfg)
			type result struct {
				id  pki.Identity
				err error
			}
			done := make(chan result, 1)
			go func() {
				defer server.Close()
				if err := server.Handshake(); err != nil {
					done <- result{err: err}
					return
				}
				st := server.ConnectionState()
				done <- result{id: pki.IdentityOf(st.VerifiedChains[0][0])}
				_, _ = server.Write([]byte("ok"))
			}()
			_ = client.SetDeadline(time.Now().Add(10 * time.Second))
			cerr := client.Handshake()
			if cerr == nil {
				// TLS 1.3 reports a rejected client certificate on first read.
				_, cerr = io.ReadFull(client, make([]byte, 2))
			}
			_ = client.Close()
			res := <-done
			ok := cerr == nil && res.err == nil
			if ok != tt.wantOK {
				t.Fatalf("handshake ok=%v (client: %v, server: %v), want ok=%v", ok, cerr, res.err, tt.wantOK)
			}
			if ok && (res.id.User != "admin1" || res.id.Role != pki.RoleCryptoOfficer) {
				t.Errorf("server saw identity %+v", res.id)
			}
		})
	}
}

func TestSerialsDiffer(t *testing.T) {
	ca := newCA(t)
	seen := map[string]bool{}
	for range 20 {
		certPEM, _, err := ca.IssueClient("u", "g", pki.RoleKeyClient, day)
		if err != nil {
			t.Fatal(err)
		}
		s := pki.IdentityOf(mustCert(t, certPEM)).Serial
		if seen[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		seen[s] = true
	}
}

func TestParsePrivateKeyPEMRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "not pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := pki.ParsePrivateKeyPEM([]byte(in)); err == nil {
			t.Errorf("ParsePrivateKeyPEM(%q) succeeded", in)
		}
	}
}
