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

// Verify recomputes every node's chain: each sealed record's HMAC in the
// HSM, each linked record's SHA-256 in software (link.go). recs must be in
// (OriginNode, Seq) order, as storage.AuditStore.ListAudit returns them. It
// reports the first problem of each chain and what it looks like:
//   - deleted: sequence numbers are missing before a record;
//   - inserted: a sequence number is used twice, or a record is not part of
//     the chain (the record after it chains onto the one before it);
//   - altered: a record's content does not match its chain value while the
//     next record still chains onto it (or the last record does not verify);
//   - reordered: a record verifies at another nearby place in the chain;
//   - truncated: the chain ends in a linked record. Every transaction ends
//     with a sealed record, so its sealed successor was deleted, or the
//     linked records at the end were forged (a link needs no key).
//
// The kinds tell what plain SQL edits look like. Someone who also
// recomputes links moves the break to the next sealed record (reported
// there as altered, say), and Verify cannot tell which of the linked
// records before it changed; the Detail then names them.
//
// Deleting the newest records of a chain down to a sealed record leaves a
// shorter valid chain; CheckAnchors (anchor.go) finds that against the
// chain's anchor.
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
	// check reports whether r, numbered seq and chained onto prev, matches
	// its chain value, of whichever kind it is.
	check := func(r storage.AuditRecord, seq int64, prev []byte) (bool, error) {
		r.Seq = seq
		enc := Encode(r, prev)
		if IsLinked(r.Chain) {
			return linkMatches(enc, r.Chain), nil
		}
		m, err := mac.MAC(ctx, enc)
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
				return problem(Altered, "its content does not match its chain value (the next record still chains onto it)%s", coveredOnly(l, i))
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
			return problem(Altered, "the last record does not match its chain value (altered, or appended by someone without the HSM key)%s", coveredOnly(l, i))
		}
		return problem(Altered, "its content does not match its chain value%s", coveredOnly(l, i))
	}
	if last := l[len(l)-1]; IsLinked(last.Chain) {
		first := len(l) - 1
		for first > 0 && IsLinked(l[first-1].Chain) {
			first--
		}
		rep.Problem = &Problem{Node: rep.Node, Seq: last.Seq + 1, Kind: Truncated, Detail: fmt.Sprintf(
			"records after seq %d are missing: the chain ends in a record no HSM MAC covers (%s linked), so its sealed successor was deleted, or the linked records were forged",
			last.Seq, span(l[first].Seq, last.Seq))}
	}
	return rep, nil
}

// coveredOnly is the note for a sealed record l[i] that does not verify
// while linked records come before it: a tamperer who recomputed their
// links moves the break here, so the change may be in any of them.
func coveredOnly(l []storage.AuditRecord, i int) string {
	if IsLinked(l[i].Chain) || i == 0 || !IsLinked(l[i-1].Chain) {
		return ""
	}
	first := i - 1
	for first > 0 && IsLinked(l[first-1].Chain) {
		first--
	}
	return fmt.Sprintf(" (%s linked and covered only by its MAC: if links were recomputed, the change may be there)", span(l[first].Seq, l[i-1].Seq))
}

// span names the records from to to.
func span(from, to int64) string {
	if from == to {
		return fmt.Sprintf("record %d is", from)
	}
	return fmt.Sprintf("records %d to %d are", from, to)
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
