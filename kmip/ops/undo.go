package ops

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Batch Error Continuation Option Undo (KMIP 1.4 §6.8, 2.1 §9.17): when an
// item fails, the items before it are undone and answered Operation Undone.
// Strongroom runs such a batch against a staging layer over the store: the
// items see each other's writes, and nothing reaches the database until the
// last item succeeded. Undoing is then dropping the staging. The key
// material the HSM wrapped for an undone Create or Register is dropped with
// it (only its wrapped blob ever existed, in memory). Limits: Locate does not
// see objects created earlier in the same Undo batch, and the final writes
// are one transaction per object, not one for the whole batch.

type stagingKey struct{}

// staged is a storage.Store whose writes are held back until flush.
type staged struct {
	base storage.Store

	mu      sync.Mutex
	objects []storage.Object
	events  []storage.Event
	scrubs  []string
}

var _ storage.Store = (*staged)(nil)

// withStaging returns a context whose operations write to a staging layer.
func withStaging(ctx context.Context, base storage.Store) (context.Context, *staged) {
	st := &staged{base: base}
	return context.WithValue(ctx, stagingKey{}, st), st
}

// db is the store an operation writes to: the staging layer of an Undo
// batch, or the database.
func (s *Service) db(ctx context.Context) storage.Store {
	if st, ok := ctx.Value(stagingKey{}).(*staged); ok {
		return st
	}
	return s.store
}

func (st *staged) Node() string { return st.base.Node() }

func (st *staged) CreateObject(ctx context.Context, obj storage.Object, events ...storage.Event) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.objects = append(st.objects, obj)
	st.events = append(st.events, events...)
	return nil
}

func (st *staged) Object(ctx context.Context, uid string) (storage.Object, []storage.Event, error) {
	st.mu.Lock()
	var obj *storage.Object
	for i := range st.objects {
		if st.objects[i].UID == uid {
			obj = &st.objects[i]
		}
	}
	var extra []storage.Event
	for _, ev := range st.events {
		if ev.UID == uid {
			extra = append(extra, ev)
		}
	}
	scrubbed := false
	for _, u := range st.scrubs {
		scrubbed = scrubbed || u == uid
	}
	st.mu.Unlock()
	var row storage.Object
	var events []storage.Event
	if obj != nil {
		row = *obj
	} else {
		var err error
		if row, events, err = st.base.Object(ctx, uid); err != nil {
			return storage.Object{}, nil, err
		}
	}
	if scrubbed {
		row.Blob = nil
	}
	events = append(events, extra...)
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if a.Clock != b.Clock {
			return a.Clock < b.Clock
		}
		if a.OriginNode != b.OriginNode {
			return a.OriginNode < b.OriginNode
		}
		return a.ID < b.ID
	})
	return row, events, nil
}

func (st *staged) AppendEvents(ctx context.Context, events ...storage.Event) error {
	for _, ev := range events {
		if _, _, err := st.Object(ctx, ev.UID); err != nil {
			return err
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.events = append(st.events, events...)
	return nil
}

func (st *staged) ScrubBlob(ctx context.Context, uid string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.scrubs = append(st.scrubs, uid)
	return nil
}

func (st *staged) ListObjects(ctx context.Context, f storage.Filter) ([]storage.Record, error) {
	return st.base.ListObjects(ctx, f)
}

// flush writes what the batch staged: new objects, then events, then
// scrubs.
func (st *staged) flush(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, obj := range st.objects {
		if err := st.base.CreateObject(ctx, obj); err != nil {
			return fmt.Errorf("ops: commit batch: %w", err)
		}
	}
	if len(st.events) > 0 {
		byObject := map[string][]storage.Event{}
		var order []string
		for _, ev := range st.events {
			if byObject[ev.UID] == nil {
				order = append(order, ev.UID)
			}
			byObject[ev.UID] = append(byObject[ev.UID], ev)
		}
		for _, uid := range order {
			if err := st.base.AppendEvents(ctx, byObject[uid]...); err != nil {
				return fmt.Errorf("ops: commit batch: %w", err)
			}
		}
	}
	for _, uid := range st.scrubs {
		if err := st.base.ScrubBlob(ctx, uid); err != nil {
			return fmt.Errorf("ops: commit batch: %w", err)
		}
	}
	return nil
}

// finishUndo ends an Undo batch: every item succeeded and the staged writes
// are committed, or one failed and the items before it are answered
// Operation Undone (their payloads kept, as the 2.1 vectors show).
func (s *Service) finishUndo(ctx context.Context, st *staged, resp *kmip.Response) {
	failed := false
	for _, it := range resp.Items {
		failed = failed || it.Status != ttlv.ResultStatusSuccess
	}
	if failed {
		for i := range resp.Items {
			if resp.Items[i].Status == ttlv.ResultStatusSuccess {
				resp.Items[i].Status = ttlv.ResultStatusOperationUndone
			}
		}
		return
	}
	if err := st.flush(ctx); err != nil {
		s.log.Error("ops: undo batch could not be committed", "err", err)
		for i := range resp.Items {
			resp.Items[i] = kmip.Failure(resp.Items[i].Operation, resp.Items[i].ID,
				kmip.Errorf(ttlv.ResultReasonGeneralFailure, "the batch could not be committed"))
		}
	}
}
