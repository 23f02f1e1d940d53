package postgres_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/postgres"
	"github.com/strongroom/strongroom/storage/storagetest"
)

// TestObjectCache proves the object cache against a real PostgreSQL: the
// store's contract holds with it on, and a cached object never outlives a
// change made by this store, by another process, by a replication apply
// worker (session_replication_role = replica) or while the listener was
// cut off.
func TestObjectCache(t *testing.T) {
	srv := pgtest.Start(t)

	t.Run("Suite", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			return openCached(t, srv.NewDatabase(t), "node-a")
		})
	})

	t.Run("Changes", func(t *testing.T) {
		u := srv.NewDatabase(t)
		a := openCached(t, u, "node-a")
		b := open(t, u, "node-b") // another process on the same database
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		admin := connect(t, srv.AdminDSN(strings.TrimPrefix(parsed.Path, "/"))) // SET session_replication_role needs a superuser
		tests := []struct {
			name   string
			change func(t *testing.T, uid string)
			atOnce bool // the reader must see it with no delay
		}{
			{"this store appends", func(t *testing.T, uid string) { appendEvent(t, a, uid) }, true},
			{"this store scrubs", func(t *testing.T, uid string) {
				if err := a.ScrubBlob(t.Context(), uid); err != nil {
					t.Fatal(err)
				}
			}, true},
			{"another process appends", func(t *testing.T, uid string) { appendEvent(t, b, uid) }, false},
			{"replication apply worker inserts", func(t *testing.T, uid string) {
				tx, err := admin.Begin(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(t.Context())
				if _, err := tx.Exec(t.Context(), `SET LOCAL session_replication_role = replica`); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(t.Context(), `INSERT INTO object_events (id, uid, origin_node, clock, kind, payload, created_at, mac)
					VALUES ($1, $2, 'node-c', 99, 'peer', '\x', now(), '\x')`, uuid.NewString(), uid); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(t.Context()); err != nil {
					t.Fatal(err)
				}
			}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				uid := create(t, a)
				before := state(t, a, uid) // now cached
				if again := state(t, a, uid); again != before {
					t.Fatalf("two reads differ: %q then %q", before, again)
				}
				tt.change(t, uid)
				if tt.atOnce {
					if got := state(t, a, uid); got == before {
						t.Fatal("a change by this store was not seen at once")
					}
					return
				}
				waitChanged(t, a, uid, before)
			})
		}
	})

	t.Run("PingsKeepItLive", func(t *testing.T) {
		// The listener's own pings must come back: otherwise it would
		// restart after two seconds and empty the cache.
		a := openCached(t, srv.NewDatabase(t), "node-a")
		uid := create(t, a)
		// The create's own notification may still evict the first read's
		// entry: read until one is a hit.
		for deadline := time.Now().Add(5 * time.Second); ; {
			hits := a.ObjectCacheStats().Hits
			state(t, a, uid)
			if a.ObjectCacheStats().Hits > hits {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no read was a hit")
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(3500 * time.Millisecond)
		before := a.ObjectCacheStats()
		state(t, a, uid)
		after := a.ObjectCacheStats()
		if !after.Live || after.Hits != before.Hits+1 {
			t.Fatalf("after 3.5 s idle: live %v, hits %d -> %d; want live and a hit", after.Live, before.Hits, after.Hits)
		}
	})

	t.Run("ListenerCutOff", func(t *testing.T) {
		u := srv.NewDatabase(t)
		a := openCached(t, u, "node-a")
		b := open(t, u, "node-b")
		raw := connect(t, u)
		uid := create(t, a)
		before := state(t, a, uid)
		// Kill the listener's backend, then change the object at once: the
		// notification may be lost, so the cache must stop serving.
		tag, err := raw.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN strongroom_objects'`)
		if err != nil {
			t.Fatal(err)
		}
		if tag.RowsAffected() != 1 {
			t.Fatalf("found %d listener backends, want 1", tag.RowsAffected())
		}
		appendEvent(t, b, uid)
		waitChanged(t, a, uid, before)
		deadline := time.Now().Add(10 * time.Second)
		for !a.ObjectCacheStats().Live {
			if time.Now().After(deadline) {
				t.Fatal("the listener did not come back")
			}
			time.Sleep(50 * time.Millisecond)
		}
		now := state(t, a, uid)
		appendEvent(t, b, uid)
		waitChanged(t, a, uid, now)
	})
}

func openCached(t *testing.T, u, node string) *postgres.Store {
	t.Helper()
	s := open(t, u, node)
	if err := s.EnableObjectCache(t.Context(), 1024); err != nil {
		t.Fatalf("EnableObjectCache: %v", err)
	}
	return s
}

func appendEvent(t *testing.T, s storage.Store, uid string) {
	t.Helper()
	if err := s.AppendEvents(t.Context(), storage.Event{ID: uuid.NewString(), UID: uid, Clock: time.Now().UnixMicro(), Kind: "set"}); err != nil {
		t.Fatal(err)
	}
}

// state summarises what a read returns: its events and whether the blob is
// still there.
func state(t *testing.T, s storage.Store, uid string) string {
	t.Helper()
	obj, evs, err := s.Object(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	out := "blob"
	if obj.Blob == nil {
		out = "scrubbed"
	}
	for _, ev := range evs {
		out += " " + ev.ID
	}
	return out
}

// waitChanged waits until a read of uid differs from before: a change from
// elsewhere is seen once PostgreSQL delivers its notification.
func waitChanged(t *testing.T, s storage.Store, uid, before string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for state(t, s, uid) == before {
		if time.Now().After(deadline) {
			t.Fatal("a change made elsewhere was still not seen after 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
