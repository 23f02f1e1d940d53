package softhsmtests

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// run runs a strongroom command with node's configuration.
func (c *devCluster) run(t *testing.T, node string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.vars["STRONGROOM_BIN"], append([]string{"--config", c.vars["STRONGROOM_CONFIG_"+strings.ToUpper(node)]}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dialPEM connects to node with a combined certificate and key file and
// sends Discover Versions (TLS 1.3 reports a refused certificate on the
// first read).
func (c *devCluster) dialPEM(node, pemFile string) (*client.Client, error) {
	cfg, err := client.ClientTLSConfig(c.vars["STRONGROOM_CA"], pemFile, "", c.vars["STRONGROOM_SERVER_NAME"])
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, c.addr(node), cfg)
	if err != nil {
		return nil, err
	}
	cl := client.New(conn, kmip.ProtocolVersion{Major: 1, Minor: 4})
	if err := discover(cl); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// grantAndRevocationMirrored: a key client certificate issued on a, a key
// of another group created on a and granted to the client's group with
// `strongroom key grant` on a: node b lets the client use the key (the
// grant and its HSM MAC are mirrored and verify there). Then `ca revoke`
// on a: node b refuses the certificate at the handshake. The grant is in
// a's administrator chain, which b holds and verifies.
func grantAndRevocationMirrored(t *testing.T, c *devCluster, a *client.Client) {
	dir := t.TempDir()
	out, err := c.run(t, "a", "ca", "issue", "--role", "key-client", "--user", "mirror1", "--group", "g-mirror1", "--out", dir)
	m := serialLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("ca issue on a: %v\n%s", err, out)
	}
	serial, pemFile := m[1], filepath.Join(dir, "mirror1.pem")
	uid, err := a.CreateAES(mctx(t), 256, kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, "owners")))
	if err != nil {
		t.Fatal(err)
	}
	var kb *client.Client
	waitFor(t, 20*time.Second, "key client on b", func() (err error) {
		kb, err = c.dialPEM("b", pemFile)
		return err
	})
	defer func() { kb.Close() }()
	waitFor(t, 20*time.Second, "key "+uid+" on b", func() error {
		var n int
		if err := c.db["b"].QueryRow(mctx(t), `SELECT count(*) FROM objects WHERE uid = $1`, uid).Scan(&n); err != nil || n == 1 {
			return err
		}
		return errors.New("not there yet")
	})
	if _, err := kb.GetKey(mctx(t), uid); !isReason(err, ttlv.ResultReasonItemNotFound) {
		t.Fatalf("key client get on b before the grant: %v, want Item Not Found", err)
	}
	if out, err := c.run(t, "a", "key", "grant", uid, "--group", "g-mirror1"); err != nil {
		t.Fatalf("key grant on a: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the grant made on a used on b", func() error {
		_, err := kb.GetKey(mctx(t), uid)
		return err
	})
	if out, err := c.run(t, "b", "ca", "list"); err != nil || !strings.Contains(out, serial) {
		t.Errorf("ca list on b lacks %s issued on a: %v\n%s", serial, err, out)
	}

	if out, err := c.run(t, "a", "ca", "revoke", serial); err != nil {
		t.Fatalf("ca revoke on a: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "b refuses the certificate revoked on a", func() error {
		cl, err := c.dialPEM("b", pemFile)
		if err == nil {
			cl.Close()
			return errors.New("handshake accepted")
		}
		return nil
	})

	// a's administrator chain (the grant) is on b and verifies there, up
	// to its anchor.
	waitFor(t, 20*time.Second, "a's administrator chain on b", func() error {
		out, err := c.run(t, "b", "audit", "verify", "--node", "a-admin")
		if err != nil || !strings.Contains(out, "node a-admin:") || !strings.Contains(out, "chain verified (anchored at record") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if out, err := c.run(t, "b", "audit", "show", "--node", "a-admin"); err != nil || !strings.Contains(out, "Key Grant") {
		t.Fatalf("audit show --node a-admin on b: %v\n%s", err, out)
	}
}

// truncationSeenByPeer: deleting the newest records of a's chain from b's
// copy (as b's superuser) is reported by `audit verify` on b, thanks to a's
// anchor mirrored in its heartbeat row.
func truncationSeenByPeer(t *testing.T, c *devCluster) {
	var last int64
	waitFor(t, 20*time.Second, "a's anchor on b reaches a's last record", func() error {
		var anchored int64
		if err := c.db["b"].QueryRow(mctx(t), `SELECT (SELECT audit_seq FROM node_heartbeats WHERE origin_node = 'a'),
			(SELECT max(seq) FROM audit_records WHERE origin_node = 'a')`).Scan(&anchored, &last); err != nil {
			return err
		}
		if anchored != last || last < 3 {
			return fmt.Errorf("anchor %d, last record %d", anchored, last)
		}
		return nil
	})
	if out, err := c.run(t, "b", "audit", "verify", "--node", "a"); err != nil || !strings.Contains(out, "chain verified") {
		t.Fatalf("audit verify --node a on b: %v\n%s", err, out)
	}
	// b's copy only: b never publishes a's rows.
	c.exec(t, "b", `ALTER TABLE audit_records DISABLE TRIGGER audit_records_guard`)
	c.exec(t, "b", `DELETE FROM audit_records WHERE origin_node = 'a' AND seq > $1`, last-2)
	c.exec(t, "b", `ALTER TABLE audit_records ENABLE TRIGGER audit_records_guard`)
	out, err := c.run(t, "b", "audit", "verify", "--node", "a")
	if err == nil || !strings.Contains(out, fmt.Sprintf("TRUNCATED: records after seq %d are missing", last-2)) {
		t.Fatalf("audit verify --node a on b after deleting a's newest records there: %v\n%s", err, out)
	}
}
