package pkcs11hsm

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// unwrapCache keeps the session objects that Unwrap made for recent Gets,
// so that a Get of a key read moments ago costs one C_GetAttributeValue in
// the token instead of C_UnwrapKey, C_GetAttributeValue and C_DestroyObject
// (measured under `strongroom bench --op get`: about three quarters of the
// token time of a Get). The plaintext stays where it was: inside the token,
// in a session object that is never written anywhere and dies with its
// session. Nothing in Go memory outlives the call.
//
// An entry is named by the SHA-256 of the wrapped blob and its KEK and
// mechanism, which is also written into the object's CKA_ID. Every hit reads
// CKA_ID back in the same call that reads CKA_VALUE and uses the value only
// if it matches, so a handle that went stale (its session was replaced and
// the token handed the number to another object) can never return another
// key. Entries expire after an idle TTL and the oldest go when the cache is
// full; Forget drops a destroyed key's entry at once.
type unwrapCache struct {
	max int
	ttl time.Duration

	mu      sync.Mutex
	entries map[cacheID]*list.Element
	// lru holds *cacheEntry, most recently used at the front.
	lru list.List
	// hits and misses are read by CacheStats (metrics).
	hits, misses uint64
}

// cacheID names a wrapped blob: SHA-256 over KEK label, mechanism, length
// and blob. None of them is secret.
type cacheID [sha256.Size]byte

type cacheEntry struct {
	id      cacheID
	h       pkcs11.ObjectHandle
	lastUse time.Time
}

func newUnwrapCache(max int, ttl time.Duration) *unwrapCache {
	if max <= 0 || ttl <= 0 {
		return nil
	}
	return &unwrapCache{max: max, ttl: ttl, entries: make(map[cacheID]*list.Element)}
}

func idOf(w hsm.Wrapped) cacheID {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(len(w.KEK)))
	h.Write(n[:4])
	h.Write([]byte(w.KEK))
	binary.BigEndian.PutUint64(n[:], uint64(w.Mechanism))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(w.Length))
	h.Write(n[:])
	h.Write(w.Blob)
	var id cacheID
	h.Sum(id[:0])
	return id
}

// lookup returns the handle cached for id and marks it used.
func (c *unwrapCache) lookup(id cacheID, now time.Time) (pkcs11.ObjectHandle, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		c.misses++
		return 0, false
	}
	e := el.Value.(*cacheEntry)
	e.lastUse = now
	c.lru.MoveToFront(el)
	c.hits++
	return e.h, true
}

// drop removes id's entry if it still holds handle h (a stale or
// mismatching handle); the object is not the cache's to destroy any more.
func (c *unwrapCache) drop(id cacheID, h pkcs11.ObjectHandle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok && el.Value.(*cacheEntry).h == h {
		c.lru.Remove(el)
		delete(c.entries, id)
	}
}

// add records h for id. It returns the objects that now have to be
// destroyed: h itself when another call cached the same blob first, and the
// least recently used entries beyond the size limit.
func (c *unwrapCache) add(id cacheID, h pkcs11.ObjectHandle, now time.Time) []cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; ok {
		return []cacheEntry{{id: id, h: h}}
	}
	c.entries[id] = c.lru.PushFront(&cacheEntry{id: id, h: h, lastUse: now})
	var out []cacheEntry
	for c.lru.Len() > c.max {
		out = append(out, c.removeOldest())
	}
	return out
}

// take removes and returns id's entry, if any.
func (c *unwrapCache) take(id cacheID) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return cacheEntry{}, false
	}
	c.lru.Remove(el)
	delete(c.entries, id)
	return *el.Value.(*cacheEntry), true
}

// expired removes and returns the entries idle for longer than the TTL.
func (c *unwrapCache) expired(now time.Time) []cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cacheEntry
	for c.lru.Len() > 0 && now.Sub(c.lru.Back().Value.(*cacheEntry).lastUse) > c.ttl {
		out = append(out, c.removeOldest())
	}
	return out
}

