package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/internal/rows"
)

// CreateObject implements storage.Store. The object and its events go in
// one batch, which PostgreSQL runs as one transaction: one round trip.
func (s *Store) CreateObject(ctx context.Context, obj storage.Object, events ...storage.Event) error {
	now := time.Now()
	obj, err := rows.Object(s.node, obj, now)
	if err != nil {
		return fmt.Errorf("storage: create object: %w", err)
	}
	evs, err := rows.Events(s.node, obj.UID, events, now)
	if err != nil {
		return fmt.Errorf("storage: create object %s: %w", obj.UID, err)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO objects (uid, origin_node, object_type, algorithm, length, kek,
			mechanism, blob, blob_length, attributes, created_at, mac, names)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		obj.UID, obj.OriginNode, int64(obj.ObjectType), int64(obj.Algorithm), obj.Length, obj.KEK,
		int64(obj.Mechanism), obj.Blob, int32(obj.BlobLength), emptyIfNil(obj.Attributes), obj.CreatedAt, emptyIfNil(obj.MAC), obj.Names)
	queueEvents(b, evs)
	if _, err := s.writeAudited(ctx, b, obj.UID); err != nil {
		return fmt.Errorf("storage: create object %s: %w", obj.UID, mapError(err))
	}
	return nil
}

// Object implements storage.Store. One LEFT JOIN reads the object and its
// events in a single statement, so they come from one snapshot.
func (s *Store) Object(ctx context.Context, uid string) (storage.Object, []storage.Event, error) {
	if !rows.ValidUID(uid) {
		return storage.Object{}, nil, fmt.Errorf("storage: object %q: %w", uid, storage.ErrNotFound)
	}
	if s.cache == nil {
		return s.object(ctx, uid)
	}
	obj, events, ticket, ok := s.cache.get(uid)
	if ok {
		return obj, events, nil
	}
	obj, events, err := s.object(ctx, uid)
	if err == nil {
		s.cache.put(uid, ticket, obj, events)
	}
	return obj, events, err
}

// object reads an object and its events from the database.
func (s *Store) object(ctx context.Context, uid string) (storage.Object, []storage.Event, error) {
	rs, err := s.pool.Query(ctx, `SELECT `+objectColumns+`, `+eventColumns+`
		FROM objects o LEFT JOIN object_events e ON e.uid = o.uid
		WHERE o.uid = $1
		ORDER BY e.clock, e.origin_node, e.id`, uid)
	if err != nil {
		return storage.Object{}, nil, fmt.Errorf("storage: object %s: %w", uid, err)
	}
	defer rs.Close()
	var (
		obj    objectScan
		es     eventScan
		found  bool
		events []storage.Event
	)
	dest := append(obj.dest(), es.dest()...)
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return storage.Object{}, nil, fmt.Errorf("storage: object %s: %w", uid, err)
		}
		found = true
		if ev, ok := es.event(); ok {
			events = append(events, ev)
		}
	}
	if err := rs.Err(); err != nil {
		return storage.Object{}, nil, fmt.Errorf("storage: object %s: %w", uid, err)
	}
	if !found {
		return storage.Object{}, nil, fmt.Errorf("storage: object %s: %w", uid, storage.ErrNotFound)
	}
	return obj.object(), events, nil
}

// ScrubBlob implements storage.Store.
func (s *Store) ScrubBlob(ctx context.Context, uid string) error {
	if !rows.ValidUID(uid) {
		return fmt.Errorf("storage: scrub blob %q: %w", uid, storage.ErrNotFound)
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE objects SET blob = NULL
		WHERE uid = $1 AND origin_node = $2 AND blob IS NOT NULL`, uid, s.node)
	tag, err := s.writeAudited(ctx, b, uid)
	if err != nil {
		return fmt.Errorf("storage: scrub blob %s: %w", uid, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Nothing changed: already scrubbed, another node's object, or none.
	var origin string
	err = s.pool.QueryRow(ctx, `SELECT origin_node FROM objects WHERE uid = $1`, uid).Scan(&origin)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("storage: scrub blob %s: %w", uid, storage.ErrNotFound)
	case err != nil:
		return fmt.Errorf("storage: scrub blob %s: %w", uid, err)
	case origin != s.node:
		return fmt.Errorf("storage: scrub blob %s: created by node %q, this is %q: %w", uid, origin, s.node, storage.ErrNotOwner)
	}
	return nil
}
