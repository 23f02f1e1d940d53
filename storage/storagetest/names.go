package storagetest

import (
	"slices"
	"testing"

	"github.com/strongroom/strongroom/storage"
)

// testListByName checks Filter.Name: a store returns at least every object
// that started with the name, got it from an event, or has unknown names
// (nil hints); strict reports whether it must also leave out the objects
// whose known names all differ (a store may ignore the hint).
func testListByName(t *testing.T, s storage.Store, strict bool) {
	mk := func(names []string, eventNames ...[]string) string {
		o := newObject(t, s.Node())
		o.Names = names
		var evs []storage.Event
		for i, n := range eventNames {
			ev := newEvent(o.UID, s.Node(), int64(i+1), "set")
			ev.Names = n
			evs = append(evs, ev)
		}
		mustCreate(t, s, o, evs...)
		return o.UID
	}
	started := mk([]string{"alpha", "beta"})
	renamed := mk([]string{"gamma"}, []string{}, []string{"alpha"})
	unknown := mk(nil)
	unknownEvent := mk([]string{}, nil)
	other := mk([]string{"gamma"}, []string{"delta"})
	none := mk([]string{})
	// Names a store must keep exactly (PostgreSQL's array literals quote,
	// escape and read NULL specially).
	tricky := []string{`q"uo\te`, "NULL", "", "{x,y}", "a, b", "ünïcode", `\`}
	trickyUID := mk(tricky)

	recs, err := s.ListObjects(ctx(t), storage.Filter{Name: "alpha", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Object.UID)
	}
	for _, uid := range []string{started, renamed, unknown, unknownEvent} {
		if !slices.Contains(got, uid) {
			t.Errorf("Name filter left out candidate %s", uid)
		}
	}
	for _, name := range tricky {
		if name == "" {
			continue // an empty Filter.Name filters nothing
		}
		recs, err := s.ListObjects(ctx(t), storage.Filter{Name: name, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			found = found || r.Object.UID == trickyUID
			if strict && r.Object.UID == none {
				t.Errorf("Name filter %q kept %s, which has no names", name, none)
			}
		}
		if !found {
			t.Errorf("Name filter %q left out the object named so", name)
		}
	}
	if strict {
		for _, uid := range []string{other, none} {
			if slices.Contains(got, uid) {
				t.Errorf("Name filter kept %s, whose known names all differ", uid)
			}
		}
	}
}
