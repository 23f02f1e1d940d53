package ops

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// macCache remembers row MACs the HSM has verified (or computed), so that
// the row-binding checks of load (binding.go) do not ask the HSM again for
// the same row: a Get used to spend four or more HSM HMACs on rows that had
// not changed since the last Get. The key is SHA-256 over the exact bytes
// the MAC covers and the MAC itself, so a hit means "these bytes with this
// MAC were verified by the HSM"; a row changed in the database (blob, state,
// owner, event) gives other bytes, misses the cache and is checked, and
// refused, by the HSM as before. Only successes are cached. The cache is
// bounded: past its capacity an arbitrary entry (Go's map order) is evicted.
// One per Service; it holds hashes only, never key material.
type macCache struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]struct{}
}

// macCacheSize bounds the cache: about 5 MiB at 65 536 entries.
const macCacheSize = 1 << 16

func newMACCache(max int) *macCache {
	return &macCache{max: max, entries: make(map[[sha256.Size]byte]struct{}, 1024)}
}

// cacheKey hashes the covered bytes (length-prefixed) and the MAC.
func cacheKey(data, mac []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(data)))])
	h.Write(data)
	h.Write(mac)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// verified reports whether mac over data was verified before.
func (c *macCache) verified(data, mac []byte) bool {
	if c == nil {
		return false
	}
	k := cacheKey(data, mac)
	c.mu.Lock()
	_, ok := c.entries[k]
	c.mu.Unlock()
	return ok
}

// add records that the HSM verified (or computed) mac over data.
func (c *macCache) add(data, mac []byte) {
	if c == nil || c.max <= 0 {
		return
	}
	k := cacheKey(data, mac)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	for old := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, old)
	}
	c.entries[k] = struct{}{}
}
