package softhsmtests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/kmip"
)

// TestBackupRestore backs a node's database up with `strongroom backup
// create`, checks that the file holds no key byte, restores it with
// `backup restore` into a fresh PostgreSQL, serves from there with the same
// token and gets the same key bytes back.
func TestBackupRestore(t *testing.T) {
	n := newNode(t)
	n.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := n.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys := map[string][]byte{}
	for i := range 6 {
		var uid string
		if i%2 == 0 {
			uid, err = c.CreateAES(ctx, 256)
		} else {
			k := make([]byte, 32)
			if _, err := rand.Read(k); err != nil {
				t.Fatal(err)
			}
			uid, err = c.RegisterAES(ctx, k)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Activate(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if keys[uid], err = c.GetKey(ctx, uid); err != nil {
			t.Fatal(err)
		}
	}

	file := filepath.Join(t.TempDir(), "node.backup")
	n.run(t, "backup", "create", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode: %v, %v", fi.Mode(), err)
	}
	for _, table := range []string{"objects", "object_events"} {
		if !bytes.Contains(raw, []byte(`"name":"`+table+`"`)) {
			t.Fatalf("the backup lacks table %s", table)
		}
	}
	lower := strings.ToLower(string(raw))
	for uid, k := range keys {
		for _, part := range [][]byte{k, k[:16], k[16:]} {
			for name, f := range map[string]string{
				"raw": string(part), "hex": hex.EncodeToString(part),
				"base64": base64.StdEncoding.EncodeToString(part), "b64url": base64.RawURLEncoding.EncodeToString(part),
			} {
				hay := string(raw)
				if name == "hex" {
					hay = lower
				}
				if strings.Contains(hay, f) {
					t.Fatalf("key %s found in the backup as %s", uid, name)
				}
			}
		}
	}

	// A second node on a fresh database and the same token.
	pg := pgtest.Start(t)
	var cfg map[string]any
	b, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	// Table-driven: every table of the schema is in the backup but the
	// schema version and the heartbeats.
	src, err := pgx.Connect(ctx, cfg["database"].(map[string]any)["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := src.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
		AND tablename NOT IN ('schema_migrations', 'node_heartbeats')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	src.Close(ctx)
	if err != nil || len(tables) < 2 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	for _, table := range tables {
		if !bytes.Contains(raw, []byte(`"name":"`+table+`"`)) {
			t.Errorf("the backup lacks table %s", table)
		}
	}

	r := &node{bin: n.bin, dir: n.dir, config: filepath.Join(n.dir, "restored.json"), addr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	cfg["database"].(map[string]any)["url"] = pg.URL
	cfg["listen"] = r.addr
	delete(cfg, "health_listen")
	delete(cfg, "https_listen")
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r.run(t, "backup", "restore", file)
	if out, err := exec.Command(r.bin, "--config", r.config, "backup", "restore", file).CombinedOutput(); err == nil || !strings.Contains(string(out), "empty database") {
		t.Fatalf("a second restore into the same database: %v\n%s", err, out)
	}
	r.start(t)
	rc, err := r.dial(t, kmip.ProtocolVersion{Major: 1, Minor: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for uid, want := range keys {
		got, err := rc.GetKey(ctx, uid)
		if err != nil {
			t.Fatalf("Get %s after restore: %v", uid, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Get %s after restore: different key bytes", uid)
		}
		if s, err := stateOf(ctx, rc, uid); err != nil || s != "Active" {
			t.Fatalf("state of %s after restore: %s, %v", uid, s, err)
		}
	}
}
