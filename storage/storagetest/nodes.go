package storagetest

import (
	"errors"
	"testing"

	"github.com/strongroom/strongroom/storage"
)

// RunNodes runs the suite for two nodes that share one (mirrored) database:
// newPair returns two empty stores with different Node ids over the same
// data. It checks the ownership rules mirroring depends on.
func RunNodes(t *testing.T, newPair func(t *testing.T) (a, b storage.Store)) {
	t.Run("Ownership", func(t *testing.T) {
		a, b := newPair(t)
		if a.Node() == b.Node() {
			t.Fatalf("both stores are node %q", a.Node())
		}
		// a creates; b reads it and appends its own events, with a clock
		// tie that the node id must break.
		o := newObject(t, a.Node())
		evA := newEvent(o.UID, a.Node(), 10, "create")
		mustCreate(t, a, o, evA)
		evB := newEvent(o.UID, "", 10, "revoke")
		if err := b.AppendEvents(ctx(t), evB); err != nil {
			t.Fatalf("node %s appends to node %s's object: %v", b.Node(), a.Node(), err)
		}
		evB.OriginNode = b.Node()
		want := storedEvents([]storage.Event{evA, evB})
		for _, s := range []storage.Store{a, b} {
			got, evs := mustGet(t, s, o.UID)
			checkObject(t, got, stored(o))
			checkEvents(t, evs, want)
		}

		// Only the origin node scrubs.
		if err := b.ScrubBlob(ctx(t), o.UID); !errors.Is(err, storage.ErrNotOwner) {
			t.Errorf("node %s scrubs node %s's object: got %v, want ErrNotOwner", b.Node(), a.Node(), err)
		}
		if got, _ := mustGet(t, a, o.UID); len(got.Blob) == 0 {
			t.Error("blob gone after a refused scrub")
		}
		if err := a.ScrubBlob(ctx(t), o.UID); err != nil {
			t.Errorf("origin node scrubs: %v", err)
		}
		if got, _ := mustGet(t, b, o.UID); got.Blob != nil {
			t.Error("blob still there after the origin node scrubbed it")
		}

		// b writes its own rows and cannot write rows in a's name.
		ob := newObject(t, "")
		mustCreate(t, b, ob)
		if got, _ := mustGet(t, a, ob.UID); got.OriginNode != b.Node() {
			t.Errorf("object created by %s has origin %q", b.Node(), got.OriginNode)
		}
		forged := newObject(t, a.Node())
		if err := b.CreateObject(ctx(t), forged); !errors.Is(err, storage.ErrNotOwner) {
			t.Errorf("node %s creates a row in node %s's name: got %v, want ErrNotOwner", b.Node(), a.Node(), err)
		}
		if err := b.AppendEvents(ctx(t), newEvent(o.UID, a.Node(), 11, "x")); !errors.Is(err, storage.ErrNotOwner) {
			t.Errorf("node %s appends an event in node %s's name: got %v, want ErrNotOwner", b.Node(), a.Node(), err)
		}
		if err := b.CreateObject(ctx(t), newObject(t, b.Node())); err != nil {
			t.Error(err)
		}
		recs, err := a.ListObjects(ctx(t), storage.Filter{})
		if err != nil || len(recs) != 3 {
			t.Errorf("node %s lists %d objects (err %v), want 3", a.Node(), len(recs), err)
		}
	})
}
