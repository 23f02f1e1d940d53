package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/storage/postgres"
)

// caCommand is `strongroom ca ...`: the certificate authority whose key
// lives in the token.
func caCommand() *cli.Command {
	identity := []cli.Flag{
		&cli.StringFlag{Name: "role", Required: true, Usage: "crypto-officer, key-client or auditor"},
		&cli.StringFlag{Name: "user", Usage: "user name (certificate CN)"},
		&cli.StringFlag{Name: "group", Usage: "group (certificate OU)"},
		&cli.DurationFlag{Name: "validity", Value: clientValidity, Usage: "certificate lifetime"},
	}
	return &cli.Command{
		Name:  "ca",
		Usage: "certificate authority: issue, sign, list, revoke certificates; rotate the server certificate; replace the CA",
		Subcommands: []*cli.Command{
			{
				Name:      "issue",
				Usage:     "issue a client certificate and key (PEM files of mode 0600: <name>-cert.pem, <name>-key.pem, <name>.pem)",
				ArgsUsage: " ",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "folder for the files"},
					&cli.StringFlag{Name: "name", Usage: "base file name (default: the user)"},
				}, identity...),
				Action: withCA(runCAIssue),
			},
			{
				Name:      "sign",
				Usage:     "sign a certificate request (PEM) as a client certificate; the identity comes from the flags",
				ArgsUsage: "CSR-FILE",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "out", Usage: "certificate file (default: standard output)"},
				}, identity...),
				Action: withCA(runCASign),
			},
			{
				Name:   "list",
				Usage:  "list the issued certificates: serial, subject, role, expiry, revoked",
				Action: withCA(runCAList),
			},
			{
				Name:      "revoke",
				Usage:     "revoke a certificate: refused at the next handshake, its open connections closed",
				ArgsUsage: "SERIAL",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "reason", Usage: "free text kept with the revocation"}},
				Action:    withCA(runCARevoke),
			},
			{
				Name:  "rotate-server",
				Usage: "issue a new server certificate and key from the same CA; a running server picks it up without restart",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "host", Usage: "extra DNS name or IP for the server certificate (repeatable)"},
				},
				Action: withCA(runCARotateServer),
			},
			{
				Name: "replace",
				Usage: "replace the CA (a compromised CA key): new CA key in the token, new CA certificate, new server, " +
					"Crypto Officer and key-client certificates; keys are untouched (they are wrapped under the KEK, not the CA)",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "host", Usage: "extra DNS name or IP for the server certificate (repeatable)"},
				},
				Action: withCA(runCAReplace),
			},
		},
	}
}

// caEnv is what every ca command needs: configuration, token, database.
type caEnv struct {
	cfg   *config.Config
	ks    *pkcs11hsm.Keystore
	store *postgres.Store
	reg   registry
}

func withCA(f func(c *cli.Context, env *caEnv) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		cfg, err := loadConfig(c)
		if err != nil {
			return err
		}
		log := logger(c)
		ks, err := openHSM(c.Context, cfg, log, false)
		if err != nil {
			return err
		}
		defer ks.Close()
		store, err := openStore(c.Context, cfg, log)
		if err != nil {
			return err
		}
		defer store.Close()
		return f(c, &caEnv{cfg: cfg, ks: ks, store: store, reg: registry{store: store}})
	}
}

// caKeyFile is where a CA key file sits for installs made before the CA key
// moved into the token.
func caKeyFile(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.TLS.CA), pki.FileCAKey)
}

// loadCA opens the CA: the file key of an older install if ca-key.pem sits
// beside the CA certificate (migrate with `strongroom ca replace`), else the
// key in the token.
func loadCA(ctx context.Context, cfg *config.Config, ks *pkcs11hsm.Keystore) (*pki.CA, error) {
	if keyFile := caKeyFile(cfg); exists(keyFile) {
		return pki.LoadCA(cfg.TLS.CA, keyFile)
	}
	data, err := os.ReadFile(cfg.TLS.CA)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		return nil, err
	}
	signer, err := ks.CASigner(ctx, cfg.TLS.CAKeyLabel)
	if err != nil {
		return nil, err
	}
	return pki.NewCA(cert, signer)
}

