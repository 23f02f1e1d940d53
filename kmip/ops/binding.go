package ops

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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
// An object row's identity is its UID, origin node, type, algorithm,
// length, KEK label, mechanism, blob length and a hash of the initial
// attributes (which hold the owner); its blob binding is its UID, KEK
// label, mechanism, blob length and a hash of the wrapped bytes. Destroy
// scrubs the blob in place and the row may not be rewritten, so the
// identity must verify without the blob. The MAC column has one of two
// layouts, told apart by length:
//
//   - v1 (64 bytes, written before binding v2):
//     HMAC(identity v1) || HMAC(blob binding). The blob HMAC is checked
//     only while the blob exists.
//   - v2 (65 bytes, written now): 0x02 || HMAC(identity v2) || D, where
//     D = SHA-256(blob binding) is computed in software and identity v2 is
//     the v1 identity under its own domain string followed by D. While the
//     blob exists, load recomputes D from the row and compares it with the
//     stored one; a scrubbed row verifies its identity with the stored D.
//     One HSM operation per row instead of two (under load, v1's two were
//     22 % of the server's CPU per Create).
//
// v1 rows still verify as they did; nothing is migrated. Any other column
// (empty, cut, padded, 65 bytes without the tag) is refused, rows without
// MACs (written before this check existed) included: a security engineer
// would rather see them fail loudly than have them silently trusted.
//
// Why v2 is as strong as v1. Both rest on the same two assumptions:
// HMAC-SHA-256 under the token's key cannot be forged without the token,
// and SHA-256 is collision resistant (v1 already hashes the blob and the
// attributes into what it MACs). v2 is hash-then-MAC: the HMAC covers the
// identity and D, and D commits to the blob binding. To have a row accepted
// whose identity or D differs from every row the HSM bound, an attacker
// needs an HMAC over a message the HSM never MACed: a forgery. With identity
// and D as bound, a different blob (another key's, or any other bytes) must
// have a blob binding with the same SHA-256 as the original: a collision.
// Moving a blob together with its D to another row changes that row's
// HMAC message; swapping whole MAC columns fails on the UID the identity
// names. The two layouts cannot be confused: the domain strings differ
// ("strongroom-object-v1", "strongroom-object-v2", and every other message
// the MAC key covers has its own), so a v1 HMAC never verifies as a v2 one
// or the reverse, and stripping or adding the tag byte, or cutting or
// padding the column, gives a length or a message the check refuses. D
// tells nothing: it is a hash of bytes the row already shows.
//
// Limits (both layouts): setting a blob to NULL makes the row look
// scrubbed, which loses the key but gives nothing; putting a scrubbed blob
// back (from a backup) is accepted, since it is the bound blob, and the
// Destroyed state, in a bound event, still keeps it from use; deleting an event row
// (say, the one that revoked a key) is not caught by a per-row MAC; the
// audit trail records the revocation. Locate filters on folded attributes
// without checking MACs; using any object it returns goes through load and
// its checks.

const (
	objectBindingV1 = "strongroom-object-v1"
	objectBindingV2 = "strongroom-object-v2"
	blobBindingV1   = "strongroom-blob-v1"
	eventBindingV1  = "strongroom-event-v1"
	macSize         = sha256.Size
	// rowMACv1Size and rowMACv2Size are the two layouts of an object row's
	// MAC column; rowMACv2 is the first byte of a v2 column.
	rowMACv1Size = 2 * macSize
	rowMACv2Size = 1 + macSize + sha256.Size
	rowMACv2     = 0x02
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

// objectIdentity encodes the identity fields of an object row under
// domain.
func objectIdentity(domain string, o storage.Object) bindingEncoder {
	var b bindingEncoder
	b.text(domain)
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

// objectBinding is what a v1 row's first HMAC covers.
func objectBinding(o storage.Object) []byte { return objectIdentity(objectBindingV1, o) }

// objectBindingWithBlob is what a v2 row's HMAC covers: the identity and the
// blob digest d.
func objectBindingWithBlob(o storage.Object, d []byte) []byte {
	b := objectIdentity(objectBindingV2, o)
	b.bytes(d)
	return b
}

// blobBinding is what a v1 row's second HMAC covers; a v2 row keeps its
// SHA-256 (blobDigest).
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

// blobDigest is D of a v2 row, computed in software.
func blobDigest(o storage.Object) [sha256.Size]byte { return sha256.Sum256(blobBinding(o)) }

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

// bindObject sets the row's MAC column (v2: one HSM HMAC).
func (s *Service) bindObject(ctx context.Context, o *storage.Object) error {
	d := blobDigest(*o)
	data := objectBindingWithBlob(*o, d[:])
	m, err := s.keys.MAC(ctx, data)
	if err != nil {
		return fmt.Errorf("ops: bind object %s: %w", o.UID, err)
	}
	if len(m) != macSize {
		return fmt.Errorf("ops: bind object %s: the HSM returned a %d-byte MAC, want %d", o.UID, len(m), macSize)
	}
	mac := make([]byte, 0, rowMACv2Size)
	mac = append(mac, rowMACv2)
	mac = append(mac, m...)
	o.MAC = append(mac, d[:]...)
	// The HSM computed it: the first load of the new row need not ask it
	// again (maccache.go).
	s.macs.add(data, m)
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
	switch {
	case len(o.MAC) == rowMACv2Size && o.MAC[0] == rowMACv2:
		m, d := o.MAC[1:1+macSize], o.MAC[1+macSize:]
		if o.Blob != nil {
			// In software: D commits to the blob, the HMAC below to D.
			if want := blobDigest(o); subtle.ConstantTimeCompare(want[:], d) != 1 {
				return fail("wrapped blob")
			}
		}
		if err := verify(objectBindingWithBlob(o, d), m, "object row"); err != nil {
			return err
		}
	case len(o.MAC) == rowMACv1Size:
		if err := verify(objectBinding(o), o.MAC[:macSize], "object row"); err != nil {
			return err
		}
		if o.Blob != nil {
			if err := verify(blobBinding(o), o.MAC[macSize:], "wrapped blob"); err != nil {
				return err
			}
		}
	default:
		return fail("object row has no MAC")
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
