package postgres

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/strongroom/strongroom/storage"
)

// The object cache keeps recently read objects (their rows and events, as
// Object returns them: wrapped blobs and attributes, never key material) in
// the server's memory, so that a Get of a key it served a moment ago costs
// no database round trip. Under the benchmark's Get load the SELECT was the
// largest cost left after the HSM's: the query through pgx, and the
// PostgreSQL backend's own CPU on the same two cores.
//
// A cached object must never outlive a change of its rows, which can come
// from three places:
//   - this process (CreateObject, AppendEvents, ScrubBlob): writeAudited
//     drops the object from the cache once its write has ended, so a client
//     that is told its change succeeded reads it back at once;
//   - another process on the same database, or a peer's rows applied by
//     logical replication: triggers on objects and object_events (migration
//     8, enabled ALWAYS so that they also fire for the subscription's apply
//     worker) send NOTIFY strongroom_objects with the UID, and the listener
//     (listen.go) drops the object when PostgreSQL delivers it, right after
//     the commit;
//   - anything while the listener is not listening (not yet connected, or
//     its connection lost): notifications sent then are lost, so the cache
//     is emptied and serves nothing until LISTEN is in place again.
//
// A read that misses takes a ticket (its shard's invalidation count) before
// its SELECT and stores the result only if nothing in the shard was
// invalidated since: a result read before a change cannot be stored after
// the change's invalidation has passed.
//
// This store's own writes are announced too, so each is dropped twice: the
// second time only costs the next read a miss.

// objectCacheShards splits the cache so that concurrent Gets of different
// keys do not wait on one mutex.
const objectCacheShards = 64

// maxCachedObjectBytes bounds one cached object's size (its rows' bytes); a
// larger object (thousands of attribute changes) is read from the database
// each time rather than pinning that much memory.
const maxCachedObjectBytes = 64 << 10

// DefaultObjectCacheSize is the number of objects serve keeps when the
// configuration does not say (about 1 to 2 KiB each).
const DefaultObjectCacheSize = 16384

type cachedObject struct {
	obj    storage.Object
	events []storage.Event
}

type cacheShard struct {
	mu      sync.Mutex
	entries map[string]*cachedObject
	gen     uint64 // invalidations so far in this shard
}

// objectCache is safe for concurrent use.
type objectCache struct {
	seed     maphash.Seed
	perShard int
	shards   [objectCacheShards]cacheShard
	// live is false while the listener is not listening: nothing is served
	// or stored then.
	live atomic.Bool

	hits, misses, invalidations atomic.Uint64
}

func newObjectCache(size int) *objectCache {
	c := &objectCache{seed: maphash.MakeSeed(), perShard: max(1, size/objectCacheShards)}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]*cachedObject)
	}
	return c
}

func (c *objectCache) shard(uid string) *cacheShard {
	return &c.shards[maphash.String(c.seed, uid)%objectCacheShards]
}

// get returns a copy of a cached object: the store's contract lets callers
// change what they are given. On a miss it returns a ticket for put.
func (c *objectCache) get(uid string) (storage.Object, []storage.Event, uint64, bool) {
	sh := c.shard(uid)
	sh.mu.Lock()
	e, ok := sh.entries[uid]
	gen := sh.gen
	sh.mu.Unlock()
	if ok && c.live.Load() {
		c.hits.Add(1)
		obj, events := deepCopy(e.obj, e.events)
		return obj, events, 0, true
	}
	c.misses.Add(1)
	return storage.Object{}, nil, gen, false
}

// put stores what a missed read found, unless the shard saw an
// invalidation since the read's ticket was taken or the cache is not live.
func (c *objectCache) put(uid string, ticket uint64, obj storage.Object, events []storage.Event) {
	if !c.live.Load() || objectBytes(obj, events) > maxCachedObjectBytes {
		return
	}
	sh := c.shard(uid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != ticket {
		return
	}
	if _, ok := sh.entries[uid]; !ok && len(sh.entries) >= c.perShard {
		for k := range sh.entries { // map order: an arbitrary victim
			delete(sh.entries, k)
			break
		}
	}
	obj, events = deepCopy(obj, events) // the caller keeps its own
	sh.entries[uid] = &cachedObject{obj: obj, events: events}
}

// invalidate drops uid and fails the tickets of its shard's reads in flight.
func (c *objectCache) invalidate(uid string) {
	c.invalidations.Add(1)
	sh := c.shard(uid)
	sh.mu.Lock()
	sh.gen++
	delete(sh.entries, uid)
	sh.mu.Unlock()
}

// flush drops everything and fails every ticket (the listener lost or
// regained its connection, or a table was truncated).
func (c *objectCache) flush() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		clear(sh.entries)
		sh.mu.Unlock()
	}
}

func (c *objectCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// deepCopy copies an object's rows, their byte slices carved from one
// allocation (a cached Get would otherwise make one per field).
func deepCopy(obj storage.Object, events []storage.Event) (storage.Object, []storage.Event) {
	n := len(obj.Blob) + len(obj.Attributes) + len(obj.MAC)
	for _, ev := range events {
		n += len(ev.Payload) + len(ev.MAC)
	}
	buf := make([]byte, 0, n)
	dup := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	obj.Blob, obj.Attributes, obj.MAC = dup(obj.Blob), dup(obj.Attributes), dup(obj.MAC)
	obj.Names = slices.Clone(obj.Names)
	out := make([]storage.Event, len(events))
	for i, ev := range events {
		ev.Payload, ev.MAC = dup(ev.Payload), dup(ev.MAC)
		ev.Names = slices.Clone(ev.Names)
		out[i] = ev
	}
	if events == nil {
		out = nil
	}
	return obj, out
}

// objectBytes is about what an object's rows occupy.
func objectBytes(obj storage.Object, events []storage.Event) int {
	n := len(obj.Blob) + len(obj.Attributes) + len(obj.MAC)
	for _, ev := range events {
		n += len(ev.Payload) + len(ev.MAC) + len(ev.Kind) + 64
	}
	return n
}

// ObjectCacheStats is a snapshot for metrics.
type ObjectCacheStats struct {
	Enabled       bool // serve turned the cache on
	Live          bool // the listener is listening, so the cache serves
	Entries       int
	Hits          uint64
	Misses        uint64
	Invalidations uint64
}
