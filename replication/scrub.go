package replication

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultScrubInterval is how often the scrubber looks for work.
const DefaultScrubInterval = 5 * time.Second

// scrubBatch bounds the candidates read per round.
const scrubBatch = 1000

// ScrubCandidates lists (up to 1000) objects this node created that still
// hold their wrapped blob and have an event marked as scrubbing
// (storage.Event.Scrubs), or, for events written before that mark existed,
// whose payload contains one of markers (the encodings of the Destroyed
// states; with no markers, any such event). The partial index on the mark
// keeps the round's cost to the destroyed objects, not the whole table.
// Only the origin node may scrub a blob (the mirroring rule), so a Destroy
// accepted by a peer leaves the blob here until this node sees the event;
// the caller decides from the folded state.
func ScrubCandidates(ctx context.Context, local Local, markers [][]byte) ([]string, error) {
	// The candidates come from the events' partial index first (an
	// InitPlan through ARRAY); written as EXISTS, the planner walked every
	// object in creation order and probed its events: 8 s a round at 10^6
	// keys, measured.
	rows, err := local.DB.Query(ctx, `SELECT o.uid::text FROM objects o
		WHERE o.uid = ANY (ARRAY(SELECT DISTINCT e.uid FROM object_events e
		        WHERE e.scrubs IS NOT FALSE
		          AND (e.scrubs OR cardinality($2::bytea[]) = 0
		               OR EXISTS (SELECT FROM unnest($2::bytea[]) m WHERE position(m IN e.payload) > 0))))
		  AND o.origin_node = $1 AND o.blob IS NOT NULL
		ORDER BY o.created_at, o.uid LIMIT $3`, local.Node, markers, scrubBatch)
	if err != nil {
		return nil, fmt.Errorf("replication: scrub candidates: %w", err)
	}
	defer rows.Close()
	var uids []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("replication: scrub candidates: %w", err)
		}
		uids = append(uids, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replication: scrub candidates: %w", err)
	}
	return uids, nil
}

// Scrubber finishes, on the origin node, the Destroys that peers accepted.
type Scrubber struct {
	Local Local
	// Markers narrow the candidates (see ScrubCandidates).
	Markers [][]byte
	// Scrub is given the candidates and scrubs those that are destroyed
	// (kmip/ops.ScrubDestroyed); it returns how many it scrubbed.
	Scrub func(ctx context.Context, uids []string) (int, error)
	// Interval between rounds; 0 means DefaultScrubInterval.
	Interval time.Duration
	Log      *slog.Logger
}

// Round runs one pass and returns how many blobs were scrubbed.
func (s *Scrubber) Round(ctx context.Context) (int, error) {
	uids, err := ScrubCandidates(ctx, s.Local, s.Markers)
	if err != nil || len(uids) == 0 {
		return 0, err
	}
	return s.Scrub(ctx, uids)
}

// Run runs a round at once (which also finishes a local Destroy that was
// interrupted between its event and its scrub) and then every Interval,
// until ctx ends.
func (s *Scrubber) Run(ctx context.Context) {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultScrubInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Round(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "replication: scrub round failed; retrying", "err", err)
		case n > 0:
			log.InfoContext(ctx, "replication: scrubbed destroyed blobs", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
