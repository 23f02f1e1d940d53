package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// PoolStat is a snapshot of the connection pool's use (metrics).
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }
