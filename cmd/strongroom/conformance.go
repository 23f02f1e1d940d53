package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/conformance"
)

// conformanceCommand replays OASIS KMIP XML test cases against a running
// server (issue 3). Its table, docs/CONFORMANCE.md, is made by
// `make conformance`.
func conformanceCommand() *cli.Command {
	return &cli.Command{
		Name:      "conformance",
		Usage:     "replay KMIP XML test case files (OASIS format) against a running server",
		ArgsUsage: "PATH... (files, or folders searched for *.xml)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "server address (default: from the configuration)"},
			&cli.StringFlag{Name: "transport", Value: "tls", Usage: "tls (TTLV over TLS), or KMIP over HTTPS: https-ttlv, https-json, https-xml"},
			&cli.StringSliceFlag{Name: "profile-transport", Usage: "PROFILE=TRANSPORT: replay that profile's files over another transport than --transport (MSGENC-JSON=https-json); repeat"},
			&cli.StringFlag{Name: "ca", Usage: "CA certificate (default: from the configuration)"},
			&cli.StringFlag{Name: "cert", Usage: "client certificate, or certificate+key PEM (default: the Crypto Officer's)"},
			&cli.StringFlag{Name: "key", Usage: "client private key (when not in --cert)"},
			&cli.StringFlag{Name: "server-name", Usage: "name expected in the server certificate (default: from the configuration, else the address's host)"},
			&cli.StringFlag{Name: "markdown", Usage: "also write the results as a Markdown table to `FILE`"},
			&cli.BoolFlag{Name: "markdown-append", Usage: "append a section to the --markdown file instead of replacing it"},
			&cli.StringFlag{Name: "markdown-title", Value: "Results", Usage: "heading of the Markdown section"},
			&cli.StringFlag{Name: "markdown-command", Usage: "command shown as the way to regenerate the file (default: this command line)"},
			&cli.StringFlag{Name: "markdown-reasons", Usage: "reasons file (docs/conformance-reasons.txt) whose entries fill the reason column of failing files"},
			&cli.StringSliceFlag{Name: "profile", Usage: "run only files of these profiles (file-name prefix: BL, SKLC, CS-BC, MSGENC-*...); repeat or separate with commas"},
			&cli.StringSliceFlag{Name: "exclude-profile", Usage: "skip files of these profiles"},
			&cli.BoolFlag{Name: "report-only", Usage: "exit with status 0 even when files fail (still non-zero if the server cannot be reached)"},
			&cli.DurationFlag{Name: "timeout", Value: time.Minute, Usage: "limit for one request and its response"},
		},
		Action: runConformance,
	}
}

func runConformance(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("conformance: give at least one test case file or folder")
	}
	files, err := conformanceFiles(c.Args().Slice())
	if err != nil {
		return err
	}
	files = filterProfiles(files, c.StringSlice("profile"), c.StringSlice("exclude-profile"))
	if len(files) == 0 {
		return errors.New("conformance: no test case file of the selected profiles")
	}
	byProfile, err := profileTransports(c.StringSlice("profile-transport"))
	if err != nil {
		return err
	}
	transports := map[string]string{}
	runners := map[string]*conformance.Runner{}
	for _, f := range files {
		t := transportFor(byProfile, conformance.Profile(f), c.String("transport"))
		transports[f] = t
		if runners[t] != nil {
			continue
		}
		addr, tlsCfg, err := conformanceTarget(c, t)
		if err != nil {
			return err
		}
		dial := func(ctx context.Context) (conformance.RoundTripper, error) {
			return client.DialTransport(ctx, t, addr, tlsCfg)
		}
		// One connection first, so that an unreachable server is one
		// error, not a failure per file.
		pre, err := dial(c.Context)
		if err != nil {
			return fmt.Errorf("conformance: %s: %w", t, err)
		}
		pre.(io.Closer).Close()
		runners[t] = &conformance.Runner{Dial: dial, StepTimeout: c.Duration("timeout")}
	}

	var reasons []*conformanceReason
	if rf := c.String("markdown-reasons"); rf != "" {
		if reasons, err = loadConformanceReasons(rf); err != nil {
			return err
		}
	}
	var results []conformance.Result
	failed := 0
	for _, f := range files {
		res := runners[transports[f]].RunFile(c.Context, f)
		results = append(results, res)
		if res.Passed {
			fmt.Printf("PASS %s\n", f)
		} else {
			failed++
			fmt.Printf("FAIL %s: %s\n", f, res.Reason())
		}
	}
	fmt.Printf("%d passed, %d failed\n", len(results)-failed, failed)
	if md := c.String("markdown"); md != "" {
		cmd := c.String("markdown-command")
		if cmd == "" {
			cmd = strings.Join(append([]string{"strongroom"}, os.Args[1:]...), " ")
		}
		if err := writeConformanceMarkdown(md, c.Bool("markdown-append"), c.String("markdown-title"), cmd, results, reasons, transports); err != nil {
			return err
		}
	}
	if failed > 0 && !c.Bool("report-only") {
		return fmt.Errorf("conformance: %d of %d files failed", failed, len(results))
	}
	return nil
}

// profileTransports parses --profile-transport values (PROFILE=TRANSPORT,
// also comma-separated).
func profileTransports(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		for _, kv := range strings.Split(v, ",") {
			prof, t, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || prof == "" || t == "" {
				return nil, fmt.Errorf("conformance: --profile-transport %q: want PROFILE=TRANSPORT", kv)
			}
			out[prof] = t
		}
	}
	return out, nil
}

// transportFor is the transport of a profile's files: its --profile-transport
// (a name ending in "*" matches as a prefix), else def.
func transportFor(byProfile map[string]string, prof, def string) string {
	if t, ok := byProfile[prof]; ok {
		return t
	}
	for p, t := range byProfile {
		if strings.HasSuffix(p, "*") && strings.HasPrefix(prof, strings.TrimSuffix(p, "*")) {
			return t
		}
	}
	return def
}

// conformanceTarget resolves the address and TLS configuration of a
// transport. --addr is the address of --transport; the HTTPS address of
// another transport comes from https_listen.
func conformanceTarget(c *cli.Context, transport string) (string, *tls.Config, error) {
	addr := c.String("addr")
	if isHTTPS(transport) != isHTTPS(c.String("transport")) {
		addr = ""
	}
	return clientTarget(c, "conformance", addr, isHTTPS(transport))
}

// isHTTPS reports the KMIP over HTTPS transports.
func isHTTPS(transport string) bool { return strings.HasPrefix(transport, "https") }

// conformanceFiles expands the arguments: files as given, folders to their
// *.xml files (recursively), each folder's files sorted.
func conformanceFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".xml") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("conformance: no .xml file under %s", a)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// filterProfiles keeps the files whose profile (conformance.Profile) is in
// include (all when empty) and not in exclude. A name ending in "*" matches
// as a prefix ("MSGENC-*").
func filterProfiles(files, include, exclude []string) []string {
	match := func(list []string, prof string) bool {
		for _, p := range list {
			for _, q := range strings.Split(p, ",") {
				q = strings.TrimSpace(q)
				if q == prof || (strings.HasSuffix(q, "*") && strings.HasPrefix(prof, strings.TrimSuffix(q, "*"))) {
					return true
				}
			}
		}
		return false
	}
	var out []string
	for _, f := range files {
		prof := conformance.Profile(f)
		if (len(include) == 0 || match(include, prof)) && !match(exclude, prof) {
			out = append(out, f)
		}
	}
	return out
}
