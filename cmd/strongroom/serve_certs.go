package main

import (
	"context"
	"crypto/x509"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/storage/postgres"
)

// revocationRefresh is how often serve reads the revoked serials again; a
// revoked certificate is refused and its connections closed within it.
const revocationRefresh = 2 * time.Second

// certReloadInterval is how often serve looks at the server certificate
// file for a rotation (SIGHUP reloads at once).
const certReloadInterval = 2 * time.Second

// loadRevocations reads the revoked serials once, so that serve never
// accepts a connection before it knows them.
func loadRevocations(ctx context.Context, store *postgres.Store, rev *server.Revocations) error {
	serials, err := store.RevokedSerials(ctx)
	if err != nil {
		return err
	}
	rev.Set(serials)
	return nil
}

// watchRevocations refreshes rev from the database until ctx ends and closes
// the open connections of newly revoked certificates. A failed read keeps
// the last list (the database being down must not open the door to
// certificates revoked before).
func watchRevocations(ctx context.Context, store *postgres.Store, rev *server.Revocations, closers []func(func(*x509.Certificate) bool) int, log *slog.Logger) {
	t := time.NewTicker(revocationRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := loadRevocations(ctx, store, rev); err != nil {
			if ctx.Err() == nil {
				log.Warn("strongroom: refresh certificate revocations", "err", err)
			}
			continue
		}
		for _, closeWhere := range closers {
			if n := closeWhere(rev.Revoked); n > 0 {
				log.Info("strongroom: closed connections of revoked certificates", "connections", n)
			}
		}
	}
}

// watchServerCert reloads the server certificate when its file changes
// (checked every certReloadInterval) or on SIGHUP, so `strongroom ca
// rotate-server` takes effect without a restart. A pair that fails to load
// leaves the current one in use.
func watchServerCert(ctx context.Context, r *server.CertReloader, certFile string, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(certReloadInterval)
	defer t.Stop()
	stamp := func() (time.Time, int64) {
		st, err := os.Stat(certFile)
		if err != nil {
			return time.Time{}, -1
		}
		return st.ModTime(), st.Size()
	}
	mt, size := stamp()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			force = true
		case <-t.C:
		}
		nmt, nsize := stamp()
		if !force && nmt.Equal(mt) && nsize == size {
			continue
		}
		mt, size = nmt, nsize
		if err := r.Reload(); err != nil {
			log.Warn("strongroom: reload server certificate; keeping the current one", "err", err)
			continue
		}
		log.Info("strongroom: server certificate reloaded", "file", certFile)
	}
}
