// Package backup writes and restores everything needed to rebuild a
// Strongroom node's database: every table of the schema (key rows with
// their blobs still wrapped under the KEK, lifecycle events, the audit
// trail, certificates, and any table a later migration adds), read in one
// consistent snapshot.
//
// The table list is not written down here: Create reads it from the
// catalog, so a table added by a migration is backed up without a change to
// this package. Only bookkeeping that a node rebuilds by itself is left out
// (runtimeTables). Nothing in a backup is plaintext key material: blobs are
// wrapped under the token's KEK, so a backup is only useful together with a
// token that holds that KEK.
//
// The file is one line "strongroom-backup 1", one line of JSON (the
// Manifest), then each table's rows in PostgreSQL's COPY CSV format, in
// manifest order, each checked by its length and SHA-256 on restore.
package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// magic is the first line of a backup file.
const magic = "strongroom-backup 1"

// runtimeTables are left out: the schema version (restore migrates the
// target itself) and the nodes' heartbeats (rewritten every few seconds).
var runtimeTables = []string{"schema_migrations", "node_heartbeats"}

// Table describes one table's rows in a backup.
type Table struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Rows    int64    `json:"rows"`
	Bytes   int64    `json:"bytes"`
	SHA256  string   `json:"sha256"`
}

// Manifest is the header of a backup.
type Manifest struct {
	Created       time.Time `json:"created"`
	Node          string    `json:"node"`
	SchemaVersion int64     `json:"schema_version"`
	Tables        []Table   `json:"tables"`
}

// Create writes a backup of db's current schema to w, from one
// repeatable-read snapshot, and returns its manifest.
func Create(ctx context.Context, db *pgx.Conn, node string, w io.Writer) (Manifest, error) {
	m := Manifest{Created: time.Now().UTC(), Node: node}
	if _, err := db.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	defer func() { _, _ = db.Exec(context.WithoutCancel(ctx), "ROLLBACK") }()
	if err := db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&m.SchemaVersion); err != nil {
		return m, fmt.Errorf("backup: schema version: %w", err)
	}
	tables, err := tablesInOrder(ctx, db)
	if err != nil {
		return m, err
	}
	var bodies [][]byte
	for _, name := range tables {
		t := Table{Name: name}
		if t.Columns, err = columns(ctx, db, name); err != nil {
			return m, err
		}
		var buf bytes.Buffer
		tag, err := db.PgConn().CopyTo(ctx, &buf, fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT WITH (FORMAT csv)",
			quoteList(t.Columns), pgx.Identifier{name}.Sanitize()))
		if err != nil {
			return m, fmt.Errorf("backup: copy %s: %w", name, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		t.Rows, t.Bytes, t.SHA256 = tag.RowsAffected(), int64(buf.Len()), hex.EncodeToString(sum[:])
		m.Tables = append(m.Tables, t)
		bodies = append(bodies, buf.Bytes())
	}
	head, err := json.Marshal(m)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s\n%s\n", magic, head)
	for _, b := range bodies {
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		return m, fmt.Errorf("backup: write: %w", err)
	}
	return m, nil
}

