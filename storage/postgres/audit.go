package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/strongroom/strongroom/storage"
)

var _ storage.AuditStore = (*Store)(nil)

const auditColumns = `origin_node, seq, at, operation, uid, key_name, user_name, group_name, addr, status, reason, message, chain`

// queueAudit adds the INSERT of an audit record to a batch.
func queueAudit(b *pgx.Batch, r storage.AuditRecord) {
	b.Queue(`INSERT INTO audit_records (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.OriginNode, r.Seq, r.Time, r.Operation, r.UID, r.KeyName, r.User, r.Group, r.Addr,
		r.Status, r.Reason, r.Message, emptyIfNil(r.Chain))
}

// sealAudit seals the context's audit record, if any, into b. The returned
// function must be called with the batch's error.
func sealAudit(ctx context.Context, b *pgx.Batch, uid string) (func(error), error) {
	sealer := storage.AuditFrom(ctx)
	if sealer == nil {
		return func(error) {}, nil
	}
	rec, ok, err := sealer.Seal(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("seal audit record: %w", err)
	}
	if !ok {
		return func(error) {}, nil
	}
	queueAudit(b, rec)
	return func(err error) { sealer.Done(err == nil) }, nil
}

// batchChange is a change (CreateObject, AppendEvents, ScrubBlob) that
// rides in the audit trail's group commit (storage.AuditCommitter).
type batchChange struct {
	b   *pgx.Batch
	tag pgconn.CommandTag // of the first statement (ScrubBlob's UPDATE)
	// object is CreateObject's new row, which b's first statement inserts
	// (queueObjects): commitPipelined inserts the rows of every Create in
	// the batch with one statement instead.
	object *storage.Object
}

// Apply implements storage.AuditChange.
func (c *batchChange) Apply(ctx context.Context, tx any) error {
	t, ok := tx.(pgx.Tx)
	if !ok {
		return fmt.Errorf("storage: change applied to a %T, not a PostgreSQL transaction", tx)
	}
	b := &pgx.Batch{}
	c.queueInto(b)
	tag, err := execBatch(ctx, t, b)
	c.tag = tag
	return err
}

// queueInto copies the change's statements into b. Fresh QueuedQuery
// values, not the change's own: pgx records on a QueuedQuery the statement
// it prepared on one connection, and a retry may run on another.
func (c *batchChange) queueInto(b *pgx.Batch) {
	for _, q := range c.b.QueuedQueries {
		b.Queue(q.SQL, q.Arguments...)
	}
}

// writeAudited runs the change b with the context's audit record, if any:
// in the trail's group commit when the sealer can take it there, else in
// b's own transaction with the record sealed into it. It returns the first
// statement's command tag.
//
// Every write of an object's rows goes through here, so here the object
// cache forgets the object once the write has ended, whatever its outcome
// (a failed commit may still have committed).
func (s *Store) writeAudited(ctx context.Context, b *pgx.Batch, uid string) (pgconn.CommandTag, error) {
	return s.writeAuditedChange(ctx, &batchChange{b: b}, uid)
}

// writeAuditedChange is writeAudited for a change already described. A
// Create (ch.object set) drops nothing from the cache: no read can have
// cached a UID that had no row (migration 9 says why), and a drop would
// fail the tickets of the reads in flight in its shard.
func (s *Store) writeAuditedChange(ctx context.Context, ch *batchChange, uid string) (pgconn.CommandTag, error) {
	if s.cache != nil && ch.object == nil {
		defer s.cache.invalidate(uid)
	}
	if c, ok := storage.AuditFrom(ctx).(storage.AuditCommitter); ok {
		if handled, err := c.Commit(ctx, uid, ch); handled {
			return ch.tag, err
		}
	}
	b := ch.b
	done, err := sealAudit(ctx, b, uid)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := execBatch(ctx, s.pool, b)
	done(err)
	return tag, err
}

// execBatch sends b and reads every result (one implicit transaction when
// q is the pool, part of the transaction when q is one), returning the first
// statement's command tag.
func execBatch(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, b *pgx.Batch) (pgconn.CommandTag, error) {
	br := q.SendBatch(ctx, b)
	var (
		first pgconn.CommandTag
		err   error
	)
	for i := 0; err == nil && i < b.Len(); i++ {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		if i == 0 {
			first = tag
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return first, err
}

var _ storage.AuditChangeStore = (*Store)(nil)

// CommitAuditBatch implements storage.AuditChangeStore. It first sends
// every change and the INSERT of every record as one pipelined implicit
// transaction (one round trip, one commit); only if that fails (a change
// refused, say a duplicate UID) does it run the batch again in an explicit
// transaction, each change under its own savepoint, so that a failed change
// rolls back alone.
func (s *Store) CommitAuditBatch(ctx context.Context, items []storage.AuditItem, sealer func(allOrNothing bool) func(i int) (storage.AuditRecord, error)) ([]error, error) {
	// The pipelined batch is one implicit transaction that commits every
	// statement or none.
	if ok := s.commitPipelined(ctx, items, sealer(true)); ok {
		return make([]error, len(items)), nil
	}
	return s.commitSavepoints(ctx, items, sealer(false))
}

// commitPipelined is CommitAuditBatch's fast path; false means nothing was
// committed and the careful path must run. The new objects of every
// Create in the batch go first, in one INSERT (queueObjects); the order of
// changes within a batch is free, since every one of them was requested
// while the previous batch was committing.
func (s *Store) commitPipelined(ctx context.Context, items []storage.AuditItem, seal func(i int) (storage.AuditRecord, error)) bool {
	b := &pgx.Batch{}
	first := make([]int, len(items)) // index in b of each change's first statement
	var (
		objs    []storage.Object
		created []*batchChange
	)
	for _, it := range items {
		if c, ok := it.Change.(*batchChange); ok && c.object != nil {
			objs, created = append(objs, *c.object), append(created, c)
		}
	}
	if len(objs) > 0 {
		queueObjects(b, objs)
	}
	recs := make([]storage.AuditRecord, 0, len(items))
	for i, it := range items {
		first[i] = -1
		if it.Change != nil {
			c, ok := it.Change.(*batchChange)
			if !ok {
				return false
			}
			if c.object != nil {
				// Its row is in the INSERT above; the rest (its events)
				// follows.
				for _, q := range c.b.QueuedQueries[1:] {
					b.Queue(q.SQL, q.Arguments...)
				}
			} else {
				first[i] = b.Len()
				c.queueInto(b)
			}
		}
		rec, err := seal(i)
		if err != nil {
			return false
		}
		recs = append(recs, rec)
	}
	q, args := auditInsert(recs)
	b.Queue(q, args...)
	br := s.pool.SendBatch(ctx, b)
	tags := make([]pgconn.CommandTag, b.Len())
	var err error
	for i := 0; err == nil && i < b.Len(); i++ {
		tags[i], err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.log.Debug("storage: pipelined audit batch failed; retrying change by change", "err", err)
		return false
	}
	for i, it := range items {
		if first[i] >= 0 {
			it.Change.(*batchChange).tag = tags[first[i]]
		}
	}
	for _, c := range created {
		c.tag = pgconn.NewCommandTag("INSERT 0 1")
	}
	return true
}

// commitSavepoints is CommitAuditBatch's careful path: one explicit
// transaction, each change under its own savepoint, every sealed record
// inserted at the end, one commit.
func (s *Store) commitSavepoints(ctx context.Context, items []storage.AuditItem, seal func(i int) (storage.AuditRecord, error)) ([]error, error) {
	errs := make([]error, len(items))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: audit batch: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	var recs []storage.AuditRecord
	for i, it := range items {
		var rec storage.AuditRecord
		err := error(nil)
		if it.Change != nil {
			err = applyUnderSavepoint(ctx, tx, it.Change)
		}
		if err == nil {
			rec, err = seal(i)
		}
		if err != nil {
			errs[i] = err
			if it.Change != nil {
				if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT audited_change`); rerr != nil {
					return nil, fmt.Errorf("storage: audit batch: %w", rerr)
				}
			}
			continue
		}
		recs = append(recs, rec)
	}
	if len(recs) > 0 {
		if err := insertAudit(ctx, tx, recs); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("storage: audit batch: commit: %w", err)
	}
	return errs, nil
}

