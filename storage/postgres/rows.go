package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/strongroom/strongroom/storage"
)

// objectColumns and eventColumns are selected in the order scanObject and
// scanEvent expect. UUIDs are returned as text, which PostgreSQL writes in
// lowercase.
const (
	objectColumns = `o.uid::text, o.origin_node, o.object_type, o.algorithm, o.length, o.kek,
		o.mechanism, o.blob, o.blob_length, o.attributes, o.created_at, o.mac`
	eventColumns = `e.id::text, e.uid::text, e.origin_node, e.clock, e.kind, e.payload, e.created_at, e.mac`
)

// objectScan collects one object row.
type objectScan struct {
	obj                              storage.Object
	objectType, algorithm, mechanism int64
	blobLength                       int32
}

// dest returns the scan destinations of objectColumns.
func (s *objectScan) dest() []any {
	o := &s.obj
	return []any{&o.UID, &o.OriginNode, &s.objectType, &s.algorithm, &o.Length, &o.KEK,
		&s.mechanism, &o.Blob, &s.blobLength, &o.Attributes, &o.CreatedAt, &o.MAC}
}

func (s *objectScan) object() storage.Object {
	o := s.obj
	o.ObjectType = uint32(s.objectType)
	o.Algorithm = uint32(s.algorithm)
	o.Mechanism = uint(s.mechanism)
	o.BlobLength = int(s.blobLength)
	o.Blob = nilIfEmpty(o.Blob)
	o.Attributes = nilIfEmpty(o.Attributes)
	o.MAC = nilIfEmpty(o.MAC)
	o.CreatedAt = o.CreatedAt.UTC()
	return o
}

// eventScan collects one event row; the fields are pointers because a LEFT
// JOIN yields NULLs for an object without events.
type eventScan struct {
	id, uid, origin, kind *string
	clock                 *int64
	payload, mac          []byte
	createdAt             *time.Time
}

func (s *eventScan) dest() []any {
	return []any{&s.id, &s.uid, &s.origin, &s.clock, &s.kind, &s.payload, &s.createdAt, &s.mac}
}

// event returns the scanned event, or false when the row had none.
func (s *eventScan) event() (storage.Event, bool) {
	if s.id == nil {
		return storage.Event{}, false
	}
	return storage.Event{
		ID:         *s.id,
		UID:        *s.uid,
		OriginNode: *s.origin,
		Clock:      *s.clock,
		Kind:       *s.kind,
		Payload:    nilIfEmpty(s.payload),
		CreatedAt:  s.createdAt.UTC(),
		MAC:        nilIfEmpty(s.mac),
	}, true
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// emptyIfNil stores "no bytes" as ” in NOT NULL bytea columns.
func emptyIfNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Constraint names from the migrations that errors are mapped from.
const (
	objectsPKey    = "objects_pkey"
	eventsPKey     = "object_events_pkey"
	eventsUIDFKey  = "object_events_uid_fkey"
	codeUnique     = "23505"
	codeForeignKey = "23503"
)

// mapError turns constraint violations into the storage errors callers test
// for; other errors pass through. pgconn.PgError's text holds no row values
// (those are in its Detail), so wrapping it cannot leak blob bytes.
func mapError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == codeUnique && pgErr.ConstraintName == objectsPKey:
		return storage.ErrExists
	case pgErr.Code == codeUnique && pgErr.ConstraintName == eventsPKey:
		return fmt.Errorf("event id already exists: %w", err)
	case pgErr.Code == codeForeignKey && pgErr.ConstraintName == eventsUIDFKey:
		return storage.ErrNotFound
	}
	return err
}

// queueEvents adds the INSERTs of events to a batch.
func queueEvents(b *pgx.Batch, events []storage.Event) {
	for _, ev := range events {
		b.Queue(`INSERT INTO object_events (id, uid, origin_node, clock, kind, payload, created_at, mac, names, scrubs)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			ev.ID, ev.UID, ev.OriginNode, ev.Clock, ev.Kind, emptyIfNil(ev.Payload), ev.CreatedAt, emptyIfNil(ev.MAC), ev.Names, ev.Scrubs)
	}
}

// runBatch sends b and reads every result. PostgreSQL runs a batch as one
// implicit transaction that commits at its end, so when runBatch returns nil
// all of it is committed, and on error none of it is.
func runBatch(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, b *pgx.Batch) error {
	br := q.SendBatch(ctx, b)
	var first error
	for i := 0; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			first = err
			break
		}
	}
	if err := br.Close(); first == nil {
		first = err
	}
	return first
}
