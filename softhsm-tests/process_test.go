package softhsmtests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/internal/softhsmtest"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
)

// buildOnce builds the strongroom binary once per test process.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "strongroom-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "strongroom")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/strongroom/strongroom/cmd/strongroom").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// node is a strongroom server running as a separate process, configured
// with `strongroom init` exactly as an administrator would.
type node struct {
	bin, dir, config, addr string
	cmd                    *exec.Cmd
}

func newNode(t *testing.T) *node {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf, err := softhsmtest.WriteConf(dir)
	if err != nil {
		t.Fatal(err)
	}
	module, err := softhsmtest.Module()
	if err != nil {
		t.Fatal(err)
	}
	pin := randHex(t, 8)
	util := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "strongroom", "--so-pin", randHex(t, 8), "--pin", pin)
	util.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := util.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "token.pin"), []byte(pin), 0o600); err != nil {
		t.Fatal(err)
	}
	pg := pgtest.Start(t)
	n := &node{bin: bin, dir: dir, config: filepath.Join(dir, "strongroom.json"), addr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	n.run(t, "init", "--certs", filepath.Join(dir, "certs"), "--listen", n.addr, "--database-url", pg.URL,
		"--hsm-module", module, "--token-label", "strongroom", "--pin-file", filepath.Join(dir, "token.pin"),
		"--softhsm2-conf", conf, "--node", "node1")
	return n
}

// run runs a strongroom command against the node's configuration.
func (n *node) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(n.bin, append([]string{"--config", n.config}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("strongroom %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start starts `strongroom serve` and waits until it accepts TLS.
func (n *node) start(t *testing.T) {
	t.Helper()
	n.cmd = exec.Command(n.bin, "--config", n.config, "--log-level", "warn", "serve")
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := n.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("server did not accept TLS within 30s")
}

func (n *node) dial(t *testing.T, v kmip.ProtocolVersion) (*client.Client, error) {
	certs := filepath.Join(n.dir, "certs")
	cfg, err := client.ClientTLSConfig(filepath.Join(certs, pki.FileCA), filepath.Join(certs, pki.FileAdminPEM), "", "akmmongo")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, n.addr, cfg)
	if err != nil {
		return nil, err
	}
	return client.New(conn, v), nil
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
