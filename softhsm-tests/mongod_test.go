package softhsmtests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// allVersions are the versions a client may speak, oldest first.
var allVersions = func() []kmip.ProtocolVersion {
	v := kmip.SupportedVersions()
	out := make([]kmip.ProtocolVersion, len(v))
	for i := range v {
		out[len(v)-1-i] = v[i]
	}
	return out
}()

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// state reads the State attribute the way mongod does.
func state(t *testing.T, c *client.Client, uid string) ttlv.State {
	t.Helper()
	attrs, err := c.GetAttributes(ctxT(t), uid, "State")
	if err != nil {
		t.Fatalf("get attributes State: %v", err)
	}
	if len(attrs) != 1 || attrs[0].Name != "State" {
		t.Fatalf("get attributes State: got %d attributes", len(attrs))
	}
	v, _ := attrs[0].Value.EnumValue()
	return ttlv.State(v)
}

// TestMongodSequences drives the sequences of shared/docs/clients.md in
// every protocol version: first start, restart, polling on fresh
// connections, rotation, and Percona's Register + Activate.
func TestMongodSequences(t *testing.T) {
	s := newStack(t)
	for _, v := range allVersions {
		t.Run("v"+v.String(), func(t *testing.T) {
			ctx := ctxT(t)
			// First start, one connection: Create, Get, Activate, Get Attributes.
			c := s.dial(t, "admin", v)
			uid, err := c.CreateAES(ctx, 256)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if uid != lowerUUID(uid) {
				t.Fatalf("unique identifier %q is not a lowercase UUID", uid)
			}
			key, err := c.GetKey(ctx, uid)
			if err != nil {
				t.Fatalf("get of a Pre-Active key: %v", err)
			}
			if len(key) != 32 {
				t.Fatalf("get: key material is %d bytes, want 32", len(key))
			}
			if st := state(t, c, uid); st != ttlv.StatePreActive {
				t.Fatalf("state after create = %s", st)
			}
			if err := c.Activate(ctx, uid); err != nil {
				t.Fatalf("activate: %v", err)
			}
			if st := state(t, c, uid); st != ttlv.StateActive {
				t.Fatalf("state after activate = %s", st)
			}
			// Restart: a new connection, Get then Get Attributes.
			r := s.dial(t, "admin", v)
			again, err := r.GetKey(ctx, uid)
			if err != nil || !bytes.Equal(again, key) {
				t.Fatalf("get on restart: err=%v, same bytes=%v", err, bytes.Equal(again, key))
			}
			if st := state(t, r, uid); st != ttlv.StateActive {
				t.Fatalf("state on restart = %s", st)
			}
			// Polling: one Get Attributes per fresh connection.
			for i := 0; i < 3; i++ {
				if st := state(t, s.dial(t, "admin", v), uid); st != ttlv.StateActive {
					t.Fatalf("poll %d: state = %s", i, st)
				}
			}
			// Rotation: the old key may be Deactivated and must still be readable.
			if err := c.Revoke(ctx, uid, ttlv.RevocationReasonCodeCessationOfOperation, "rotated"); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if st := state(t, c, uid); st != ttlv.StateDeactivated {
				t.Fatalf("state after revoke = %s", st)
			}
			old, err := s.dial(t, "admin", v).GetKey(ctx, uid)
			if err != nil || !bytes.Equal(old, key) {
				t.Fatalf("get of a Deactivated key: err=%v, same bytes=%v", err, bytes.Equal(old, key))
			}
			uid2, err := c.CreateAES(ctx, 256)
			if err != nil || uid2 == uid {
				t.Fatalf("create of the new master key: %v", err)
			}
			key2, err := c.GetKey(ctx, uid2)
			if err != nil || bytes.Equal(key2, key) {
				t.Fatalf("new key: err=%v, equal to the old one=%v", err, bytes.Equal(key2, key))
			}
			// Percona: the client's own key, Register then Activate.
			own := bytes.Repeat([]byte{byte(v.Minor + 1)}, 32)
			puid, err := c.RegisterAES(ctx, own)
			if err != nil {
				t.Fatalf("register: %v", err)
			}
			if err := c.Activate(ctx, puid); err != nil {
				t.Fatalf("activate registered key: %v", err)
			}
			if st := state(t, c, puid); st != ttlv.StateActive {
				t.Fatalf("registered key state = %s", st)
			}
			got, err := c.GetKey(ctx, puid)
			if err != nil || !bytes.Equal(got, own) {
				t.Fatalf("get registered key: err=%v, same bytes=%v", err, bytes.Equal(got, own))
			}
			// Destroy: only once revoked; Get then fails cleanly.
			if err := c.Destroy(ctx, puid); !isReason(err, ttlv.ResultReasonPermissionDenied, ttlv.ResultReasonWrongKeyLifecycleState) {
				t.Fatalf("destroy of an Active key: got %v", err)
			}
			if err := c.Revoke(ctx, puid, ttlv.RevocationReasonCodeSuperseded, ""); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if err := c.Destroy(ctx, puid); err != nil {
				t.Fatalf("destroy: %v", err)
			}
			if _, err := c.GetKey(ctx, puid); !isReason(err, ttlv.ResultReasonItemNotFound, ttlv.ResultReasonObjectDestroyed) {
				t.Fatalf("get of a destroyed key: got %v", err)
			}
			if st := state(t, c, puid); st != ttlv.StateDestroyed {
				t.Fatalf("state after destroy = %s", st)
			}
		})
	}
}

func isReason(err error, reasons ...ttlv.ResultReason) bool {
	var e *kmip.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, r := range reasons {
		if e.Reason == r {
			return true
		}
	}
	return false
}

func lowerUUID(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	if len(s) != 36 {
		return fmt.Sprintf("not a uuid: %d chars", len(s))
	}
	return b.String()
}
