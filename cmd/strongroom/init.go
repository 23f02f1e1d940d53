package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/storage/postgres"
)

// Certificate lifetimes chosen by init. The CA outlives the certificates it
// issues; `strongroom ca rotate-server` and `ca issue` renew them.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 2 * 365 * 24 * time.Hour
	clientValidity = 2 * 365 * 24 * time.Hour
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "prepare a node: configuration, KEK and MAC key in the token, database schema, CA and certificates",
		Description: "Idempotent: what exists (configuration, token keys, schema, certificates) is kept and reused.\n" +
			"Flags override the configuration file, which is written back.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "certs", Usage: "folder for the CA and certificates (default: <config folder>/certs)"},
			&cli.StringFlag{Name: "listen", Usage: "KMIP listen address (default 0.0.0.0:5696)"},
			&cli.StringFlag{Name: "https-listen", Usage: "KMIP over HTTPS listen address, e.g. 127.0.0.1:5697 (default: off)"},
			&cli.BoolFlag{Name: "kek-exportable", Usage: "create the KEK and MAC key so that `strongroom hsm kek-export` can send them to a mirrored node's token (only under a transport key the SO trusts)"},
			&cli.StringFlag{Name: "health-listen", Usage: "HTTP health check address for load balancers, e.g. 127.0.0.1:5698 (default: off)"},
			&cli.StringFlag{Name: "server-name", Usage: "name clients connect to, in the server certificate (default akmmongo)"},
			&cli.StringSliceFlag{Name: "host", Usage: "extra DNS name or IP for the server certificate (repeatable)"},
			&cli.StringFlag{Name: "database-url", Usage: "PostgreSQL URL"},
			&cli.StringFlag{Name: "hsm-module", Usage: "PKCS#11 module path"},
			&cli.StringFlag{Name: "token-label", Usage: "PKCS#11 token label"},
			&cli.StringFlag{Name: "pin-file", Usage: "file holding the token user PIN"},
			&cli.StringFlag{Name: "pin-env", Usage: "environment variable holding the token user PIN"},
			&cli.StringFlag{Name: "softhsm2-conf", Usage: "SoftHSM2 configuration file (development)"},
			&cli.StringFlag{Name: "node", Usage: "node name, fixed for the life of the database (default node1)"},
			&cli.BoolFlag{Name: "tls-key-in-hsm", Usage: "generate the server's TLS key in the token (tls.key_in_hsm) for a new server certificate"},
		},
		Action: runInit,
	}
}

