package kmipbench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		p    int
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}}
	for _, tc := range tests {
		if got := percentile(lat, tc.p); got != tc.want {
			t.Errorf("p%d = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("single sample p99 = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	var r Result
	r.summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, time.Second)
	if r.Ops != 3 || r.OpsPerSec != 3 || r.P50Ms != 2 || r.MaxMs != 3 || r.MeanMs != 2 {
		t.Fatalf("%+v", r)
	}
}
