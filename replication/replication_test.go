package replication_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/replication"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/postgres"
)

// testNode is one node's database: its own PostgreSQL cluster with the
// Strongroom schema, the store as the server uses it (non-superuser) and a
// superuser pool for managing subscriptions.
type testNode struct {
	name  string
	store *postgres.Store
	app   *pgxpool.Pool // the serving role
	admin *pgxpool.Pool // superuser, over the Unix socket
	// peerURL is what a peer subscribes with: the superuser over the
	// socket, which every test cluster's server (same OS user) can enter.
	peerURL string
}

func newTestNode(t *testing.T, name string) *testNode {
	t.Helper()
	srv := pgtest.Start(t)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	ctx := testCtx(t)
	store, err := postgres.Open(ctx, srv.URL, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	n := &testNode{name: name, store: store, peerURL: srv.AdminDSN(dbname)}
	n.app = pool(t, srv.URL)
	n.admin = pool(t, srv.AdminDSN(dbname))
	return n
}

func pool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(testCtx(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func (n *testNode) local(admin bool) replication.Local {
	if admin {
		return replication.Local{DB: n.admin, Node: n.name}
	}
	return replication.Local{DB: n.app, Node: n.name}
}

// pair makes a and b mirror each other.
func pair(t *testing.T, a, b *testNode) {
	t.Helper()
	for _, x := range [][2]*testNode{{a, b}, {b, a}} {
		if err := replication.Add(testCtx(t), x[0].local(true), x[1].name, x[1].peerURL, nil); err != nil {
			t.Fatalf("add %s on %s: %v", x[1].name, x[0].name, err)
		}
	}
	t.Cleanup(func() {
		// Subscriptions hold connections to the peer; drop them before
		// the clusters stop, so neither waits for the other.
		for _, x := range [][2]*testNode{{a, b}, {b, a}} {
			_, _ = replication.Remove(context.Background(), x[0].local(true), x[1].name)
		}
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newObject(t *testing.T) storage.Object {
	blob := make([]byte, 40)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	return storage.Object{UID: uuid.NewString(), ObjectType: 2, Algorithm: 3, Length: 256,
		KEK: "kek", Mechanism: 0x210A, Blob: blob, BlobLength: 32}
}

func newEvent(uid, kind string) storage.Event {
	return storage.Event{ID: uuid.NewString(), UID: uid, Clock: time.Now().UnixMicro(), Kind: kind, Payload: []byte(kind)}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last error: %v)", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sameObject waits until n holds o with want events and the blob state
// (scrubbed or not) given.
func sameObject(t *testing.T, n *testNode, uid string, events int, scrubbed bool) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("object %s on node %s", uid, n.name), func() (bool, error) {
		o, evs, err := n.store.Object(context.Background(), uid)
		if err != nil {
			return false, err
		}
		return len(evs) == events && (o.Blob == nil) == scrubbed, nil
	})
}

// digest is a checksum of every mirrored row, to compare nodes.
func digest(t *testing.T, n *testNode) string {
	t.Helper()
	var d string
	if err := n.admin.QueryRow(testCtx(t), `SELECT
		coalesce((SELECT md5(string_agg(o::text, ',' ORDER BY uid)) FROM objects o), '') || '/' ||
		coalesce((SELECT md5(string_agg(e::text, ',' ORDER BY id)) FROM object_events e), '')`).Scan(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func walLSN(t *testing.T, n *testNode) int64 {
	t.Helper()
	var lsn int64
	if err := n.admin.QueryRow(testCtx(t), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// TestPairMirrors pairs two nodes and checks that rows written on either
// reach the other, that the origin's scrub applies on the peer although
// the peer's guard triggers refuse such updates locally, that nothing loops
// and that Status and Remove report and clean up.
func TestPairMirrors(t *testing.T) {
	a, b := newTestNode(t, "a"), newTestNode(t, "b")
	// Rows written before pairing are seeded by the initial copy.
	early := newObject(t)
	if err := a.store.CreateObject(testCtx(t), early); err != nil {
		t.Fatal(err)
	}
	pair(t, a, b)
	// Add again: idempotent.
	if err := replication.Add(testCtx(t), a.local(true), "b", b.peerURL, nil); err != nil {
		t.Fatalf("second add: %v", err)
	}
	sameObject(t, b, early.UID, 0, false)
	// Publish, as serve runs it at every start, leaves a correct
	// publication alone.
	relRows := func() string {
		var s string
		if err := a.admin.QueryRow(testCtx(t), `SELECT string_agg(xmin::text || ':' || prrelid::regclass::text || ' ' ||
			pg_get_expr(prqual, prrelid), ',' ORDER BY prrelid) FROM pg_publication_rel`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := relRows()
	if err := replication.Publish(testCtx(t), a.app, "a"); err != nil {
		t.Fatal(err)
	}
	if after := relRows(); after != before || !strings.Contains(after, "object_events (origin_node = ANY (ARRAY['a'::text, 'a-admin'::text]))") {
		t.Fatalf("publication of a: %s, then %s after Publish", before, after)
	}

	// Objects both ways, events from the non-origin node.
	oa, ob := newObject(t), newObject(t)
	if err := a.store.CreateObject(testCtx(t), oa); err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateObject(testCtx(t), ob); err != nil {
		t.Fatal(err)
	}
	sameObject(t, b, oa.UID, 0, false)
	if err := b.store.AppendEvents(testCtx(t), newEvent(oa.UID, "set")); err != nil {
		t.Fatal(err)
	}
	sameObject(t, a, oa.UID, 1, false)
	sameObject(t, a, ob.UID, 0, false)

	// The origin scrubs; the UPDATE applies on b.
	if err := a.store.ScrubBlob(testCtx(t), oa.UID); err != nil {
		t.Fatal(err)
	}
	sameObject(t, b, oa.UID, 1, true)
	// The guard triggers are ordinary (origin-only) triggers: they fire for
	// local writes and not for the apply worker.
	var modes string
	if err := b.admin.QueryRow(testCtx(t), `SELECT string_agg(tgenabled::text, '' ORDER BY tgname) FROM pg_trigger
		WHERE tgname IN ('objects_guard', 'object_events_guard')`).Scan(&modes); err != nil {
		t.Fatal(err)
	}
	if modes != "OO" {
		t.Fatalf("guard triggers have tgenabled %q, want origin-only (OO)", modes)
	}
	if _, err := b.app.Exec(testCtx(t), `UPDATE objects SET kek = 'x' WHERE uid = $1`, ob.UID); err == nil {
		t.Fatal("a local update of an object row passed the guard trigger")
	}
	if err := b.store.ScrubBlob(testCtx(t), early.UID); !errors.Is(err, storage.ErrNotOwner) {
		t.Fatalf("b scrubs a's object: %v, want ErrNotOwner", err)
	}

	// Heartbeats and status.
	for _, n := range []*testNode{a, b} {
		if err := replication.Beat(testCtx(t), n.app, n.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*testNode{a, b} {
		eventually(t, 20*time.Second, "healthy status on "+n.name, func() (bool, error) {
			st, err := replication.Status(testCtx(t), n.local(false), replication.StatusOptions{MaxHeartbeatAge: time.Minute})
			if err != nil || len(st) != 1 {
				return false, err
			}
			if !st[0].Healthy() {
				return false, errors.New(st[0].Summary())
			}
			return st[0].ApplyErrors == 0 && st[0].SyncErrors == 0 && st[0].HeartbeatAge >= 0, nil
		})
	}

	// Same rows on both nodes, and no loop: once quiet, no WAL is written
	// (every applied change would write some; the write counters of
	// pg_stat_user_tables are no use here, as the apply worker reports them
	// late) and no apply failed (an echoed INSERT would fail on the key).
	eventually(t, 20*time.Second, "same rows on a and b", func() (bool, error) {
		return digest(t, a) == digest(t, b), nil
	})
	time.Sleep(time.Second)
	wa, wb := walLSN(t, a), walLSN(t, b)
	time.Sleep(3 * time.Second)
	// A checkpoint or running-transactions record may be written; a loop
	// writes far more, continuously.
	if d := walLSN(t, a) - wa; d > 1024 {
		t.Errorf("node a wrote %d bytes of WAL while idle", d)
	}
	if d := walLSN(t, b) - wb; d > 1024 {
		t.Errorf("node b wrote %d bytes of WAL while idle", d)
	}
	for _, n := range []*testNode{a, b} {
		st, err := replication.Status(testCtx(t), n.local(false), replication.StatusOptions{MaxHeartbeatAge: time.Minute})
		if err != nil || len(st) != 1 || st[0].ApplyErrors != 0 || st[0].SyncErrors != 0 || st[0].LagBytes != 0 {
			t.Fatalf("status on %s after quiescence: %+v, %v", n.name, st, err)
		}
	}

	// Remove drops the subscription and its slot on the peer.
	if _, err := replication.Remove(testCtx(t), b.local(true), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := replication.Remove(testCtx(t), b.local(true), "a"); !errors.Is(err, replication.ErrNoPeer) {
		t.Fatalf("second remove: %v, want ErrNoPeer", err)
	}
	var slots int
	if err := a.admin.QueryRow(testCtx(t), `SELECT count(*) FROM pg_replication_slots`).Scan(&slots); err != nil {
		t.Fatal(err)
	}
	if slots != 0 { // b's subscription to a had the only slot on a
		t.Fatalf("node a has %d replication slots after b removed it, want 0", slots)
	}
	st, err := replication.Status(testCtx(t), a.local(false), replication.StatusOptions{})
	if err != nil || len(st) != 1 || st[0].SlotExists {
		t.Fatalf("status on a after b removed a: %+v, %v; want b listed without a slot", st, err)
	}
}

// TestEventBeforeObject: with three nodes an event can arrive before the
// object it changes (c receives b's event about a's key before a's row).
// The foreign key from object_events to objects is checked by an ordinary
// trigger, which the apply worker does not fire, so the event is applied
// and the fold is complete once the object arrives.
func TestEventBeforeObject(t *testing.T) {
	a, b, c := newTestNode(t, "a"), newTestNode(t, "b"), newTestNode(t, "c")
	pair(t, a, b)
	o := newObject(t)
	if err := a.store.CreateObject(testCtx(t), o); err != nil {
		t.Fatal(err)
	}
	sameObject(t, b, o.UID, 0, false)
	if err := b.store.AppendEvents(testCtx(t), newEvent(o.UID, "set")); err != nil {
		t.Fatal(err)
	}
	if err := replication.Add(testCtx(t), c.local(true), "b", b.peerURL, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = replication.Remove(context.Background(), c.local(true), "b") })
	eventually(t, 20*time.Second, "b's event on c", func() (bool, error) {
		var n int
		err := c.admin.QueryRow(testCtx(t), `SELECT count(*) FROM object_events WHERE uid = $1`, o.UID).Scan(&n)
		return n == 1, err
	})
	if _, _, err := c.store.Object(testCtx(t), o.UID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("object on c before subscribing to a: %v, want not found", err)
	}
	if err := replication.Add(testCtx(t), c.local(true), "a", a.peerURL, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = replication.Remove(context.Background(), c.local(true), "a") })
	sameObject(t, c, o.UID, 1, false)
}

// TestAddRefuses checks the refusals that come before any subscription.
func TestAddRefuses(t *testing.T) {
	a := newTestNode(t, "a")
	for _, tc := range []struct {
		name  string
		local replication.Local
		peer  string
		want  string
	}{
		{"itself", a.local(true), "a", "cannot mirror itself"},
		{"bad peer name", a.local(true), "b c", "node name"},
		{"long peer name", a.local(true), strings.Repeat("x", 53), "longer than"},
		{"not superuser", a.local(false), "b", "superuser"},
		{"own database", a.local(true), "b", "own database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := replication.Add(testCtx(t), tc.local, tc.peer, a.peerURL, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
