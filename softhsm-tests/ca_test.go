package softhsmtests

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/internal/softhsmtest"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// revocationBound is how long a revocation may take to reach a running
// server (serve reads the list every 2 s).
const revocationBound = 10 * time.Second

var serialLine = regexp.MustCompile(`(?m)^serial:\s+([0-9a-f]+)$`)

// issue runs `ca issue` and returns the serial and the combined PEM file.
func (n *node) issue(t *testing.T, user, role string, extra ...string) (serial, pemFile string) {
	t.Helper()
	out := filepath.Join(n.dir, "issued")
	o := n.run(t, append([]string{"ca", "issue", "--role", role, "--user", user, "--group", "g-" + user, "--out", out}, extra...)...)
	m := serialLine.FindStringSubmatch(o)
	if m == nil {
		t.Fatalf("ca issue printed no serial:\n%s", o)
	}
	pemFile = filepath.Join(out, user+".pem")
	for _, f := range []string{user + "-cert.pem", user + "-key.pem", user + ".pem"} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, st.Mode().Perm())
		}
	}
	return m[1], pemFile
}

// dialAs connects with a combined certificate+key file and the given CA.
func (n *node) dialAs(t *testing.T, caFile, pemFile string) (*client.Client, error) {
	t.Helper()
	cfg, err := client.ClientTLSConfig(caFile, pemFile, "", "akmmongo")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, n.addr, cfg)
	if err != nil {
		return nil, err
	}
	c := client.New(conn, kmip.ProtocolVersion{Major: 1, Minor: 2})
	// TLS 1.3 reports a refused client certificate on the first read.
	if err := discover(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func discover(c *client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Do(ctx, ttlv.OperationDiscoverVersions, ttlv.Struct(ttlv.TagRequestPayload))
	return err
}

// serverSerial returns the serial of the certificate the server presents.
func (n *node) serverSerial(t *testing.T) string {
	t.Helper()
	certs := filepath.Join(n.dir, "certs")
	cfg, err := client.ClientTLSConfig(filepath.Join(certs, pki.FileCA), filepath.Join(certs, pki.FileAdminPEM), "", "akmmongo")
	if err != nil {
		t.Fatal(err)
	}
	cfg.InsecureSkipVerify = true // only reading the serial; the CA may be mid-replacement
	conn, err := tls.Dial("tcp", n.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return pki.IdentityOf(conn.ConnectionState().PeerCertificates[0]).Serial
}

// fileSerial returns the serial of a PEM certificate file.
func fileSerial(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return pki.IdentityOf(cert).Serial
}

func eventually(t *testing.T, bound time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCertificateAuthority runs `strongroom ca ...` against a server
// process: the CA key is in the token, issued certificates work, revoked,
// expired and foreign ones are refused, the server certificate rotates
// without a restart and replacing the CA keeps keys readable.
func TestCertificateAuthority(t *testing.T) {
	n := newNode(t)
	certs := filepath.Join(n.dir, "certs")
	caFile := filepath.Join(certs, pki.FileCA)
	if _, err := os.Stat(filepath.Join(certs, pki.FileCAKey)); err == nil {
		t.Fatal("init wrote a CA key file; the CA key belongs in the token")
	}
	httpsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	n.setConfig(t, "https_listen", httpsAddr)
	n.start(t)
	checkCAKeyAttributes(t, n)

	serial, alice := n.issue(t, "alice", "key-client")
	list := n.run(t, "ca", "list")
	if !strings.Contains(list, serial) || !strings.Contains(list, "key-client") || !strings.Contains(list, "CN=alice") {
		t.Fatalf("ca list lacks alice's certificate %s:\n%s", serial, list)
	}

	t.Run("issued certificate works", func(t *testing.T) {
		c, err := n.dialAs(t, caFile, alice)
		if err != nil {
			t.Fatalf("alice refused: %v", err)
		}
		c.Close()
	})

	t.Run("signed CSR works", func(t *testing.T) {
		dir := t.TempDir()
		key, csr := filepath.Join(dir, "bob-key.pem"), filepath.Join(dir, "bob.csr")
		if out, err := exec.Command("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
			"-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=bob").CombinedOutput(); err != nil {
			t.Skipf("openssl: %v\n%s", err, out)
		}
		certFile := filepath.Join(dir, "bob-cert.pem")
		n.run(t, "ca", "sign", "--role", "auditor", "--group", "audit", "--out", certFile, csr)
		certPEM, _ := os.ReadFile(certFile)
		keyPEM, _ := os.ReadFile(key)
		both := filepath.Join(dir, "bob.pem")
		if err := os.WriteFile(both, pki.CombinedPEM(certPEM, keyPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := n.dialAs(t, caFile, both)
		if err != nil {
			t.Fatalf("CSR-signed certificate refused: %v", err)
		}
		c.Close()
		if !strings.Contains(n.run(t, "ca", "list"), "auditor") {
			t.Error("ca list lacks the signed certificate")
		}
	})

	t.Run("revoked certificate refused and its connections closed", func(t *testing.T) {
		c, err := n.dialAs(t, caFile, alice)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A kept-alive KMIP over HTTPS connection, on which every request
		// of hc travels: after the revocation it must be closed, not reused.
		hc, raw, err := dialHTTPSAs(t, httpsAddr, caFile, alice)
		if err != nil {
			t.Fatal(err)
		}
		defer hc.Close()
		if err := discover(hc); err != nil {
			t.Fatalf("alice over HTTPS: %v", err)
		}
		start := time.Now()
		n.run(t, "ca", "revoke", serial)
		eventually(t, revocationBound, "open connection of the revoked certificate closed", func() bool {
			return discover(c) != nil
		})
		t.Logf("connection closed %s after the revocation", time.Since(start).Round(time.Millisecond))
		raw.SetReadDeadline(time.Now().Add(revocationBound))
		if _, err := raw.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("kept-alive HTTPS connection of the revoked certificate not closed: %v", err)
		}
		t.Logf("HTTPS connection closed %s after the revocation", time.Since(start).Round(time.Millisecond))
		if c2, err := n.dialAs(t, caFile, alice); err == nil {
			c2.Close()
			t.Fatal("a revoked certificate was accepted at a new handshake")
		}
		if hc2, _, err := dialHTTPSAs(t, httpsAddr, caFile, alice); err == nil {
			err = discover(hc2)
			hc2.Close()
			if err == nil {
				t.Fatal("a revoked certificate was accepted at a new HTTPS handshake")
			}
		}
		if l := n.run(t, "ca", "list"); !regexp.MustCompile(serial + `.*\d{4}-\d\d-\d\dT`).MatchString(l) {
			t.Errorf("ca list does not show %s revoked:\n%s", serial, l)
		}
		// Others are unaffected.
		admin, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := discover(admin); err != nil {
			t.Fatalf("admin refused after another certificate's revocation: %v", err)
		}
		admin.Close()
	})

	t.Run("expired certificate refused", func(t *testing.T) {
		_, carol := n.issue(t, "carol", "key-client", "--validity", "1s")
		time.Sleep(1500 * time.Millisecond)
		if c, err := n.dialAs(t, caFile, carol); err == nil {
			c.Close()
			t.Fatal("an expired certificate was accepted")
		}
	})

	t.Run("certificate of another CA refused", func(t *testing.T) {
		other, err := pki.CreateCA("akmmongo", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := other.IssueClient("mallory", "g", pki.RoleCryptoOfficer, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := pki.WriteCertKeySet(dir, "mallory", certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
		if c, err := n.dialAs(t, caFile, filepath.Join(dir, "mallory.pem")); err == nil {
			c.Close()
			t.Fatal("a certificate of another CA was accepted")
		}
	})

	t.Run("server certificate rotated without restart", func(t *testing.T) {
		before := n.serverSerial(t)
		n.run(t, "ca", "rotate-server")
		after := fileSerial(t, filepath.Join(certs, pki.FileServerCert))
		if after == before {
			t.Fatal("rotate-server kept the serial")
		}
		eventually(t, revocationBound, "new handshakes see the rotated certificate", func() bool {
			return n.serverSerial(t) == after
		})
		c, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
		if err != nil {
			t.Fatalf("verified handshake with the rotated certificate: %v", err)
		}
		c.Close()
	})

	t.Run("CA replaced, keys kept", func(t *testing.T) {
		admin, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		uid, err := admin.CreateAES(ctx, 256)
		if err != nil {
			t.Fatal(err)
		}
		before, err := admin.GetKey(ctx, uid)
		admin.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, dave := n.issue(t, "dave", "key-client")
		oldCA, _ := os.ReadFile(caFile)
		n.run(t, "ca", "replace")
		newCA, _ := os.ReadFile(caFile)
		if bytes.Equal(oldCA, newCA) {
			t.Fatal("ca replace kept the CA certificate")
		}
		n.cmd.Process.Signal(os.Interrupt)
		n.cmd.Wait()
		n.start(t) // dials with the reissued Crypto Officer certificate and the new CA
		admin, err = n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		after, err := admin.GetKey(ctx, uid)
		if err != nil {
			t.Fatalf("Get after the CA replacement: %v", err)
		}
		if !bytes.Equal(before, after) {
			t.Fatal("the key changed across the CA replacement")
		}
		// Certificates of the old CA are refused now.
		if c, err := n.dialAs(t, caFile, dave); err == nil {
			c.Close()
			t.Fatal("a certificate of the replaced CA was accepted")
		}
	})
}

// TestServeFIPS: serve --fips refuses to start without Go's FIPS 140-3
// module and starts with GODEBUG=fips140=on, reporting the module version.
func TestServeFIPS(t *testing.T) {
	n := newNode(t)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GODEBUG=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command(n.bin, "--config", n.config, "serve", "--fips")
	cmd.Env = append(env, "GODEBUG=fips140=off")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FIPS 140-3 module is not enabled") {
		t.Fatalf("serve --fips without the module: err=%v\n%s", err, out)
	}

	var logs bytes.Buffer
	n.cmd = exec.Command(n.bin, "--config", n.config, "serve", "--fips")
	n.cmd.Env = append(env, "GODEBUG=fips140=on")
	n.cmd.Stdout, n.cmd.Stderr = &logs, &logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			n.cmd.Process.Signal(os.Interrupt)
			n.cmd.Wait()
		}
	}
	defer stop()
	eventually(t, 30*time.Second, "serve --fips accepts TLS", func() bool {
		c, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
		if err != nil {
			return false
		}
		defer c.Close()
		return discover(c) == nil
	})
	// A client offering only ChaCha20 over TLS 1.2 is refused.
	certs := filepath.Join(n.dir, "certs")
	cfg, err := client.ClientTLSConfig(filepath.Join(certs, pki.FileCA), filepath.Join(certs, pki.FileAdminPEM), "", "akmmongo")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxVersion = tls.VersionTLS12
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	if conn, err := tls.Dial("tcp", n.addr, cfg); err == nil {
		conn.Close()
		t.Error("FIPS server negotiated ChaCha20-Poly1305")
	}
	// Triple-DES keys are refused with a clear reason.
	admin, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Do(context.Background(), ttlv.OperationCreate, ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
		ttlv.Struct(ttlv.TagTemplateAttribute,
			attr("Cryptographic Algorithm", ttlv.Enum(ttlv.TagAttributeValue, uint32(ttlv.CryptographicAlgorithm3DES))),
			attr("Cryptographic Length", ttlv.Int(ttlv.TagAttributeValue, 168)),
			attr("Cryptographic Usage Mask", ttlv.Int(ttlv.TagAttributeValue, 12)))))
	if err == nil || !strings.Contains(err.Error(), "FIPS mode") {
		t.Errorf("Create Triple-DES in FIPS mode: %v, want a FIPS refusal", err)
	}
	if _, err := admin.CreateAES(context.Background(), 256); err != nil {
		t.Errorf("Create AES in FIPS mode: %v", err)
	}
	admin.Close()
	stop() // the log buffer is only read once the process is gone
	if !strings.Contains(logs.String(), "enabled=true") {
		t.Errorf("serve did not log the FIPS module state:\n%s", logs.String())
	}
}

func attr(name string, value ttlv.Item) ttlv.Item {
	return ttlv.Struct(ttlv.TagAttribute, ttlv.Text(ttlv.TagAttributeName, name), value)
}

// TestTLSKeyInHSM: with tls.key_in_hsm the server's TLS key is generated in
// the token, no key file exists, handshakes are signed by the token, and
// rotate-server reissues the certificate without a restart.
func TestTLSKeyInHSM(t *testing.T) {
	n := newNode(t)
	certs := filepath.Join(n.dir, "certs")
	for _, f := range []string{pki.FileServerCert, pki.FileServerKey} {
		if err := os.Remove(filepath.Join(certs, f)); err != nil {
			t.Fatal(err)
		}
	}
	n.run(t, "init", "--tls-key-in-hsm")
	if _, err := os.Stat(filepath.Join(certs, pki.FileServerKey)); err == nil {
		t.Fatal("init wrote a server key file with --tls-key-in-hsm")
	}
	n.start(t)
	c, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := discover(c); err != nil {
		t.Fatalf("request over a handshake signed in the token: %v", err)
	}
	c.Close()
	before := n.serverSerial(t)
	n.run(t, "ca", "rotate-server")
	after := fileSerial(t, filepath.Join(certs, pki.FileServerCert))
	if after == before {
		t.Fatal("rotate-server kept the serial")
	}
	eventually(t, revocationBound, "new handshakes see the rotated certificate", func() bool {
		return n.serverSerial(t) == after
	})
	if _, err := os.Stat(filepath.Join(certs, pki.FileServerKey)); err == nil {
		t.Fatal("rotate-server wrote a server key file with tls.key_in_hsm")
	}
}

// checkCAKeyAttributes reads the CA private key's attributes with
// pkcs11-tool, as an auditor would: generated in the token, sensitive,
// never extractable, and good for signing only. The PIN is passed on the
// command line of a throwaway test token and scrubbed from any output.
func checkCAKeyAttributes(t *testing.T, n *node) {
	t.Helper()
	module, err := softhsmtest.Module()
	if err != nil {
		t.Fatal(err)
	}
	pin, err := os.ReadFile(filepath.Join(n.dir, "token.pin"))
	if err != nil {
		t.Fatal(err)
	}
	p := strings.TrimSpace(string(pin))
	cmd := exec.Command("pkcs11-tool", "--module", module, "--token-label", "strongroom", "--login", "--pin", p,
		"--list-objects", "--type", "privkey", "--label", pkcs11hsm.DefaultCAKeyLabel)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+filepath.Join(n.dir, "softhsm2.conf"))
	raw, err := cmd.CombinedOutput()
	out := strings.ReplaceAll(string(raw), p, "<PIN>")
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Private Key Object; EC",
		"label:      " + pkcs11hsm.DefaultCAKeyLabel + "\n",
		"Usage:      sign\n",
		"Access:     sensitive, always sensitive, never extractable, local",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("CA private key: %q missing from pkcs11-tool's listing:\n%s", want, out)
		}
	}
	t.Logf("CA private key as pkcs11-tool lists it:\n%s", out)
}
