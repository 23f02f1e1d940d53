package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// ScrubDestroyed finishes Destroys that another node accepted: each named
// object that this node created, that still holds its wrapped blob and
// whose folded state is destroyed has its blob scrubbed. Only the origin
// node may change its object rows (mirroring rule), so a peer's Destroy
// records the event and leaves the blob to the origin, which runs this
// when the event arrives (replication.Scrubber). Objects that are missing,
// another node's or not destroyed are skipped. It returns how many blobs
// it scrubbed.
func ScrubDestroyed(ctx context.Context, store storage.Store, uids []string) (int, error) {
	n := 0
	for _, uid := range uids {
		row, events, err := store.Object(ctx, uid)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("ops: scrub %s: %w", uid, err)
		}
		if row.OriginNode != store.Node() || row.Blob == nil {
			continue
		}
		o, err := fold(row, events)
		if err != nil {
			return n, err
		}
		if !destroyed(o.state()) {
			continue
		}
		if err := store.ScrubBlob(ctx, uid); err != nil {
			return n, fmt.Errorf("ops: scrub %s: %w", uid, err)
		}
		n++
	}
	return n, nil
}

// DestroyedStateMarkers are the TTLV encodings of the State attribute with
// the values Destroyed and Destroyed Compromised, as they appear inside a
// stored event payload. A database scan for these bytes finds the events
// that may destroy an object (replication.ScrubCandidates) without
// decoding every payload; ScrubDestroyed decides from the folded state.
// Should an encoding fail (it cannot for a fixed enumeration) the result is
// nil, which makes the scan consider every object with events: slower, not
// wrong.
func DestroyedStateMarkers() [][]byte {
	var out [][]byte
	for _, s := range []ttlv.State{ttlv.StateDestroyed, ttlv.StateDestroyedCompromised} {
		b, err := ttlv.Encode(ttlv.Enum(ttlv.TagState, uint32(s)))
		if err != nil {
			return nil
		}
		out = append(out, b)
	}
	return out
}
