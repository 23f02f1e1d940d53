package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// publishedTables are the tables a node publishes, each filtered to the
// node's own rows. Every one has origin_node in its replica identity, so
// the owner's UPDATEs (the blob scrub, the heartbeat) publish too. The
// certificate tables carry `strongroom ca` revocations, which every node
// must refuse at the handshake.
var publishedTables = []string{"objects", "object_events", "node_heartbeats", "audit_records", "key_grants",
	"issued_certificates", "certificate_revocations"}

// AdminChain is the origin node of the rows the node's administrator
// commands write themselves (their audit chain and its anchor, see
// cmd/strongroom local.go): "<node>-admin". The node publishes them with
// its own, so a node's name must not be another node's name plus "-admin".
func AdminChain(node string) string { return node + "-admin" }

// rowFilter is the row filter of node's publication, on every table.
func rowFilter(node string) string {
	return "origin_node IN (" + quoteLiteral(node) + ", " + quoteLiteral(AdminChain(node)) + ")"
}

// publicationSQL is the table list of node's publication.
func publicationSQL(node string) string {
	parts := make([]string, len(publishedTables))
	for i, t := range publishedTables {
		parts[i] = t + " WHERE (" + rowFilter(node) + ")"
	}
	return strings.Join(parts, ", ")
}

// Publish makes sure the node's publication strongroom_<node> exists and
// publishes exactly the node's own rows of the mirrored tables. It is
// idempotent and safe to run from several processes at once. TRUNCATE is
// not published: it cannot be filtered by row and would empty every peer.
// It needs the CREATE privilege on the database and ownership of the tables
// (the role the server runs as, when it owns the schema, or a superuser).
func Publish(ctx context.Context, db DB, node string) error {
	if err := checkNode(node); err != nil {
		return err
	}
	pub := publicationName(node)
	tables, ok, err := publicationTables(ctx, db, pub, node)
	if err != nil {
		return err
	}
	if !ok {
		_, err := db.Exec(ctx, "CREATE PUBLICATION "+quoteIdent(pub)+" FOR TABLE "+publicationSQL(node)+
			" WITH (publish = 'insert, update, delete')")
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object: created meanwhile
			return Publish(ctx, db, node)
		}
		if err != nil {
			return fmt.Errorf("replication: create publication %s: %w", pub, err)
		}
		return nil
	}
	if slices.Equal(tables, publishedTables) {
		return nil
	}
	// An older publication (before a table was added, or changed by hand):
	// put it back. Subscribers pick up new tables with Add, which refreshes.
	if _, err := db.Exec(ctx, "ALTER PUBLICATION "+quoteIdent(pub)+" SET TABLE "+publicationSQL(node)); err != nil {
		return fmt.Errorf("replication: alter publication %s: %w", pub, err)
	}
	if _, err := db.Exec(ctx, "ALTER PUBLICATION "+quoteIdent(pub)+" SET (publish = 'insert, update, delete')"); err != nil {
		return fmt.Errorf("replication: alter publication %s: %w", pub, err)
	}
	return nil
}

// publicationTables lists, in publishedTables order, the tables pub
// publishes with the row filter of node; ok is false if pub does not exist.
// A table published without the right filter is left out, so the caller
// sees a difference and repairs it.
func publicationTables(ctx context.Context, db DB, pub, node string) (tables []string, ok bool, err error) {
	err = db.QueryRow(ctx, `SELECT true FROM pg_publication WHERE pubname = $1`, pub).Scan(&ok)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("replication: read publication %s: %w", pub, err)
	}
	if !ok {
		return nil, false, nil
	}
	rows, err := db.Query(ctx, `SELECT p.tablename FROM pg_publication_tables p, pg_publication q
		WHERE p.pubname = $1 AND q.pubname = p.pubname AND p.schemaname = current_schema()
		  AND p.rowfilter = $2 AND q.pubinsert AND q.pubupdate AND q.pubdelete AND NOT q.pubtruncate`,
		pub, "(origin_node = ANY (ARRAY["+quoteLiteral(node)+"::text, "+quoteLiteral(AdminChain(node))+"::text]))")
	if err != nil {
		return nil, false, fmt.Errorf("replication: read publication %s: %w", pub, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, false, fmt.Errorf("replication: read publication %s: %w", pub, err)
		}
		have[t] = true
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("replication: read publication %s: %w", pub, err)
	}
	for _, t := range publishedTables {
		if have[t] {
			tables = append(tables, t)
		}
	}
	return tables, true, nil
}
