package replication

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultHeartbeatInterval is how often a node beats when not told.
const DefaultHeartbeatInterval = 2 * time.Second

// Beat upserts the node's heartbeat row once. The row is published with
// the node's other rows, so each peer sees how old the latest beat it has
// applied is (Status.HeartbeatAge).
func Beat(ctx context.Context, db DB, node string) error {
	if _, err := db.Exec(ctx, `INSERT INTO node_heartbeats (origin_node, beat_at, seq)
		VALUES ($1, clock_timestamp(), 1)
		ON CONFLICT (origin_node) DO UPDATE SET beat_at = EXCLUDED.beat_at, seq = node_heartbeats.seq + 1`, node); err != nil {
		return fmt.Errorf("replication: heartbeat: %w", err)
	}
	return nil
}

// Heartbeat beats every interval (DefaultHeartbeatInterval if 0) until ctx
// ends. A failed beat is logged, once per outage, and retried at the next
// tick: the database may be restarting.
func Heartbeat(ctx context.Context, local Local, interval time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		bctx, cancel := context.WithTimeout(ctx, interval)
		err := Beat(bctx, local.DB, local.Node)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.WarnContext(ctx, "replication: heartbeat failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			log.InfoContext(ctx, "replication: heartbeat works again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
