package replication

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the package needs of a database handle; *pgxpool.Pool,
// *pgx.Conn and pgx.Tx all have it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Local is this node: its name (config "node", the origin_node of the rows
// it writes) and a handle on its database.
type Local struct {
	DB   DB
	Node string
}
