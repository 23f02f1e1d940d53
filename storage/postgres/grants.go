package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/internal/rows"
)

var _ storage.GrantStore = (*Store)(nil)

// AddGrant implements storage.GrantStore.
func (s *Store) AddGrant(ctx context.Context, g storage.Grant) error {
	if !rows.ValidUID(g.UID) {
		return fmt.Errorf("storage: add grant on %q: %w", g.UID, storage.ErrNotFound)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = time.Now()
	}
	if g.OriginNode != "" && g.OriginNode != s.node {
		return fmt.Errorf("storage: add grant on %s: made for node %q, this is %q", g.UID, g.OriginNode, s.node)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO key_grants (id, origin_node, uid, grantee_kind, grantee, action, created_at, created_by, mac)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		g.ID, s.node, g.UID, g.GranteeKind, g.Grantee, g.Action, g.CreatedAt.UTC().Truncate(time.Microsecond), g.CreatedBy, g.MAC)
	if err != nil {
		return fmt.Errorf("storage: add grant on %s: %w", g.UID, err)
	}
	return nil
}

const grantColumns = `id::text, origin_node, uid::text, grantee_kind, grantee, action, created_at, created_by, mac`

func (s *Store) grantRows(ctx context.Context, where string, args ...any) ([]storage.Grant, error) {
	rs, err := s.pool.Query(ctx, `SELECT `+grantColumns+` FROM key_grants WHERE `+where+`
		ORDER BY created_at, origin_node, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []storage.Grant
	for rs.Next() {
		var g storage.Grant
		if err := rs.Scan(&g.ID, &g.OriginNode, &g.UID, &g.GranteeKind, &g.Grantee, &g.Action, &g.CreatedAt, &g.CreatedBy, &g.MAC); err != nil {
			return nil, err
		}
		g.CreatedAt = g.CreatedAt.UTC()
		out = append(out, g)
	}
	return out, rs.Err()
}

// GrantsTo implements storage.GrantStore.
func (s *Store) GrantsTo(ctx context.Context, user, group string) ([]storage.Grant, error) {
	gs, err := s.grantRows(ctx, `(grantee_kind = 'user' AND grantee = $1 AND $1 <> '') OR (grantee_kind = 'group' AND grantee = $2 AND $2 <> '')`, user, group)
	if err != nil {
		return nil, fmt.Errorf("storage: grants of %q/%q: %w", user, group, err)
	}
	return gs, nil
}

// Grants implements storage.GrantStore.
func (s *Store) Grants(ctx context.Context, uid string) ([]storage.Grant, error) {
	if !rows.ValidUID(uid) {
		return nil, nil
	}
	gs, err := s.grantRows(ctx, `uid = $1`, uid)
	if err != nil {
		return nil, fmt.Errorf("storage: grants of %s: %w", uid, err)
	}
	return gs, nil
}
