package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/internal/rows"
)

// AppendEvents implements storage.Store. A missing object shows up as the
// foreign key violation of the first INSERT, so no extra lookup is needed,
// and the whole batch is one transaction.
func (s *Store) AppendEvents(ctx context.Context, events ...storage.Event) error {
	evs, err := rows.Events(s.node, "", events, time.Now())
	if err != nil {
		return fmt.Errorf("storage: append events: %w", err)
	}
	if len(evs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	queueEvents(b, evs)
	if _, err := s.writeAudited(ctx, b, evs[0].UID); err != nil {
		return fmt.Errorf("storage: append events to %s: %w", evs[0].UID, mapError(err))
	}
	return nil
}
