package audit

import (
	"context"
	"crypto/hmac"
	"fmt"

	"github.com/strongroom/strongroom/storage"
)

// Kinds of tampering Verify reports.
const (
	Altered   = "altered"
	Deleted   = "deleted"
	Inserted  = "inserted"
	Reordered = "reordered"
)

// Problem is the first break found in one node's chain.
type Problem struct {
	Node   string
	Seq    int64 // sequence number of the row where the chain breaks
	Kind   string
	Detail string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit: node %s record %d %s: %s", p.Node, p.Seq, p.Kind, p.Detail)
}

// Report is the result for one node's chain.
type Report struct {
	Node    string
	Records int
	Problem *Problem // nil when the chain verifies
}

// reorderWindow bounds how far Verify looks around a broken record for the
// place it was chained at, to tell a reordering from an alteration.
const reorderWindow = 8

// Verify recomputes every node's chain in the HSM. recs must be in
// (OriginNode, Seq) order, as storage.AuditStore.ListAudit returns them. It
// reports the first problem of each chain and what it looks like:
//   - deleted: sequence numbers are missing before a record;
//   - inserted: a sequence number is used twice, or a record is not part of
//     the chain (the record after it chains onto the one before it);
//   - altered: a record's content does not match its chain value while the
//     next record still chains onto it (or the last record does not verify);
//   - reordered: a record verifies at another nearby place in the chain.
//
// Deleting the newest records of a chain leaves a shorter valid chain;
// CheckAnchors (anchor.go) finds that against the chain's anchor.
func Verify(ctx context.Context, mac MACer, recs []storage.AuditRecord) ([]Report, error) {
	var out []Report
	for start := 0; start < len(recs); {
		end := start
		for end < len(recs) && recs[end].OriginNode == recs[start].OriginNode {
			end++
		}
		rep, err := verifyChain(ctx, mac, recs[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
		start = end
	}
	return out, nil
}

func verifyChain(ctx context.Context, mac MACer, l []storage.AuditRecord) (Report, error) {
	rep := Report{Node: l[0].OriginNode, Records: len(l)}
	check := func(r storage.AuditRecord, seq int64, prev []byte) (bool, error) {
		r.Seq = seq
		m, err := mac.MAC(ctx, Encode(r, prev))
		if err != nil {
			return false, fmt.Errorf("audit: verify: %w", err)
		}
		return hmac.Equal(m, r.Chain), nil
	}
	var prev []byte
	expected := int64(1)
	for i, r := range l {
		ok, err := check(r, r.Seq, prev)
		if err != nil {
			return rep, err
		}
		problem := func(kind, format string, args ...any) (Report, error) {
			rep.Problem = &Problem{Node: rep.Node, Seq: r.Seq, Kind: kind, Detail: fmt.Sprintf(format, args...)}
			return rep, nil
		}
		switch {
		case r.Seq < expected:
			return problem(Inserted, "sequence number %d is already used by an earlier record", r.Seq)
		case r.Seq > expected:
			return problem(Deleted, "records %d to %d are missing before it", expected, r.Seq-1)
		case ok:
			prev, expected = r.Chain, expected+1
			continue
		}
		var next *storage.AuditRecord
		if i+1 < len(l) {
			next = &l[i+1]
			if ok, err := check(*next, next.Seq, r.Chain); err != nil {
				return rep, err
			} else if ok {
				return problem(Altered, "its content does not match its chain value (the next record still chains onto it)")
			}
		}
		if at, found, err := placeOf(check, l, i); err != nil {
			return rep, err
		} else if found {
			return problem(Reordered, "it was chained as record %d", at)
		}
		if next != nil {
			if ok, err := check(*next, expected, prev); err != nil {
				return rep, err
			} else if ok {
				return problem(Inserted, "it is not part of the chain (the record after it chains onto the one before it)")
			}
		}
		if i+1 == len(l) {
			return problem(Altered, "the last record does not match its chain value (altered, or appended by someone without the HSM key)")
		}
		return problem(Altered, "its content does not match its chain value")
	}
	return rep, nil
}

// placeOf looks for the place in the chain where record i verifies: after
// another nearby record, under a nearby sequence number.
func placeOf(check func(storage.AuditRecord, int64, []byte) (bool, error), l []storage.AuditRecord, i int) (int64, bool, error) {
	r := l[i]
	for j := max(-1, i-reorderWindow); j < min(len(l), i+reorderWindow+1); j++ {
		if j == i || j == i-1 {
			continue
		}
		var prev []byte
		if j >= 0 {
			prev = l[j].Chain
		}
		for d := int64(-reorderWindow); d <= reorderWindow; d++ {
			seq := r.Seq + d
			if seq < 1 || (j < 0 && seq != 1) {
				continue
			}
			ok, err := check(r, seq, prev)
			if err != nil {
				return 0, false, err
			}
			if ok {
				return seq, true, nil
			}
		}
	}
	return 0, false, nil
}
