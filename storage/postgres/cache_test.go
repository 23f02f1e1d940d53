package postgres

import (
	"testing"

	"github.com/strongroom/strongroom/storage"
)

// TestObjectCacheTickets checks the rule that keeps a read from caching what
// a concurrent change made stale: a result is stored only if its shard saw
// no invalidation since the read took its ticket, and nothing is served or
// stored while the listener is not listening.
func TestObjectCacheTickets(t *testing.T) {
	const uid = "6f1c1c62-5a29-4d0b-9a54-2a3d8c1e0f11"
	obj := storage.Object{UID: uid, Blob: []byte{1}}
	evs := []storage.Event{{ID: "e1", UID: uid, MAC: []byte{1}}}
	tests := []struct {
		name    string
		between func(c *objectCache) // after the ticket, before put
		live    bool
		cached  bool
	}{
		{"no change", func(*objectCache) {}, true, true},
		{"same object changed", func(c *objectCache) { c.invalidate(uid) }, true, false},
		{"flushed", func(c *objectCache) { c.flush() }, true, false},
		{"not listening", func(*objectCache) {}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newObjectCache(64)
			c.live.Store(tt.live)
			_, _, ticket, ok := c.get(uid)
			if ok {
				t.Fatal("hit in an empty cache")
			}
			tt.between(c)
			c.put(uid, ticket, obj, evs)
			c.live.Store(true)
			_, got, _, ok := c.get(uid)
			if ok != tt.cached {
				t.Fatalf("cached = %v, want %v", ok, tt.cached)
			}
			if ok {
				got[0].ID = "changed by the caller"
				got[0].MAC[0] = 0xff
				if _, again, _, _ := c.get(uid); again[0].ID != "e1" || again[0].MAC[0] != 1 {
					t.Error("a caller's change to the returned events reached the cache")
				}
			}
		})
	}
	t.Run("not served while not listening", func(t *testing.T) {
		c := newObjectCache(64)
		c.live.Store(true)
		_, _, ticket, _ := c.get(uid)
		c.put(uid, ticket, obj, evs)
		c.live.Store(false)
		if _, _, _, ok := c.get(uid); ok {
			t.Error("served while the listener is down")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := newObjectCache(objectCacheShards) // one per shard
		c.live.Store(true)
		for i := range 10 * objectCacheShards {
			u := storage.Object{UID: string(rune('a'+i%26)) + string(rune(i))}
			_, _, ticket, _ := c.get(u.UID)
			c.put(u.UID, ticket, u, nil)
		}
		if n := c.len(); n > objectCacheShards {
			t.Errorf("%d entries, want at most %d", n, objectCacheShards)
		}
	})
	t.Run("large objects not kept", func(t *testing.T) {
		c := newObjectCache(64)
		c.live.Store(true)
		big := storage.Object{UID: uid, Attributes: make([]byte, maxCachedObjectBytes+1)}
		_, _, ticket, _ := c.get(uid)
		c.put(uid, ticket, big, nil)
		if _, _, _, ok := c.get(uid); ok {
			t.Error("an object over the size bound was cached")
		}
	})
}
