package ops

import (
	"bytes"
	"slices"
	"sync"

	"github.com/strongroom/strongroom/storage"
)

// foldMemo remembers the folded form of objects whose rows passed their
// binding check, so that a Get of an unchanged key skips both: under the
// benchmark's Get load, decoding the stored attributes and events, folding
// them and encoding the bindings to look up their MACs took about a tenth
// of the server's CPU, for the same answer every time.
//
// An entry is used only when the rows just read are byte for byte the rows
// it was folded from (every field the bindings cover, and the events in the
// same order): any change, legitimate (an appended event, a scrubbed blob)
// or not (a row altered in the database), misses it and goes through the
// binding check again, which refuses an altered row as before. It holds
// wrapped rows and attributes, never key material. One per Service;
// bounded, with an arbitrary victim past its capacity (Go's map order), like
// macCache.
type foldMemo struct {
	mu      sync.Mutex
	max     int
	entries map[string]*memoEntry
}

// foldMemoSize bounds the memo (a folded object is a few KiB).
const foldMemoSize = 8192

type memoEntry struct {
	row    storage.Object
	events []storage.Event
	folded *object
}

func newFoldMemo(max int) *foldMemo {
	return &foldMemo{max: max, entries: make(map[string]*memoEntry)}
}

// get returns a copy of the folded object if row and events are the rows it
// was folded from. The copy's attribute slice is its own: object methods
// append to and assign into it.
func (m *foldMemo) get(row storage.Object, events []storage.Event) (*object, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	e, ok := m.entries[row.UID]
	m.mu.Unlock()
	if !ok || !e.matches(row, events) {
		return nil, false
	}
	o := *e.folded
	o.attrs = slices.Clone(e.folded.attrs)
	return &o, true
}

// put remembers a copy of o, folded from row and events after their binding
// check and before applyDates (the memo holds the stored state, not the
// state at one moment).
func (m *foldMemo) put(row storage.Object, events []storage.Event, o *object) {
	if m == nil || m.max <= 0 {
		return
	}
	e := &memoEntry{row: row, events: slices.Clone(events)}
	c := *o
	c.attrs = slices.Clone(o.attrs)
	e.folded = &c
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[row.UID]; !ok && len(m.entries) >= m.max {
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[row.UID] = e
}

func (e *memoEntry) matches(row storage.Object, events []storage.Event) bool {
	if !sameRow(e.row, row) || len(e.events) != len(events) {
		return false
	}
	for i := range events {
		if !sameEvent(e.events[i], events[i]) {
			return false
		}
	}
	return true
}

// sameRow compares what an object row's bindings cover (not the search
// hints).
func sameRow(a, b storage.Object) bool {
	return a.UID == b.UID && a.OriginNode == b.OriginNode && a.ObjectType == b.ObjectType &&
		a.Algorithm == b.Algorithm && a.Length == b.Length && a.KEK == b.KEK && a.Mechanism == b.Mechanism &&
		a.BlobLength == b.BlobLength && (a.Blob == nil) == (b.Blob == nil) && bytes.Equal(a.Blob, b.Blob) &&
		bytes.Equal(a.Attributes, b.Attributes) && a.CreatedAt.Equal(b.CreatedAt) && bytes.Equal(a.MAC, b.MAC)
}

// sameEvent compares what an event's binding covers.
func sameEvent(a, b storage.Event) bool {
	return a.ID == b.ID && a.UID == b.UID && a.OriginNode == b.OriginNode && a.Clock == b.Clock &&
		a.Kind == b.Kind && bytes.Equal(a.Payload, b.Payload) && a.CreatedAt.Equal(b.CreatedAt) && bytes.Equal(a.MAC, b.MAC)
}
