package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
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

// AppendAudit implements storage.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, r storage.AuditRecord) error {
	b := &pgx.Batch{}
	queueAudit(b, r)
	if err := runBatch(ctx, s.pool, b); err != nil {
		return fmt.Errorf("storage: append audit record %s/%d: %w", r.OriginNode, r.Seq, err)
	}
	return nil
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
