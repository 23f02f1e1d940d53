package softhsmtests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// devEnv is a whole development environment started by deploy/dev/up.sh:
// SoftHSM2 token, PostgreSQL cluster, certificates and the real
// `strongroom serve` process, all under dir.
type devEnv struct {
	dir  string
	vars map[string]string // the assignments of dir/env
}

// devEnvVars are the variables deploy/dev/up.sh promises in DIR/env.
var devEnvVars = []string{
	"STRONGROOM_ADDR", "STRONGROOM_SERVER_NAME", "STRONGROOM_CA",
	"STRONGROOM_ADMIN_CERT", "STRONGROOM_ADMIN_KEY", "STRONGROOM_ADMIN_PEM",
	"STRONGROOM_CLIENT_CERT", "STRONGROOM_CLIENT_KEY", "STRONGROOM_DATABASE_URL",
	"STRONGROOM_BIN", "STRONGROOM_CONFIG", "SOFTHSM2_CONF",
}

// devRepoRoot is the repository root: this file's folder's parent.
func devRepoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(file))
}

// startDevEnv runs deploy/dev/up.sh into a fresh folder and registers
// down.sh and the folder's removal as cleanups. The folder is short (unix
// socket paths are limited to 107 bytes) and traversable by the postgres
// user, which runs the cluster when the tests run as root.
func startDevEnv(t *testing.T) *devEnv {
	t.Helper()
	root := devRepoRoot(t)
	dir, err := os.MkdirTemp("", "sr-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := devScript(ctx, root, "down.sh", dir).CombinedOutput(); err != nil {
			t.Errorf("down.sh: %v\n%s", err, out)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := devScript(ctx, root, "up.sh", dir).CombinedOutput(); err != nil {
		logs := ""
		for _, f := range []string{"init.log", "strongroom.log", "pg.log"} {
			if b, rerr := os.ReadFile(filepath.Join(dir, f)); rerr == nil {
				logs += "\n--- " + f + " ---\n" + devTail(string(b), 40)
			}
		}
		t.Fatalf("deploy/dev/up.sh: %v\n%s%s", err, out, logs)
	}
	vars, err := devSourceEnv(ctx, filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range devEnvVars {
		if vars[name] == "" {
			t.Fatalf("%s/env does not set %s", dir, name)
		}
	}
	return &devEnv{dir: dir, vars: vars}
}

// devScript runs deploy/dev/NAME DIR with a port chosen by the script rather
// than one a developer may have exported for `make run`.
func devScript(ctx context.Context, root, name, dir string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "deploy", "dev", name), dir)
	cmd.Dir = root
	cmd.Env = devWithoutEnv(os.Environ(), "KMIP_PORT", "PG_PORT", "STRONGROOM_CONFIG")
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// devSourceEnv lets bash evaluate the file, exactly as a user's `. DIR/env`
// does, and returns the variables it sets.
func devSourceEnv(ctx context.Context, path string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-c", `set -a; . "$1"; env -0`, "bash", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, kv := range bytes.Split(out, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

// environ is the process environment with the dev environment's variables.
func (e *devEnv) environ() []string {
	env := devWithoutEnv(os.Environ(), devEnvVars...)
	for _, name := range devEnvVars {
		env = append(env, name+"="+e.vars[name])
	}
	return env
}

func devWithoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

func devTail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n") + "\n"
}
