package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/kmip/ops"
	"github.com/strongroom/strongroom/kmip/server"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the KMIP server in the foreground (SIGINT or SIGTERM stops it cleanly)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "override the configured listen address"},
			&cli.StringFlag{Name: "https-listen", Usage: "override the configured KMIP over HTTPS address (https_listen)"},
			&cli.StringFlag{Name: "health-listen", Usage: "override the configured health check address (health_listen)"},
			&cli.StringFlag{Name: "metrics-listen", Usage: "override the configured Prometheus endpoint address (metrics_listen, e.g. 127.0.0.1:9696)"},
			&cli.BoolFlag{Name: "pprof", Usage: "also serve net/http/pprof under /debug/pprof/ on the metrics address (profiling)"},
			&cli.BoolFlag{Name: "fips", Usage: "FIPS mode: refuse to start unless Go's FIPS 140-3 module is on (GODEBUG=fips140=on); approved TLS and algorithms only"},
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	if v := c.String("listen"); v != "" {
		cfg.Listen = v
	}
	if v := c.String("https-listen"); v != "" {
		cfg.HTTPSListen = v
	}
	if v := c.String("health-listen"); v != "" {
		cfg.HealthListen = v
	}
	if v := c.String("metrics-listen"); v != "" {
		cfg.MetricsListen = v
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if c.Bool("fips") {
		cfg.FIPS = true
	}
	if err := hardenProcess(); err != nil {
		return err
	}
	log := logger(c)
	fips, err := checkFIPS(cfg.FIPS, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ks, err := openHSM(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer ks.Close()
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := enableObjectCache(ctx, cfg, store); err != nil {
		// The store works uncached meanwhile; the listener keeps trying.
		log.Warn("serve: object cache not live yet", "err", err)
	}

	waitMirroring, err := startMirroring(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	defer func() { stop(); waitMirroring() }()

	mx, err := startMetrics(ctx, cfg, ks, store, c.Bool("pprof"), log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mx.shutdown(sctx, log)
	}()

	certs, err := serverCertReloader(ctx, cfg, ks)
	if err != nil {
		return err
	}
	tlsCfg, err := server.NewReloadableTLSConfig(certs, cfg.TLS.CA)
	if err != nil {
		return err
	}
	if cfg.FIPS {
		server.RestrictToFIPS(tlsCfg)
	}
	revoked := &server.Revocations{}
	if err := loadRevocations(ctx, store, revoked); err != nil {
		return err
	}
	tlsCfg.VerifyConnection = revoked.VerifyConnection
	// The audit writer seals on a session of its own: every request waits
	// for its record, so the seal must not queue behind the requests.
	trail, closeTrail, err := openTrail(ctx, cfg, audit.MACFunc(ks.SealMAC), store, log)
	if err != nil {
		return err
	}
	defer closeTrail()
	mx.observeTrail(trail)
	stopAnchoring := startAnchoring(ctx, cfg, trail, ks, store, log)
	defer stopAnchoring()
	svc := ops.New(ops.Config{Keys: ks, Store: store, Logger: log, ServerInfo: "Strongroom node " + cfg.Node + "; " + fips.String(), Audit: trail, FIPS: cfg.FIPS,
		SeparationOfDuties: cfg.SeparationOfDuties})
	srv, err := server.New(server.Config{
		Addr: cfg.Listen, TLS: tlsCfg, IdleTimeout: cfg.IdleTimeout.Duration,
		MaxMessageSize: cfg.MaxMessageSize, MaxConnections: cfg.MaxConnections,
		Logger: log, Handler: mx.handler(svc), OnHandshakeError: svc.HandshakeRefused, Observer: mx.observer(),
	})
	if err != nil {
		return err
	}
	https, err := startHTTPS(ctx, cfg, tlsCfg, svc, svc.HandshakeRefused, log)
	if err != nil {
		return err
	}
	health, err := startHealth(ctx, cfg, ks, store, log)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		https.shutdown(sctx, log)
		return err
	}
	go watchServerCert(ctx, certs, cfg.TLS.Cert, log)
	go watchRevocations(ctx, store, revoked, []func(func(*x509.Certificate) bool) int{srv.CloseWhere, https.closeWhere}, log)
	log.Info("strongroom: serving KMIP", "addr", cfg.Listen, "server_name", cfg.ServerName, "node", cfg.Node, "fips", cfg.FIPS)
	errc := make(chan error, 1)
	// Serve's context must outlive the signal: cancelling it stops the
	// server at once, while Shutdown below lets requests in flight finish.
	go func() { errc <- srv.ListenAndServe(context.WithoutCancel(ctx)) }()
	var serveErr error
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		health.shutdown(sctx, log)
		https.shutdown(sctx, log)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case serveErr = <-https.errc:
		// The HTTPS listener failed: stop the whole server, then report it.
		https.errc <- serveErr
	case <-ctx.Done():
	}
	log.Info("strongroom: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	health.shutdown(sctx, log)
	https.shutdown(sctx, log)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("strongroom: shutdown", "err", err)
	}
	<-errc
	if serveErr != nil {
		return fmt.Errorf("serve: https: %w", serveErr)
	}
	return nil
}
