package ops

import (
	"testing"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

func TestMergeState(t *testing.T) {
	tests := []struct {
		a, b, want ttlv.State
	}{
		{ttlv.StatePreActive, ttlv.StateActive, ttlv.StateActive},
		{ttlv.StateActive, ttlv.StateDeactivated, ttlv.StateDeactivated},
		{ttlv.StateDeactivated, ttlv.StateActive, ttlv.StateDeactivated},
		{ttlv.StateActive, ttlv.StateCompromised, ttlv.StateCompromised},
		{ttlv.StateCompromised, ttlv.StateDestroyed, ttlv.StateDestroyedCompromised},
		{ttlv.StateDestroyed, ttlv.StateCompromised, ttlv.StateDestroyedCompromised},
		{ttlv.StateDestroyedCompromised, ttlv.StatePreActive, ttlv.StateDestroyedCompromised},
		{ttlv.StateDeactivated, ttlv.StateDestroyed, ttlv.StateDestroyed},
	}
	for _, tt := range tests {
		if got := mergeState(tt.a, tt.b); got != tt.want {
			t.Errorf("mergeState(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestMergeStateConverges: the merge is commutative and associative, so
// mirrored nodes that receive the same changes in any order agree.
func TestMergeStateConverges(t *testing.T) {
	all := []ttlv.State{0, ttlv.StatePreActive, ttlv.StateActive, ttlv.StateDeactivated,
		ttlv.StateCompromised, ttlv.StateDestroyed, ttlv.StateDestroyedCompromised}
	for _, a := range all {
		for _, b := range all {
			if mergeState(a, b) != mergeState(b, a) {
				t.Errorf("mergeState(%s, %s) is not commutative", a, b)
			}
			for _, c := range all {
				if mergeState(mergeState(a, b), c) != mergeState(a, mergeState(b, c)) {
					t.Errorf("mergeState is not associative on %s, %s, %s", a, b, c)
				}
			}
		}
	}
}