// all removes and returns every entry (Close).
func (c *unwrapCache) all() []cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cacheEntry
	for c.lru.Len() > 0 {
		out = append(out, c.removeOldest())
	}
	return out
}

func (c *unwrapCache) removeOldest() cacheEntry {
	el := c.lru.Back()
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.entries, e.id)
	return *e
}

// stats returns the number of entries, hits and misses.
func (c *unwrapCache) stats() (size int, hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.hits, c.misses
}

// readCached reads the value of the cached object h if it is still the
// object made for id; ok is false for a handle that is gone or now names
// another object.
func (k *Keystore) readCached(sh pkcs11.SessionHandle, id cacheID, h pkcs11.ObjectHandle, length int) (value []byte, ok bool) {
	vals, err := k.readAttrs(sh, h, []uint{pkcs11.CKA_ID, pkcs11.CKA_VALUE}, []int{len(id), length})
	if err != nil || len(vals) != 2 {
		return nil, false
	}
	if !bytes.Equal(vals[0], id[:]) {
		clear(vals[1]) // another object's value
		return nil, false
	}
	return vals[1], true
}

// destroyCached destroys an entry's object, but only if the handle still
// names the object made for the entry: after a session was replaced the
// token may have given the number to an object someone else is using.
func (k *Keystore) destroyCached(sh pkcs11.SessionHandle, e cacheEntry) {
	got, err := k.readAttrs(sh, e.h, []uint{pkcs11.CKA_ID}, []int{len(e.id)})
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], e.id[:]) {
		return
	}
	k.destroy(sh, e.h)
}

// destroyEntries destroys entries' objects in one pooled call.
func (k *Keystore) destroyEntries(ctx context.Context, op string, entries []cacheEntry) {
	if len(entries) == 0 {
		return
	}
	err := k.do(ctx, op, func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		for _, e := range entries {
			k.destroyCached(sh, e)
		}
		return nil
	})
	if err != nil {
		// The objects die with their sessions at the latest.
		k.log.Warn("hsm: destroy cached keys", "op", op, "error", err)
	}
}

// Forget destroys the token's cached copy of w's key, if any: Destroy calls
// it so that a destroyed key does not wait for the TTL to leave the token.
// It implements hsm.Forgetter.
func (k *Keystore) Forget(ctx context.Context, w hsm.Wrapped) {
	if k.cache == nil {
		return
	}
	if e, ok := k.cache.take(idOf(w)); ok {
		k.destroyEntries(ctx, "forget cached key", []cacheEntry{e})
	}
}

// CacheStats reports how many unwrapped keys the token holds for Get and
// the hits and misses so far (metrics); all zero when the cache is off.
func (k *Keystore) CacheStats() (size int, hits, misses uint64) {
	if k.cache == nil {
		return 0, 0, 0
	}
	return k.cache.stats()
}

// startSweeper starts the goroutine that destroys entries idle for longer
// than the TTL, checking a few times per TTL so that an idle key leaves the
// token at most a quarter TTL late.
func (k *Keystore) startSweeper() {
	if k.cache == nil {
		return
	}
	k.sweepStop, k.sweepDone = make(chan struct{}), make(chan struct{})
	every := max(k.cache.ttl/4, 10*time.Millisecond)
	go func() {
		defer close(k.sweepDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-k.sweepStop:
				return
			case now := <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), every)
				k.destroyEntries(ctx, "expire cached keys", k.cache.expired(now))
				cancel()
			}
		}
	}()
}

// stopSweeper ends the sweeper and destroys every cached object while the
// pool is still open (they would die with their sessions anyway).
func (k *Keystore) stopSweeper() {
	if k.sweepStop == nil {
		return
	}
	close(k.sweepStop)
	<-k.sweepDone
	k.sweepStop = nil
	if k.pool != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		k.destroyEntries(ctx, "drop cached keys", k.cache.all())
	}
}
