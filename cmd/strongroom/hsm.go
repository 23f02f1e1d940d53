package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/config"
)

// hsmCommand is the KEK ceremony: moving the KEK and MAC key to a new
// node's token, wrapped under a transport key born in that token.
func hsmCommand() *cli.Command {
	tokenFlags := []cli.Flag{
		&cli.StringFlag{Name: "hsm-module", Usage: "PKCS#11 module (default: from the configuration)"},
		&cli.StringFlag{Name: "token-label", Usage: "token label (default: from the configuration)"},
		&cli.StringFlag{Name: "pin-file", Usage: "file holding the token user PIN (default: from the configuration)"},
		&cli.StringFlag{Name: "softhsm2-conf", Usage: "SoftHSM2 configuration file (development)"},
	}
	return &cli.Command{
		Name:  "hsm",
		Usage: "the KEK ceremony between the HSMs of mirrored nodes",
		Description: "Mirrored nodes must share the KEK and the MAC key. On the NEW node, before its first init:\n" +
			"  strongroom hsm transport-key --out transport.pem\n" +
			"On the OLD node (its keys made with init --kek-exportable), with the token's SO PIN:\n" +
			"  strongroom hsm kek-export --to transport.pem --so-pin-file so.pin --out kek.bundle\n" +
			"On the NEW node:\n" +
			"  strongroom hsm kek-import kek.bundle   (then strongroom init)\n" +
			"The keys leave the old token only wrapped (RSA-OAEP) under a transport key whose private half\n" +
			"never leaves the new token; the files carry nothing secret. The new node's commands work before\n" +
			"it has a configuration file when the token flags are given.",
		Subcommands: []*cli.Command{
			{
				Name: "transport-key", Usage: "NEW node: generate an RSA-3072 transport key pair in the token; write its public key",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "file for the public key (PEM)"},
				}, tokenFlags...),
				Action: func(c *cli.Context) error {
					return withCeremonyHSM(c, true, func(ctx context.Context, ks *pkcs11hsm.Keystore) error {
						pub, err := ks.CreateTransportKey(ctx)
						if err != nil {
							return err
						}
						der, err := x509.MarshalPKIXPublicKey(pub)
						if err != nil {
							return err
						}
						if err := writeCeremonyFile(c.String("out"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
							return err
						}
						fp, _ := pkcs11hsm.Fingerprint(pub)
						fmt.Printf("transport key written to %s (SHA-256 %s); compare this fingerprint on the old node\n", c.String("out"), fp)
						return nil
					})
				},
			},
			{
				Name: "kek-export", Usage: "OLD node: wrap the KEK and MAC key under a new node's transport key (needs the token's SO PIN)",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "to", Required: true, Usage: "the new node's transport public key (PEM, from transport-key)"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "file for the wrapped keys (JSON)"},
					&cli.StringFlag{Name: "so-pin-file", Usage: "file holding the token's Security Officer PIN"},
					&cli.StringFlag{Name: "so-pin-env", Usage: "environment variable holding the token's Security Officer PIN"},
				}, tokenFlags...),
				Action: runKEKExport,
			},
			{
				Name: "kek-import", Usage: "NEW node: unwrap the KEK and MAC key into the token with the transport key", ArgsUsage: "BUNDLE",
				Flags: tokenFlags,
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("hsm kek-import: want BUNDLE")
					}
					raw, err := os.ReadFile(c.Args().First())
					if err != nil {
						return fmt.Errorf("hsm kek-import: %w", err)
					}
					var b pkcs11hsm.KeyBundle
					if err := json.Unmarshal(raw, &b); err != nil {
						return fmt.Errorf("hsm kek-import: %s: %w", c.Args().First(), err)
					}
					return withCeremonyHSM(c, true, func(ctx context.Context, ks *pkcs11hsm.Keystore) error {
						if err := ks.ImportKeys(ctx, b); err != nil {
							return err
						}
						fmt.Printf("KEK %q and MAC key %q imported; the transport key is deleted\n", b.KEKLabel, b.MACLabel)
						return nil
					})
				},
			},
		},
	}
}

