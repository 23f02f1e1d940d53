package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/internal/rows"
)

// ListObjects implements storage.Store. It reads one page of objects with
// keyset pagination on (created_at, uid) and then the events of the whole
// page in one query, inside one read-only snapshot.
func (s *Store) ListObjects(ctx context.Context, f storage.Filter) ([]storage.Record, error) {
	limit, err := rows.Limit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	if f.After != "" && !rows.ValidUID(f.After) {
		return nil, fmt.Errorf("storage: list objects after %q: %w", f.After, storage.ErrNotFound)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // read-only: nothing to undo

	var (
		where []string
		args  []any
	)
	// arg adds a query parameter and returns its placeholder.
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.ObjectType != 0 {
		where = append(where, "o.object_type = "+arg(int64(f.ObjectType)))
	}
	if f.Algorithm != 0 {
		where = append(where, "o.algorithm = "+arg(int64(f.Algorithm)))
	}
	if f.Length != 0 {
		where = append(where, "o.length = "+arg(f.Length))
	}
	if f.Name != "" {
		// Both arms use an index (GIN on names, partial on names IS NULL);
		// the candidates are few, so latency does not grow with the table.
		n := arg([]string{f.Name})
		// ARRAY(...) makes the candidates an InitPlan read through the
		// primary key; as IN (...) the planner, expecting thousands of
		// candidates, hash-joined them with a scan of every object.
		where = append(where, "o.uid = ANY (ARRAY(SELECT uid FROM objects WHERE names @> "+n+" OR names IS NULL"+
			" UNION SELECT uid FROM object_events WHERE names @> "+n+" OR names IS NULL))")
	}
	if f.After != "" {
		var at time.Time
		err := tx.QueryRow(ctx, `SELECT created_at FROM objects WHERE uid = $1`, f.After).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("storage: list objects after %s: %w", f.After, storage.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("storage: list objects after %s: %w", f.After, err)
		}
		where = append(where, "(o.created_at, o.uid) > ("+arg(at)+", "+arg(f.After)+"::uuid)")
	}
	q := `SELECT ` + objectColumns + ` FROM objects o`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY o.created_at, o.uid LIMIT ` + arg(limit)
	rs, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	var (
		out  []storage.Record
		uids []string
		sc   objectScan
	)
	dest := sc.dest()
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			rs.Close()
			return nil, fmt.Errorf("storage: list objects: %w", err)
		}
		o := sc.object()
		out = append(out, storage.Record{Object: o})
		uids = append(uids, o.UID)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}

	rs, err = tx.Query(ctx, `SELECT `+eventColumns+` FROM object_events e
		WHERE e.uid = ANY($1::text[]::uuid[])
		ORDER BY e.uid, e.clock, e.origin_node, e.id`, uids)
	if err != nil {
		return nil, fmt.Errorf("storage: list objects: events: %w", err)
	}
	index := make(map[string]int, len(out))
	for i, r := range out {
		index[r.Object.UID] = i
	}
	var es eventScan
	dest = es.dest()
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			rs.Close()
			return nil, fmt.Errorf("storage: list objects: events: %w", err)
		}
		if ev, ok := es.event(); ok {
			i := index[ev.UID]
			out[i].Events = append(out[i].Events, ev)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("storage: list objects: events: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	return out, nil
}
