package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/storage"
)

var _ storage.AuditStore = (*Store)(nil)

// seal seals the context's audit record, if any. The returned function,
// called with db.mu held and the write's error, stores the record when the
// write succeeded and releases the sealer.
func seal(ctx context.Context, uid string) (storage.AuditRecord, func(*db, storage.AuditRecord, error), error) {
	none := func(*db, storage.AuditRecord, error) {}
	sealer := storage.AuditFrom(ctx)
	if sealer == nil {
		return storage.AuditRecord{}, none, nil
	}
	rec, ok, err := sealer.Seal(ctx, uid)
	if err != nil {
		return rec, nil, fmt.Errorf("seal audit record: %w", err)
	}
	if !ok {
		return rec, none, nil
	}
	return rec, func(d *db, rec storage.AuditRecord, err error) {
		if err == nil {
			d.audit = append(d.audit, copyAudit(rec))
		}
		sealer.Done(err == nil)
	}, nil
}

func copyAudit(r storage.AuditRecord) storage.AuditRecord {
	r.Chain = slices.Clone(r.Chain)
	return r
}

// AppendAudit implements storage.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, r storage.AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: append audit record: %w", err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	for _, a := range s.db.audit {
		if a.OriginNode == r.OriginNode && a.Seq == r.Seq {
			return fmt.Errorf("storage: append audit record %s/%d: duplicate sequence number", r.OriginNode, r.Seq)
		}
	}
	s.db.audit = append(s.db.audit, copyAudit(r))
	return nil
}

// LastAudit implements storage.AuditStore.
func (s *Store) LastAudit(ctx context.Context, node string) (storage.AuditRecord, bool, error) {
	rs, err := s.ListAudit(ctx, storage.AuditFilter{Node: node})
	if err != nil || len(rs) == 0 {
		return storage.AuditRecord{}, false, err
	}
	return rs[len(rs)-1], true, nil
}

// ListAudit implements storage.AuditStore.
func (s *Store) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: list audit records: %w", err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	var out []storage.AuditRecord
	for _, r := range s.db.audit {
		if (f.Node != "" && r.OriginNode != f.Node) || (!f.Since.IsZero() && r.Time.Before(f.Since)) ||
			(f.UID != "" && r.UID != f.UID) || r.Seq <= f.AfterSeq {
			continue
		}
		out = append(out, copyAudit(r))
	}
	slices.SortFunc(out, func(a, b storage.AuditRecord) int {
		if c := strings.Compare(a.OriginNode, b.OriginNode); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}
