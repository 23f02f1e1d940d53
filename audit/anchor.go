package audit

import (
	"context"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// The anchor makes deleting the newest records of a chain detectable. A
// chain whose tail was deleted is still a valid chain, just shorter; so the
// node regularly records where its chain ends (sequence number and chain
// value, under an HSM MAC) outside the chain: in its heartbeat row, which
// is mirrored to every peer. Verify then reports "records after seq N are
// missing" when a chain ends before its anchor, on the node and on its
// peers. Records written after the last anchor (at most one anchoring
// interval, 2 s by default) are not covered.
//
// A trail reopened on a truncated chain would continue it and, if it
// anchored blindly, hide the loss; so an Anchorer first checks that the
// chain still passes through the stored anchor and, when it does not,
// refuses to move it (and says so in the log) until someone with the
// database removes the anchor on purpose.
//
// Anchors name sealed records. The trail's head is the end of its last
// committed transaction, which is sealed (link.go), and the Anchorer
// refuses a linked head (ErrLinkedHead) rather than have the HSM vouch,
// through the anchor's MAC, for a value no chain MAC covers. An anchor
// that names a linked record anyway (none is ever written) is still
// compared by value: its MAC covers the 33-byte link, and SHA-256 binds
// that to the record and, through its predecessor value, to every record
// before it, so a chain that passes through it holds those records.

// Problem kinds found with an anchor.
const (
	// Truncated: the chain ends before its anchor, or no longer passes
	// through it, or (found by Verify) ends in a linked record, which
	// every transaction follows with a sealed one.
	Truncated = "truncated"
	BadAnchor = "bad anchor" // the anchor does not match its MAC
)

const anchorV1 = "strongroom-audit-anchor-v1"

// Anchor is the recorded end of one chain.
type Anchor struct {
	Node  string // the chain (its origin node)
	Seq   int64  // last record's sequence number, 0 for an empty chain
	Chain []byte // last record's chain value
	At    time.Time
	MAC   []byte
}

// Empty reports whether the anchor was never written (a heartbeat row of a
// node that has not anchored yet).
func (a Anchor) Empty() bool { return a.Seq == 0 && len(a.MAC) == 0 }

// anchorEncoding is what the anchor's MAC covers: a version tag, then every
// field length-prefixed or fixed-width.
func anchorEncoding(a Anchor) []byte {
	var b []byte
	text := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	text([]byte(anchorV1))
	text([]byte(a.Node))
	b = binary.BigEndian.AppendUint64(b, uint64(a.At.UTC().UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Seq))
	text(a.Chain)
	return b
}

// SignAnchor sets a's time (if zero, now) and MAC.
func SignAnchor(ctx context.Context, mac MACer, a *Anchor) error {
	if a.At.IsZero() {
		a.At = time.Now()
	}
	a.At = a.At.UTC().Truncate(time.Microsecond)
	m, err := mac.MAC(ctx, anchorEncoding(*a))
	if err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	a.MAC = m
	return nil
}

// VerifyAnchor reports whether a's MAC matches it.
func VerifyAnchor(ctx context.Context, mac MACer, a Anchor) (bool, error) {
	if len(a.MAC) == 0 {
		return false, nil
	}
	m, err := mac.MAC(ctx, anchorEncoding(a))
	if err != nil {
		return false, fmt.Errorf("audit: anchor: %w", err)
	}
	return hmac.Equal(m, a.MAC), nil
}

// AnchorStore keeps anchors (storage/postgres: the node_heartbeats row of
// the chain's name).
type AnchorStore interface {
	// AuditAnchor returns the chain's anchor; ok is false if there is none.
	AuditAnchor(ctx context.Context, node string) (a Anchor, ok bool, err error)
	// StoreAuditAnchor replaces the chain's anchor.
	StoreAuditAnchor(ctx context.Context, a Anchor) error
	// AuditChainAt returns the chain value of the chain's record seq.
	AuditChainAt(ctx context.Context, node string, seq int64) (chain []byte, ok bool, err error)
}

// ErrAnchorBlocked means the chain no longer passes through its stored
// anchor: records were deleted, and the anchor is kept as the evidence.
var ErrAnchorBlocked = errors.New("audit: the chain does not reach its anchor (newest records deleted?); anchor kept")

// ErrLinkedHead means the trail's head is a linked record, which the
// Anchorer does not anchor. It cannot happen while every committed
// transaction ends with a sealed record.
var ErrLinkedHead = errors.New("audit: anchor: the chain's head is a linked record, not covered by an HSM MAC; not anchoring it")

// Anchorer records a trail's head as its anchor. It is not safe for
// concurrent use (one goroutine runs it).
type Anchorer struct {
	Trail *Trail
	MAC   MACer
	Store AnchorStore
	Log   *slog.Logger

	checked bool   // the stored anchor was found on the chain
	last    int64  // sequence number last anchored by this Anchorer
	blocked string // why the anchor was last kept, to log it once
}

// Anchor stores the trail's head as the chain's anchor if it moved since
// the last call. The first call checks the stored anchor against the
// chain and returns ErrAnchorBlocked (changing nothing) if the chain does
// not pass through it.
func (x *Anchorer) Anchor(ctx context.Context) error {
	seq, chain := x.Trail.Head()
	node := x.Trail.Node()
	if IsLinked(chain) {
		return fmt.Errorf("%w (node %s, record %d)", ErrLinkedHead, node, seq)
	}
	if !x.checked {
		if err := x.check(ctx, node, seq, chain); err != nil {
			return err
		}
		x.checked = true
	} else if seq == x.last {
		return nil
	}
	a := Anchor{Node: node, Seq: seq, Chain: chain}
	if err := SignAnchor(ctx, x.MAC, &a); err != nil {
		return err
	}
	if err := x.Store.StoreAuditAnchor(ctx, a); err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	x.last = seq
	return nil
}

// check verifies that the chain, whose head is (seq, chain), passes through
// the stored anchor.
func (x *Anchorer) check(ctx context.Context, node string, seq int64, chain []byte) error {
	stored, ok, err := x.Store.AuditAnchor(ctx, node)
	if err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	if !ok || stored.Empty() {
		return nil
	}
	valid, err := VerifyAnchor(ctx, x.MAC, stored)
	if err != nil {
		return err
	}
	blocked := func(why string) error {
		if x.Log != nil && why != x.blocked {
			x.blocked = why
			x.Log.Error("audit: not moving the audit anchor: "+why, "node", node, "anchored_seq", stored.Seq,
				"anchored_at", stored.At, "last_seq", seq)
		}
		return fmt.Errorf("%w: %s", ErrAnchorBlocked, why)
	}
	switch {
	case !valid:
		return blocked("the stored anchor does not match its MAC")
	case stored.Seq > seq:
		return blocked(fmt.Sprintf("records after %d are missing", seq))
	case stored.Seq == seq:
		if !hmac.Equal(stored.Chain, chain) {
			return blocked(fmt.Sprintf("record %d is not the anchored one", seq))
		}
		return nil
	}
	at, ok, err := x.Store.AuditChainAt(ctx, node, stored.Seq)
	if err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	if !ok || !hmac.Equal(at, stored.Chain) {
		return blocked(fmt.Sprintf("record %d is missing or not the anchored one", stored.Seq))
	}
	return nil
}

// Run anchors every interval until ctx ends, then once more (so a clean
// stop anchors the last records). Failures are logged once per outage.
func (x *Anchorer) Run(ctx context.Context, interval time.Duration) {
	log := x.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		err := x.Anchor(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			if !errors.Is(err, ErrAnchorBlocked) { // already logged by check
				log.Warn("audit: anchoring failed; retrying", "err", err)
			}
			failing = true
		case err == nil && failing:
			log.Info("audit: anchoring works again")
			failing = false
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := x.Anchor(fctx); err != nil && !errors.Is(err, ErrAnchorBlocked) {
				log.Warn("audit: final anchor failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// CheckAnchors adds to Verify's reports what the chains' anchors say: a
// chain that ends before its anchor, or no longer passes through it, lost
// its newest records (Truncated, at the first missing sequence number); an
// anchor that does not match its MAC is reported as BadAnchor. A chain that
// already has a problem keeps it (it is earlier in the chain). recs are
// Verify's input; anchors never written are ignored.
func CheckAnchors(ctx context.Context, mac MACer, reps []Report, recs []storage.AuditRecord, anchors []Anchor) ([]Report, error) {
	type chainEnd struct {
		last   int64
		chains map[int64][]byte
	}
	ends := map[string]*chainEnd{}
	for _, r := range recs {
		e := ends[r.OriginNode]
		if e == nil {
			e = &chainEnd{chains: map[int64][]byte{}}
			ends[r.OriginNode] = e
		}
		e.last = max(e.last, r.Seq)
		e.chains[r.Seq] = r.Chain
	}
	for _, a := range anchors {
		if a.Empty() {
			continue
		}
		i := -1
		for j := range reps {
			if reps[j].Node == a.Node {
				i = j
			}
		}
		if i < 0 {
			reps = append(reps, Report{Node: a.Node})
			i = len(reps) - 1
		}
		if reps[i].Problem != nil {
			continue
		}
		e := ends[a.Node]
		if e == nil {
			e = &chainEnd{}
		}
		when := a.At.UTC().Format(time.RFC3339)
		ok, err := VerifyAnchor(ctx, mac, a)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
			reps[i].Problem = &Problem{Node: a.Node, Seq: a.Seq, Kind: BadAnchor,
				Detail: "the chain's anchor (heartbeat row) does not match its MAC: altered, or written without the HSM key"}
		case a.Seq > e.last:
			reps[i].Problem = &Problem{Node: a.Node, Seq: e.last + 1, Kind: Truncated,
				Detail: fmt.Sprintf("records after seq %d are missing: the anchor of %s names record %d", e.last, when, a.Seq)}
		case a.Seq > 0 && !hmac.Equal(e.chains[a.Seq], a.Chain):
			reps[i].Problem = &Problem{Node: a.Node, Seq: a.Seq, Kind: Truncated,
				Detail: fmt.Sprintf("record %d is not the one anchored at %s: records were deleted and the chain continued without them", a.Seq, when)}
		}
	}
	return reps, nil
}
