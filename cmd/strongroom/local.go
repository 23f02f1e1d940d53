package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ops"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/replication"
)

// In separation of duties mode the server refuses Create, Register and
// Destroy to every certificate, so the administrator's `strongroom key ...`
// commands do not go over the network: they run the operations layer in
// their own process, on the server, against the database and the HSM (the
// PIN file and the database URL are readable only there). The caller is the
// local administrator, a Crypto Officer named after the Unix user. Its audit
// records form their own chain, node "<node>-admin", so that the server's
// chain and the CLI's never race for the same sequence numbers.

// localTransport hands request messages to an in-process ops.Service.
type localTransport struct {
	svc   *ops.Service
	close func()
}

func (l *localTransport) RoundTrip(ctx context.Context, req ttlv.Item) (ttlv.Item, error) {
	return l.svc.ServeKMIP(ctx, server.Peer{}, req), nil
}

func (l *localTransport) Close() error {
	l.close()
	return nil
}

// localAdminChain is the audit chain of the local administrator's commands.
func localAdminChain(node string) string { return replication.AdminChain(node) }

// localClient is a KMIP client over the in-process operations layer.
func localClient(c *cli.Context, cfg *config.Config, v kmip.ProtocolVersion) (*client.Client, error) {
	log := quietLogger(c)
	ks, err := openHSM(c.Context, cfg, log, false)
	if err != nil {
		return nil, err
	}
	store, err := openStore(c.Context, cfg, log)
	if err != nil {
		ks.Close()
		return nil, err
	}
	trailCfg := *cfg
	trailCfg.Node = localAdminChain(cfg.Node)
	trail, closeTrail, err := openTrail(c.Context, &trailCfg, ks, store, log)
	if err != nil {
		store.Close()
		ks.Close()
		return nil, err
	}
	name := "local-administrator"
	if u, err := user.Current(); err == nil {
		name = "local:" + u.Username
	}
	caller := ops.Caller{User: name, Role: ops.RoleCryptoOfficer, Addr: "local"}
	svc := ops.New(ops.Config{
		Keys: ks, Store: store, Logger: log, Audit: trail, FIPS: cfg.FIPS,
		Identify: func(*x509.Certificate) ops.Caller { return caller },
	})
	return client.New(&localTransport{svc: svc, close: func() {
		_ = anchorAdminChain(context.WithoutCancel(c.Context), trail, ks, store, log)
		closeTrail()
		store.Close()
		ks.Close()
	}}, v), nil
}

// errRemoteInSoD explains why --addr cannot be used in this mode.
var errRemoteInSoD = errors.New("separation of duties mode: key commands run on the server itself; --addr cannot be used")

// adminClientFor picks the local path in separation of duties mode.
func adminClientFor(c *cli.Context, cfg *config.Config) (*client.Client, bool, error) {
	if !cfg.SeparationOfDuties {
		return nil, false, nil
	}
	if c.String("addr") != "" {
		return nil, true, errRemoteInSoD
	}
	v := kmip.ProtocolVersion{Major: 1, Minor: 4}
	if s := c.String("kmip-version"); s != "" {
		if _, err := fmt.Sscanf(s, "%d.%d", &v.Major, &v.Minor); err != nil || !v.Supported() {
			return nil, true, fmt.Errorf("unsupported --kmip-version %q", s)
		}
	}
	cl, err := localClient(c, cfg, v)
	return cl, true, err
}

// quietLogger is the logger of commands whose output is the answer (a UID,
// a listing): routine info lines of the token and the store stay off the
// terminal unless --log-level debug.
func quietLogger(c *cli.Context) *slog.Logger {
	log := logger(c)
	if !log.Enabled(c.Context, slog.LevelDebug) {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return log
}
