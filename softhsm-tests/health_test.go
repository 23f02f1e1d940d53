package softhsmtests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// health asks a node's health endpoint; it returns the HTTP status and the
// decoded body.
func (c *devCluster) health(node string) (int, map[string]any, error) {
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(c.vars["STRONGROOM_HEALTH_"+strings.ToUpper(node)])
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("health body: %w", err)
	}
	return resp.StatusCode, body, nil
}

// sickNode stops node a's PostgreSQL only: its KMIP port still accepts, but
// its health endpoint answers 503 and HAProxy sends every new connection to
// b; when the database returns, a is healthy and mirrored again.
func sickNode(t *testing.T, c *devCluster) {
	code, body, err := c.health("a")
	if err != nil || code != http.StatusOK {
		t.Fatalf("health of a before: %d, %v, %v", code, body, err)
	}
	peers, _ := body["peers"].([]any)
	if len(peers) != 1 {
		t.Fatalf("health of a lists %d peers, want 1: %v", len(peers), body)
	}
	if p, _ := peers[0].(map[string]any); p["peer"] != "b" || p["heartbeat_age"] == nil || p["lag_bytes"] == nil {
		t.Fatalf("health of a: peer figures missing: %v", peers[0])
	}

	uid, err := c.dial(t, "a").CreateAES(mctx(t), 256)
	if err != nil {
		t.Fatal(err)
	}
	want := keyOn(t, c.dial(t, "b"), uid)

	if out, err := c.script(t, time.Minute, "stop-db", "a"); err != nil {
		t.Fatalf("cluster.sh stop-db a: %v\n%s", err, out)
	}
	restarted := false
	defer func() {
		if !restarted {
			_, _ = c.script(t, time.Minute, "start-db", "a")
		}
	}()
	waitFor(t, 10*time.Second, "a unhealthy", func() error {
		code, body, err := c.health("a")
		if err != nil {
			return err
		}
		checks, _ := body["checks"].(map[string]any)
		db, _ := checks["database"].(map[string]any)
		if code != http.StatusServiceUnavailable || db["ok"] != false {
			return fmt.Errorf("status %d, database check %v", code, db)
		}
		return nil
	})
	// HAProxy's check runs every second and needs two failures (fall 2).
	time.Sleep(3 * time.Second)
	for i := range 8 {
		cl, err := c.tryDial("lb")
		if err != nil {
			t.Fatalf("connection %d through the balancer: %v", i, err)
		}
		got, err := cl.GetKey(mctx(t), uid)
		cl.Close()
		if err != nil {
			t.Fatalf("Get through the balancer (connection %d) while a's database is down: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Get through the balancer (connection %d): different key bytes", i)
		}
	}

	if out, err := c.script(t, time.Minute, "start-db", "a"); err != nil {
		t.Fatalf("cluster.sh start-db a: %v\n%s", err, out)
	}
	restarted = true
	waitFor(t, 30*time.Second, "a healthy and mirrored again", func() error {
		code, body, err := c.health("a")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("status %d: %v", code, body)
		}
		peers, _ := body["peers"].([]any)
		if len(peers) != 1 {
			return fmt.Errorf("peers %v", body["peers"])
		}
		if p, _ := peers[0].(map[string]any); p["problems"] != nil {
			return fmt.Errorf("peer problems %v", p["problems"])
		}
		return nil
	})
}
