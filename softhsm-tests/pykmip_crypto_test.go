package softhsmtests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPyKMIPCryptoFlows runs softhsm-tests/pykmip/crypto_flows.py against a
// server started by deploy/dev/up.sh: PyKMIP's Encrypt/Decrypt (mongod's
// defaults and explicit AES-CBC), Create Key Pair with Sign/Signature
// Verify, and MAC, checked against Python's own cryptography. The
// cryptographic operations exist from KMIP 1.2 on.
func TestPyKMIPCryptoFlows(t *testing.T) {
	env := startDevEnv(t)
	script := filepath.Join(devRepoRoot(t), "softhsm-tests", "pykmip", "crypto_flows.py")
	for _, v := range []string{"1.2", "1.4", "2.0"} {
		t.Run("KMIP_"+v, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "/usr/bin/python3", script, "--kmip-version", v)
			cmd.Env = env.environ()
			cmd.WaitDelay = 10 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("crypto_flows.py --kmip-version %s: %v\n%s", v, err, out)
			}
			if n := strings.Count(string(out), "PASS "); n < 4 {
				t.Fatalf("only %d steps passed:\n%s", n, out)
			}
			t.Logf("\n%s", strings.TrimSpace(string(out)))
		})
	}
}
