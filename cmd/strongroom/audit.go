package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/storage"
)

// openTrail opens this node's audit chain with the configured file and
// syslog copies; the returned function stops the trail's writer (storing
// what is queued) and closes the copies.
func openTrail(ctx context.Context, cfg *config.Config, mac audit.MACer, store storage.AuditStore, log *slog.Logger) (*audit.Trail, func(), error) {
	var (
		sinks   []audit.Sink
		closers []io.Closer
	)
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	if cfg.Audit.File != "" {
		f, err := audit.OpenFile(cfg.Audit.File)
		if err != nil {
			return nil, nil, err
		}
		sinks, closers = append(sinks, f), append(closers, f)
	}
	if cfg.Audit.Syslog {
		s, err := audit.OpenSyslog()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		sinks, closers = append(sinks, s), append(closers, s)
	}
	t, err := audit.Open(ctx, cfg.Node, mac, store, log, sinks...)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	// The trail's writer stores what is queued before the copies close.
	closeTrail := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := t.Close(cctx); err != nil {
			log.Error("audit: close trail", "err", err)
		}
		closeAll()
	}
	return t, closeTrail, nil
}

func auditCommand() *cli.Command {
	filters := []cli.Flag{
		&cli.StringFlag{Name: "since", Usage: "only records at or after this time (RFC 3339) or this long ago (e.g. 24h)"},
		&cli.StringFlag{Name: "uid", Usage: "only records about this Unique Identifier"},
		&cli.StringFlag{Name: "node", Usage: "only records of this node's chain"},
	}
	return &cli.Command{
		Name:  "audit",
		Usage: "read and verify the tamper-evident audit trail (reads the database directly; verify also needs the HSM)",
		Subcommands: []*cli.Command{
			{
				Name:   "verify",
				Usage:  "recompute every node's chain in the HSM and report the first altered, deleted, inserted or reordered record",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "node", Usage: "verify only this node's chain"}},
				Action: runAuditVerify,
			},
			{Name: "show", Usage: "print records for people", Flags: filters, Action: runAuditShow},
			{
				Name: "export", Usage: "print records for SIEMs",
				Flags:  append([]cli.Flag{&cli.StringFlag{Name: "format", Value: "csv", Usage: "csv (the manual's audit line) or json (one object per line)"}}, filters...),
				Action: runAuditExport,
			},
			{
				Name: "tail", Usage: "print new records as they arrive (Ctrl-C stops)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Value: "csv", Usage: "csv or json"},
					&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "how often to look for new records"},
				},
				Action: runAuditTail,
			},
		},
	}
}

// auditStore opens the database for the audit commands.
func auditStore(c *cli.Context) (*config.Config, storage.AuditStore, func(), error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := openStore(c.Context, cfg, logger(c))
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, store, store.Close, nil
}

func auditFilter(c *cli.Context) (storage.AuditFilter, error) {
	f := storage.AuditFilter{UID: c.String("uid"), Node: c.String("node")}
	if s := c.String("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("--since %q is neither an RFC 3339 time nor a duration", s)
		}
	}
	return f, nil
}

func runAuditVerify(c *cli.Context) error {
	cfg, store, closeStore, err := auditStore(c)
	if err != nil {
		return err
	}
	defer closeStore()
	ks, err := openHSM(c.Context, cfg, logger(c), false)
	if err != nil {
		return err
	}
	defer ks.Close()
	recs, err := store.ListAudit(c.Context, storage.AuditFilter{Node: c.String("node")})
	if err != nil {
		return err
	}
	reps, err := audit.Verify(c.Context, ks, recs)
	if err != nil {
		return err
	}
	anchors, err := auditAnchors(c, store)
	if err != nil {
		return err
	}
	if reps, err = audit.CheckAnchors(c.Context, ks, reps, recs, anchors); err != nil {
		return err
	}
	anchored := map[string]audit.Anchor{}
	for _, a := range anchors {
		if !a.Empty() {
			anchored[a.Node] = a
		}
	}
	var problems []error
	for _, r := range reps {
		if r.Problem != nil {
			fmt.Fprintf(c.App.Writer, "node %s: %d records: record %d %s: %s\n", r.Node, r.Records, r.Problem.Seq, strings.ToUpper(r.Problem.Kind), r.Problem.Detail)
			problems = append(problems, r.Problem)
			continue
		}
		note := " (no anchor: deleting the newest records would not show)"
		if a, ok := anchored[r.Node]; ok {
			note = fmt.Sprintf(" (anchored at record %d, %s)", a.Seq, a.At.Format(time.RFC3339))
		}
		fmt.Fprintf(c.App.Writer, "node %s: %d records: chain verified%s\n", r.Node, r.Records, note)
	}
	if len(reps) == 0 {
		fmt.Fprintln(c.App.Writer, "no audit records")
	}
	if len(problems) > 0 {
		return fmt.Errorf("audit trail failed verification: %w", errors.Join(problems...))
	}
	return nil
}

