package storage

import (
	"context"
	"time"
)

// Grant is one row of the key grants table: it gives (Action "grant") or
// takes back (Action "revoke") the use of one object to a group or a user.
// The newest row for (UID, GranteeKind, Grantee) wins, in (CreatedAt,
// OriginNode, ID) order.
type Grant struct {
	ID          string
	OriginNode  string
	UID         string
	GranteeKind string // "group" or "user"
	Grantee     string
	Action      string // "grant" or "revoke"
	CreatedAt   time.Time
	CreatedBy   string
	// MAC is an HSM HMAC over the row (kmip/ops grant_binding.go); a grant
	// without a valid one is ignored when authorizing.
	MAC []byte
}

// GrantStore keeps key grants; the PostgreSQL and memory stores implement
// it beside Store.
type GrantStore interface {
	// AddGrant inserts one grant row as this node.
	AddGrant(ctx context.Context, g Grant) error
	// Grants returns the grant rows of one object, oldest first.
	Grants(ctx context.Context, uid string) ([]Grant, error)
	// GrantsTo returns the grant rows naming the user or the group, oldest
	// first (an empty user or group matches nothing), for the caller to
	// check their MACs before folding them with CurrentGrants.
	GrantsTo(ctx context.Context, user, group string) ([]Grant, error)
}

// CurrentGrants folds grant rows (oldest first) to the grants in force:
// the set of "kind:grantee" keys per UID.
func CurrentGrants(rows []Grant) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, g := range rows {
		m := out[g.UID]
		if m == nil {
			m = map[string]bool{}
			out[g.UID] = m
		}
		k := g.GranteeKind + ":" + g.Grantee
		if g.Action == "grant" {
			m[k] = true
		} else {
			delete(m, k)
		}
	}
	return out
}
