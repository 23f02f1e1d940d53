// Package storagetest is the behaviour suite every storage.Store must pass.
// Implementations run it from their own tests:
//
//	func TestStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return newEmptyStore(t) })
//	}
//
// The suite compares key blobs without printing them.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/strongroom/strongroom/storage"
)

// Run runs the single-node suite. newStore must return an empty store each
// time it is called and arrange its own cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Defaults", testDefaults},
		{"Exists", testExists},
		{"NotFound", testNotFound},
		{"EventOrder", testEventOrder},
		{"AppendEvents", testAppendEvents},
		{"AppendInvalid", testAppendInvalid},
		{"CreateInvalid", testCreateInvalid},
		{"Scrub", testScrub},
		{"ListFilters", testListFilters},
		{"ListPagination", testListPagination},
		{"ConcurrentCreates", testConcurrentCreates},
		{"CallerSlicesNotShared", testCallerSlices},
		{"Audit", testAudit},
		{"ListByName", func(t *testing.T, s storage.Store) { testListByName(t, s, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// RunStrictName checks that a store which uses the Name hint (PostgreSQL)
// also leaves out objects whose known names all differ.
func RunStrictName(t *testing.T, s storage.Store) { testListByName(t, s, true) }

// newUID returns a fresh lowercase UUID.
func newUID() string { return uuid.NewString() }

// secret returns random bytes standing in for a wrapped key; the suite
// never prints them.
func secret(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// base is a fixed creation time with nanoseconds, which stores truncate.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 3600))

func newObject(t *testing.T, node string) storage.Object {
	return storage.Object{
		UID:        newUID(),
		OriginNode: node,
		ObjectType: 2, // Symmetric Key
		Algorithm:  3, // AES
		Length:     256,
		KEK:        "kek-1",
		Mechanism:  0x210A,
		Blob:       secret(t, 40),
		BlobLength: 32,
		Attributes: []byte{0x42, 0x01, 0x25, 0x01},
		CreatedAt:  base,
		MAC:        secret(t, 16),
	}
}

func newEvent(uid, node string, clock int64, kind string) storage.Event {
	return storage.Event{
		ID:         newUID(),
		UID:        uid,
		OriginNode: node,
		Clock:      clock,
		Kind:       kind,
		Payload:    []byte(kind),
		CreatedAt:  base.Add(time.Duration(clock) * time.Microsecond),
		MAC:        []byte{1, 2, 3},
	}
}

// stored is what a store returns for a written object: UTC, microseconds.
func stored(o storage.Object) storage.Object {
	o.CreatedAt = o.CreatedAt.UTC().Truncate(time.Microsecond)
	o.Blob = nilIfEmpty(o.Blob)
	o.Attributes = nilIfEmpty(o.Attributes)
	o.MAC = nilIfEmpty(o.MAC)
	return o
}

func storedEvents(evs []storage.Event) []storage.Event {
	out := make([]storage.Event, len(evs))
	for i, ev := range evs {
		ev.CreatedAt = ev.CreatedAt.UTC().Truncate(time.Microsecond)
		ev.Payload = nilIfEmpty(ev.Payload)
		ev.MAC = nilIfEmpty(ev.MAC)
		out[i] = ev
	}
	// Fold order, written out here rather than shared with the stores.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Clock != b.Clock {
			return a.Clock < b.Clock
		}
		if a.OriginNode != b.OriginNode {
			return a.OriginNode < b.OriginNode
		}
		return a.ID < b.ID
	})
	return out
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// diffObject names the fields in which got and want differ, describing the
// blob only by length.
func diffObject(got, want storage.Object) string {
	var d []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		switch gb := g.(type) {
		case []byte:
			if !bytes.Equal(gb, w.([]byte)) || (gb == nil) != (w.([]byte) == nil) {
				if name == "Blob" {
					d = append(d, fmt.Sprintf("Blob differs (got %d bytes, nil=%v; want %d bytes, nil=%v)", len(gb), gb == nil, len(w.([]byte)), w.([]byte) == nil))
				} else {
					d = append(d, fmt.Sprintf("%s: got %x, want %x", name, gb, w))
				}
			}
		case []string:
			// Names are search hints the store writes and does not
			// return (storage.Filter.Name).
		case time.Time:
			if !gb.Equal(w.(time.Time)) || gb.Location() != time.UTC {
				d = append(d, fmt.Sprintf("%s: got %v, want %v (in UTC)", name, gb, w))
			}
		default:
			if g != w {
				d = append(d, fmt.Sprintf("%s: got %v, want %v", name, g, w))
			}
		}
	}
	return strings.Join(d, "; ")
}

func checkObject(t *testing.T, got, want storage.Object) {
	t.Helper()
	if d := diffObject(got, want); d != "" {
		t.Errorf("object %s: %s", want.UID, d)
	}
}

func checkEvents(t *testing.T, got, want []storage.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.UID != w.UID || g.OriginNode != w.OriginNode || g.Clock != w.Clock ||
			g.Kind != w.Kind || !bytes.Equal(g.Payload, w.Payload) || !g.CreatedAt.Equal(w.CreatedAt) ||
			g.CreatedAt.Location() != time.UTC || !bytes.Equal(g.MAC, w.MAC) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustCreate(t *testing.T, s storage.Store, o storage.Object, evs ...storage.Event) {
	t.Helper()
	if err := s.CreateObject(ctx(t), o, evs...); err != nil {
		t.Fatalf("CreateObject: %v", err)
	}
}

func mustGet(t *testing.T, s storage.Store, uid string) (storage.Object, []storage.Event) {
	t.Helper()
	o, evs, err := s.Object(ctx(t), uid)
	if err != nil {
		t.Fatalf("Object(%s): %v", uid, err)
	}
	return o, evs
}
