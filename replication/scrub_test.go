package replication_test

import (
	"slices"
	"testing"

	"github.com/strongroom/strongroom/replication"
	"github.com/strongroom/strongroom/storage"
)

// TestScrubCandidates checks which objects the scrubber considers: those
// with an event marked as scrubbing, or with an unmarked event (written
// before the mark existed) whose payload holds a marker; not those whose
// events are all marked as not scrubbing, nor those already scrubbed.
func TestScrubCandidates(t *testing.T) {
	n := newTestNode(t, "node-a")
	ctx := testCtx(t)
	marker := []byte("DESTROYED")
	mk := func(scrub func(uid string) storage.Event) string {
		o := newObject(t)
		ev := scrub(o.UID)
		if err := n.store.CreateObject(ctx, o, ev); err != nil {
			t.Fatal(err)
		}
		return o.UID
	}
	marked := mk(func(uid string) storage.Event {
		ev := newEvent(uid, "set")
		ev.Scrubs = true
		return ev
	})
	plain := mk(func(uid string) storage.Event { return newEvent(uid, "set") })
	// A row from before the mark: scrubs is NULL, the payload decides.
	legacy, legacyOther := newObject(t), newObject(t)
	for _, o := range []storage.Object{legacy, legacyOther} {
		if err := n.store.CreateObject(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for uid, payload := range map[string]string{legacy.UID: "xxDESTROYEDxx", legacyOther.UID: "active"} {
		if _, err := n.admin.Exec(ctx, `INSERT INTO object_events (id, uid, origin_node, clock, kind, payload, created_at)
			VALUES (gen_random_uuid(), $1, 'node-a', 1, 'set', $2, now())`, uid, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	scrubbed := mk(func(uid string) storage.Event {
		ev := newEvent(uid, "set")
		ev.Scrubs = true
		return ev
	})
	if err := n.store.ScrubBlob(ctx, scrubbed); err != nil {
		t.Fatal(err)
	}

	got, err := replication.ScrubCandidates(ctx, n.local(false), [][]byte{marker})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uid string
		want      bool
	}{
		{"marked", marked, true},
		{"not marked", plain, false},
		{"legacy with marker", legacy.UID, true},
		{"legacy without marker", legacyOther.UID, false},
		{"already scrubbed", scrubbed, false},
	} {
		if slices.Contains(got, tc.uid) != tc.want {
			t.Errorf("%s: candidate = %v, want %v", tc.name, !tc.want, tc.want)
		}
	}
}
