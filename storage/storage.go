// Package storage keeps Strongroom's managed objects in a database. It holds
// only wrapped key blobs, never key material.
//
// The model is built for mirroring (see docs/DESIGN.md): an object row is
// written once by the node that created it and never updated by another
// node; every later change (state, attributes) is an appended Event owned by
// the node that accepted it. The current state of an object is a
// deterministic fold of its events, computed by the operations layer, so any
// node that holds the same rows computes the same answer.
package storage

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound means no object has the Unique Identifier.
var ErrNotFound = errors.New("storage: object not found")

// ErrExists means an object with the Unique Identifier already exists.
var ErrExists = errors.New("storage: object already exists")

// ErrNotOwner means the row belongs to another node. Mirroring only works if
// a node never changes another node's rows, so such a change must be made on
// (or forwarded to) the object's origin node.
var ErrNotOwner = errors.New("storage: object belongs to another node")

// DefaultListLimit is the number of objects ListObjects returns when
// Filter.Limit is 0; MaxListLimit bounds larger requests so one listing
// cannot pull the whole table into memory.
const (
	DefaultListLimit = 1000
	MaxListLimit     = 10000
)

// Object is the immutable row of one managed object.
type Object struct {
	UID        string // lowercase UUID, the KMIP Unique Identifier
	OriginNode string // node that created the object
	ObjectType uint32 // KMIP Object Type enumeration
	Algorithm  uint32 // KMIP Cryptographic Algorithm, 0 when none
	Length     int32  // KMIP Cryptographic Length in bits, 0 when none
	KEK        string // label of the KEK the blob is wrapped under
	Mechanism  uint   // PKCS#11 wrapping mechanism
	Blob       []byte // wrapped key material; nil once destroyed
	BlobLength int    // plaintext length in bytes
	// Attributes is the TTLV encoding of the object's initial attribute set
	// (a KMIP 2.x Attributes structure), owned by the operations layer.
	Attributes []byte
	// CreatedAt is the creation time on the origin node, kept to the
	// microsecond in UTC; a zero value means "now".
	CreatedAt time.Time
	// MAC binds the row to its identity (computed by the HSM; may be empty).
	MAC []byte
	// Names are the Name values the object starts with, kept as a search
	// hint for Filter.Name. nil means unknown (the object is then a
	// candidate for every name); an empty non-nil slice means none.
	Names []string
}

// Event is one appended change to an object.
type Event struct {
	ID         string    // UUID of the event
	UID        string    // object it changes
	OriginNode string    // node that accepted the change
	Clock      int64     // hybrid logical clock, microseconds since the epoch
	Kind       string    // what changed, interpreted by the operations layer
	Payload    []byte    // TTLV encoding of the change
	CreatedAt  time.Time // wall time on the origin node
	MAC        []byte
	// Names are the Name values this event gives the object, a search hint
	// for Filter.Name like Object.Names (nil: unknown).
	Names []string
	// Scrubs marks an event that may destroy the object's key material:
	// its origin node looks for these to scrub blobs that a peer's Destroy
	// left (replication.ScrubCandidates), through an index instead of a scan
	// of every event.
	Scrubs bool
}

// Filter selects objects by their immutable columns; a zero field matches all.
type Filter struct {
	ObjectType uint32
	Algorithm  uint32
	Length     int32
	// Name narrows the listing to objects that started with this Name value
	// or had an event giving it, plus those whose names are unknown: a
	// superset of the objects whose current Name is Name, which the caller
	// narrows by folding the events. A store may ignore it.
	Name string
	// After continues a listing after this UID (creation order); it must
	// name an existing object, else ListObjects returns ErrNotFound.
	After string
	// Limit bounds the number of objects returned; 0 means DefaultListLimit
	// and anything above MaxListLimit is cut to MaxListLimit.
	Limit int
}

// Store is what the operations layer asks of the database.
type Store interface {
	// Node is this node's identifier, written into every row it creates.
	Node() string
	// CreateObject inserts an object and its first events in one transaction,
	// committed before it returns; ErrExists if the UID is taken. Empty
	// OriginNode and event UID fields are filled in (this node, obj.UID); a
	// row claiming another origin node is refused, since a node writes only
	// its own rows.
	CreateObject(ctx context.Context, obj Object, events ...Event) error
	// Object returns an object and its events in fold order (Clock, then
	// OriginNode, then ID); ErrNotFound if there is none.
	Object(ctx context.Context, uid string) (Object, []Event, error)
	// AppendEvents appends events to one object in one transaction;
	// ErrNotFound if the object does not exist. Any node may append events
	// to any object; the events carry this node as OriginNode.
	AppendEvents(ctx context.Context, events ...Event) error
	// ScrubBlob removes the wrapped material of an object this node created
	// (KMIP Destroy); the row and its events stay. Scrubbing twice is not an
	// error; ErrNotOwner if another node created the object.
	ScrubBlob(ctx context.Context, uid string) error
	// ListObjects returns objects matching the filter in creation order
	// (CreatedAt, then UID), each with its events in fold order.
	ListObjects(ctx context.Context, f Filter) ([]Record, error)
}

// Record is an object with its events.
type Record struct {
	Object Object
	Events []Event
}
