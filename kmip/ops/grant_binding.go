package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Grant binding (docs/AUDIT-AND-ACCESS.md): every key_grants row carries an
// HMAC computed in the HSM, like object rows (binding.go), over its
// identity, object, grantee, action, time, author and origin node. Someone
// with SQL access but without the HSM can then not give a key client
// another group's key by inserting a grant, nor turn a revocation into a
// grant: a row whose MAC is missing or does not verify is ignored when a
// key client is authorized, with an error log line and an audit record.
// Rows written before grants had MACs count as invalid (grant again).

const grantBindingV1 = "strongroom-grant-v1"

func grantBinding(g storage.Grant) []byte {
	var b bindingEncoder
	b.text(grantBindingV1)
	b.text(g.ID)
	b.text(g.UID)
	b.text(g.OriginNode)
	b.text(g.GranteeKind)
	b.text(g.Grantee)
	b.text(g.Action)
	b.int(g.CreatedAt.UTC().UnixMicro())
	b.text(g.CreatedBy)
	return b
}

// BindGrant prepares a grant row for node (the origin node of the store it
// goes to): it fixes the row's origin and time (now, to the microsecond the
// database keeps, if unset) and sets its MAC, computed in the HSM. `strongroom
// key grant` calls it before storage.GrantStore.AddGrant.
func BindGrant(ctx context.Context, keys hsm.Keystore, node string, g *storage.Grant) error {
	g.OriginNode = node
	if g.CreatedAt.IsZero() {
		g.CreatedAt = time.Now()
	}
	g.CreatedAt = g.CreatedAt.UTC().Truncate(time.Microsecond)
	m, err := keys.MAC(ctx, grantBinding(*g))
	if err != nil {
		return fmt.Errorf("ops: bind grant on %s: %w", g.UID, err)
	}
	g.MAC = m
	return nil
}

// validGrants returns the grant rows whose MACs verify. Each other row is
// logged and audited (its own record in the node's chain) and left out.
func (s *Service) validGrants(ctx context.Context, c Caller, gs []storage.Grant) ([]storage.Grant, error) {
	out := gs[:0:0]
	for _, g := range gs {
		err := errors.New("no MAC")
		if len(g.MAC) == macSize {
			err = s.keys.VerifyMAC(ctx, grantBinding(g), g.MAC)
		}
		if err != nil && len(g.MAC) == macSize && !errors.Is(err, hsm.ErrIntegrity) {
			return nil, fmt.Errorf("ops: check grant %s: %w", g.ID, err)
		}
		if err == nil {
			out = append(out, g)
			continue
		}
		s.log.Error("ops: key grant failed its integrity check: ignoring it", "grant", g.ID, "uid", g.UID,
			"grantee", g.GranteeKind+":"+g.Grantee, "origin_node", g.OriginNode, "user", c.User, "err", err)
		if s.audit != nil {
			if aerr := s.audit.Append(context.WithoutCancel(ctx), storage.AuditRecord{
				Time: s.now(), Operation: "Key Grant Check", UID: g.UID, User: c.User, Group: c.Group, Addr: c.Addr,
				Status: ttlv.ResultStatusOperationFailed.String(), Reason: ttlv.ResultReasonCryptographicFailure.String(),
				Message: fmt.Sprintf("grant %s (%s %s %s, origin %s) failed its integrity check and was ignored",
					g.ID, g.Action, g.GranteeKind, g.Grantee, g.OriginNode),
			}); aerr != nil {
				s.log.Error("ops: audit record not stored", "err", aerr)
			}
		}
	}
	return out, nil
}
