package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
)

func testRoundTrip(t *testing.T, s storage.Store) {
	tests := []struct {
		name   string
		obj    func() storage.Object
		events int
	}{
		{"full object with events", func() storage.Object { return newObject(t, s.Node()) }, 3},
		{"no events", func() storage.Object { return newObject(t, s.Node()) }, 0},
		{"no blob or attributes", func() storage.Object {
			o := newObject(t, s.Node())
			o.Blob, o.Attributes, o.MAC, o.KEK, o.BlobLength = nil, nil, nil, "", 0
			o.Algorithm, o.Length, o.ObjectType = 0, 0, 7 // Opaque Object
			return o
		}, 1},
		{"large values", func() storage.Object {
			o := newObject(t, s.Node())
			o.Blob = secret(t, 4096)
			o.ObjectType, o.Algorithm, o.Mechanism = 0xFFFFFFFF, 0xFFFFFFFF, 0x80000001
			o.Length, o.BlobLength = 1<<31-1, 1<<31-1
			return o
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.obj()
			var evs []storage.Event
			for i := range tt.events {
				evs = append(evs, newEvent(o.UID, s.Node(), int64(100+i), "state"))
			}
			mustCreate(t, s, o, evs...)
			got, gotEvs := mustGet(t, s, o.UID)
			checkObject(t, got, stored(o))
			checkEvents(t, gotEvs, storedEvents(evs))
		})
	}
}

func testDefaults(t *testing.T, s storage.Store) {
	o := newObject(t, "")
	o.CreatedAt = time.Time{}
	ev := newEvent("", "", 1, "create")
	ev.CreatedAt = time.Time{}
	before := time.Now().Add(-time.Second)
	mustCreate(t, s, o, ev)
	after := time.Now().Add(time.Second)
	got, evs := mustGet(t, s, o.UID)
	if got.OriginNode != s.Node() {
		t.Errorf("OriginNode = %q, want this node %q", got.OriginNode, s.Node())
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
	if evs[0].UID != o.UID || evs[0].OriginNode != s.Node() {
		t.Errorf("event UID/OriginNode = %s/%q, want %s/%q", evs[0].UID, evs[0].OriginNode, o.UID, s.Node())
	}
	if evs[0].CreatedAt.Before(before) || evs[0].CreatedAt.After(after) {
		t.Errorf("event CreatedAt = %v, want about now", evs[0].CreatedAt)
	}
}

func testExists(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	first := newEvent(o.UID, s.Node(), 1, "create")
	mustCreate(t, s, o, first)

	again := newObject(t, s.Node())
	again.UID = o.UID
	lost := newEvent(o.UID, s.Node(), 2, "create")
	err := s.CreateObject(ctx(t), again, lost)
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second CreateObject: got %v, want ErrExists", err)
	}
	if !strings.HasPrefix(err.Error(), "storage: ") {
		t.Errorf("error %q lacks the storage: prefix", err)
	}
	got, evs := mustGet(t, s, o.UID)
	checkObject(t, got, stored(o))
	// The failed create must have stored none of its events.
	checkEvents(t, evs, storedEvents([]storage.Event{first}))
	if err := s.AppendEvents(ctx(t), lost); err != nil {
		t.Errorf("event of the failed create cannot be appended later: %v", err)
	}
}

func testNotFound(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	mustCreate(t, s, o)
	for _, uid := range []string{newUID(), "not-a-uuid", "", strings.ToUpper(o.UID), "{" + o.UID + "}"} {
		if _, _, err := s.Object(ctx(t), uid); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Object(%q): got %v, want ErrNotFound", uid, err)
		}
		if err := s.ScrubBlob(ctx(t), uid); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ScrubBlob(%q): got %v, want ErrNotFound", uid, err)
		}
	}
	if _, err := s.ListObjects(ctx(t), storage.Filter{After: newUID()}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ListObjects after a missing UID: got %v, want ErrNotFound", err)
	}
}

