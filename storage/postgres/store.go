// Package postgres is the PostgreSQL 15 implementation of storage.Store.
//
// The schema (migrations/) is built for mirroring between nodes with
// row-filtered logical replication: every row carries the node that wrote
// it, objects are written once, and later changes are appended events. See
// the comment at the top of migrations/000001_objects.up.sql.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/internal/rows"
)

// Store keeps objects in PostgreSQL through a connection pool. It is safe
// for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	node string
	log  *slog.Logger
	// connConfig is the pool's, for the object cache's listener connection.
	connConfig *pgx.ConnConfig

	// cache is nil unless EnableObjectCache was called (listen.go).
	cache      *objectCache
	stopListen context.CancelFunc
	listenDone chan struct{}
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgx accepts), brings the schema up to date and
// returns a store that writes rows as node. Several servers may Open the
// same database at once: migrations are serialised by an advisory lock.
// A nil logger discards logs. The url may hold a password; it is never
// logged or put into errors.
func Open(ctx context.Context, url string, node string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := rows.CheckNode(node); err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in parse errors.
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	if err := migrateUp(ctx, cfg.ConnConfig, logger); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	return &Store{pool: pool, node: node, log: logger, connConfig: cfg.ConnConfig}, nil
}

// defaultMaxConns sizes the pool when the URL does not (pool_max_conns):
// pgx's own default, the number of CPUs (4 at least), left requests waiting
// for a connection while the audit writer held one through its commit's
// fsync; measured under the benchmark's Get load with 4 connections, 85,747
// waits took 198 s in all. Queries are short and PostgreSQL's default
// max_connections is 100, so 16 per server leaves room for several nodes'
// servers and tools.
func defaultMaxConns() int32 { return int32(max(16, 4*runtime.NumCPU())) }

// Close stops the object cache's listener and closes the pool, waiting for
// connections in use to be returned.
func (s *Store) Close() {
	if s.stopListen != nil {
		s.stopListen()
		<-s.listenDone
	}
	s.pool.Close()
}

// Ping checks that the database answers, for health reports.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}

// Node implements storage.Store.
func (s *Store) Node() string { return s.node }
