package softhsmtests

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestServeDumpsNoCore checks that a running server cannot leave a core
// file: its memory holds keys on their way to clients and SoftHSM2's
// objects. (Being non-dumpable, which also keeps ptrace of the same user
// out, cannot be read from outside; the limit can.)
func TestServeDumpsNoCore(t *testing.T) {
	n := newNode(t)
	n.start(t)
	limits, err := os.ReadFile("/proc/" + strconv.Itoa(n.cmd.Process.Pid) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	core := regexp.MustCompile(`(?m)^Max core file size\s+(\S+)\s+(\S+)`).FindSubmatch(limits)
	if core == nil {
		t.Fatalf("no core file size in /proc/PID/limits:\n%s", limits)
	}
	if string(core[1]) != "0" || string(core[2]) != "0" {
		t.Errorf("core file size limit = %s (soft), %s (hard); want 0, 0", core[1], core[2])
	}
}