func testEventOrder(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	n := s.Node()
	// Clocks out of order and ties, which must fall back to the event ID.
	evs := []storage.Event{
		newEvent(o.UID, n, 30, "c"),
		newEvent(o.UID, n, 10, "a"),
		newEvent(o.UID, n, 20, "b1"),
		newEvent(o.UID, n, 20, "b2"),
		newEvent(o.UID, n, 20, "b3"),
	}
	mustCreate(t, s, o, evs[:2]...)
	if err := s.AppendEvents(ctx(t), evs[2:]...); err != nil {
		t.Fatal(err)
	}
	later := newEvent(o.UID, n, 5, "late") // an older clock appended last
	if err := s.AppendEvents(ctx(t), later); err != nil {
		t.Fatal(err)
	}
	_, got := mustGet(t, s, o.UID)
	checkEvents(t, got, storedEvents(append(evs, later)))
}

func testAppendEvents(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	mustCreate(t, s, o)
	if err := s.AppendEvents(ctx(t)); err != nil {
		t.Errorf("AppendEvents with no events: %v", err)
	}
	evs := []storage.Event{newEvent(o.UID, s.Node(), 1, "x"), newEvent(o.UID, "", 2, "y")}
	if err := s.AppendEvents(ctx(t), evs...); err != nil {
		t.Fatal(err)
	}
	evs[1].OriginNode = s.Node()
	_, got := mustGet(t, s, o.UID)
	checkEvents(t, got, storedEvents(evs))

	missing := newEvent(newUID(), s.Node(), 1, "x")
	if err := s.AppendEvents(ctx(t), missing); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("AppendEvents to a missing object: got %v, want ErrNotFound", err)
	}
}

func testAppendInvalid(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	other := newObject(t, s.Node())
	mustCreate(t, s, o)
	mustCreate(t, s, other)
	existing := newEvent(o.UID, s.Node(), 1, "x")
	if err := s.AppendEvents(ctx(t), existing); err != nil {
		t.Fatal(err)
	}
	good := newEvent(o.UID, s.Node(), 2, "good")
	tests := []struct {
		name string
		bad  func() storage.Event
		is   error
	}{
		{"two objects in one call", func() storage.Event { return newEvent(other.UID, s.Node(), 3, "x") }, nil},
		{"another node's event", func() storage.Event { return newEvent(o.UID, s.Node()+"-other", 3, "x") }, storage.ErrNotOwner},
		{"event ID not a UUID", func() storage.Event { e := newEvent(o.UID, s.Node(), 3, "x"); e.ID = "E1"; return e }, nil},
		{"uppercase event ID", func() storage.Event {
			e := newEvent(o.UID, s.Node(), 3, "x")
			e.ID = strings.ToUpper(e.ID)
			return e
		}, nil},
		{"empty kind", func() storage.Event { return newEvent(o.UID, s.Node(), 3, "") }, nil},
		{"negative clock", func() storage.Event { return newEvent(o.UID, s.Node(), -1, "x") }, nil},
		{"event ID already stored", func() storage.Event { e := newEvent(o.UID, s.Node(), 3, "x"); e.ID = existing.ID; return e }, nil},
		{"event ID twice in the call", func() storage.Event { e := newEvent(o.UID, s.Node(), 3, "x"); e.ID = good.ID; return e }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AppendEvents(ctx(t), good, tt.bad())
			if err == nil {
				t.Fatal("AppendEvents succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want %v", err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), "storage: ") {
				t.Errorf("error %q lacks the storage: prefix", err)
			}
			// All or nothing: the good event must not have been stored.
			_, got := mustGet(t, s, o.UID)
			checkEvents(t, got, storedEvents([]storage.Event{existing}))
		})
	}
}

