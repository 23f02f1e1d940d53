// Package memstore is an in-memory storage.Store for unit tests of the
// layers above storage. It applies the same checks as the PostgreSQL store
// (shared through storage/internal/rows) and passes the same behaviour suite
// (storage/storagetest), so tests written against it hold for the real one.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/internal/rows"
)

// Store keeps objects in memory. The zero value is not usable; call New.
type Store struct {
	node string
	db   *db
}

// db is the state shared by a Store and its peers, standing in for one
// fully mirrored database.
type db struct {
	mu      sync.Mutex
	objects map[string]*entry
	events  map[string]bool // event ids, which are unique across objects
	audit   []storage.AuditRecord
	grants  []storage.Grant
}

type entry struct {
	obj    storage.Object
	events []storage.Event // kept in fold order
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store for node. It panics if node is not a valid
// node id, as that is a mistake in the test that calls it.
func New(node string) *Store {
	if err := rows.CheckNode(node); err != nil {
		panic("memstore: " + err.Error())
	}
	return &Store{node: node, db: &db{objects: map[string]*entry{}, events: map[string]bool{}}}
}

// Peer returns a store for another node over the same data, as if both
// nodes' databases were perfectly mirrored; tests use it for rules that
// depend on who owns a row.
func (s *Store) Peer(node string) *Store {
	if err := rows.CheckNode(node); err != nil {
		panic("memstore: " + err.Error())
	}
	return &Store{node: node, db: s.db}
}

// Node implements storage.Store.
func (s *Store) Node() string { return s.node }

// CreateObject implements storage.Store.
func (s *Store) CreateObject(ctx context.Context, obj storage.Object, events ...storage.Event) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: create object: %w", err)
	}
	now := time.Now()
	obj, err = rows.Object(s.node, obj, now)
	if err != nil {
		return fmt.Errorf("storage: create object: %w", err)
	}
	evs, err := rows.Events(s.node, obj.UID, events, now)
	if err != nil {
		return fmt.Errorf("storage: create object %s: %w", obj.UID, err)
	}
	rec, done, err := seal(ctx, obj.UID)
	if err != nil {
		return fmt.Errorf("storage: create object %s: %w", obj.UID, err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	defer func() { done(s.db, rec, err) }()
	if _, ok := s.db.objects[obj.UID]; ok {
		return fmt.Errorf("storage: create object %s: %w", obj.UID, storage.ErrExists)
	}
	if err := s.db.checkEventIDs(evs); err != nil {
		return fmt.Errorf("storage: create object %s: %w", obj.UID, err)
	}
	e := &entry{obj: obj}
	s.db.objects[obj.UID] = e
	s.db.add(e, evs)
	return nil
}

// Object implements storage.Store.
func (s *Store) Object(ctx context.Context, uid string) (storage.Object, []storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return storage.Object{}, nil, fmt.Errorf("storage: object %q: %w", uid, err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	e, ok := s.db.objects[uid]
	if !ok {
		return storage.Object{}, nil, fmt.Errorf("storage: object %q: %w", uid, storage.ErrNotFound)
	}
	return copyObject(e.obj), copyEvents(e.events), nil
}

// AppendEvents implements storage.Store.
func (s *Store) AppendEvents(ctx context.Context, events ...storage.Event) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: append events: %w", err)
	}
	evs, err := rows.Events(s.node, "", events, time.Now())
	if err != nil {
		return fmt.Errorf("storage: append events: %w", err)
	}
	if len(evs) == 0 {
		return nil
	}
	uid := evs[0].UID
	rec, done, err := seal(ctx, uid)
	if err != nil {
		return fmt.Errorf("storage: append events to %s: %w", uid, err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	defer func() { done(s.db, rec, err) }()
	e, ok := s.db.objects[uid]
	if !ok {
		return fmt.Errorf("storage: append events to %s: %w", uid, storage.ErrNotFound)
	}
	if err := s.db.checkEventIDs(evs); err != nil {
		return fmt.Errorf("storage: append events to %s: %w", uid, err)
	}
	s.db.add(e, evs)
	return nil
}

// ScrubBlob implements storage.Store.
func (s *Store) ScrubBlob(ctx context.Context, uid string) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: scrub blob %q: %w", uid, err)
	}
	rec, done, err := seal(ctx, uid)
	if err != nil {
		return fmt.Errorf("storage: scrub blob %s: %w", uid, err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	defer func() { done(s.db, rec, err) }()
	e, ok := s.db.objects[uid]
	if !ok {
		return fmt.Errorf("storage: scrub blob %q: %w", uid, storage.ErrNotFound)
	}
	if e.obj.OriginNode != s.node {
		return fmt.Errorf("storage: scrub blob %s: created by node %q, this is %q: %w", uid, e.obj.OriginNode, s.node, storage.ErrNotOwner)
	}
	clear(e.obj.Blob)
	e.obj.Blob = nil
	return nil
}

// ListObjects implements storage.Store.
func (s *Store) ListObjects(ctx context.Context, f storage.Filter) ([]storage.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	limit, err := rows.Limit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("storage: list objects: %w", err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	var after *storage.Object
	if f.After != "" {
		e, ok := s.db.objects[f.After]
		if !ok {
			return nil, fmt.Errorf("storage: list objects after %q: %w", f.After, storage.ErrNotFound)
		}
		after = &e.obj
	}
	var match []*entry
	for _, e := range s.db.objects {
		o := &e.obj
		if f.ObjectType != 0 && o.ObjectType != f.ObjectType ||
			f.Algorithm != 0 && o.Algorithm != f.Algorithm ||
			f.Length != 0 && o.Length != f.Length ||
			after != nil && !rows.ObjectLess(*after, *o) {
			continue
		}
		match = append(match, e)
	}
	slices.SortFunc(match, func(a, b *entry) int {
		switch {
		case rows.ObjectLess(a.obj, b.obj):
			return -1
		case rows.ObjectLess(b.obj, a.obj):
			return 1
		}
		return 0
	})
	if len(match) > limit {
		match = match[:limit]
	}
	out := make([]storage.Record, 0, len(match))
	for _, e := range match {
		out = append(out, storage.Record{Object: copyObject(e.obj), Events: copyEvents(e.events)})
	}
	return out, nil
}

// checkEventIDs refuses event ids that are already stored; the caller holds mu.
func (d *db) checkEventIDs(evs []storage.Event) error {
	for _, ev := range evs {
		if d.events[ev.ID] {
			return fmt.Errorf("event %s already exists", ev.ID)
		}
	}
	return nil
}

// add appends events to e keeping fold order; the caller holds mu.
func (d *db) add(e *entry, evs []storage.Event) {
	for _, ev := range evs {
		d.events[ev.ID] = true
		e.events = append(e.events, ev)
	}
	slices.SortStableFunc(e.events, func(a, b storage.Event) int {
		switch {
		case rows.EventLess(a, b):
			return -1
		case rows.EventLess(b, a):
			return 1
		}
		return 0
	})
}

func copyObject(o storage.Object) storage.Object {
	o.Blob = rows.Bytes(o.Blob)
	o.Attributes = rows.Bytes(o.Attributes)
	o.MAC = rows.Bytes(o.MAC)
	return o
}

func copyEvents(evs []storage.Event) []storage.Event {
	out := make([]storage.Event, len(evs))
	for i, ev := range evs {
		ev.Payload = rows.Bytes(ev.Payload)
		ev.MAC = rows.Bytes(ev.MAC)
		out[i] = ev
	}
	return out
}
