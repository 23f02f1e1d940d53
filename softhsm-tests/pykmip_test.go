package softhsmtests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pykmipVersions are the protocol versions PyKMIP 0.10 can speak
// (kmip.core.enums.KMIPVersion stops at 2.0). mongod uses 1.2 and, with
// kmipUseLegacyProtocol, 1.0; Percona uses 1.0.
var pykmipVersions = []string{"1.0", "1.1", "1.2", "1.3", "1.4", "2.0"}

// TestPyKMIPMongodFlows runs softhsm-tests/pykmip/mongod_flows.py (Debian's
// python3-pykmip, a client nobody here wrote) against a server started by
// deploy/dev/up.sh: mongod's first start, restart, state polling and
// rotation, Percona's Register flow, Secret Data, Locate and Destroy, at
// every protocol version PyKMIP knows.
func TestPyKMIPMongodFlows(t *testing.T) {
	env := startDevEnv(t)
	script := filepath.Join(devRepoRoot(t), "softhsm-tests", "pykmip", "mongod_flows.py")
	for _, v := range pykmipVersions {
		t.Run("KMIP_"+v, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// /usr/bin/python3: the python3 first on PATH may lack PyKMIP.
			cmd := exec.CommandContext(ctx, "/usr/bin/python3", script, "--kmip-version", v)
			cmd.Env = env.environ()
			cmd.WaitDelay = 10 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("mongod_flows.py --kmip-version %s: %v\n%s", v, err, out)
			}
			if n := strings.Count(string(out), "PASS "); n < 9 {
				t.Fatalf("only %d steps passed:\n%s", n, out)
			}
			t.Logf("\n%s", strings.TrimSpace(string(out)))
		})
	}
}
