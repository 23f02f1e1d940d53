package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/replication"
)

// Audit anchors (audit/anchor.go) make deleting the newest records of a
// chain detectable: serve anchors its chain at every heartbeat interval
// and at a clean stop; the administrator's commands anchor their chain
// ("<node>-admin") when they are done.

// startAnchoring anchors the server's chain until ctx ends or the returned
// function is called; that function stops it, waiting for the final anchor.
func startAnchoring(ctx context.Context, cfg *config.Config, trail *audit.Trail, mac audit.MACer, store audit.AnchorStore, log *slog.Logger) (stop func()) {
	interval := cfg.Replication.HeartbeatInterval.Duration
	if interval <= 0 {
		interval = replication.DefaultHeartbeatInterval
	}
	x := &audit.Anchorer{Trail: trail, MAC: mac, Store: store, Log: log}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { x.Run(ctx, interval) })
	return func() { cancel(); wg.Wait() }
}

// anchorAdminChain anchors the administrator's chain once, after a
// command's records. A failure is logged, not returned: what the command
// did is done and recorded.
func anchorAdminChain(ctx context.Context, trail *audit.Trail, mac audit.MACer, store audit.AnchorStore, log *slog.Logger) error {
	x := &audit.Anchorer{Trail: trail, MAC: mac, Store: store, Log: log}
	if err := x.Anchor(ctx); err != nil && !errors.Is(err, audit.ErrAnchorBlocked) {
		log.Warn("audit: the administrator's chain was not anchored", "err", err)
	}
	return nil
}
