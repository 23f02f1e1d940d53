package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/internal/kmipbench"
)

// benchCommand is the KMIP load generator (internal/kmipbench). It needs no
// configuration when --addr, --ca and --cert are given, so that it measures
// any KMIP server; deploy/bench/compare.sh runs it against Strongroom,
// PyKMIP's server and a bare TLS server for docs/BENCHMARKS.md.
func benchCommand() *cli.Command {
	flags := slices.DeleteFunc(clientFlags(), func(f cli.Flag) bool { return slices.Contains(f.Names(), "kmip-version") })
	return &cli.Command{
		Name:  "bench",
		Usage: "measure KMIP operations' rate and latency against any KMIP server",
		Description: "N connections each send one request at a time for --duration (or --count operations) after\n" +
			"--warmup. Prints a table, or with --json one object with ops_per_sec, p50_ms, p95_ms, p99_ms and errors.\n" +
			"Operations: get, create, encrypt (AES-CBC, 32 bytes), locate (by Name), get-attributes (State),\n" +
			"mongod (Get + Get Attributes State, mongod's start-up). Keys it needs are created first.\n" +
			"A mix sends several in fixed proportions and reports each besides the total, e.g.\n" +
			"--op get=6,get-attributes=2,create=1,encrypt=1 (JSON: a \"mix\" array with each operation's figures).",
		Flags: append(flags,
			&cli.StringFlag{Name: "kmip-version", Value: "1.2", Usage: "KMIP protocol version to speak (mongod's is 1.2)"},
			&cli.StringFlag{Name: "server-name", Usage: "name to verify in the server certificate (default: the configuration's, else the host of --addr)"},
			&cli.StringFlag{Name: "op", Value: "get", Usage: "operation: get|create|encrypt|locate|get-attributes|mongod, or a mix: op=weight,op=weight,..."},
			&cli.IntFlag{Name: "conns", Value: 4, Usage: "concurrent connections"},
			&cli.IntFlag{Name: "keys", Usage: "keys to go round (default one per connection; more than the server caches measures its uncached path)"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to measure"},
			&cli.Int64Flag{Name: "count", Usage: "stop after this many operations instead (0: use --duration)"},
			&cli.DurationFlag{Name: "warmup", Value: 2 * time.Second, Usage: "unmeasured load before measuring"},
			&cli.BoolFlag{Name: "new-conn-per-op", Usage: "open a TLS connection for every operation (measures handshakes)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of a table"},
			&cli.IntFlag{Name: "idle", Usage: "also hold this many idle connections open during the run (each serves one Discover Versions first)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write the load generator's own CPU profile (set-up and warm-up included) to this file, for `go tool pprof`"},
		),
		Action: runBench,
	}
}

func runBench(c *cli.Context) error {
	v, err := kmipbench.ParseVersion(c.String("kmip-version"))
	if err != nil {
		return err
	}
	addr, tlsCfg, err := clientTarget(c, "bench", c.String("addr"), false)
	if err != nil {
		return err
	}
	opt := kmipbench.Options{
		Addr: addr, TLS: tlsCfg, Version: v, Op: c.String("op"), Conns: c.Int("conns"), Keys: c.Int("keys"),
		Duration: c.Duration("duration"), Count: c.Int64("count"), Warmup: c.Duration("warmup"),
		NewConnPerOp: c.Bool("new-conn-per-op"), Progress: os.Stderr, Idle: c.Int("idle"),
	}
	if opt.Count > 0 && !c.IsSet("duration") {
		opt.Duration = 0
	}
	if path := c.String("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := kmipbench.Run(c.Context, opt)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.Bool("json") {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	printBenchTable(os.Stdout, res)
	if res.NewConnPerOp {
		fmt.Println("* a new TLS connection per operation")
	}
	if res.FirstError != "" {
		fmt.Fprintln(os.Stderr, "bench: first error:", res.FirstError)
	}
	return nil
}

// startCPUProfile profiles this process into path until the returned
// function is called: every microsecond the load generator spends is taken
// from the server it shares the machine with, so its own cost is worth
// seeing. The profile holds stacks and counts, no request data.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		}
	}, nil
}

// printBenchTable prints res as a table: one row, or for a mix one row per
// operation (its weight after the name) and a total.
func printBenchTable(w io.Writer, res kmipbench.Result) {
	fmt.Fprintf(w, "%-18s %5s %6s %10s %10s %9s %9s %9s %9s %7s\n",
		"op", "kmip", "conns", "ops", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
	conns := fmt.Sprint(res.Conns)
	if res.NewConnPerOp {
		conns += "*"
	}
	row := func(name string, s kmipbench.Stats) {
		fmt.Fprintf(w, "%-18s %5s %6s %10d %10.0f %9.3f %9.3f %9.3f %9.3f %7d\n",
			name, res.KMIPVersion, conns, s.Ops, s.OpsPerSec, s.P50Ms, s.P95Ms, s.P99Ms, s.MaxMs, s.Errors)
	}
	if len(res.Mix) == 0 {
		row(res.Op, res.Stats)
		return
	}
	for _, o := range res.Mix {
		row(fmt.Sprintf("%s ×%d", o.Op, o.Weight), o.Stats)
	}
	row("all", res.Stats)
}
