// Command pginsert measures what PostgreSQL allows Create: the same
// storage.Store CreateObject call (the object row and its audit record in one
// committed transaction, fsync on) that a KMIP Create makes, from N
// goroutines for a duration, with a copy of a real object's row:
//
//	go run ./deploy/bench/pginsert --config $STRONGROOM_CONFIG --like UID --conns 4 --duration 10s
//
// It prints one JSON object with ops_per_sec, p50_ms and p99_ms.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/storage/postgres"
)

func main() {
	cfgPath := flag.String("config", os.Getenv("STRONGROOM_CONFIG"), "node configuration (database URL and node name)")
	like := flag.String("like", "", "UID of an object whose row is copied")
	conns := flag.Int("conns", 4, "concurrent inserters")
	d := flag.Duration("duration", 10*time.Second, "how long to measure")
	flag.Parse()
	if err := run(*cfgPath, *like, *conns, *d); err != nil {
		fmt.Fprintln(os.Stderr, "pginsert:", err)
		os.Exit(1)
	}
}

func run(cfgPath, like string, conns int, d time.Duration) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	store, err := postgres.Open(ctx, cfg.Database.URL, cfg.Node, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer store.Close()
	tmpl, _, err := store.Object(ctx, like)
	if err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(end) {
				row := tmpl
				row.UID = uuid.NewString()
				row.CreatedAt = time.Time{}
				row.MAC = nil
				t0 := time.Now()
				if err := store.CreateObject(ctx, row); err != nil {
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
	el := time.Since(start)
	slices.Sort(lat)
	pct := func(p int) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[(len(lat)*p+99)/100-1]) / 1e6
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"op": "pg-insert", "conns": conns, "ops": len(lat), "errors": errs,
		"ops_per_sec": float64(len(lat)) / el.Seconds(), "p50_ms": pct(50), "p99_ms": pct(99),
	})
}
