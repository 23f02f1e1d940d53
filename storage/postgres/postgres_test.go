package postgres_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/postgres"
	"github.com/strongroom/strongroom/storage/storagetest"
)

// TestPostgres starts one PostgreSQL for the whole package; every subtest
// gets its own database.
func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t)

	t.Run("Suite", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Store {
			return open(t, srv.NewDatabase(t), "node-a")
		})
	})
	t.Run("ListByNameStrict", func(t *testing.T) {
		storagetest.RunStrictName(t, open(t, srv.NewDatabase(t), "node-a"))
	})
	t.Run("Nodes", func(t *testing.T) {
		storagetest.RunNodes(t, func(t *testing.T) (storage.Store, storage.Store) {
			u := srv.NewDatabase(t)
			return open(t, u, "node-a"), open(t, u, "node-b")
		})
	})
	t.Run("MigrateTwice", func(t *testing.T) {
		u := srv.NewDatabase(t)
		a := open(t, u, "node-a")
		uid := create(t, a)
		b := open(t, u, "node-a") // schema already current
		if _, _, err := b.Object(t.Context(), uid); err != nil {
			t.Fatalf("object lost across a second Open: %v", err)
		}
		checkVersion(t, u)
	})
	t.Run("MigrateConcurrently", func(t *testing.T) {
		u := srv.NewDatabase(t)
		const servers = 6
		var wg sync.WaitGroup
		stores := make([]*postgres.Store, servers)
		errs := make([]error, servers)
		for i := range servers {
			wg.Go(func() {
				stores[i], errs[i] = postgres.Open(t.Context(), u, "node-a", nil)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
				continue
			}
			stores[i].Close()
		}
		checkVersion(t, u)
	})
	t.Run("SchemaGuards", func(t *testing.T) {
		u := srv.NewDatabase(t)
		s := open(t, u, "node-a")
		uid := create(t, s)
		conn := connect(t, u)
		for _, q := range []string{
			`UPDATE objects SET kek = 'other' WHERE uid = $1`,
			`UPDATE objects SET origin_node = 'node-b' WHERE uid = $1`,
			`UPDATE objects SET blob = '\x01' WHERE uid = $1`,
			`DELETE FROM objects WHERE uid = $1`,
			`UPDATE object_events SET clock = 0 WHERE uid = $1`,
			`DELETE FROM object_events WHERE uid = $1`,
		} {
			if _, err := conn.Exec(t.Context(), q, uid); err == nil {
				t.Errorf("%s: allowed", q)
			} else if !strings.Contains(err.Error(), "mirroring rule") {
				t.Errorf("%s: %v", q, err)
			}
		}
		// Replica identity on (origin_node, key), as row-filtered
		// publications of UPDATEs need.
		for table, index := range map[string]string{"objects": "objects_origin_uid_key", "object_events": "object_events_origin_id_key"} {
			var ident, idx string
			err := conn.QueryRow(t.Context(), `SELECT c.relreplident::text, i.indexrelid::regclass::text
				FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisreplident
				WHERE c.oid = $1::regclass`, table).Scan(&ident, &idx)
			if err != nil || ident != "i" || idx != index {
				t.Errorf("%s: replica identity %q index %q (err %v), want i %s", table, ident, idx, err, index)
			}
		}
	})
	t.Run("OpenErrors", func(t *testing.T) {
		u := srv.NewDatabase(t)
		if _, err := postgres.Open(t.Context(), u, "", nil); err == nil {
			t.Error("Open with an empty node id succeeded")
		}
		if _, err := postgres.Open(t.Context(), u, "bad node", nil); err == nil {
			t.Error("Open with a space in the node id succeeded")
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		password, _ := parsed.User.Password()
		parsed.User = url.UserPassword(parsed.User.Username(), "wrong-"+password[:4])
		_, err = postgres.Open(t.Context(), parsed.String(), "node-a", nil)
		if err == nil {
			t.Fatal("Open with a wrong password succeeded")
		}
		if strings.Contains(err.Error(), password[:4]) || strings.Contains(err.Error(), password) {
			t.Error("Open error shows the password")
		}
		if !strings.HasPrefix(err.Error(), "storage: ") {
			t.Errorf("error %q lacks the storage: prefix", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := postgres.Open(ctx, u, "node-a", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Open with a cancelled context: got %v, want context.Canceled", err)
		}
	})
}

func open(t *testing.T, u, node string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), u, node, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func create(t *testing.T, s storage.Store) string {
	t.Helper()
	uid := uuid.NewString()
	err := s.CreateObject(t.Context(), storage.Object{UID: uid, ObjectType: 2, KEK: "k", Blob: []byte{1, 2, 3}, BlobLength: 3},
		storage.Event{ID: uuid.NewString(), Clock: 1, Kind: "create"})
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func checkVersion(t *testing.T, u string) {
	t.Helper()
	var version int64
	var dirty bool
	var rows int
	conn := connect(t, u)
	err := conn.QueryRow(t.Context(), `SELECT max(version), bool_or(dirty), count(*) FROM schema_migrations`).Scan(&version, &dirty, &rows)
	// The latest migration's number, from the newest file's name.
	files, gerr := filepath.Glob("migrations/*.up.sql")
	if gerr != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", gerr)
	}
	latest, perr := strconv.ParseInt(strings.SplitN(filepath.Base(files[len(files)-1]), "_", 2)[0], 10, 64)
	if perr != nil {
		t.Fatal(perr)
	}
	if err != nil || version != latest || dirty || rows != 1 {
		t.Errorf("schema_migrations: version %d dirty %v rows %d (err %v), want %d false 1", version, dirty, rows, err, latest)
	}
}