// auditAnchors reads the chains' anchors (all, or --node's).
func auditAnchors(c *cli.Context, store storage.AuditStore) ([]audit.Anchor, error) {
	as, ok := store.(interface {
		AuditAnchors(ctx context.Context) ([]audit.Anchor, error)
	})
	if !ok {
		return nil, nil
	}
	all, err := as.AuditAnchors(c.Context)
	if err != nil {
		return nil, err
	}
	node := c.String("node")
	out := all[:0]
	for _, a := range all {
		if node == "" || a.Node == node {
			out = append(out, a)
		}
	}
	return out, nil
}

func runAuditShow(c *cli.Context) error {
	_, store, closeStore, err := auditStore(c)
	if err != nil {
		return err
	}
	defer closeStore()
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	recs, err := store.ListAudit(c.Context, f)
	if err != nil {
		return err
	}
	for _, r := range recs {
		result := r.Status
		if r.Reason != "" {
			result += " (" + r.Reason + ")"
		}
		fmt.Fprintf(c.App.Writer, "%s  %s#%d  %-20s uid=%s name=%q user=%q group=%q addr=%s  %s",
			r.Time.Format(time.RFC3339Nano), r.OriginNode, r.Seq, r.Operation, r.UID, r.KeyName, r.User, r.Group, r.Addr, result)
		if r.Message != "" {
			fmt.Fprintf(c.App.Writer, ": %s", r.Message)
		}
		fmt.Fprintln(c.App.Writer)
	}
	return nil
}

func runAuditExport(c *cli.Context) error {
	_, store, closeStore, err := auditStore(c)
	if err != nil {
		return err
	}
	defer closeStore()
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	write, err := auditWriter(c.App.Writer, c.String("format"))
	if err != nil {
		return err
	}
	recs, err := store.ListAudit(c.Context, f)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := write(r); err != nil {
			return err
		}
	}
	return nil
}

// auditJSON is the JSON form of a record.
type auditJSON struct {
	Node      string    `json:"node"`
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"`
	UID       string    `json:"uid,omitempty"`
	KeyName   string    `json:"key_name,omitempty"`
	User      string    `json:"user,omitempty"`
	Group     string    `json:"group,omitempty"`
	Addr      string    `json:"client_address,omitempty"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message,omitempty"`
	Chain     string    `json:"chain"`
}

func auditWriter(w io.Writer, format string) (func(storage.AuditRecord) error, error) {
	switch format {
	case "csv":
		return func(r storage.AuditRecord) error {
			_, err := io.WriteString(w, audit.CSVLine(r))
			return err
		}, nil
	case "json":
		enc := json.NewEncoder(w)
		return func(r storage.AuditRecord) error {
			return enc.Encode(auditJSON{
				Node: r.OriginNode, Seq: r.Seq, Time: r.Time, Operation: r.Operation, UID: r.UID, KeyName: r.KeyName,
				User: r.User, Group: r.Group, Addr: r.Addr, Status: r.Status, Reason: r.Reason, Message: r.Message,
				Chain: base64.StdEncoding.EncodeToString(r.Chain),
			})
		}, nil
	}
	return nil, fmt.Errorf("unknown --format %q (csv or json)", format)
}

func runAuditTail(c *cli.Context) error {
	_, store, closeStore, err := auditStore(c)
	if err != nil {
		return err
	}
	defer closeStore()
	write, err := auditWriter(c.App.Writer, c.String("format"))
	if err != nil {
		return err
	}
	// Start from the current end of every chain; a chain that appears
	// later (a new node) is read from its start.
	seen := map[string]int64{}
	recs, err := store.ListAudit(c.Context, storage.AuditFilter{})
	if err != nil {
		return err
	}
	for _, r := range recs {
		seen[r.OriginNode] = max(seen[r.OriginNode], r.Seq)
	}
	tick := time.NewTicker(c.Duration("interval"))
	defer tick.Stop()
	for {
		select {
		case <-c.Context.Done():
			return nil
		case <-tick.C:
		}
		recs, err := store.ListAudit(c.Context, storage.AuditFilter{Since: time.Now().Add(-time.Hour)})
		if err != nil {
			if c.Context.Err() != nil {
				return nil
			}
			return err
		}
		for _, r := range recs {
			if r.Seq <= seen[r.OriginNode] {
				continue
			}
			seen[r.OriginNode] = r.Seq
			if err := write(r); err != nil {
				return err
			}
		}
		if f, ok := c.App.Writer.(*os.File); ok {
			_ = f.Sync()
		}
	}
}