// applyUnderSavepoint sets the savepoint a failed change rolls back to and
// applies the change; for this store's own changes both go in one round
// trip.
func applyUnderSavepoint(ctx context.Context, tx pgx.Tx, ch storage.AuditChange) error {
	c, ok := ch.(*batchChange)
	if !ok {
		if _, err := tx.Exec(ctx, `SAVEPOINT audited_change`); err != nil {
			return err
		}
		return ch.Apply(ctx, tx)
	}
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT audited_change`)
	c.queueInto(b)
	br := tx.SendBatch(ctx, b)
	var err error
	for i := 0; err == nil && i < b.Len(); i++ {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		if i == 1 {
			c.tag = tag
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// AppendAudit implements storage.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, r storage.AuditRecord) error {
	b := &pgx.Batch{}
	queueAudit(b, r)
	if err := runBatch(ctx, s.pool, b); err != nil {
		return fmt.Errorf("storage: append audit record %s/%d: %w", r.OriginNode, r.Seq, err)
	}
	return nil
}

var _ storage.AuditBatchStore = (*Store)(nil)

// AppendAuditBatch implements storage.AuditBatchStore: one INSERT of every
// record (column arrays through unnest, so the statement text, and pgx's
// prepared statement, is the same whatever the batch size), one implicit
// transaction, one commit.
func (s *Store) AppendAuditBatch(ctx context.Context, recs []storage.AuditRecord) error {
	switch len(recs) {
	case 0:
		return nil
	case 1:
		return s.AppendAudit(ctx, recs[0])
	}
	return insertAudit(ctx, s.pool, recs)
}

// insertAudit inserts recs with one statement.
func insertAudit(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, recs []storage.AuditRecord) error {
	sql, args := auditInsert(recs)
	if _, err := q.Exec(ctx, sql, args...); err != nil {
		n := len(recs)
		return fmt.Errorf("storage: append audit records %s/%d..%d: %w", recs[0].OriginNode, recs[0].Seq, recs[n-1].Seq, err)
	}
	return nil
}

// auditInsert is the INSERT of recs: column arrays through unnest, so the
// statement text, and pgx's prepared statement, is the same whatever the
// number of records.
func auditInsert(recs []storage.AuditRecord) (string, []any) {
	n := len(recs)
	var (
		node, op, uid, name, user, group, addr, status, reason, msg = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		seq   = make([]int64, n)
		at    = make([]time.Time, n)
		chain = make([][]byte, n)
	)
	for i, r := range recs {
		node[i], seq[i], at[i], op[i], uid[i], name[i] = r.OriginNode, r.Seq, r.Time, r.Operation, r.UID, r.KeyName
		user[i], group[i], addr[i], status[i], reason[i], msg[i] = r.User, r.Group, r.Addr, r.Status, r.Reason, r.Message
		chain[i] = emptyIfNil(r.Chain)
	}
	return `INSERT INTO audit_records (` + auditColumns + `)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[])`,
		[]any{node, seq, at, op, uid, name, user, group, addr, status, reason, msg, chain}
}

// LastAudit implements storage.AuditStore.
func (s *Store) LastAudit(ctx context.Context, node string) (storage.AuditRecord, bool, error) {
	rs, err := s.listAudit(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE origin_node = $1 ORDER BY seq DESC LIMIT 1`, node)
	if err != nil {
		return storage.AuditRecord{}, false, fmt.Errorf("storage: last audit record of %s: %w", node, err)
	}
	if len(rs) == 0 {
		return storage.AuditRecord{}, false, nil
	}
	return rs[0], true, nil
}

// ListAudit implements storage.AuditStore.
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditRecord, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Node != "" {
		where = append(where, "origin_node = "+arg(f.Node))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since))
	}
	if f.UID != "" {
		where = append(where, "uid = "+arg(f.UID))
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > "+arg(f.AfterSeq))
	}
	q := `SELECT ` + auditColumns + ` FROM audit_records`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY origin_node, seq`
	if f.Limit > 0 {
		q += ` LIMIT ` + arg(f.Limit)
	}
	out, err := s.listAudit(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: list audit records: %w", err)
	}
	return out, nil
}

func (s *Store) listAudit(ctx context.Context, q string, args ...any) ([]storage.AuditRecord, error) {
	rs, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []storage.AuditRecord
	for rs.Next() {
		var r storage.AuditRecord
		if err := rs.Scan(&r.OriginNode, &r.Seq, &r.Time, &r.Operation, &r.UID, &r.KeyName, &r.User, &r.Group,
			&r.Addr, &r.Status, &r.Reason, &r.Message, &r.Chain); err != nil {
			return nil, err
		}
		r.Time = r.Time.UTC()
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
