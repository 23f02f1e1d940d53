package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/strongroom/strongroom/audit"
)

// Audit anchors (package audit, anchor.go) live in the audit_* columns of
// the chain's node_heartbeats row (migration 000006), which every node
// mirrors: the node's own row for its server chain, a row named after the
// administrator's chain ("<node>-admin") for the CLI's. Writing the anchor
// leaves the heartbeat columns alone.

var _ audit.AnchorStore = (*Store)(nil)

const anchorColumns = `origin_node, audit_seq, audit_chain, audit_at, audit_mac`

func scanAnchor(row pgx.Row) (audit.Anchor, error) {
	var a audit.Anchor
	err := row.Scan(&a.Node, &a.Seq, &a.Chain, &a.At, &a.MAC)
	a.At = a.At.UTC()
	return a, err
}

// AuditAnchor implements audit.AnchorStore.
func (s *Store) AuditAnchor(ctx context.Context, node string) (audit.Anchor, bool, error) {
	a, err := scanAnchor(s.pool.QueryRow(ctx, `SELECT `+anchorColumns+` FROM node_heartbeats WHERE origin_node = $1`, node))
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Anchor{}, false, nil
	}
	if err != nil {
		return audit.Anchor{}, false, fmt.Errorf("storage: audit anchor of %s: %w", node, err)
	}
	return a, true, nil
}

// AuditAnchors returns every chain's anchor (rows never anchored too; see
// audit.Anchor.Empty), in node order.
func (s *Store) AuditAnchors(ctx context.Context) ([]audit.Anchor, error) {
	rs, err := s.pool.Query(ctx, `SELECT `+anchorColumns+` FROM node_heartbeats ORDER BY origin_node`)
	if err != nil {
		return nil, fmt.Errorf("storage: audit anchors: %w", err)
	}
	defer rs.Close()
	var out []audit.Anchor
	for rs.Next() {
		a, err := scanAnchor(rs)
		if err != nil {
			return nil, fmt.Errorf("storage: audit anchors: %w", err)
		}
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("storage: audit anchors: %w", err)
	}
	return out, nil
}

// StoreAuditAnchor implements audit.AnchorStore. A new row gets heartbeat
// sequence 0; the node's heartbeat (replication.Beat) takes it from there.
func (s *Store) StoreAuditAnchor(ctx context.Context, a audit.Anchor) error {
	if a.Chain == nil {
		a.Chain = []byte{} // an empty chain
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO node_heartbeats (origin_node, beat_at, seq, audit_seq, audit_chain, audit_at, audit_mac)
		VALUES ($1, $4, 0, $2, $3, $4, $5)
		ON CONFLICT (origin_node) DO UPDATE SET audit_seq = EXCLUDED.audit_seq, audit_chain = EXCLUDED.audit_chain,
			audit_at = EXCLUDED.audit_at, audit_mac = EXCLUDED.audit_mac`,
		a.Node, a.Seq, a.Chain, a.At, a.MAC)
	if err != nil {
		return fmt.Errorf("storage: store audit anchor of %s: %w", a.Node, err)
	}
	return nil
}

// AuditChainAt implements audit.AnchorStore.
func (s *Store) AuditChainAt(ctx context.Context, node string, seq int64) ([]byte, bool, error) {
	var chain []byte
	err := s.pool.QueryRow(ctx, `SELECT chain FROM audit_records WHERE origin_node = $1 AND seq = $2`, node, seq).Scan(&chain)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: audit record %s#%d: %w", node, seq, err)
	}
	return chain, true, nil
}
