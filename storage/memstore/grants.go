package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/storage"
)

var _ storage.GrantStore = (*Store)(nil)

// AddGrant implements storage.GrantStore.
func (s *Store) AddGrant(ctx context.Context, g storage.Grant) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: add grant: %w", err)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = time.Now()
	}
	if g.OriginNode != "" && g.OriginNode != s.node {
		return fmt.Errorf("storage: add grant on %s: made for node %q, this is %q", g.UID, g.OriginNode, s.node)
	}
	g.OriginNode = s.node
	g.CreatedAt = g.CreatedAt.UTC().Truncate(time.Microsecond)
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.grants = append(s.db.grants, g)
	return nil
}

// GrantsTo implements storage.GrantStore.
func (s *Store) GrantsTo(ctx context.Context, user, group string) ([]storage.Grant, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	var out []storage.Grant
	for _, g := range s.db.grants {
		if (g.GranteeKind == "user" && user != "" && g.Grantee == user) || (g.GranteeKind == "group" && group != "" && g.Grantee == group) {
			out = append(out, g)
		}
	}
	return out, nil
}

// Grants implements storage.GrantStore.
func (s *Store) Grants(ctx context.Context, uid string) ([]storage.Grant, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	var out []storage.Grant
	for _, g := range s.db.grants {
		if g.UID == uid {
			out = append(out, g)
		}
	}
	return out, nil
}
