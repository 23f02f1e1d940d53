package kmipbench

import (
	"slices"
	"time"
)

// Result is one measurement. Its JSON form is the interface scripts read
// (`strongroom bench --json`): keep the field names stable.
type Result struct {
	// Op is the operation, or the mix in its canonical form
	// ("get=6,create=1").
	Op           string `json:"op"`
	KMIPVersion  string `json:"kmip_version"`
	Conns        int    `json:"conns"`
	NewConnPerOp bool   `json:"new_conn_per_op"`
	IdleConns    int    `json:"idle_conns,omitempty"`
	// Keys is how many keys the run went round (0: one per connection, or
	// none for create).
	Keys    int     `json:"keys,omitempty"`
	Seconds float64 `json:"seconds"`
	// Stats are over every operation of the run.
	Stats
	// Mix has the figures of each operation of a mix, in the mix's order
	// (absent for a single operation); their rates add up to the run's.
	Mix []OpResult `json:"mix,omitempty"`
	// FirstError is the first failure seen, so that a run full of errors
	// says why without a debugger.
	FirstError string `json:"first_error,omitempty"`
}

// OpResult is one operation's share of a mixed run.
type OpResult struct {
	Op     string `json:"op"`
	Weight int    `json:"weight"`
	Stats
}

// Stats are the counts, rate and latency of a set of operations.
type Stats struct {
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MeanMs    float64 `json:"mean_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// summarize fills the latency and rate fields from the successful
// operations' latencies measured over elapsed (it sorts lat).
func (r *Stats) summarize(lat []time.Duration, elapsed time.Duration) {
	r.Ops = int64(len(lat))
	if elapsed > 0 {
		r.OpsPerSec = round3(float64(len(lat)) / elapsed.Seconds())
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	r.MeanMs = ms(sum / time.Duration(len(lat)))
	r.P50Ms = ms(percentile(lat, 50))
	r.P95Ms = ms(percentile(lat, 95))
	r.P99Ms = ms(percentile(lat, 99))
	r.MaxMs = ms(lat[len(lat)-1])
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100 // ceil(n*p/100), 1-based rank
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 {
	return float64(int64(f*1000+0.5)) / 1000
}
