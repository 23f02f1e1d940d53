package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

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
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := logger(c)
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

	waitMirroring, err := startMirroring(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	defer func() { stop(); waitMirroring() }()

	tlsCfg, err := server.NewTLSConfig(cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.CA)
	if err != nil {
		return err
	}
	svc := ops.New(ops.Config{Keys: ks, Store: store, Logger: log, ServerInfo: "Strongroom node " + cfg.Node})
	srv, err := server.New(server.Config{
		Addr: cfg.Listen, TLS: tlsCfg, IdleTimeout: cfg.IdleTimeout.Duration,
		MaxMessageSize: cfg.MaxMessageSize, MaxConnections: cfg.MaxConnections,
		Logger: log, Handler: svc,
	})
	if err != nil {
		return err
	}
	https, err := startHTTPS(ctx, cfg, tlsCfg, svc, log)
	if err != nil {
		return err
	}
	log.Info("strongroom: serving KMIP", "addr", cfg.Listen, "server_name", cfg.ServerName, "node", cfg.Node)
	errc := make(chan error, 1)
	// Serve's context must outlive the signal: cancelling it stops the
	// server at once, while Shutdown below lets requests in flight finish.
	go func() { errc <- srv.ListenAndServe(context.WithoutCancel(ctx)) }()
	var serveErr error
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
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
