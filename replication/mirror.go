package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
)

// ErrNoPeer means this node does not mirror the named peer.
var ErrNoPeer = errors.New("replication: no such peer")

// Add makes the local node mirror peer: the local node's publication is
// made sure of, the peer's too (created through peerURL when missing), and
// a subscription to the peer's publication is created with copy_data, so a
// new node is seeded with every row the peer owns, and disable_on_error
// off, so a failing apply is retried (every wal_retrieve_retry_interval)
// rather than stopping for good; Status reports the errors.
//
// local.DB must be a superuser connection (CREATE SUBSCRIPTION on
// PostgreSQL 15). peerURL (a postgres:// URL or key=value string) is used
// from here to check the peer and by the local PostgreSQL server to stream
// from it, so it must be reachable from both; its role needs REPLICATION.
// PostgreSQL keeps it, password included, in pg_subscription. It is never
// logged or put into errors.
//
// Adding a peer that is already mirrored updates its connection string,
// picks up tables added to the peer's publication and enables the
// subscription: Add is idempotent. Pair two nodes by running Add on each.
func Add(ctx context.Context, local Local, peer, peerURL string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkNode(local.Node); err != nil {
		return err
	}
	if err := checkNode(peer); err != nil {
		return err
	}
	if peer == local.Node {
		return fmt.Errorf("replication: add %s: a node cannot mirror itself", peer)
	}
	if err := checkSuperuser(ctx, local.DB); err != nil {
		return err
	}
	if err := Publish(ctx, local.DB, local.Node); err != nil {
		return err
	}
	sub := subscriptionName(local.Node, peer)
	if err := preparePeer(ctx, local, peer, peerURL, sub, log); err != nil {
		return err
	}
	exists, _, err := subscription(ctx, local.DB, sub)
	if err != nil {
		return err
	}
	if exists {
		for _, stmt := range []string{
			"ALTER SUBSCRIPTION " + quoteIdent(sub) + " CONNECTION " + quoteLiteral(peerURL),
			"ALTER SUBSCRIPTION " + quoteIdent(sub) + " SET PUBLICATION " + quoteIdent(publicationName(peer)) + " WITH (refresh = false)",
			"ALTER SUBSCRIPTION " + quoteIdent(sub) + " ENABLE",
			"ALTER SUBSCRIPTION " + quoteIdent(sub) + " REFRESH PUBLICATION WITH (copy_data = true)",
		} {
			if _, err := local.DB.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("replication: update subscription %s: %w", sub, err)
			}
		}
		log.InfoContext(ctx, "replication: peer updated", "peer", peer, "subscription", sub)
		return nil
	}
	// CREATE SUBSCRIPTION takes no parameters, hence the quoted literal.
	if _, err := local.DB.Exec(ctx, "CREATE SUBSCRIPTION "+quoteIdent(sub)+
		" CONNECTION "+quoteLiteral(peerURL)+
		" PUBLICATION "+quoteIdent(publicationName(peer))+
		" WITH (copy_data = true, disable_on_error = false, create_slot = true, slot_name = "+quoteLiteral(sub)+")"); err != nil {
		return fmt.Errorf("replication: create subscription %s to node %s: %w", sub, peer, err)
	}
	log.InfoContext(ctx, "replication: peer added", "peer", peer, "subscription", sub)
	return nil
}

