package audit_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/memstore"
)

// anchorMem is an in-memory audit.AnchorStore over a record list.
type anchorMem struct {
	anchors map[string]audit.Anchor
	recs    []storage.AuditRecord
}

func (m *anchorMem) AuditAnchor(ctx context.Context, node string) (audit.Anchor, bool, error) {
	a, ok := m.anchors[node]
	return a, ok, nil
}

func (m *anchorMem) StoreAuditAnchor(ctx context.Context, a audit.Anchor) error {
	m.anchors[a.Node] = a
	return nil
}

func (m *anchorMem) AuditChainAt(ctx context.Context, node string, seq int64) ([]byte, bool, error) {
	for _, r := range m.recs {
		if r.OriginNode == node && r.Seq == seq {
			return r.Chain, true, nil
		}
	}
	return nil, false, nil
}

func TestCheckAnchors(t *testing.T) {
	key, recs, _ := chain(t, 6)
	anchorAt := func(seq int64) audit.Anchor {
		a := audit.Anchor{Node: "node-a", Seq: seq}
		if seq > 0 {
			a.Chain = recs[seq-1].Chain
		}
		if err := audit.SignAnchor(t.Context(), key, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	forged := anchorAt(6)
	forged.Seq = 7
	regrown := anchorAt(6)
	regrown.Chain = recs[0].Chain
	if err := audit.SignAnchor(t.Context(), key, &regrown); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		recs    []storage.AuditRecord
		anchor  audit.Anchor
		kind    string
		seq     int64
		records int
	}{
		{"whole chain", recs, anchorAt(6), "", 0, 6},
		{"anchor behind the chain", recs, anchorAt(4), "", 0, 6},
		{"never anchored", recs, audit.Anchor{Node: "node-a"}, "", 0, 6},
		{"last two deleted", recs[:4], anchorAt(6), audit.Truncated, 5, 4},
		{"every record deleted", nil, anchorAt(6), audit.Truncated, 1, 0},
		{"anchor altered", recs, forged, audit.BadAnchor, 7, 6},
		{"chain continued after a deletion", recs, regrown, audit.Truncated, 6, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reps, err := audit.Verify(t.Context(), key, tt.recs)
			if err != nil {
				t.Fatal(err)
			}
			reps, err = audit.CheckAnchors(t.Context(), key, reps, tt.recs, []audit.Anchor{tt.anchor})
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 1 || reps[0].Records != tt.records {
				t.Fatalf("reports %+v", reps)
			}
			wantProblem(t, reps[0].Problem, tt.kind, tt.seq)
		})
	}
}

// TestAnchorerKeepsEvidence: a trail reopened on a truncated chain does not
// move the anchor over the gap.
func TestAnchorerKeepsEvidence(t *testing.T) {
	key := hmacKey("k")
	store := memstore.New("node-a")
	tr, err := audit.Open(t.Context(), "node-a", key, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := tr.Append(t.Context(), storage.AuditRecord{Operation: "Get", Status: "Success"}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := store.ListAudit(t.Context(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	mem := &anchorMem{anchors: map[string]audit.Anchor{}, recs: recs}
	x := &audit.Anchorer{Trail: tr, MAC: key, Store: mem}
	if err := x.Anchor(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a := mem.anchors["node-a"]; a.Seq != 3 || !bytes.Equal(a.Chain, recs[2].Chain) {
		t.Fatalf("anchor %+v, want record 3", a)
	}
	// The newest record is gone and a new trail continues from record 2.
	short := memstore.New("node-a")
	for _, r := range recs[:2] {
		if err := short.AppendAudit(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	tr2, err := audit.Open(t.Context(), "node-a", key, short, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem.recs = recs[:2]
	x2 := &audit.Anchorer{Trail: tr2, MAC: key, Store: mem}
	if err := x2.Anchor(t.Context()); !errors.Is(err, audit.ErrAnchorBlocked) {
		t.Fatalf("anchor on the truncated chain: %v, want ErrAnchorBlocked", err)
	}
	if err := tr2.Append(t.Context(), storage.AuditRecord{Operation: "Get", Status: "Success"}); err != nil {
		t.Fatal(err)
	}
	mem.recs, _ = short.ListAudit(t.Context(), storage.AuditFilter{})
	if err := x2.Anchor(t.Context()); !errors.Is(err, audit.ErrAnchorBlocked) {
		t.Fatalf("anchor after the chain grew back over the gap: %v, want ErrAnchorBlocked", err)
	}
	if a := mem.anchors["node-a"]; a.Seq != 3 || !bytes.Equal(a.Chain, recs[2].Chain) {
		t.Fatalf("anchor moved to %+v", a)
	}
}

// wantProblem checks a report's problem: none when kind is empty, else
// that kind at that sequence number.
func wantProblem(t *testing.T, p *audit.Problem, kind string, seq int64) {
	t.Helper()
	if kind == "" {
		if p != nil {
			t.Fatalf("problem %v, want none", p)
		}
		return
	}
	if p == nil || p.Kind != kind || p.Seq != seq {
		t.Fatalf("problem %+v, want %s at %d", p, kind, seq)
	}
}
