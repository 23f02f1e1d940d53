package pgtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/strongroom/strongroom/internal/pgtest"
)

func TestStart(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()

	tests := []struct {
		name string
		url  string
	}{
		{"first database", srv.URL},
		{"second database", srv.NewDatabase(t)},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := pgx.Connect(ctx, tt.url)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer conn.Close(ctx)
			var db, user, walLevel, fsync, version string
			var super bool
			err = conn.QueryRow(ctx, `SELECT current_database(), current_user,
				current_setting('wal_level'), current_setting('fsync'), current_setting('server_version'),
				(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&db, &user, &walLevel, &fsync, &version, &super)
			if err != nil {
				t.Fatal(err)
			}
			if seen[db] {
				t.Errorf("database %s handed out twice", db)
			}
			seen[db] = true
			if walLevel != "logical" || fsync != "on" || super {
				t.Errorf("wal_level=%s fsync=%s superuser=%v; want logical, on, false", walLevel, fsync, super)
			}
			t.Logf("database %s, role %s, PostgreSQL %s", db, user, version)
			if _, err := conn.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
				t.Errorf("owner cannot create a table: %v", err)
			}
		})
	}

	t.Run("wrong password is refused", func(t *testing.T) {
		u := srv.URL
		at := strings.Index(u, "@")
		colon := strings.LastIndex(u[:at], ":")
		bad := u[:colon+1] + "wrong" + u[at:]
		conn, err := pgx.Connect(ctx, bad)
		if err == nil {
			conn.Close(ctx)
			t.Fatal("connected with a wrong password")
		}
	})

	t.Run("superuser over the socket", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, srv.AdminDSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var super bool
		if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || !super {
			t.Fatalf("superuser=%v err=%v", super, err)
		}
	})
}
