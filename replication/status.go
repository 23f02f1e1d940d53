package replication

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PeerStatus is the mirroring health of one peer, seen from the local
// node: inbound (our subscription to the peer's rows) and outbound (the
// peer's slot on our database, through which it receives our rows).
type PeerStatus struct {
	Peer         string `json:"peer"`
	Subscription string `json:"subscription"`

	// Inbound: the local subscription.
	Enabled bool `json:"enabled"`
	// Running: the apply worker is alive. It restarts about every 5 s
	// after an error, so one false reading may be a restart.
	Running bool `json:"running"`
	// TablesNotReady counts tables still in their initial copy (a new node
	// being seeded) or waiting for it.
	TablesNotReady int `json:"tables_not_ready"`
	// ApplyErrors and SyncErrors count failed applies and initial copies
	// since the statistics were reset (pg_stat_subscription_stats); the
	// message of each error is in the local PostgreSQL server log.
	ApplyErrors int64 `json:"apply_errors"`
	SyncErrors  int64 `json:"sync_errors"`
	// SinceLastMessage is the time since the peer's walsender last sent us
	// anything (data or keepalive); -1 if unknown (no worker).
	SinceLastMessage time.Duration `json:"since_last_message"`
	// HeartbeatAge is now minus the peer's last heartbeat as applied here:
	// replication lag plus up to one heartbeat interval (plus clock skew
	// between the nodes); -1 if no heartbeat of the peer has arrived.
	HeartbeatAge time.Duration `json:"heartbeat_age"`

	// Outbound: the peer's replication slot on this node.
	SlotExists bool `json:"slot_exists"`
	SlotActive bool `json:"slot_active"`
	// WALStatus is the slot's wal_status: reserved and extended are fine,
	// unreserved means the WAL limit is near, lost means the peer must be
	// re-paired (mirror remove, mirror add).
	WALStatus string `json:"wal_status,omitempty"`
	// LagBytes is WAL written here that the peer has not confirmed.
	LagBytes int64 `json:"lag_bytes"`
	// LagTime is the peer's replay lag as its walsender reports it (0 when
	// caught up and idle, or when the role may not see it: pg_monitor).
	LagTime time.Duration `json:"lag_time"`

	// Problems are the reasons this peer is not healthy; empty when it is.
	Problems []string `json:"problems,omitempty"`
}

// Healthy reports whether nothing is wrong with the peer.
func (p PeerStatus) Healthy() bool { return len(p.Problems) == 0 }

// StatusOptions tunes what Status calls a problem.
type StatusOptions struct {
	// MaxHeartbeatAge is the oldest peer heartbeat still considered
	// healthy; 0 means DefaultMaxHeartbeatAge.
	MaxHeartbeatAge time.Duration
}

// DefaultMaxHeartbeatAge allows a few missed beats at the default interval.
const DefaultMaxHeartbeatAge = 15 * time.Second