// createHSMCA makes a new CA whose key is generated in the token under the
// configured label (or the default).
func createHSMCA(ctx context.Context, cfg *config.Config, ks *pkcs11hsm.Keystore) (*pki.CA, error) {
	signer, _, err := ks.EnsureCAKey(ctx, cfg.TLS.CAKeyLabel)
	if err != nil {
		return nil, err
	}
	return pki.CreateCAWithSigner(cfg.ServerName, caValidity, signer)
}

// registry records issued certificates in the database (ca list, revoke).
type registry struct{ store *postgres.Store }

func (r registry) record(ctx context.Context, certPEM []byte, role pki.Role) error {
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		return err
	}
	id := pki.IdentityOf(cert)
	if role == "" {
		role = id.Role
	}
	return r.store.RecordCertificate(ctx, postgres.IssuedCertificate{
		Serial: id.Serial, Subject: cert.Subject.String(), Role: string(role), User: id.User, Group: id.Group,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Issuer: cert.Issuer.String(), CertPEM: string(certPEM),
	})
}

func identityFlags(c *cli.Context) (user, group string, role pki.Role, err error) {
	role, err = pki.ParseRole(c.String("role"))
	return c.String("user"), c.String("group"), role, err
}

func runCAIssue(c *cli.Context, env *caEnv) error {
	user, group, role, err := identityFlags(c)
	if err != nil {
		return err
	}
	if user == "" {
		return errors.New("ca issue: --user is required")
	}
	ca, err := loadCA(c.Context, env.cfg, env.ks)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.IssueClient(user, group, role, c.Duration("validity"))
	if err != nil {
		return err
	}
	base := c.String("name")
	if base == "" {
		base = user
	}
	if err := pki.WriteCertKeySet(c.String("out"), base, certPEM, keyPEM); err != nil {
		return err
	}
	if err := env.reg.record(c.Context, certPEM, role); err != nil {
		return err
	}
	cert, _ := pki.ParseCertificatePEM(certPEM)
	cf, kf, both := pki.CertKeyFiles(base)
	fmt.Printf("serial:      %s\n", pki.IdentityOf(cert).Serial)
	fmt.Printf("certificate: %s\n", filepath.Join(c.String("out"), cf))
	fmt.Printf("key:         %s\n", filepath.Join(c.String("out"), kf))
	fmt.Printf("both:        %s\n", filepath.Join(c.String("out"), both))
	return nil
}

func runCASign(c *cli.Context, env *caEnv) error {
	if c.NArg() != 1 {
		return errors.New("ca sign: give one CSR file")
	}
	user, group, role, err := identityFlags(c)
	if err != nil {
		return err
	}
	csr, err := os.ReadFile(c.Args().First())
	if err != nil {
		return fmt.Errorf("ca sign: %w", err)
	}
	ca, err := loadCA(c.Context, env.cfg, env.ks)
	if err != nil {
		return err
	}
	certPEM, err := ca.SignCSR(csr, user, group, role, c.Duration("validity"))
	if err != nil {
		return err
	}
	if err := env.reg.record(c.Context, certPEM, role); err != nil {
		return err
	}
	if out := c.String("out"); out != "" {
		dir, name := filepath.Split(out)
		if dir == "" {
			dir = "."
		}
		return pki.WritePEMFiles(dir, map[string][]byte{name: certPEM})
	}
	_, err = os.Stdout.Write(certPEM)
	return err
}

func runCAList(c *cli.Context, env *caEnv) error {
	certs, err := env.store.ListCertificates(c.Context)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERIAL\tSUBJECT\tROLE\tEXPIRES\tREVOKED")
	now := time.Now()
	for _, ct := range certs {
		revoked := "no"
		if ct.Revoked {
			revoked = ct.RevokedAt.UTC().Format(time.RFC3339)
		}
		exp := ct.NotAfter.UTC().Format(time.RFC3339)
		if ct.NotAfter.Before(now) {
			exp += " (expired)"
		}
		role := ct.Role
		if role == "" {
			role = "server"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ct.Serial, ct.Subject, role, exp, revoked)
	}
	return w.Flush()
}

