package ops

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Ownership (docs/AUDIT-AND-ACCESS.md): every object records
// its owner in its initial attributes, as server bookkeeping attributes
// that clients can neither see nor change, and which the row MAC binds
// (binding.go). The owner user is the caller's certificate CN; the owner
// group is the Object Group a Crypto Officer gave the new object (so that
// `strongroom key create --group mongo` makes a key for group mongo) or
// else the caller's OU.
//
// Crypto Officers see every object. A key client sees the objects of its
// own group and those granted to its user or group (storage.GrantStore,
// `strongroom key grant`). Anything else is answered exactly as a missing
// object (Item Not Found / Object Not Found), so that a client cannot probe
// which identifiers exist; the audit record says what really happened.
// Objects without an owner (none are written since this rule exists) are
// visible to Crypto Officers only.

const (
	attrOwnerUser  = internalPrefix + "owner-user"
	attrOwnerGroup = internalPrefix + "owner-group"
)

type callerKey struct{}

// withCaller puts the request's caller in the context, for insert.
func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// ownerAttrs are the owner attributes of a new object created by the
// context's caller.
func ownerAttrs(ctx context.Context, attrs []kmip.Attribute) []kmip.Attribute {
	c, ok := ctx.Value(callerKey{}).(Caller)
	if !ok {
		return nil
	}
	group := c.Group
	if c.Role == RoleCryptoOfficer {
		for _, a := range attrs {
			if a.Value.Tag == ttlv.TagObjectGroup && !a.Custom() {
				if g, _ := a.Value.TextValue(); g != "" {
					group = g
					break
				}
			}
		}
	}
	return []kmip.Attribute{
		{Name: attrOwnerUser, Value: ttlv.Text(ttlv.TagAttributeValue, c.User)},
		{Name: attrOwnerGroup, Value: ttlv.Text(ttlv.TagAttributeValue, group)},
	}
}

// withOwner replaces any owner attributes in attrs by the caller's.
func withOwner(ctx context.Context, attrs []kmip.Attribute) []kmip.Attribute {
	owner := ownerAttrs(ctx, attrs)
	if owner == nil {
		return attrs
	}
	kept := attrs[:0:0]
	for _, a := range attrs {
		if a.Name != attrOwnerUser && a.Name != attrOwnerGroup {
			kept = append(kept, a)
		}
	}
	return append(kept, owner...)
}

// owner returns the object's owner group.
func (o *object) ownerGroup() string {
	for _, a := range o.all(attrOwnerGroup) {
		g, _ := a.Value.TextValue()
		return g
	}
	return ""
}

// visibility returns the test of which objects the caller may see; it
// reads the caller's grants once.
func (s *Service) visibility(ctx context.Context, c Caller) (func(*object) bool, error) {
	switch c.Role {
	case RoleCryptoOfficer:
		return func(*object) bool { return true }, nil
	case RoleKeyClient:
	default:
		return func(*object) bool { return false }, nil
	}
	rows := map[string][]storage.Grant{}
	if gs, ok := s.store.(storage.GrantStore); ok {
		all, err := gs.GrantsTo(ctx, c.User, c.Group)
		if err != nil {
			return nil, fmt.Errorf("ops: grants: %w", err)
		}
		for _, g := range all {
			rows[g.UID] = append(rows[g.UID], g)
		}
	}
	// Grant MACs are checked (grant_binding.go) only for the objects the
	// caller does not own, once per object.
	granted := map[string]bool{}
	return func(o *object) bool {
		if g := o.ownerGroup(); g != "" && g == c.Group {
			return true
		}
		uid := o.row.UID
		if ok, seen := granted[uid]; seen {
			return ok
		}
		if len(rows[uid]) == 0 {
			return false
		}
		valid, err := s.validGrants(ctx, c, rows[uid])
		if err != nil {
			s.log.Error("ops: grants not checked: refusing access", "uid", uid, "err", err)
			valid = nil
		}
		delete(rows, uid)
		m := storage.CurrentGrants(valid)[uid]
		granted[uid] = (c.User != "" && m["user:"+c.User]) || (c.Group != "" && m["group:"+c.Group])
		return granted[uid]
	}, nil
}

// checkAccess answers an object the caller may not see as a missing one.
func (s *Service) checkAccess(ctx context.Context, r *request, o *object) error {
	visible, err := s.visibility(ctx, r.caller)
	if err != nil {
		return err
	}
	if visible(o) {
		return nil
	}
	s.log.Warn("ops: access to another group's object refused", "uid", o.row.UID, "user", r.caller.User, "group", r.caller.Group)
	auditNote(ctx, "access refused: the object belongs to another group and is not granted to the caller (answered as not found)")
	return kmip.Errorf(ttlv.ResultReasonItemNotFound, "no object with unique identifier %q", o.row.UID)
}