func testCreateInvalid(t *testing.T, s storage.Store) {
	tests := []struct {
		name   string
		change func(o *storage.Object, evs []storage.Event)
		is     error
	}{
		{"uppercase UID", func(o *storage.Object, _ []storage.Event) { o.UID = strings.ToUpper(o.UID) }, nil},
		{"UID not a UUID", func(o *storage.Object, _ []storage.Event) { o.UID = "key-1" }, nil},
		{"another node's object", func(o *storage.Object, _ []storage.Event) { o.OriginNode = s.Node() + "-other" }, storage.ErrNotOwner},
		{"object type 0", func(o *storage.Object, _ []storage.Event) { o.ObjectType = 0 }, nil},
		{"negative length", func(o *storage.Object, _ []storage.Event) { o.Length = -1 }, nil},
		{"negative blob length", func(o *storage.Object, _ []storage.Event) { o.BlobLength = -1 }, nil},
		{"blob without KEK", func(o *storage.Object, _ []storage.Event) { o.KEK = "" }, nil},
		{"event for another object", func(_ *storage.Object, evs []storage.Event) { evs[0].UID = newUID() }, nil},
		{"another node's event", func(_ *storage.Object, evs []storage.Event) { evs[0].OriginNode = s.Node() + "-other" }, storage.ErrNotOwner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newObject(t, s.Node())
			evs := []storage.Event{newEvent(o.UID, s.Node(), 1, "x")}
			uid := o.UID
			tt.change(&o, evs)
			err := s.CreateObject(ctx(t), o, evs...)
			if err == nil {
				t.Fatal("CreateObject succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want %v", err, tt.is)
			}
			if strings.Contains(err.Error(), string(o.Blob)) && len(o.Blob) > 0 {
				t.Error("error text contains the blob")
			}
			if _, _, err := s.Object(ctx(t), uid); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("object stored after a refused create: %v", err)
			}
		})
	}
}

func testScrub(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	evs := []storage.Event{newEvent(o.UID, s.Node(), 1, "create")}
	mustCreate(t, s, o, evs...)
	keep := newObject(t, s.Node())
	mustCreate(t, s, keep)
	for i := range 2 { // the second scrub must be a no-op
		if err := s.ScrubBlob(ctx(t), o.UID); err != nil {
			t.Fatalf("ScrubBlob #%d: %v", i+1, err)
		}
	}
	want := stored(o)
	want.Blob = nil
	got, gotEvs := mustGet(t, s, o.UID)
	checkObject(t, got, want)
	checkEvents(t, gotEvs, storedEvents(evs))
	got, _ = mustGet(t, s, keep.UID)
	checkObject(t, got, stored(keep))
}

func testListFilters(t *testing.T, s storage.Store) {
	type shape struct {
		typ, alg uint32
		length   int32
	}
	shapes := []shape{{2, 3, 128}, {2, 3, 256}, {2, 3, 256}, {2, 4, 168}, {7, 0, 0}, {2, 3, 256}}
	var all []storage.Object
	events := map[string][]storage.Event{}
	for i, sh := range shapes {
		o := newObject(t, s.Node())
		o.ObjectType, o.Algorithm, o.Length = sh.typ, sh.alg, sh.length
		// Creation order differs from insertion order; two share a time.
		o.CreatedAt = base.Add(time.Duration((len(shapes)-i)/2) * time.Second)
		evs := []storage.Event{newEvent(o.UID, s.Node(), int64(10-i), "a"), newEvent(o.UID, s.Node(), 1, "b")}
		mustCreate(t, s, o, evs[:i%3]...)
		events[o.UID] = storedEvents(evs[:i%3])
		all = append(all, stored(o))
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.Before(all[j].CreatedAt)
		}
		return all[i].UID < all[j].UID
	})
	tests := []struct {
		name string
		f    storage.Filter
		keep func(o storage.Object) bool
	}{
		{"all", storage.Filter{}, func(storage.Object) bool { return true }},
		{"object type", storage.Filter{ObjectType: 2}, func(o storage.Object) bool { return o.ObjectType == 2 }},
		{"algorithm", storage.Filter{Algorithm: 3}, func(o storage.Object) bool { return o.Algorithm == 3 }},
		{"length", storage.Filter{Length: 256}, func(o storage.Object) bool { return o.Length == 256 }},
		{"type, algorithm and length", storage.Filter{ObjectType: 2, Algorithm: 4, Length: 168},
			func(o storage.Object) bool { return o.ObjectType == 2 && o.Algorithm == 4 && o.Length == 168 }},
		{"nothing matches", storage.Filter{ObjectType: 3}, func(storage.Object) bool { return false }},
		{"limit", storage.Filter{Limit: 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []storage.Object
			for _, o := range all {
				if tt.keep == nil || tt.keep(o) {
					want = append(want, o)
				}
			}
			if tt.keep == nil {
				want = want[:tt.f.Limit]
			}
			got, err := s.ListObjects(ctx(t), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, got, want, events)
		})
	}
	if _, err := s.ListObjects(ctx(t), storage.Filter{Limit: -1}); err == nil {
		t.Error("ListObjects with a negative limit succeeded")
	}
}