func runCARevoke(c *cli.Context, env *caEnv) error {
	if c.NArg() != 1 {
		return errors.New("ca revoke: give one serial (hex, as ca list shows it)")
	}
	serial := strings.TrimLeft(strings.ToLower(strings.ReplaceAll(c.Args().First(), ":", "")), "0")
	if serial == "" || strings.Trim(serial, "0123456789abcdef") != "" || len(serial) > 40 {
		return fmt.Errorf("ca revoke: %q is not a hexadecimal serial", c.Args().First())
	}
	if err := env.store.RevokeCertificate(c.Context, serial, c.String("reason")); err != nil {
		return err
	}
	fmt.Printf("revoked %s (running servers refuse it within %s and close its connections)\n", serial, revocationRefresh)
	return nil
}

// serverHosts are the names and addresses the server certificate carries.
func serverHosts(cfg *config.Config, extra []string) []string {
	hosts := []string{cfg.ServerName, "localhost", "127.0.0.1", "::1"}
	if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	return append(hosts, extra...)
}

// hostsOf keeps the SANs of the current server certificate, so a rotation
// does not lose a --host given at init.
func hostsOf(certFile string) []string {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil
	}
	cert, err := pki.ParseCertificatePEM(data)
	if err != nil {
		return nil
	}
	hosts := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

// writeServerCert issues a server certificate into the configured files.
// The key file is written before the certificate: a server polling the
// certificate file then finds a matching key when it sees the change (and
// CertReloader keeps the old pair if they ever mismatch).
func writeServerCert(ctx context.Context, env *caEnv, ca *pki.CA, extra []string) (*x509.Certificate, error) {
	hosts := append(serverHosts(env.cfg, hostsOf(env.cfg.TLS.Cert)), extra...)
	files, certPEM, err := issueServerFiles(ctx, env.cfg, env.ks, ca, hosts)
	if err != nil {
		return nil, err
	}
	if keyPEM, ok := files[pki.FileServerKey]; ok {
		if err := pki.WritePEMFiles(filepath.Dir(env.cfg.TLS.Key), map[string][]byte{filepath.Base(env.cfg.TLS.Key): keyPEM}); err != nil {
			return nil, err
		}
	}
	if err := pki.WritePEMFiles(filepath.Dir(env.cfg.TLS.Cert), map[string][]byte{filepath.Base(env.cfg.TLS.Cert): certPEM}); err != nil {
		return nil, err
	}
	if err := env.reg.record(ctx, certPEM, ""); err != nil {
		return nil, err
	}
	return pki.ParseCertificatePEM(certPEM)
}

func runCARotateServer(c *cli.Context, env *caEnv) error {
	ca, err := loadCA(c.Context, env.cfg, env.ks)
	if err != nil {
		return err
	}
	cert, err := writeServerCert(c.Context, env, ca, c.StringSlice("host"))
	if err != nil {
		return err
	}
	fmt.Printf("server certificate %s (serial %s) rotated; a running server loads it within %s, or at once on SIGHUP\n",
		env.cfg.TLS.Cert, pki.IdentityOf(cert).Serial, certReloadInterval)
	return nil
}