func runInit(c *cli.Context) error {
	path := configPath(c)
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		cfg = &config.Config{}
	} else if err != nil {
		return err
	}
	set := func(dst *string, flag string) {
		if v := c.String(flag); v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, "listen")
	set(&cfg.HTTPSListen, "https-listen")
	set(&cfg.HealthListen, "health-listen")
	if c.Bool("kek-exportable") {
		cfg.HSM.KEKExportable = true
	}
	set(&cfg.ServerName, "server-name")
	set(&cfg.Database.URL, "database-url")
	set(&cfg.HSM.Module, "hsm-module")
	set(&cfg.HSM.TokenLabel, "token-label")
	set(&cfg.HSM.PINFile, "pin-file")
	set(&cfg.HSM.PINEnv, "pin-env")
	set(&cfg.HSM.SoftHSM2Conf, "softhsm2-conf")
	if v := c.String("node"); v != "" && cfg.Node != "" && v != cfg.Node {
		return fmt.Errorf("init: node is %q in %s and cannot change to %q", cfg.Node, path, v)
	}
	set(&cfg.Node, "node")
	cfg.Defaults()
	for _, p := range []*string{&cfg.HSM.PINFile, &cfg.HSM.SoftHSM2Conf} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}

	certs := c.String("certs")
	if certs == "" {
		certs = filepath.Join(filepath.Dir(path), "certs")
	}
	certs, err = filepath.Abs(certs)
	if err != nil {
		return err
	}
	cfg.TLS = config.TLS{
		CA:         filepath.Join(certs, pki.FileCA),
		Cert:       filepath.Join(certs, pki.FileServerCert),
		Key:        filepath.Join(certs, pki.FileServerKey),
		CAKeyLabel: cfg.TLS.CAKeyLabel,
		KeyInHSM:   cfg.TLS.KeyInHSM || c.Bool("tls-key-in-hsm"),
	}
	cfg.Admin = config.ClientCert{Cert: filepath.Join(certs, pki.FileAdminCert), Key: filepath.Join(certs, pki.FileAdminKey)}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := cfg.Save(path); err != nil {
		return err
	}

	log := logger(c)
	ks, err := openHSM(c.Context, cfg, log, true)
	if err != nil {
		return err
	}
	defer ks.Close()
	created, err := ks.EnsureKeys(c.Context)
	if err != nil {
		return err
	}
	store, err := openStore(c.Context, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := issueCertificates(c.Context, cfg, certs, c.StringSlice("host"), ks, store); err != nil {
		return err
	}

	keys := "kept"
	if created {
		keys = "created"
	}
	fmt.Printf("configuration:      %s\n", path)
	fmt.Printf("token keys:         %s (KEK %q, MAC key %q in token %q)\n", keys, cfg.HSM.KEKLabel, cfg.HSM.MACLabel, cfg.HSM.TokenLabel)
	fmt.Printf("database schema:    up to date\n")
	fmt.Printf("CA certificate:     %s\n", cfg.TLS.CA)
	fmt.Printf("Crypto Officer PEM: %s\n", filepath.Join(certs, pki.FileAdminPEM))
	fmt.Printf("key client PEM:     %s\n", filepath.Join(certs, pki.FileClientPEM))
	return nil
}

// issueCertificates creates, where missing, the CA, the server certificate,
// a Crypto Officer and a key client certificate.
func issueCertificates(ctx context.Context, cfg *config.Config, dir string, extraHosts []string, ks *pkcs11hsm.Keystore, store *postgres.Store) error {
	caCert := filepath.Join(dir, pki.FileCA)
	var ca *pki.CA
	var err error
	// An existing install keeps its CA (file key or token key), opened only
	// if something must be issued: a mirrored node whose certificates were
	// copied from the first node has no CA key in its own token.
	openCA := func() (*pki.CA, error) {
		if ca == nil {
			ca, err = loadCA(ctx, cfg, ks)
		}
		return ca, err
	}
	if !exists(caCert) {
		// New installs: the CA key is born in the token and never leaves it.
		if ca, err = createHSMCA(ctx, cfg, ks); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		if err := ca.Save(caCert, ""); err != nil {
			return err
		}
	}
	reg := registry{store: store}
	if !exists(filepath.Join(dir, pki.FileServerCert)) {
		hosts := []string{cfg.ServerName, "localhost", "127.0.0.1", "::1"}
		if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
			hosts = append(hosts, h)
		}
		hosts = append(hosts, extraHosts...)
		ca, err := openCA()
		if err != nil {
			return err
		}
		files, certPEM, err := issueServerFiles(ctx, cfg, ks, ca, hosts)
		if err != nil {
			return err
		}
		if err := pki.WritePEMFiles(dir, files); err != nil {
			return err
		}
		if err := reg.record(ctx, certPEM, ""); err != nil {
			return err
		}
	}
	for _, id := range []struct {
		base, user, group string
		role              pki.Role
	}{
		{"admin", "admin", "crypto-officers", pki.RoleCryptoOfficer},
		{"client", "client", "key-clients", pki.RoleKeyClient},
	} {
		cert, _, _ := pki.CertKeyFiles(id.base)
		if exists(filepath.Join(dir, cert)) {
			continue
		}
		ca, err := openCA()
		if err != nil {
			return err
		}
		certPEM, keyPEM, err := ca.IssueClient(id.user, id.group, id.role, clientValidity)
		if err != nil {
			return err
		}
		if err := pki.WriteCertKeySet(dir, id.base, certPEM, keyPEM); err != nil {
			return err
		}
		if err := reg.record(ctx, certPEM, id.role); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
