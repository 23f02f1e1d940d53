package storage

import (
	"context"
	"time"
)

// AuditRecord is one entry of the tamper-evident audit trail: one KMIP
// batch item (or refused TLS handshake) as the node that served it saw it.
// It never holds key material. Each node keeps its own chain: Seq counts
// from 1 per OriginNode, and Chain covers the record and the previous
// record's Chain: an HSM MAC (32 bytes), or for a record a later record of
// the same commit seals, a SHA-256 link (33 bytes starting 0x01; package
// audit, link.go). Mirroring stays insert-only.
type AuditRecord struct {
	OriginNode string
	Seq        int64
	Time       time.Time // UTC, microseconds
	Operation  string
	UID        string
	KeyName    string
	User       string
	Group      string
	Addr       string
	Status     string // Success, Operation Failed...
	Reason     string // KMIP Result Reason when not Success
	Message    string
	Chain      []byte
}

// AuditSealer fixes an audit record's sequence number and chain value. A
// store that finds one in the context of a write (WithAudit) calls Seal
// right before its transaction, puts the record in that transaction, and
// then calls Done with whether the transaction committed; Seal holds the
// node's chain until Done, so records chain in commit order.
//
// uid is the object the write concerns (a record made before the object
// existed, as for Create, learns its Unique Identifier here). ok false means
// there is nothing to write (the record went with an earlier write), and
// then Done is not called.
type AuditSealer interface {
	Seal(ctx context.Context, uid string) (rec AuditRecord, ok bool, err error)
	Done(committed bool)
}

type auditKey struct{}

// WithAudit returns a context whose next write (CreateObject, AppendEvents,
// ScrubBlob) carries the record sealed by s in its own transaction.
func WithAudit(ctx context.Context, s AuditSealer) context.Context {
	return context.WithValue(ctx, auditKey{}, s)
}

// AuditFrom returns the sealer of WithAudit, or nil.
func AuditFrom(ctx context.Context) AuditSealer {
	s, _ := ctx.Value(auditKey{}).(AuditSealer)
	return s
}

// AuditFilter selects audit records; zero fields match all.
type AuditFilter struct {
	Node     string
	Since    time.Time
	UID      string
	AfterSeq int64 // with Node: records with Seq > AfterSeq
	Limit    int   // 0: no limit
}

// AuditStore keeps audit records. The PostgreSQL and memory stores
// implement it beside Store.
type AuditStore interface {
	// AppendAudit inserts one sealed record on its own (read-only
	// operations, failures).
	AppendAudit(ctx context.Context, rec AuditRecord) error
	// LastAudit returns the node's record with the highest Seq; ok is false
	// when the node has none.
	LastAudit(ctx context.Context, node string) (rec AuditRecord, ok bool, err error)
	// ListAudit returns records in (OriginNode, Seq) order.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
}
