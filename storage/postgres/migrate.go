package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrations are the versioned schema changes, applied in order. There are
// deliberately no down migrations: going back would mean dropping key blobs.
//
//go:embed migrations/*.up.sql
var migrations embed.FS

// migrateLockTimeout bounds the wait for another server that is migrating
// the same database at the same moment.
const migrateLockTimeout = 2 * time.Minute

// migrateUp applies pending migrations. golang-migrate runs each file as one
// multi-statement query (so one implicit transaction) under a PostgreSQL
// advisory lock, which makes concurrent starts safe. It is driven through
// WithInstance on a database/sql handle built from the pgx configuration,
// rather than through a pgx5:// URL, so key=value connection strings work
// too and the password never passes through another URL parser.
func migrateUp(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) (err error) {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	latest, err := latestVersion()
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*cfg.Copy())
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("storage: migrate: connect: %w", err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		db.Close()
		return fmt.Errorf("storage: migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		drv.Close()
		return fmt.Errorf("storage: migrate: %w", err)
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			if err = errors.Join(srcErr, dbErr); err != nil {
				err = fmt.Errorf("storage: migrate: close: %w", err)
			}
		}
	}()
	m.Log = migrateLog{logger}
	m.LockTimeout = migrateLockTimeout

	// This read is outside migrate's lock, so a version that another
	// server is migrating to right now shows as dirty; only Up, which holds
	// the lock, can tell a failed migration from one in progress.
	from, _, err := m.Version()
	switch {
	case errors.Is(err, migrate.ErrNilVersion):
		from = 0
	case err != nil:
		return fmt.Errorf("storage: migrate: read version: %w", err)
	case from > latest:
		return fmt.Errorf("storage: migrate: database schema version %d is newer than this binary's %d", from, latest)
	}

	// migrate has no context; ask it to stop after the current migration
	// when ctx ends.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true
		case <-done:
		}
	}()
	var dirty migrate.ErrDirty
	switch err := m.Up(); {
	case errors.As(err, &dirty):
		return fmt.Errorf("storage: migrate: schema version %d is marked dirty: a migration failed part-way and needs repair by hand: %w", dirty.Version, err)
	case errors.Is(err, migrate.ErrNoChange):
		logger.DebugContext(ctx, "storage: schema up to date", "version", from)
		return nil
	case err != nil:
		return fmt.Errorf("storage: migrate from version %d: %w", from, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: migrate from version %d: %w", from, err)
	}
	logger.InfoContext(ctx, "storage: schema migrated", "from", from, "to", latest)
	return nil
}

// latestVersion is the highest migration version embedded in the binary.
func latestVersion() (uint, error) {
	names, err := fs.Glob(migrations, "migrations/*.up.sql")
	if err != nil {
		return 0, fmt.Errorf("storage: migrate: %w", err)
	}
	var latest uint
	for _, name := range names {
		digits, _, _ := strings.Cut(strings.TrimPrefix(name, "migrations/"), "_")
		v, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("storage: migrate: migration name %s: %w", name, err)
		}
		latest = max(latest, uint(v))
	}
	return latest, nil
}

// migrateLog sends golang-migrate's messages to slog at debug level.
type migrateLog struct{ l *slog.Logger }

func (m migrateLog) Printf(format string, v ...any) {
	m.l.Debug("storage: migrate: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (m migrateLog) Verbose() bool { return false }
