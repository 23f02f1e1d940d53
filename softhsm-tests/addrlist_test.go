package softhsmtests

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// cliAddrList runs the administrator's CLI with --addr naming a dead
// server first and node b second: it fails over at connect time and
// answers from b.
func cliAddrList(t *testing.T, c *devCluster) {
	uid, err := c.dial(t, "a").CreateAES(mctx(t), 256)
	if err != nil {
		t.Fatal(err)
	}
	keyOn(t, c.dial(t, "b"), uid)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	out, err := exec.CommandContext(mctx(t), c.vars["STRONGROOM_BIN"], "--config", c.vars["STRONGROOM_CONFIG_A"],
		"key", "show", "--addr", dead+","+c.addr("b"), uid).CombinedOutput()
	if err != nil {
		t.Fatalf("key show --addr %s,%s: %v\n%s", dead, c.addr("b"), err, out)
	}
	if !strings.Contains(string(out), uid) {
		t.Fatalf("key show does not name %s:\n%s", uid, out)
	}
	out, err = exec.CommandContext(mctx(t), c.vars["STRONGROOM_BIN"], "--config", c.vars["STRONGROOM_CONFIG_A"],
		"key", "show", "--addr", dead, uid).CombinedOutput()
	if err == nil || !strings.Contains(string(out), dead) {
		t.Fatalf("key show against a dead server only: %v\n%s", err, out)
	}
}