func runKEKExport(c *cli.Context) error {
	pemBytes, err := os.ReadFile(c.String("to"))
	if err != nil {
		return fmt.Errorf("hsm kek-export: %w", err)
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return fmt.Errorf("hsm kek-export: %s holds no PUBLIC KEY PEM block", c.String("to"))
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return fmt.Errorf("hsm kek-export: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return errors.New("hsm kek-export: the transport key is not RSA")
	}
	soPIN, err := readSOPIN(c)
	if err != nil {
		return err
	}
	cfg, err := ceremonyConfig(c)
	if err != nil {
		return err
	}
	if cfg.HSM.SoftHSM2Conf != "" {
		if err := os.Setenv("SOFTHSM2_CONF", cfg.HSM.SoftHSM2Conf); err != nil {
			return err
		}
	}
	// The SO step first, while this process holds no user login.
	if err := pkcs11hsm.TrustTransportKey(c.Context, cfg.HSM.Module, cfg.HSM.TokenLabel, soPIN, pub); err != nil {
		return err
	}
	return withCeremonyHSM(c, false, func(ctx context.Context, ks *pkcs11hsm.Keystore) error {
		b, err := ks.ExportKeys(ctx, pub)
		if err != nil {
			return err
		}
		out, err := json.MarshalIndent(b, "", "  ")
		if err != nil {
			return err
		}
		if err := writeCeremonyFile(c.String("out"), append(out, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Printf("KEK and MAC key wrapped for transport key SHA-256 %s into %s\n", b.Transport, c.String("out"))
		return nil
	})
}

// readSOPIN reads the SO PIN from --so-pin-env or --so-pin-file; never
// from the command line.
func readSOPIN(c *cli.Context) (string, error) {
	if name := c.String("so-pin-env"); name != "" {
		if v := os.Getenv(name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("hsm kek-export: environment variable %s is not set", name)
	}
	if f := c.String("so-pin-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("hsm kek-export: read SO PIN file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", errors.New("hsm kek-export: --so-pin-file or --so-pin-env is required (the SO PIN is never read from the command line)")
}

// ceremonyConfig is the configuration file if there is one, with the
// token flags on top: a new node has no configuration before its first
// init, which must come after the import.
func ceremonyConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := loadConfig(c)
	if errors.Is(err, fs.ErrNotExist) {
		cfg = &config.Config{}
		cfg.Defaults()
	} else if err != nil {
		return nil, err
	}
	for _, x := range []struct {
		flag string
		dst  *string
	}{
		{"hsm-module", &cfg.HSM.Module}, {"token-label", &cfg.HSM.TokenLabel},
		{"pin-file", &cfg.HSM.PINFile}, {"softhsm2-conf", &cfg.HSM.SoftHSM2Conf},
	} {
		if v := c.String(x.flag); v != "" {
			if x.flag != "hsm-module" && x.flag != "token-label" {
				if abs, err := filepath.Abs(v); err == nil {
					v = abs
				}
			}
			*x.dst = v
		}
	}
	if cfg.HSM.Module == "" || cfg.HSM.TokenLabel == "" {
		return nil, errors.New("hsm: no token: give --hsm-module and --token-label, or a configuration")
	}
	return cfg, nil
}

// withCeremonyHSM opens the token (missing keys allowed when asked) for
// one ceremony step.
func withCeremonyHSM(c *cli.Context, allowMissing bool, fn func(ctx context.Context, ks *pkcs11hsm.Keystore) error) error {
	cfg, err := ceremonyConfig(c)
	if err != nil {
		return err
	}
	ks, err := openHSM(c.Context, cfg, logger(c), allowMissing)
	if err != nil {
		return err
	}
	defer ks.Close()
	return fn(c.Context, ks)
}

// writeCeremonyFile writes data to path atomically with the given mode.
func writeCeremonyFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
