package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"

	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/kmip/server"
)

// httpsListener is the optional KMIP over HTTPS listener of `serve`.
type httpsListener struct {
	srv *server.HTTPServer
	// errc receives Serve's result; nil when HTTPS is off, so that a select
	// on it never fires.
	errc chan error
}

// startHTTPS listens on cfg.HTTPSListen, when set, and serves KMIP over
// HTTPS there with the TLS port's certificates, limits and handler. The
// address is bound before serve reports that it runs, so that a port in
// use fails the start instead of a later request. Refused handshakes go
// to onHandshakeError (the audit trail), as on the TLS port.
func startHTTPS(ctx context.Context, cfg *config.Config, tlsCfg *tls.Config, h server.Handler, onHandshakeError func(net.Addr, error), log *slog.Logger) (*httpsListener, error) {
	if cfg.HTTPSListen == "" {
		return &httpsListener{}, nil
	}
	srv, err := server.NewHTTP(server.HTTPConfig{
		Addr: cfg.HTTPSListen, TLS: tlsCfg, MaxMessageSize: cfg.MaxMessageSize,
		MaxConnections: cfg.MaxConnections, Logger: log, Handler: h, OnHandshakeError: onHandshakeError,
	})
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTPSListen)
	if err != nil {
		return nil, fmt.Errorf("serve: https listen: %w", err)
	}
	l := &httpsListener{srv: srv, errc: make(chan error, 1)}
	// Not ctx itself: its end (SIGINT, SIGTERM) must let shutdown drain the
	// requests under way rather than close everything at once.
	go func() { l.errc <- srv.Serve(context.WithoutCancel(ctx), ln) }()
	log.Info("strongroom: serving KMIP over HTTPS", "addr", cfg.HTTPSListen, "path", server.HTTPPath)
	return l, nil
}

// shutdown stops the HTTPS listener gracefully within ctx and waits for
// Serve to return.
func (l *httpsListener) shutdown(ctx context.Context, log *slog.Logger) {
	if l.srv == nil {
		return
	}
	if err := l.srv.Shutdown(ctx); err != nil {
		log.Warn("strongroom: https shutdown", "err", err)
	}
	<-l.errc
}

// closeWhere closes the HTTPS connections whose client certificate matches
// (see server.HTTPServer.CloseWhere); none when HTTPS is off.
func (l *httpsListener) closeWhere(match func(*x509.Certificate) bool) int {
	if l.srv == nil {
		return 0
	}
	return l.srv.CloseWhere(match)
}