// Restore reads a backup from r into db, whose schema must be migrated to
// at least the backup's version and whose tables must all be empty. It
// runs in one transaction: on any error nothing is restored.
func Restore(ctx context.Context, db *pgx.Conn, r io.Reader) (Manifest, error) {
	var m Manifest
	br := bufio.NewReaderSize(r, 1<<16)
	line, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != magic {
		return m, errors.New("backup: not a Strongroom backup (bad first line)")
	}
	head, err := br.ReadBytes('\n')
	if err != nil {
		return m, fmt.Errorf("backup: read manifest: %w", err)
	}
	if err := json.Unmarshal(head, &m); err != nil {
		return m, fmt.Errorf("backup: manifest: %w", err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return m, fmt.Errorf("backup: restore: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var version int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return m, fmt.Errorf("backup: restore: schema version: %w", err)
	}
	if version < m.SchemaVersion {
		return m, fmt.Errorf("backup: restore: the backup has schema version %d, the database %d: restore with a newer strongroom", m.SchemaVersion, version)
	}
	for _, t := range m.Tables {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{t.Name}.Sanitize()).Scan(&n); err != nil {
			return m, fmt.Errorf("backup: restore: table %s: %w", t.Name, err)
		}
		if n != 0 {
			return m, fmt.Errorf("backup: restore: table %s holds %d rows; restore only into an empty database", t.Name, n)
		}
	}
	for _, t := range m.Tables {
		body := make([]byte, t.Bytes)
		if _, err := io.ReadFull(br, body); err != nil {
			return m, fmt.Errorf("backup: restore: %s: truncated backup: %w", t.Name, err)
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != t.SHA256 {
			return m, fmt.Errorf("backup: restore: %s: checksum mismatch (corrupted backup)", t.Name)
		}
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(body), fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv)",
			pgx.Identifier{t.Name}.Sanitize(), quoteList(t.Columns)))
		if err != nil {
			return m, fmt.Errorf("backup: restore: %s: %w", t.Name, err)
		}
		if tag.RowsAffected() != t.Rows {
			return m, fmt.Errorf("backup: restore: %s: %d rows restored, %d in the backup", t.Name, tag.RowsAffected(), t.Rows)
		}
		if err := fixSequences(ctx, tx, t); err != nil {
			return m, err
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return m, errors.New("backup: restore: trailing data after the last table (corrupted backup)")
	}
	if err := tx.Commit(ctx); err != nil {
		return m, fmt.Errorf("backup: restore: commit: %w", err)
	}
	return m, nil
}

// tablesInOrder lists the schema's tables, referenced tables before the
// tables that reference them, so that a restore satisfies foreign keys.
func tablesInOrder(ctx context.Context, db *pgx.Conn) ([]string, error) {
	rows, err := db.Query(ctx, `
		SELECT c.relname,
		       coalesce(array_agg(DISTINCT r.relname) FILTER (WHERE r.relname IS NOT NULL AND r.oid <> c.oid), '{}')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f'
		LEFT JOIN pg_class r ON r.oid = f.confrelid
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		GROUP BY c.relname ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("backup: list tables: %w", err)
	}
	deps := map[string][]string{}
	var names []string
	for rows.Next() {
		var name string
		var refs []string
		if err := rows.Scan(&name, &refs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("backup: list tables: %w", err)
		}
		if slices.Contains(runtimeTables, name) {
			continue
		}
		names = append(names, name)
		deps[name] = refs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backup: list tables: %w", err)
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, d := range deps[n] {
				// A table left out (runtimeTables) is not waited for.
				ready = ready && (done[d] || !slices.Contains(names, d))
			}
			if ready {
				order, done[n], progress = append(order, n), true, true
			}
		}
		if !progress {
			return nil, errors.New("backup: the tables' foreign keys form a cycle")
		}
	}
	return order, nil
}

// columns lists a table's stored columns in order (generated columns are
// recomputed on restore).
func columns(ctx context.Context, db *pgx.Conn, table string) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT attname FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
		ORDER BY attnum`, pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("backup: columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("backup: columns of %s: %w", table, err)
	}
	return cols, nil
}

// fixSequences moves the sequence behind any serial or identity column of
// a restored table past the restored values.
func fixSequences(ctx context.Context, tx pgx.Tx, t Table) error {
	for _, c := range t.Columns {
		var seq *string
		if err := tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, $2)`, pgx.Identifier{t.Name}.Sanitize(), c).Scan(&seq); err != nil {
			return fmt.Errorf("backup: restore: sequence of %s.%s: %w", t.Name, c, err)
		}
		if seq == nil {
			continue
		}
		q := fmt.Sprintf(`SELECT setval($1, coalesce((SELECT max(%s) FROM %s), 0) + 1, false)`,
			pgx.Identifier{c}.Sanitize(), pgx.Identifier{t.Name}.Sanitize())
		if _, err := tx.Exec(ctx, q, *seq); err != nil {
			return fmt.Errorf("backup: restore: sequence of %s.%s: %w", t.Name, c, err)
		}
	}
	return nil
}

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}
