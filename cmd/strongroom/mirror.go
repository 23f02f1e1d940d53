package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/kmip/ops"
	"github.com/strongroom/strongroom/replication"
	"github.com/strongroom/strongroom/storage"
)

func mirrorCommand() *cli.Command {
	adminURL := &cli.StringFlag{
		Name: "admin-url", EnvVars: []string{"STRONGROOM_ADMIN_DATABASE_URL"},
		Usage: "superuser connection to this node's database (default: replication.admin_url, else database.url); prefer the environment variable, which stays off the command line",
	}
	return &cli.Command{
		Name:  "mirror",
		Usage: "mirror this node's keys with other nodes (PostgreSQL logical replication)",
		Description: "Every node publishes the rows it wrote and subscribes to every peer's. Pair two nodes by\n" +
			"running `mirror add` on each, naming the other. On PostgreSQL 15 adding and removing need a\n" +
			"superuser connection to the local database (--admin-url), and the peer's URL needs a role with\n" +
			"REPLICATION; PostgreSQL stores that URL, password included, in pg_subscription.",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "subscribe to a peer's keys (the peer's own `mirror add` sends ours)",
				ArgsUsage: "NAME URL   (URL '-' reads it from standard input, keeping its password off the command line)",
				Flags:     []cli.Flag{adminURL},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return errors.New("mirror add: want NAME URL")
					}
					peer, url := c.Args().Get(0), c.Args().Get(1)
					if url == "-" {
						line, err := bufio.NewReader(os.Stdin).ReadString('\n')
						if err != nil && line == "" {
							return fmt.Errorf("mirror add: read the peer URL from standard input: %w", err)
						}
						url = strings.TrimSpace(line)
					}
					return withMirrorDB(c, true, func(ctx context.Context, local replication.Local) error {
						if err := replication.Add(ctx, local, peer, url, logger(c)); err != nil {
							return err
						}
						fmt.Printf("node %s now mirrors %s\n", local.Node, peer)
						return nil
					})
				},
			},
			{
				Name: "remove", Usage: "stop receiving a peer's keys (its keys already here stay)", ArgsUsage: "NAME",
				Flags: []cli.Flag{adminURL},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("mirror remove: want NAME")
					}
					return withMirrorDB(c, true, func(ctx context.Context, local replication.Local) error {
						slot, err := replication.Remove(ctx, local, c.Args().First())
						if err != nil {
							return err
						}
						if slot != "" {
							fmt.Printf("the peer did not answer: drop its slot there with SELECT pg_drop_replication_slot('%s');\n", slot)
						}
						return nil
					})
				},
			},
			{
				Name: "status", Usage: "per peer: replication running, lag in time and bytes, errors, heartbeat age",
				Flags: []cli.Flag{
					adminURL,
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
					&cli.BoolFlag{Name: "check", Usage: "exit non-zero unless there is a peer and every peer is healthy"},
					&cli.DurationFlag{Name: "max-heartbeat-age", Value: replication.DefaultMaxHeartbeatAge, Usage: "oldest healthy peer heartbeat"},
				},
				Action: func(c *cli.Context) error {
					return withMirrorDB(c, false, func(ctx context.Context, local replication.Local) error {
						peers, err := replication.Status(ctx, local, replication.StatusOptions{MaxHeartbeatAge: c.Duration("max-heartbeat-age")})
						if err != nil {
							return err
						}
						if c.Bool("json") {
							if peers == nil {
								peers = []replication.PeerStatus{}
							}
							enc := json.NewEncoder(os.Stdout)
							enc.SetIndent("", "  ")
							if err := enc.Encode(map[string]any{"node": local.Node, "peers": peers}); err != nil {
								return err
							}
						} else {
							printStatus(local.Node, peers)
						}
						if c.Bool("check") {
							if len(peers) == 0 {
								return errors.New("mirror status: no peers")
							}
							for _, p := range peers {
								if !p.Healthy() {
									return fmt.Errorf("mirror status: peer %s: %s", p.Peer, p.Summary())
								}
							}
						}
						return nil
					})
				},
			},
		},
	}
}

func printStatus(node string, peers []replication.PeerStatus) {
	if len(peers) == 0 {
		fmt.Printf("node %s mirrors no peer\n", node)
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PEER\tRUNNING\tENABLED\tLAG\tLAG BYTES\tHEARTBEAT AGE\tAPPLY ERRORS\tSYNC ERRORS\tSTATUS")
	dur := func(d time.Duration) string {
		if d < 0 {
			return "-"
		}
		return d.Round(time.Millisecond).String()
	}
	for _, p := range peers {
		fmt.Fprintf(w, "%s\t%t\t%t\t%s\t%d\t%s\t%d\t%d\t%s\n", p.Peer, p.Running, p.Enabled, dur(p.LagTime),
			p.LagBytes, dur(p.HeartbeatAge), p.ApplyErrors, p.SyncErrors, p.Summary())
	}
	w.Flush()
}

// withMirrorDB connects to the local database (the admin URL when admin is
// set or one is configured, else database.url) for one mirror command.
func withMirrorDB(c *cli.Context, admin bool, fn func(ctx context.Context, local replication.Local) error) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	url := cfg.Database.URL
	if v := c.String("admin-url"); v != "" {
		url = v
	} else if cfg.Replication.AdminURL != "" {
		url = cfg.Replication.AdminURL
	} else if admin {
		logger(c).Debug("mirror: no admin URL given; using database.url, which must then be a superuser's")
	}
	if url == "" {
		return errors.New("mirror: no database URL in the configuration")
	}
	ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("mirror: connect to the local database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(ctx, replication.Local{DB: conn, Node: cfg.Node})
}

// startMirroring runs the serve process's share of mirroring until ctx
// ends: the node's publication is made sure of (so that peers can
// subscribe), its heartbeat row is updated, and blobs of keys a peer
// destroyed are scrubbed. It has its own small pool so that a busy KMIP
// load does not delay heartbeats. The returned function waits for the
// goroutines after ctx has ended.
func startMirroring(ctx context.Context, cfg *config.Config, store storage.Store, log *slog.Logger) (wait func(), err error) {
	pcfg, err := pgxpool.ParseConfig(cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("serve: mirroring: %w", err)
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("serve: mirroring: %w", err)
	}
	local := replication.Local{DB: pool, Node: cfg.Node}
	if err := replication.Publish(ctx, pool, cfg.Node); err != nil {
		// Not fatal: the node serves alone, and `mirror add` (as a
		// superuser) makes the publication.
		log.Warn("serve: cannot make this node's publication; peers cannot mirror it until `strongroom mirror add` runs here", "err", err)
	}
	scrubber := &replication.Scrubber{
		Local: local, Markers: ops.DestroyedStateMarkers(), Interval: cfg.Replication.ScrubInterval.Duration, Log: log,
		Scrub: func(ctx context.Context, uids []string) (int, error) { return ops.ScrubDestroyed(ctx, store, uids) },
	}
	var wg sync.WaitGroup
	wg.Go(func() { replication.Heartbeat(ctx, local, cfg.Replication.HeartbeatInterval.Duration, log) })
	wg.Go(func() { scrubber.Run(ctx) })
	return func() { wg.Wait(); pool.Close() }, nil
}
