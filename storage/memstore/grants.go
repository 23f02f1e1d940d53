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
	g.OriginNode = s.node
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.grants = append(s.db.grants, g)
	return nil
}

// GrantedUIDs implements storage.GrantStore.
func (s *Store) GrantedUIDs(ctx context.Context, user, group string) (map[string]bool, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	out := map[string]bool{}
	for uid, m := range storage.CurrentGrants(s.db.grants) {
		if (user != "" && m["user:"+user]) || (group != "" && m["group:"+group]) {
			out[uid] = true
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