// preparePeer connects to the peer, checks that it can serve a
// subscription, makes sure of its publication and drops a slot that an
// earlier subscription of this node left there.
func preparePeer(ctx context.Context, local Local, peer, peerURL, slot string, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(peerURL)
	if err != nil {
		return fmt.Errorf("replication: peer %s: connection string: %w", peer, err) // pgx redacts passwords
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("replication: connect to peer %s: %w", peer, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var walLevel string
	var schema, replication bool
	if err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'),
			to_regclass('node_heartbeats') IS NOT NULL,
			(SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)`).
		Scan(&walLevel, &schema, &replication); err != nil {
		return fmt.Errorf("replication: check peer %s: %w", peer, err)
	}
	switch {
	case walLevel != "logical":
		return fmt.Errorf("replication: peer %s has wal_level = %s; set wal_level = logical there and restart it", peer, walLevel)
	case !schema:
		return fmt.Errorf("replication: peer %s: the database has no Strongroom schema (version 2 or later); run `strongroom init` there first", peer)
	case !replication:
		return fmt.Errorf("replication: peer %s: the role of the connection string has no REPLICATION attribute", peer)
	}
	if same, err := sameDatabase(ctx, local.DB, conn); err != nil {
		return err
	} else if same {
		return fmt.Errorf("replication: peer %s: the connection string names this node's own database", peer)
	}

	// The peer must publish as peer: a publication for another name means
	// the wrong name was given, and a missing one must exist before the
	// subscription's slot, since PostgreSQL 15 reads publications as of the
	// slot's position and would fail on every change made before it.
	rows, err := conn.Query(ctx, `SELECT pubname FROM pg_publication WHERE pubname LIKE 'strongroom\_%' ORDER BY pubname`)
	if err != nil {
		return fmt.Errorf("replication: peer %s: list publications: %w", peer, err)
	}
	pubs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("replication: peer %s: list publications: %w", peer, err)
	}
	for _, p := range pubs {
		if other := peerOfPublication(p); other != "" && other != peer && other != local.Node {
			return fmt.Errorf("replication: the database of peer %q publishes as node %q: check the node name", peer, other)
		}
	}
	if err := Publish(ctx, conn, peer); err != nil {
		return fmt.Errorf("replication: peer %s: %w (the peer's publication is made by its `strongroom serve` or by a connection string whose role owns its tables)", peer, err)
	}

	var active *bool
	err = conn.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("replication: peer %s: read slot %s: %w", peer, slot, err)
	}
	exists, _, err := subscription(ctx, local.DB, slot)
	if err != nil || exists {
		return err
	}
	if active != nil && *active {
		return fmt.Errorf("replication: peer %s: replication slot %s is in use by another subscriber named like this node", peer, slot)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot); err != nil {
		return fmt.Errorf("replication: peer %s: drop stale slot %s: %w", peer, slot, err)
	}
	log.InfoContext(ctx, "replication: dropped a slot left by an earlier subscription", "peer", peer, "slot", slot)
	return nil
}

// sameDatabase tells whether two handles reach the same database of the
// same cluster (by system identifier, database oid and name). A role that
// may not read pg_control_system counts as different.
func sameDatabase(ctx context.Context, a, b DB) (bool, error) {
	const q = `SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' ||
		(SELECT oid FROM pg_database WHERE datname = current_database())::text`
	var x, y string
	if err := a.QueryRow(ctx, q).Scan(&x); err != nil {
		return false, nil
	}
	if err := b.QueryRow(ctx, q).Scan(&y); err != nil {
		return false, nil
	}
	return x == y, nil
}

// checkSuperuser refuses early, with the reason, what CREATE SUBSCRIPTION
// would refuse on PostgreSQL 15.
func checkSuperuser(ctx context.Context, db DB) error {
	var super bool
	if err := db.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("replication: check role: %w", err)
	}
	if !super {
		return errors.New("replication: managing subscriptions needs a superuser connection to the local database on PostgreSQL 15 (strongroom mirror --admin-url, or replication.admin_url in the configuration)")
	}
	return nil
}

// subscription tells whether the named subscription exists in the current
// database, and whether it is enabled.
func subscription(ctx context.Context, db DB, name string) (exists, enabled bool, err error) {
	err = db.QueryRow(ctx, `SELECT subenabled FROM pg_subscription
		WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, name).Scan(&enabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, false, nil
	case err != nil:
		return false, false, fmt.Errorf("replication: read subscription %s: %w", name, err)
	}
	return true, enabled, nil
}

// Remove stops mirroring peer: the local subscription is dropped, and with
// it the replication slot on the peer. The peer's rows stay in the local
// database (its keys remain readable here). If the peer cannot be reached,
// the subscription is dropped anyway and the name of the slot left on the
// peer is returned: it holds WAL there (up to max_slot_wal_keep_size) until
// someone runs SELECT pg_drop_replication_slot('<slot>') on the peer, or
// until Add pairs the nodes again. ErrNoPeer if peer is not mirrored.
func Remove(ctx context.Context, local Local, peer string) (slotLeft string, err error) {
	if err := checkNode(local.Node); err != nil {
		return "", err
	}
	if err := checkNode(peer); err != nil {
		return "", err
	}
	if err := checkSuperuser(ctx, local.DB); err != nil {
		return "", err
	}
	sub := subscriptionName(local.Node, peer)
	exists, _, err := subscription(ctx, local.DB, sub)
	if err != nil {
		return "", err
	}
	if !exists {
		return "", fmt.Errorf("replication: remove %s: %w", peer, ErrNoPeer)
	}
	if _, err := local.DB.Exec(ctx, "DROP SUBSCRIPTION "+quoteIdent(sub)); err == nil {
		return "", nil
	} else if ctx.Err() != nil {
		return "", fmt.Errorf("replication: drop subscription %s: %w", sub, err)
	}
	// The peer did not answer: detach the slot and drop locally.
	for _, stmt := range []string{
		"ALTER SUBSCRIPTION " + quoteIdent(sub) + " DISABLE",
		"ALTER SUBSCRIPTION " + quoteIdent(sub) + " SET (slot_name = NONE)",
		"DROP SUBSCRIPTION " + quoteIdent(sub),
	} {
		if _, err := local.DB.Exec(ctx, stmt); err != nil {
			return "", fmt.Errorf("replication: drop subscription %s: %w", sub, err)
		}
	}
	return sub, nil
}
