package server_test

import (
	"bytes"
	"crypto/tls"
	"github.com/strongroom/strongroom/internal/tlstest"
	"path/filepath"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/server"
)

func TestNewRejectsUnsafeConfig(t *testing.T) {
	e := start(t, nil)
	good := server.Config{TLS: e.clientTLS.Clone(), Handler: e.h}
	good.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	good.TLS.ClientCAs = e.ca.Pool
	if _, err := server.New(good); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*server.Config)
	}{
		{"no handler", func(c *server.Config) { c.Handler = nil }},
		{"no TLS", func(c *server.Config) { c.TLS = nil }},
		{"client certificate optional", func(c *server.Config) { c.TLS.ClientAuth = tls.VerifyClientCertIfGiven }},
		{"client certificate not verified", func(c *server.Config) { c.TLS.ClientAuth = tls.RequireAnyClientCert }},
		{"no client CA", func(c *server.Config) { c.TLS.ClientCAs = nil }},
		{"no server certificate", func(c *server.Config) { c.TLS.Certificates = nil }},
		{"negative idle timeout", func(c *server.Config) { c.IdleTimeout = -time.Second }},
		{"message size below a header", func(c *server.Config) { c.MaxMessageSize = 4 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.TLS = good.TLS.Clone()
			tc.mutate(&cfg)
			if _, err := server.New(cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}

func TestNewTLSConfig(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "s.pem"), filepath.Join(dir, "s.key"), filepath.Join(dir, "ca.pem")
	first := ca.Issue(t, "first", true)
	cp, kp := tlstest.CertPEM(t, first)
	writeFile(t, certFile, cp)
	writeFile(t, keyFile, kp)
	writeFile(t, caFile, ca.PEM())

	r, err := server.NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := server.NewReloadableTLSConfig(r, caFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS13 {
		t.Errorf("versions %x..%x, want TLS 1.2..1.3", cfg.MinVersion, cfg.MaxVersion)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("ClientAuth = %v", cfg.ClientAuth)
	}
	for _, id := range cfg.CipherSuites {
		s := tls.CipherSuiteName(id)
		if !bytes.Contains([]byte(s), []byte("ECDHE")) || bytes.Contains([]byte(s), []byte("CBC")) {
			t.Errorf("cipher suite %s allowed", s)
		}
	}
	cert, _ := cfg.GetCertificate(nil)
	if cert.Leaf.Subject.CommonName != "first" {
		t.Fatalf("certificate %q, want first", cert.Leaf.Subject.CommonName)
	}

	// Reload picks up new files; a broken pair keeps the old certificate.
	cp, kp = tlstest.CertPEM(t, ca.Issue(t, "second", true))
	writeFile(t, certFile, cp)
	writeFile(t, keyFile, kp)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	cert, _ = cfg.GetCertificate(nil)
	if cert.Leaf.Subject.CommonName != "second" {
		t.Fatalf("after Reload: certificate %q, want second", cert.Leaf.Subject.CommonName)
	}
	writeFile(t, keyFile, []byte("not a key"))
	if err := r.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key file")
	}
	cert, _ = cfg.GetCertificate(nil)
	if cert.Leaf.Subject.CommonName != "second" {
		t.Fatalf("after a failed Reload: certificate %q, want second", cert.Leaf.Subject.CommonName)
	}

	writeFile(t, filepath.Join(dir, "empty.pem"), []byte("no certificates here\n"))
	if _, err := server.NewTLSConfig(certFile, keyFile, filepath.Join(dir, "empty.pem")); err == nil {
		t.Error("NewTLSConfig accepted a CA file without certificates")
	}
	if _, err := server.NewTLSConfig(certFile, filepath.Join(dir, "missing.key"), caFile); err == nil {
		t.Error("NewTLSConfig accepted a missing key file")
	}
}
