// Package rows holds the checks and normalisation that every storage.Store
// implementation applies to rows before writing them, so the in-memory store
// and the PostgreSQL store accept and return exactly the same values.
package rows

import (
	"fmt"
	"math"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// CheckNode reports whether node is usable as an origin node id. Node ids end
// up in publication names and row filters, so they are kept short and plain:
// 1 to 63 characters of letters, digits, '_', '.' and '-', starting with a
// letter or digit.
func CheckNode(node string) error {
	if len(node) == 0 || len(node) > 63 {
		return fmt.Errorf("node id must be 1 to 63 characters, got %d", len(node))
	}
	for i := 0; i < len(node); i++ {
		c := node[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return fmt.Errorf("node id %q: invalid character at %d", node, i)
		}
	}
	return nil
}

// ValidUID reports whether s is a UUID in canonical lowercase text form
// (8-4-4-4-12 hex digits). KMIP clients such as mongod turn UIDs into
// directory names, so exactly one spelling is accepted.
func ValidUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Time returns t as stored: UTC, truncated to the microsecond (PostgreSQL's
// precision), or now when t is zero.
func Time(t, now time.Time) time.Time {
	if t.IsZero() {
		t = now
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Bytes returns a copy of b, nil when b is empty, so stores never share a
// caller's slice and always return the same value for "nothing".
func Bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// Object checks obj for creation by node and returns the normalised row.
func Object(node string, obj storage.Object, now time.Time) (storage.Object, error) {
	if !ValidUID(obj.UID) {
		return storage.Object{}, fmt.Errorf("uid %q is not a lowercase UUID", obj.UID)
	}
	if obj.OriginNode == "" {
		obj.OriginNode = node
	}
	if obj.OriginNode != node {
		return storage.Object{}, fmt.Errorf("object %s: origin node %q is not this node %q: %w", obj.UID, obj.OriginNode, node, storage.ErrNotOwner)
	}
	if obj.ObjectType == 0 {
		return storage.Object{}, fmt.Errorf("object %s: object type is 0", obj.UID)
	}
	if obj.Length < 0 {
		return storage.Object{}, fmt.Errorf("object %s: negative length %d", obj.UID, obj.Length)
	}
	if uint64(obj.Mechanism) > math.MaxInt64 {
		return storage.Object{}, fmt.Errorf("object %s: mechanism %#x out of range", obj.UID, obj.Mechanism)
	}
	if obj.BlobLength < 0 || obj.BlobLength > math.MaxInt32 {
		return storage.Object{}, fmt.Errorf("object %s: blob length %d out of range", obj.UID, obj.BlobLength)
	}
	obj.Blob = Bytes(obj.Blob)
	if obj.Blob != nil && obj.KEK == "" {
		return storage.Object{}, fmt.Errorf("object %s: blob without a KEK label", obj.UID)
	}
	obj.Attributes = Bytes(obj.Attributes)
	obj.MAC = Bytes(obj.MAC)
	obj.CreatedAt = Time(obj.CreatedAt, now)
	return obj, nil
}

// Events checks events written by node and returns normalised copies. An
// empty UID becomes uid; when uid is not empty every event must name it.
func Events(node, uid string, events []storage.Event, now time.Time) ([]storage.Event, error) {
	out := make([]storage.Event, 0, len(events))
	seen := make(map[string]bool, len(events))
	for i, ev := range events {
		if ev.UID == "" {
			ev.UID = uid
		}
		if uid == "" {
			uid = ev.UID
		}
		if !ValidUID(ev.UID) {
			return nil, fmt.Errorf("event %d: uid %q is not a lowercase UUID", i, ev.UID)
		}
		if ev.UID != uid {
			return nil, fmt.Errorf("event %d: uid %s differs from %s; one call changes one object", i, ev.UID, uid)
		}
		if !ValidUID(ev.ID) {
			return nil, fmt.Errorf("event %d: id %q is not a lowercase UUID", i, ev.ID)
		}
		if seen[ev.ID] {
			return nil, fmt.Errorf("event %d: id %s given twice", i, ev.ID)
		}
		seen[ev.ID] = true
		if ev.OriginNode == "" {
			ev.OriginNode = node
		}
		if ev.OriginNode != node {
			return nil, fmt.Errorf("event %s: origin node %q is not this node %q: %w", ev.ID, ev.OriginNode, node, storage.ErrNotOwner)
		}
		if ev.Clock < 0 {
			return nil, fmt.Errorf("event %s: negative clock", ev.ID)
		}
		if ev.Kind == "" {
			return nil, fmt.Errorf("event %s: empty kind", ev.ID)
		}
		ev.Payload = Bytes(ev.Payload)
		ev.MAC = Bytes(ev.MAC)
		ev.CreatedAt = Time(ev.CreatedAt, now)
		out = append(out, ev)
	}
	return out, nil
}

// Limit turns Filter.Limit into the number of rows to return.
func Limit(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("negative limit %d", n)
	case n == 0:
		return storage.DefaultListLimit, nil
	case n > storage.MaxListLimit:
		return storage.MaxListLimit, nil
	}
	return n, nil
}

// EventLess is the fold order of events: Clock, then OriginNode, then ID,
// compared bytewise (the PostgreSQL store sorts with COLLATE "C" to match).
func EventLess(a, b storage.Event) bool {
	if a.Clock != b.Clock {
		return a.Clock < b.Clock
	}
	if a.OriginNode != b.OriginNode {
		return a.OriginNode < b.OriginNode
	}
	return a.ID < b.ID
}

// ObjectLess is the creation order of objects: CreatedAt, then UID.
func ObjectLess(a, b storage.Object) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.UID < b.UID
}
