package storage

import "context"

// AuditBatchStore is an AuditStore that can insert many sealed records in
// one transaction: the audit trail's group commit (package audit) stores
// every record queued during the previous commit with one commit, instead
// of one fsync'd commit per record. Stores without it get one AppendAudit
// per record.
type AuditBatchStore interface {
	// AppendAuditBatch inserts recs, in chain order, in one transaction:
	// all of them are committed when it returns nil, none otherwise.
	AppendAuditBatch(ctx context.Context, recs []AuditRecord) error
}

// AuditChange is a write prepared by a store, to be committed together
// with its audit record in the trail's group commit: the trail's writer
// hands it back to the same store's CommitAuditBatch, which applies it in
// the batch's transaction. tx is that store's transaction type.
type AuditChange interface {
	Apply(ctx context.Context, tx any) error
}

// AuditCommitter is an AuditSealer that can carry the change itself into
// the trail's group commit instead of holding the chain during the
// change's own transaction. handled false means it cannot (the record went
// with an earlier write, or the trail's store cannot batch changes): the
// store then uses Seal and Done as before.
type AuditCommitter interface {
	AuditSealer
	Commit(ctx context.Context, uid string, change AuditChange) (handled bool, err error)
}

// AuditItem is one record of a group commit, with the change it travels
// with (nil for a record on its own).
type AuditItem struct {
	Record AuditRecord
	Change AuditChange
}

// AuditChangeStore commits changes and audit records together.
type AuditChangeStore interface {
	// CommitAuditBatch commits one transaction: each item's change (if
	// any) and its record, in item order; an item whose change or seal
	// fails is rolled back alone and gets the error in errs[i], the others
	// and every sealed record are committed at once. err non-nil means
	// nothing was committed. Records are sealed through sealer: each call
	// of sealer starts an attempt (the store may first try the whole batch
	// at once and, if a change fails, again change by change), whose seal
	// function chains the records of the items it is given in order; the
	// records of the last attempt are the ones committed. allOrNothing
	// promises that the attempt commits the record of every item, in order,
	// or nothing at all: the trail may then link every record but the last
	// and seal only that one (one HSM MAC for the attempt).
	CommitAuditBatch(ctx context.Context, items []AuditItem, sealer func(allOrNothing bool) (seal func(i int) (AuditRecord, error))) (errs []error, err error)
}
