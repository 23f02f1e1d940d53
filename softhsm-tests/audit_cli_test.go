package softhsmtests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
)

// TestAuditCLI runs `strongroom audit ...` against a server process
// configured with an audit file.
func TestAuditCLI(t *testing.T) {
	n := newNode(t)
	raw, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	auditFile := filepath.Join(n.dir, "audit.csv")
	cfg["audit"] = map[string]any{"file": auditFile}
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(n.config, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	uid := strings.TrimSpace(n.run(t, "key", "create", "--name", "audited-key"))
	n.run(t, "key", "activate", uid)

	if out := n.run(t, "audit", "verify"); !strings.Contains(out, "node node1:") || !strings.Contains(out, "chain verified") {
		t.Fatalf("audit verify:\n%s", out)
	}
	show := n.run(t, "audit", "show", "--uid", uid)
	if !strings.Contains(show, "Create") || !strings.Contains(show, "Activate") || !strings.Contains(show, `name="audited-key"`) {
		t.Fatalf("audit show --uid:\n%s", show)
	}
	if js := n.run(t, "audit", "export", "--format", "json", "--since", "1h"); !strings.Contains(js, `"operation":"Create"`) || !strings.Contains(js, `"chain":"`) {
		t.Fatalf("audit export json:\n%s", js)
	}
	csv := n.run(t, "audit", "export", "--format", "csv")
	file, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != csv || !strings.Contains(csv, ",Create,node1,") {
		t.Fatalf("audit file and export differ or lack the Create line:\nfile:\n%s\nexport:\n%s", file, csv)
	}

	// Tamper as the database owner: verify fails and names the kind.
	db, err := pgx.Connect(ctxT(t), cfg["database"].(map[string]any)["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())

	// Delete the newest records: what remains is a valid chain, but the
	// anchor (the heartbeat row) names a later record.
	n.run(t, "key", "show", uid)
	var last int64
	eventually(t, 10*time.Second, "the anchor reaches the last record", func() bool {
		var anchored int64
		err := db.QueryRow(ctxT(t), `SELECT (SELECT audit_seq FROM node_heartbeats WHERE origin_node = 'node1'),
			(SELECT max(seq) FROM audit_records WHERE origin_node = 'node1')`).Scan(&anchored, &last)
		return err == nil && anchored == last && last >= 3
	})
	if out := n.run(t, "audit", "verify"); !strings.Contains(out, fmt.Sprintf("anchored at record %d", last)) {
		t.Fatalf("audit verify before the deletion:\n%s", out)
	}
	for _, q := range []string{
		`ALTER TABLE audit_records DISABLE TRIGGER audit_records_guard`,
		fmt.Sprintf(`DELETE FROM audit_records WHERE origin_node = 'node1' AND seq > %d`, last-2),
	} {
		if _, err := db.Exec(ctxT(t), q); err != nil {
			t.Fatal(err)
		}
	}
	truncated := fmt.Sprintf("record %d TRUNCATED: records after seq %d are missing", last-1, last-2)
	out, err := exec.Command(n.bin, "--config", n.config, "audit", "verify").CombinedOutput()
	if err == nil || !strings.Contains(string(out), truncated) {
		t.Fatalf("audit verify after deleting the last two records: %v\n%s", err, out)
	}
	// A restarted server continues the shortened chain but does not move
	// the anchor over the gap: the loss stays visible.
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
	n.start(t)
	if _, err := adminClient(t, n).CreateAES(ctxT(t), 128); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // more than one anchoring interval
	out, err = exec.Command(n.bin, "--config", n.config, "audit", "verify").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "TRUNCATED: records after seq") {
		t.Fatalf("audit verify after a restart on the truncated chain: %v\n%s", err, out)
	}

	if _, err := db.Exec(ctxT(t), `UPDATE audit_records SET user_name = 'somebody-else' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(n.bin, "--config", n.config, "audit", "verify").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "record 2 ALTERED") {
		t.Fatalf("audit verify after tampering: %v\n%s", err, out)
	}
}

// adminClient connects to the node as the Crypto Officer (KMIP 1.2).
func adminClient(t *testing.T, n *node) *client.Client {
	t.Helper()
	c, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
