package ops

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Row binding (docs/AUDIT-AND-ACCESS.md): every object row and event
// this layer writes carries an HMAC computed in the HSM with a key that
// never leaves it, and load checks them before an object is used. Someone
// with SQL access but without the HSM can then neither move a wrapped blob
// to another key's row, nor change a key's state, owner, usage mask or any
// other attribute, nor append a forged event: the object is refused with
// Cryptographic Failure, an error log line and an audit record.
//
// An object's MAC column holds two HMACs: one over its identity (UID,
// origin node, type, algorithm, length, KEK label, mechanism, blob length
// and a hash of the initial attributes, which hold the owner), one over its
// blob (UID, KEK label, mechanism, length and a hash of the wrapped bytes).
// The second is checked only while the blob exists, since Destroy scrubs
// the blob in place and the row may not be rewritten. Rows without MACs
// (written before this check existed) are refused too: a security engineer
// would rather see them fail loudly than have them silently trusted.
//
// Limits: deleting an event row (say, the one that revoked a key) is not
// caught by a per-row MAC; the audit trail records the revocation. Locate
// filters on folded attributes without checking MACs; using any object it
// returns goes through load and its checks.

const (
	objectBindingV1 = "strongroom-object-v1"
	blobBindingV1   = "strongroom-blob-v1"
	eventBindingV1  = "strongroom-event-v1"
	macSize         = sha256.Size
)

// bindingEncoder builds the length-prefixed encodings the MACs cover.
type bindingEncoder []byte

func (b *bindingEncoder) bytes(v []byte) {
	*b = binary.AppendUvarint(*b, uint64(len(v)))
	*b = append(*b, v...)
}

func (b *bindingEncoder) text(v string) { b.bytes([]byte(v)) }

func (b *bindingEncoder) int(v int64) { *b = binary.BigEndian.AppendUint64(*b, uint64(v)) }

func (b *bindingEncoder) hash(v []byte) {
	h := sha256.Sum256(v)
	b.bytes(h[:])
}

func objectBinding(o storage.Object) []byte {
	var b bindingEncoder
	b.text(objectBindingV1)
	b.text(o.UID)
	b.text(o.OriginNode)
	b.int(int64(o.ObjectType))
	b.int(int64(o.Algorithm))
	b.int(int64(o.Length))
	b.text(o.KEK)
	b.int(int64(o.Mechanism))
	b.int(int64(o.BlobLength))
	b.hash(o.Attributes)
	return b
}

func blobBinding(o storage.Object) []byte {
	var b bindingEncoder
	b.text(blobBindingV1)
	b.text(o.UID)
	b.text(o.KEK)
	b.int(int64(o.Mechanism))
	b.int(int64(o.BlobLength))
	b.hash(o.Blob)
	return b
}

func eventBinding(ev storage.Event) []byte {
	var b bindingEncoder
	b.text(eventBindingV1)
	b.text(ev.ID)
	b.text(ev.UID)
	b.text(ev.OriginNode)
	b.int(ev.Clock)
	b.text(ev.Kind)
	b.hash(ev.Payload)
	return b
}

// bindObject sets the row's MAC column.
func (s *Service) bindObject(ctx context.Context, o *storage.Object) error {
	idData, blobData := objectBinding(*o), blobBinding(*o)
	id, err := s.keys.MAC(ctx, idData)
	if err != nil {
		return fmt.Errorf("ops: bind object %s: %w", o.UID, err)
	}
	blob, err := s.keys.MAC(ctx, blobData)
	if err != nil {
		return fmt.Errorf("ops: bind object %s: %w", o.UID, err)
	}
	o.MAC = append(append(make([]byte, 0, 2*macSize), id...), blob...)
	// The HSM computed these: the first load of the new row need not ask
	// it again (maccache.go).
	s.macs.add(idData, id)
	s.macs.add(blobData, blob)
	return nil
}

// bindEvents sets the events' MAC columns.
func (s *Service) bindEvents(ctx context.Context, evs []storage.Event) error {
	for i := range evs {
		data := eventBinding(evs[i])
		m, err := s.keys.MAC(ctx, data)
		if err != nil {
			return fmt.Errorf("ops: bind event of %s: %w", evs[i].UID, err)
		}
		evs[i].MAC = m
		s.macs.add(data, m)
	}
	return nil
}

// errIntegrity is what the client learns about a row that failed its
// check; the log gets the detail.
func errIntegrity(uid string) error {
	return kmip.Errorf(ttlv.ResultReasonCryptographicFailure, "stored object %s failed its integrity check", uid)
}

// checkBinding verifies an object row and its events before use.
func (s *Service) checkBinding(ctx context.Context, o storage.Object, evs []storage.Event) error {
	fail := func(what string) error {
		s.log.Error("ops: stored object failed its integrity check: refusing it", "uid", o.UID, "part", what, "origin_node", o.OriginNode)
		return errIntegrity(o.UID)
	}
	verify := func(data, mac []byte, what string) error {
		if len(mac) != macSize {
			return fail(what + " has no MAC")
		}
		if s.macs.verified(data, mac) {
			return nil // the HSM verified these very bytes and MAC before
		}
		err := s.keys.VerifyMAC(ctx, data, mac)
		if errors.Is(err, hsm.ErrIntegrity) {
			return fail(what)
		}
		if err != nil {
			return fmt.Errorf("ops: check %s of %s: %w", what, o.UID, err)
		}
		s.macs.add(data, mac)
		return nil
	}
	if len(o.MAC) != 2*macSize {
		return fail("object row has no MAC")
	}
	if err := verify(objectBinding(o), o.MAC[:macSize], "object row"); err != nil {
		return err
	}
	if o.Blob != nil {
		if err := verify(blobBinding(o), o.MAC[macSize:], "wrapped blob"); err != nil {
			return err
		}
	}
	for _, ev := range evs {
		if ev.UID != o.UID {
			return fail("event of another object")
		}
		if err := verify(eventBinding(ev), ev.MAC, "event "+ev.ID); err != nil {
			return err
		}
	}
	return nil
}
