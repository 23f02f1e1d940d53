package softhsmtests

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
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
	for _, q := range []string{
		`ALTER TABLE audit_records DISABLE TRIGGER audit_records_guard`,
		`UPDATE audit_records SET user_name = 'somebody-else' WHERE seq = 2`,
	} {
		if _, err := db.Exec(ctxT(t), q); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(n.bin, "--config", n.config, "audit", "verify").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "record 2 ALTERED") {
		t.Fatalf("audit verify after tampering: %v\n%s", err, out)
	}
}
