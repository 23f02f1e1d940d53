package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/kmip/client"
)

// benchCommand measures KMIP Create and Get against a running server, the
// way mongod uses it: one request per message, one at a time per
// connection. Figures go to docs/BENCHMARKS.md.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure Create and Get per second against a running server",
		Flags: append(clientFlags(),
			&cli.DurationFlag{Name: "duration", Value: 5 * time.Second, Usage: "how long each measurement runs"},
			&cli.IntSliceFlag{Name: "clients", Value: cli.NewIntSlice(1, 4), Usage: "concurrent connections, one measurement per value"},
		),
		Action: runBench,
	}
}

func runBench(c *cli.Context) error {
	d := c.Duration("duration")
	fmt.Printf("%-8s %8s %10s %10s %10s %10s\n", "op", "clients", "ops/s", "p50", "p99", "errors")
	for _, n := range c.IntSlice("clients") {
		// Keys to Get are created first, one per connection.
		clients := make([]*client.Client, n)
		uids := make([]string, n)
		for i := range clients {
			cl, err := adminClient(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			clients[i] = cl
			if uids[i], err = cl.CreateAES(c.Context, 256); err != nil {
				return err
			}
		}
		for _, op := range []string{"create", "get"} {
			r := benchRun(c.Context, clients, d, func(ctx context.Context, i int, cl *client.Client) error {
				if op == "create" {
					_, err := cl.CreateAES(ctx, 256)
					return err
				}
				k, err := cl.GetKey(ctx, uids[i])
				if err == nil && len(k) != 32 {
					err = fmt.Errorf("get returned %d bytes", len(k))
				}
				clear(k)
				return err
			})
			fmt.Printf("%-8s %8d %10.0f %10s %10s %10d\n", op, n, r.rate, r.p50, r.p99, r.errors)
		}
	}
	return nil
}

type benchResult struct {
	rate     float64
	p50, p99 time.Duration
	errors   int
}

// benchRun runs f on every client for d and summarises the latencies.
func benchRun(ctx context.Context, clients []*client.Client, d time.Duration, f func(context.Context, int, *client.Client) error) benchResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := f(context.Background(), i, cl); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	r := benchResult{errors: errs, rate: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2].Round(time.Microsecond)
		r.p99 = lat[len(lat)*99/100].Round(time.Microsecond)
	}
	return r
}
