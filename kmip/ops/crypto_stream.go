package ops

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/strongroom/strongroom/hsm"
)

// Multi-part operations (KMIP 1.4 §4.29: Init Indicator, Correlation
// Value, Final Indicator) keep an HSM operation open between requests. They
// live in this node's memory only: a stream does not survive a restart or
// move to another node, and one left unfinished is closed after
// streamIdle.
const (
	streamIdle = 10 * time.Minute
	maxStreams = 64
)

// openStream is one multi-part operation between requests.
type openStream struct {
	s       hsm.CipherStream
	uid     string
	user    string
	encrypt bool
	used    time.Time
}

// streamTable holds the open multi-part operations by Correlation Value.
type streamTable struct {
	mu sync.Mutex
	m  map[string]*openStream
}

func newStreamTable() *streamTable { return &streamTable{m: map[string]*openStream{}} }

// put stores a stream and returns its new Correlation Value; false when
// too many are open.
func (t *streamTable) put(st *openStream, now time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	if len(t.m) >= maxStreams {
		return "", false
	}
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	st.used = now
	t.m[id] = st
	return id, true
}

// putBack stores a continued stream under its Correlation Value again.
func (t *streamTable) putBack(id string, st *openStream, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st.used = now
	t.m[id] = st
}

// take removes and returns the stream with the Correlation Value if it
// belongs to the caller, the key and the direction.
func (t *streamTable) take(id, user, uid string, encrypt bool, now time.Time) *openStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	st, ok := t.m[id]
	if !ok || st.user != user || (uid != "" && st.uid != uid) || st.encrypt != encrypt {
		return nil
	}
	delete(t.m, id)
	return st
}

// expire closes streams idle for too long; the caller holds mu.
func (t *streamTable) expire(now time.Time) {
	for id, st := range t.m {
		if now.Sub(st.used) > streamIdle {
			st.s.Close()
			delete(t.m, id)
		}
	}
}