// Status reports every peer the local node subscribes to, in name order.
// It reads only statistics views and catalogs that any role may read (the
// walsender's time lag needs pg_monitor), so the serving role can run it.
func Status(ctx context.Context, local Local, opt StatusOptions) ([]PeerStatus, error) {
	if opt.MaxHeartbeatAge <= 0 {
		opt.MaxHeartbeatAge = DefaultMaxHeartbeatAge
	}
	rows, err := local.DB.Query(ctx, `
		SELECT s.subname, s.subenabled, coalesce(s.subpublications, '{}'),
		       st.pid IS NOT NULL,
		       coalesce(extract(epoch FROM now() - st.last_msg_receipt_time), -1)::float8,
		       coalesce(ss.apply_error_count, 0), coalesce(ss.sync_error_count, 0),
		       (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate <> 'r')::int
		FROM pg_subscription s
		LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
		LEFT JOIN pg_stat_subscription_stats ss ON ss.subid = s.oid
		WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY s.subname`)
	if err != nil {
		return nil, fmt.Errorf("replication: status: %w", err)
	}
	var out []PeerStatus
	for rows.Next() {
		var p PeerStatus
		var pubs []string
		var since float64
		if err := rows.Scan(&p.Subscription, &p.Enabled, &pubs, &p.Running, &since,
			&p.ApplyErrors, &p.SyncErrors, &p.TablesNotReady); err != nil {
			rows.Close()
			return nil, fmt.Errorf("replication: status: %w", err)
		}
		if len(pubs) != 1 || peerOfPublication(pubs[0]) == "" || p.Subscription != subscriptionName(local.Node, peerOfPublication(pubs[0])) {
			continue // not one of ours
		}
		p.Peer = peerOfPublication(pubs[0])
		p.SinceLastMessage = seconds(since)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replication: status: %w", err)
	}
	for i := range out {
		if err := peerDetails(ctx, local, &out[i], opt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// peerDetails adds the heartbeat, the outbound slot and the problems.
func peerDetails(ctx context.Context, local Local, p *PeerStatus, opt StatusOptions) error {
	var age float64
	if err := local.DB.QueryRow(ctx, `SELECT coalesce(
			(SELECT extract(epoch FROM now() - beat_at) FROM node_heartbeats WHERE origin_node = $1), -1)::float8`,
		p.Peer).Scan(&age); err != nil {
		return fmt.Errorf("replication: status of %s: heartbeat: %w", p.Peer, err)
	}
	p.HeartbeatAge = seconds(age)

	slot := subscriptionName(p.Peer, local.Node)
	var lag float64
	var walStatus *string
	if err := local.DB.QueryRow(ctx, `
		SELECT count(*) > 0, coalesce(bool_or(active), false), max(wal_status),
		       coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)), 0)::int8,
		       coalesce((SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication WHERE application_name = $1), 0)::float8
		FROM pg_replication_slots WHERE slot_name = $1`, slot).
		Scan(&p.SlotExists, &p.SlotActive, &walStatus, &p.LagBytes, &lag); err != nil {
		return fmt.Errorf("replication: status of %s: slot: %w", p.Peer, err)
	}
	if walStatus != nil {
		p.WALStatus = *walStatus
	}
	p.LagTime = seconds(lag)

	problem := func(format string, args ...any) { p.Problems = append(p.Problems, fmt.Sprintf(format, args...)) }
	switch {
	case !p.Enabled:
		problem("subscription %s is disabled", p.Subscription)
	case !p.Running:
		problem("no apply worker for %s (restarting after an error, or the peer is unreachable; see this node's PostgreSQL log)", p.Subscription)
	}
	if p.TablesNotReady > 0 {
		problem("%d table(s) still in their initial copy", p.TablesNotReady)
	}
	switch {
	case p.HeartbeatAge < 0:
		problem("no heartbeat from %s has arrived", p.Peer)
	case p.HeartbeatAge > opt.MaxHeartbeatAge:
		problem("last heartbeat from %s is %s old", p.Peer, p.HeartbeatAge.Round(time.Millisecond))
	}
	switch {
	case !p.SlotExists:
		problem("%s has no replication slot here: it does not receive this node's rows (run mirror add on %s)", p.Peer, p.Peer)
	case p.WALStatus == "lost":
		problem("slot %s lost WAL the peer needed: remove and add the peer again", slot)
	case !p.SlotActive:
		problem("%s is not streaming this node's rows (slot %s inactive, %d bytes behind)", p.Peer, slot, p.LagBytes)
	}
	return nil
}

func seconds(s float64) time.Duration {
	if s < 0 {
		return -1
	}
	return time.Duration(s * float64(time.Second))
}

// MarshalJSON writes the durations as seconds (fractional; -1 for
// unknown), which is what dashboards and shell scripts want.
func (p PeerStatus) MarshalJSON() ([]byte, error) {
	type plain PeerStatus // without this method
	secs := func(d time.Duration) float64 {
		if d < 0 {
			return -1
		}
		return d.Seconds()
	}
	return json.Marshal(struct {
		plain
		SinceLastMessage float64 `json:"since_last_message"`
		HeartbeatAge     float64 `json:"heartbeat_age"`
		LagTime          float64 `json:"lag_time"`
	}{plain(p), secs(p.SinceLastMessage), secs(p.HeartbeatAge), secs(p.LagTime)})
}

// Summary is a one-line description of a peer's state for logs and CLIs.
func (p PeerStatus) Summary() string {
	if p.Healthy() {
		return "ok"
	}
	return strings.Join(p.Problems, "; ")
}
