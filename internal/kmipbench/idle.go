package kmipbench

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// openIdle opens n connections that each complete one Discover Versions
// (so the server has accepted, authenticated and served them) and then stay
// open, unused, until closed: the load of many clients that connect at
// start and go quiet, as mongod does between key fetches. The caller closes
// what it returns, also on error.
func openIdle(ctx context.Context, opt Options, n int) ([]*conn, error) {
	idle := make([]*conn, 0, n)
	for i := range n {
		cl, err := dial(ctx, opt)
		if err != nil {
			return idle, fmt.Errorf("kmipbench: idle connection %d of %d: %w", i+1, n, err)
		}
		idle = append(idle, cl)
		if _, err := cl.Do(ctx, ttlv.OperationDiscoverVersions, ttlv.Struct(ttlv.TagRequestPayload)); err != nil {
			return idle, fmt.Errorf("kmipbench: idle connection %d of %d: discover versions: %w", i+1, n, err)
		}
	}
	return idle, nil
}
