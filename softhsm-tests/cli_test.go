package softhsmtests

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAdministratorCLI runs the administrator's key commands against a
// server process, finding everything through the configuration file.
func TestAdministratorCLI(t *testing.T) {
	n := newNode(t)
	n.start(t)
	uid := strings.TrimSpace(n.run(t, "key", "create", "--name", "mongo-master", "--group", "mongo"))
	if len(uid) != 36 || strings.ToLower(uid) != uid {
		t.Fatalf("key create printed %q, want a lowercase UUID", uid)
	}
	n.run(t, "key", "activate", uid)
	list := n.run(t, "key", "list")
	if !strings.Contains(list, uid) || !strings.Contains(list, "Active") || !strings.Contains(list, "mongo-master") {
		t.Fatalf("key list does not show the active key:\n%s", list)
	}
	show := n.run(t, "key", "show", uid)
	for _, want := range []string{"State: Active", "Cryptographic Length: 256", "Object Group: mongo"} {
		if !strings.Contains(show, want) {
			t.Fatalf("key show lacks %q:\n%s", want, show)
		}
	}
	n.run(t, "key", "revoke", uid)
	n.run(t, "key", "destroy", uid)
	if show := n.run(t, "key", "show", uid); !strings.Contains(show, "State: Destroyed") {
		t.Fatalf("after destroy:\n%s", show)
	}
	// Failures exit non-zero with a one-line reason.
	cmd := exec.Command(n.bin, "--config", n.config, "key", "activate", uid)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("activating a destroyed key succeeded")
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "strongroom: ") {
		t.Fatalf("failure output is not one line starting with 'strongroom: ':\n%s", out)
	}
	for _, args := range [][]string{{"--help"}, {"init", "--help"}, {"serve", "--help"}, {"key", "--help"}, {"key", "create", "--help"}} {
		if out, err := exec.Command(n.bin, args...).CombinedOutput(); err != nil || len(out) == 0 {
			t.Fatalf("strongroom %v: %v", args, err)
		}
	}
}