// runCAReplace replaces the CA: a new key pair in the token under a new
// label, a new CA certificate, and new server, Crypto Officer and key-client
// certificates in the certificates folder. Keys are untouched: they are
// wrapped under the KEK, which the CA never touched. Every other client
// certificate must be reissued (`ca issue`); running servers must be
// restarted to trust the new CA. A file CA key of an older install is
// deleted: this is also the migration of the CA key into the token.
func runCAReplace(c *cli.Context, env *caEnv) error {
	cfg := env.cfg
	label := fmt.Sprintf("%s-%s", pkcs11hsm.DefaultCAKeyLabel, time.Now().UTC().Format("20060102T150405"))
	signer, _, err := env.ks.EnsureCAKey(c.Context, label)
	if err != nil {
		return err
	}
	ca, err := pki.CreateCAWithSigner(cfg.ServerName, caValidity, signer)
	if err != nil {
		return err
	}
	// Reissue the server certificate before publishing the new CA file.
	if _, err := writeServerCert(c.Context, env, ca, c.StringSlice("host")); err != nil {
		return err
	}
	dir := filepath.Dir(cfg.TLS.CA)
	if err := ca.Save(cfg.TLS.CA, ""); err != nil {
		return err
	}
	cfg.TLS.CAKeyLabel = label
	if err := cfg.Save(configPath(c)); err != nil {
		return err
	}
	for _, id := range []struct {
		base, user, group string
		role              pki.Role
	}{
		{"admin", "admin", "crypto-officers", pki.RoleCryptoOfficer},
		{"client", "client", "key-clients", pki.RoleKeyClient},
	} {
		certPEM, keyPEM, err := ca.IssueClient(id.user, id.group, id.role, clientValidity)
		if err != nil {
			return err
		}
		if err := pki.WriteCertKeySet(dir, id.base, certPEM, keyPEM); err != nil {
			return err
		}
		if err := env.reg.record(c.Context, certPEM, id.role); err != nil {
			return err
		}
	}
	if keyFile := caKeyFile(cfg); exists(keyFile) {
		if err := os.Remove(keyFile); err != nil {
			return fmt.Errorf("ca replace: remove the old CA key file: %w", err)
		}
		fmt.Printf("old CA key file %s removed (the new CA key is in the token)\n", keyFile)
	}
	fmt.Printf("new CA %s (key %q in token %q)\n", cfg.TLS.CA, label, cfg.HSM.TokenLabel)
	fmt.Printf("reissued server, Crypto Officer and key-client certificates in %s\n", dir)
	fmt.Println("restart every server, copy the new CA file to every client, and reissue their certificates with `strongroom ca issue`;")
	fmt.Println("keys are unchanged: they are wrapped under the KEK, not the CA")
	return nil
}

// issueServerFiles issues a server certificate: with tls.key_in_hsm for the
// token's TLS key (created if absent; only the certificate file is
// returned), else with a new key file.
func issueServerFiles(ctx context.Context, cfg *config.Config, ks *pkcs11hsm.Keystore, ca *pki.CA, hosts []string) (files map[string][]byte, certPEM []byte, err error) {
	if cfg.TLS.KeyInHSM {
		signer, _, err := ks.EnsureCAKey(ctx, pkcs11hsm.DefaultTLSKeyLabel)
		if err != nil {
			return nil, nil, err
		}
		certPEM, err := ca.IssueServerFor(cfg.ServerName, hosts, serverValidity, signer.Public())
		if err != nil {
			return nil, nil, err
		}
		return map[string][]byte{pki.FileServerCert: certPEM}, certPEM, nil
	}
	certPEM, keyPEM, err := ca.IssueServer(cfg.ServerName, hosts, serverValidity)
	if err != nil {
		return nil, nil, err
	}
	return map[string][]byte{pki.FileServerCert: certPEM, pki.FileServerKey: keyPEM}, certPEM, nil
}

// serverCertReloader loads the server certificate with its key from the
// file or, with tls.key_in_hsm, from the token.
func serverCertReloader(ctx context.Context, cfg *config.Config, ks *pkcs11hsm.Keystore) (*server.CertReloader, error) {
	if !cfg.TLS.KeyInHSM {
		return server.NewCertReloader(cfg.TLS.Cert, cfg.TLS.Key)
	}
	signer, err := ks.CASigner(ctx, pkcs11hsm.DefaultTLSKeyLabel)
	if err != nil {
		return nil, err
	}
	return server.NewSignerCertReloader(cfg.TLS.Cert, signer)
}
