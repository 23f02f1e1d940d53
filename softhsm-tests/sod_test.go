package softhsmtests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// setConfig sets a top-level field of the node's configuration file.
func (n *node) setConfig(t *testing.T, key string, value any) {
	t.Helper()
	raw, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg[key] = value
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(n.config, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSeparationOfDuties: with separation_of_duties on, even the Crypto
// Officer's certificate may not create, register or destroy over KMIP;
// the administrator's CLI does it on the server, each side in its own
// audit chain, and both chains verify.
func TestSeparationOfDuties(t *testing.T) {
	n := newNode(t)
	n.setConfig(t, "separation_of_duties", true)
	n.start(t)
	ctx := ctxT(t)
	cl, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.CreateAES(ctx, 256); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("KMIP create: %v, want Permission Denied", err)
	}
	if _, err := cl.RegisterAES(ctx, make([]byte, 32)); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("KMIP register: %v, want Permission Denied", err)
	}
	uid := strings.TrimSpace(n.run(t, "key", "create", "--name", "sod-key", "--group", "mongo", "--activate"))
	if len(uid) != 36 {
		t.Fatalf("key create printed %q", uid)
	}
	if key, err := cl.GetKey(ctx, uid); err != nil || len(key) != 32 {
		t.Fatalf("KMIP get of the CLI's key: %v", err)
	}
	// A grant made with the CLI (bound by an HSM MAC) works for a key
	// client of another group, until it is revoked.
	kc, err := n.dialAs(t, filepath.Join(n.dir, "certs", "ca.pem"), filepath.Join(n.dir, "certs", "client.pem"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if _, err := kc.GetKey(ctx, uid); !isReason(err, ttlv.ResultReasonItemNotFound) {
		t.Fatalf("key client get of group mongo's key: %v, want Item Not Found", err)
	}
	n.run(t, "key", "grant", uid, "--group", "key-clients")
	if key, err := kc.GetKey(ctx, uid); err != nil || len(key) != 32 {
		t.Fatalf("key client get after key grant: %v", err)
	}
	n.run(t, "key", "revoke-grant", uid, "--group", "key-clients")
	if _, err := kc.GetKey(ctx, uid); !isReason(err, ttlv.ResultReasonItemNotFound) {
		t.Fatalf("key client get after revoke-grant: %v, want Item Not Found", err)
	}
	if err := cl.Revoke(ctx, uid, ttlv.RevocationReasonCodeCessationOfOperation, "done"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Destroy(ctx, uid); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("KMIP destroy: %v, want Permission Denied", err)
	}
	n.run(t, "key", "grant", uid, "--group", "other-team")
	n.run(t, "key", "revoke-grant", uid, "--group", "other-team")
	n.run(t, "key", "destroy", uid)

	verify := n.run(t, "audit", "verify")
	if !strings.Contains(verify, "node node1:") || !strings.Contains(verify, "node node1-admin:") || strings.Count(verify, "chain verified") != 2 {
		t.Fatalf("audit verify:\n%s", verify)
	}
	show := n.run(t, "audit", "show")
	for _, want := range []string{"Create", "Register", "Destroy"} {
		found := false
		for _, line := range strings.Split(show, "\n") {
			if strings.Contains(line, "node1#") && strings.Contains(line, want) && strings.Contains(line, "Permission Denied") {
				found = true
			}
		}
		if !found {
			t.Errorf("no refused %s in the server's chain:\n%s", want, show)
		}
	}
	if !strings.Contains(show, "Key Grant") || !strings.Contains(show, "Key Revoke Grant") {
		t.Errorf("the grants are not in the audit trail:\n%s", show)
	}
	if !strings.Contains(show, "node1-admin#") || !strings.Contains(show, `user="local:`) {
		t.Errorf("the CLI's operations are not in the node1-admin chain:\n%s", show)
	}
}
