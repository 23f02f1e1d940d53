package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/storage/postgres"
)

// logger builds the process logger from --log-level.
func logger(c *cli.Context) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// defaultConfig is where a production install keeps its configuration.
const defaultConfig = "/etc/strongroom/strongroom.json"

// configFlag is --config; every command has it so that it may be given
// before or after the command name, and STRONGROOM_CONFIG sets it.
func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name: "config", Aliases: []string{"c"},
		Usage: "configuration file (default $STRONGROOM_CONFIG, else " + defaultConfig + ")",
	}
}

// configPath is the innermost --config given on the command line, else
// STRONGROOM_CONFIG, else the default. The environment is read here rather
// than through the flag so that an exported STRONGROOM_CONFIG never beats a
// --config typed before the command name.
func configPath(c *cli.Context) string {
	for _, ctx := range c.Lineage() {
		if ctx.IsSet("config") {
			return ctx.String("config")
		}
	}
	if v := os.Getenv("STRONGROOM_CONFIG"); v != "" {
		return v
	}
	return defaultConfig
}

// loadConfig reads the file named by --config.
func loadConfig(c *cli.Context) (*config.Config, error) {
	return config.Load(configPath(c))
}

// openHSM opens the configured token.
func openHSM(ctx context.Context, cfg *config.Config, log *slog.Logger, allowMissing bool) (*pkcs11hsm.Keystore, error) {
	if cfg.HSM.SoftHSM2Conf != "" {
		if err := os.Setenv("SOFTHSM2_CONF", cfg.HSM.SoftHSM2Conf); err != nil {
			return nil, err
		}
	}
	pin, err := cfg.HSM.PIN()
	if err != nil {
		return nil, err
	}
	return pkcs11hsm.Open(ctx, pkcs11hsm.Config{
		Module: cfg.HSM.Module, TokenLabel: cfg.HSM.TokenLabel, PIN: pin,
		KEKLabel: cfg.HSM.KEKLabel, MACLabel: cfg.HSM.MACLabel,
		WrapMechanism: cfg.HSM.WrapMechanism, Sessions: cfg.HSM.Sessions,
		KeyCacheSize: cfg.HSM.KeyCacheSize, KeyCacheTTL: cfg.HSM.KeyCacheTTL.Duration,
		AllowMissingKeys: allowMissing, Exportable: cfg.HSM.KEKExportable, Logger: log,
	})
}

// openStore opens PostgreSQL and applies migrations.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*postgres.Store, error) {
	return postgres.Open(ctx, cfg.Database.URL, cfg.Node, log)
}

// enableObjectCache turns on the store's object cache at the configured
// size (serve only: short-lived commands read each object once).
func enableObjectCache(ctx context.Context, cfg *config.Config, store *postgres.Store) error {
	size := cfg.Database.ObjectCacheSize
	if size == 0 {
		size = postgres.DefaultObjectCacheSize
	}
	return store.EnableObjectCache(ctx, size)
}

// dialAddr turns a listen address into one to dial.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// clientTarget resolves where and how a client command that may speak to
// any KMIP server (bench, conformance) connects: the flags first, the
// configuration file only for what they leave out, and the host of addr as
// the server name when neither names one. https picks https_listen over
// listen. what prefixes errors.
func clientTarget(c *cli.Context, what, addr string, https bool) (string, *tls.Config, error) {
	ca, cert, key, name := c.String("ca"), c.String("cert"), c.String("key"), c.String("server-name")
	if addr == "" || ca == "" || cert == "" || name == "" {
		cfg, err := loadConfig(c)
		switch {
		case err == nil:
			if addr == "" {
				addr = dialAddr(cfg.Listen)
				if https {
					if cfg.HTTPSListen == "" {
						return "", nil, fmt.Errorf("%s: https_listen is not configured; give --addr", what)
					}
					addr = dialAddr(cfg.HTTPSListen)
				}
			}
			if ca == "" {
				ca = cfg.TLS.CA
			}
			if cert == "" {
				cert, key = cfg.Admin.Cert, cfg.Admin.Key
			}
			if name == "" {
				name = cfg.ServerName
			}
		case addr == "" || ca == "" || cert == "":
			return "", nil, fmt.Errorf("%s: give --addr, --ca and --cert, or a configuration file: %w", what, err)
		}
	}
	if name == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return "", nil, fmt.Errorf("%s: --addr must be HOST:PORT", what)
		}
		name = host
	}
	tlsCfg, err := client.ClientTLSConfig(ca, cert, key, name)
	if err != nil {
		return "", nil, err
	}
	return addr, tlsCfg, nil
}

// adminClient connects to the server with the Crypto Officer certificate.
func adminClient(c *cli.Context) (*client.Client, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	if cl, local, err := adminClientFor(c, cfg); local {
		return cl, err
	}
	addr := c.String("addr")
	if addr == "" {
		addr = dialAddr(cfg.Listen)
	}
	ca, cert, key := cfg.TLS.CA, cfg.Admin.Cert, cfg.Admin.Key
	if v := c.String("ca"); v != "" {
		ca = v
	}
	if v := c.String("cert"); v != "" {
		cert, key = v, c.String("key")
	}
	tlsCfg, err := client.ClientTLSConfig(ca, cert, key, cfg.ServerName)
	if err != nil {
		return nil, err
	}
	// A comma-separated list fails over at connect time, like mongod's
	// kmipServerName.
	conn, _, err := client.DialAny(c.Context, client.SplitAddrs(addr), tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	v := kmip.ProtocolVersion{Major: 1, Minor: 4}
	if s := c.String("kmip-version"); s != "" {
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d.%d", &v.Major, &v.Minor); err != nil || !v.Supported() {
			conn.Close()
			return nil, fmt.Errorf("unsupported --kmip-version %q", s)
		}
	}
	return client.New(conn, v), nil
}

// clientFlags are the connection flags of the administrator's commands.
func clientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Usage: "server address, or a comma-separated list tried in order at connect time (default: from the configuration)"},
		&cli.StringFlag{Name: "ca", Usage: "CA certificate (default: from the configuration)"},
		&cli.StringFlag{Name: "cert", Usage: "client certificate, or certificate+key PEM (default: the Crypto Officer's)"},
		&cli.StringFlag{Name: "key", Usage: "client private key (when not in --cert)"},
		&cli.StringFlag{Name: "kmip-version", Value: "1.4", Usage: "KMIP protocol version to speak"},
	}
}