func checkRecords(t *testing.T, got []storage.Record, want []storage.Object, events map[string][]storage.Event) {
	t.Helper()
	if len(got) != len(want) {
		var uids []string
		for _, r := range got {
			uids = append(uids, r.Object.UID)
		}
		t.Fatalf("got %d records %v, want %d", len(got), uids, len(want))
	}
	for i := range got {
		checkObject(t, got[i].Object, want[i])
		checkEvents(t, got[i].Events, events[want[i].UID])
	}
}

func testListPagination(t *testing.T, s storage.Store) {
	const n = 23
	var want []string
	for i := range n {
		o := newObject(t, s.Node())
		o.CreatedAt = base.Add(time.Duration(i/3) * time.Millisecond) // ties of three
		mustCreate(t, s, o, newEvent(o.UID, s.Node(), int64(i), "x"))
		want = append(want, o.UID)
	}
	// Ties in CreatedAt are ordered by UID.
	for i := 0; i < n; i += 3 {
		sort.Strings(want[i:min(i+3, n)])
	}
	for _, limit := range []int{1, 5, 23, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			f := storage.Filter{Limit: limit}
			for pages := 0; ; pages++ {
				if pages > n+1 {
					t.Fatal("pagination does not end")
				}
				page, err := s.ListObjects(ctx(t), f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d records, limit %d", len(page), limit)
				}
				for _, r := range page {
					if len(r.Events) != 1 || r.Events[0].UID != r.Object.UID {
						t.Errorf("record %s has events %+v", r.Object.UID, r.Events)
					}
					got = append(got, r.Object.UID)
				}
				if len(page) < limit {
					break
				}
				f.After = page[len(page)-1].Object.UID
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("pages gave\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func testConcurrentCreates(t *testing.T, s storage.Store) {
	const workers, each = 16, 8
	uids := make([][]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for range each {
				o := newObject(t, s.Node())
				o.CreatedAt = time.Time{}
				if err := s.CreateObject(ctx(t), o, newEvent(o.UID, s.Node(), 1, "create"), newEvent(o.UID, s.Node(), 2, "activate")); err != nil {
					errs <- err
					return
				}
				uids[w] = append(uids[w], o.UID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for _, list := range uids {
		for _, uid := range list {
			_, evs := mustGet(t, s, uid)
			if len(evs) != 2 {
				t.Errorf("object %s has %d events, want 2", uid, len(evs))
			}
			seen[uid] = true
		}
	}
	recs, err := s.ListObjects(ctx(t), storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != workers*each || len(seen) != workers*each {
		t.Errorf("listed %d objects, created %d, want %d", len(recs), len(seen), workers*each)
	}
	for _, r := range recs {
		if !seen[r.Object.UID] || len(r.Events) != 2 {
			t.Errorf("listed object %s (events %d) was not created by the workers", r.Object.UID, len(r.Events))
		}
	}
}

func testCallerSlices(t *testing.T, s storage.Store) {
	o := newObject(t, s.Node())
	want := stored(o)
	want.Blob = bytes.Clone(o.Blob)
	ev := newEvent(o.UID, s.Node(), 1, "x")
	wantEv := storedEvents([]storage.Event{ev})
	wantEv[0].Payload = bytes.Clone(ev.Payload)
	mustCreate(t, s, o, ev)
	clear(o.Blob)
	clear(ev.Payload)
	got, evs := mustGet(t, s, o.UID)
	checkObject(t, got, want)
	checkEvents(t, evs, wantEv)
	clear(got.Blob) // changing a returned value must not change the store
	got, _ = mustGet(t, s, o.UID)
	checkObject(t, got, want)
}
