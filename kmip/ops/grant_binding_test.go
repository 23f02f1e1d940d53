package ops

import (
	"testing"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/memstore"
)

// TestGrantBinding: a grant bound with BindGrant verifies; any change to a
// bound field, a missing MAC or another row's MAC makes it ignored.
func TestGrantBinding(t *testing.T) {
	s := newTestService(memstore.New("node1"))
	ctx := t.Context()
	good := storage.Grant{ID: "g1", UID: "00000000-0000-4000-8000-000000000001", GranteeKind: "group", Grantee: "payments",
		Action: "grant", CreatedBy: "local:root"}
	if err := BindGrant(ctx, s.keys, "node1", &good); err != nil {
		t.Fatal(err)
	}
	other := good
	other.ID = "g2"
	if err := BindGrant(ctx, s.keys, "node1", &other); err != nil {
		t.Fatal(err)
	}
	change := func(f func(*storage.Grant)) storage.Grant {
		g := good
		f(&g)
		return g
	}
	for _, tt := range []struct {
		name  string
		grant storage.Grant
		valid bool
	}{
		{"bound", good, true},
		{"no MAC", change(func(g *storage.Grant) { g.MAC = nil }), false},
		{"another row's MAC", change(func(g *storage.Grant) { g.MAC = other.MAC }), false},
		{"grantee changed", change(func(g *storage.Grant) { g.Grantee = "other-team" }), false},
		{"kind changed", change(func(g *storage.Grant) { g.GranteeKind = "user" }), false},
		{"revoke turned into grant", change(func(g *storage.Grant) { g.Action = "revoke" }), false},
		{"object changed", change(func(g *storage.Grant) { g.UID = "00000000-0000-4000-8000-000000000002" }), false},
		{"origin changed", change(func(g *storage.Grant) { g.OriginNode = "node2" }), false},
		{"time changed", change(func(g *storage.Grant) { g.CreatedAt = g.CreatedAt.Add(1) }), true}, // below a microsecond
		{"time changed by a microsecond", change(func(g *storage.Grant) { g.CreatedAt = g.CreatedAt.Add(1000) }), false},
		{"author changed", change(func(g *storage.Grant) { g.CreatedBy = "local:mallory" }), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.validGrants(ctx, Caller{User: "app1", Group: "payments"}, []storage.Grant{tt.grant})
			if err != nil {
				t.Fatal(err)
			}
			if (len(got) == 1) != tt.valid {
				t.Fatalf("valid %v, want %v", len(got) == 1, tt.valid)
			}
		})
	}
}
