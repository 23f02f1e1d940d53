package softhsmtests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// devCluster is deploy/dev/cluster.sh's two mirrored nodes and HAProxy.
type devCluster struct {
	root, dir string
	vars      map[string]string
	db        map[string]*pgxpool.Pool // node -> superuser pool on its database
}

// clusterEnvVars are the variables cluster.sh promises in DIR/env.
var clusterEnvVars = append([]string{"STRONGROOM_ADDR_A", "STRONGROOM_ADDR_B", "STRONGROOM_ADDR_LB",
	"STRONGROOM_CONFIG_A", "STRONGROOM_CONFIG_B", "STRONGROOM_ADMIN_DATABASE_URL_A", "STRONGROOM_ADMIN_DATABASE_URL_B"},
	devEnvVars...)

func startCluster(t *testing.T) *devCluster {
	t.Helper()
	c := &devCluster{root: devRepoRoot(t), db: map[string]*pgxpool.Pool{}}
	dir, err := os.MkdirTemp("", "sr-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	t.Cleanup(func() {
		for _, p := range c.db {
			p.Close()
		}
		if out, err := c.script(t, 2*time.Minute, "down"); err != nil {
			t.Errorf("cluster.sh down: %v\n%s", err, out)
		}
	})
	if out, err := c.script(t, 5*time.Minute, "up"); err != nil {
		logs := ""
		for _, n := range []string{"a", "b"} {
			for _, f := range []string{"init.log", "strongroom.log", "pg.log", "mirror.log"} {
				if b, rerr := os.ReadFile(filepath.Join(dir, n, f)); rerr == nil {
					logs += "\n--- " + n + "/" + f + " ---\n" + devTail(string(b), 30)
				}
			}
		}
		t.Fatalf("deploy/dev/cluster.sh up: %v\n%s%s", err, out, logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.vars, err = devSourceEnv(ctx, filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range clusterEnvVars {
		if c.vars[name] == "" {
			t.Fatalf("%s/env does not set %s", dir, name)
		}
	}
	for _, n := range []string{"a", "b"} {
		p, err := pgxpool.New(ctx, c.vars["STRONGROOM_ADMIN_DATABASE_URL_"+strings.ToUpper(n)])
		if err != nil {
			t.Fatal(err)
		}
		c.db[n] = p
	}
	return c
}

// script runs deploy/dev/cluster.sh CMD DIR [args].
func (c *devCluster) script(t *testing.T, timeout time.Duration, cmd string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	x := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(c.root, "deploy", "dev", "cluster.sh"), cmd, c.dir}, args...)...)
	x.Dir = c.root
	x.Env = devWithoutEnv(os.Environ(), "KMIP_PORT", "PG_PORT", "LB_PORT", "STRONGROOM_CONFIG")
	x.WaitDelay = 10 * time.Second
	return x.CombinedOutput()
}

// addr is the KMIP address of node a, b or the load balancer (lb).
func (c *devCluster) addr(node string) string {
	return c.vars["STRONGROOM_ADDR_"+strings.ToUpper(node)]
}

// dial connects with the Crypto Officer certificate in KMIP 1.4.
func (c *devCluster) dial(t *testing.T, node string) *client.Client {
	t.Helper()
	cl, err := c.tryDial(node)
	if err != nil {
		t.Fatalf("dial %s: %v", node, err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func (c *devCluster) tryDial(node string) (*client.Client, error) {
	cfg, err := client.ClientTLSConfig(c.vars["STRONGROOM_CA"], c.vars["STRONGROOM_ADMIN_PEM"], "", c.vars["STRONGROOM_SERVER_NAME"])
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, c.addr(node), cfg)
	if err != nil {
		return nil, err
	}
	return client.New(conn, kmip.ProtocolVersion{Major: 1, Minor: 4}), nil
}

// exec runs SQL as the superuser on a node's database.
func (c *devCluster) exec(t *testing.T, node, sql string, args ...any) {
	t.Helper()
	if _, err := c.db[node].Exec(mctx(t), sql, args...); err != nil {
		t.Fatalf("node %s: %s: %v", node, sql, err)
	}
}

// subscription names node's subscription (there is one peer).
func (c *devCluster) subscription(t *testing.T, node string) string {
	t.Helper()
	var s string
	if err := c.db[node].QueryRow(mctx(t), `SELECT subname FROM pg_subscription`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func mctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keyOn fetches a key's material through a node, waiting for it to arrive.
func keyOn(t *testing.T, cl *client.Client, uid string) []byte {
	t.Helper()
	var key []byte
	waitFor(t, 20*time.Second, "key "+uid, func() (err error) {
		key, err = cl.GetKey(mctx(t), uid)
		return err
	})
	return key
}

func stateOf(ctx context.Context, cl *client.Client, uid string) (string, error) {
	attrs, err := cl.GetAttributes(ctx, uid, "State")
	if err != nil {
		return "", err
	}
	for _, a := range attrs {
		if a.Name == "State" {
			v, _ := a.Value.EnumValue()
			return ttlv.State(v).String(), nil
		}
	}
	return "", fmt.Errorf("no State in %v", attrs)
}

// TestMirrorCluster runs the mirroring scenarios against one cluster made
// by deploy/dev/cluster.sh: two nodes, each with its own SoftHSM2 token
// (sharing the KEK, moved by the ceremony) and PostgreSQL, mirrored both ways, HAProxy in front.
func TestMirrorCluster(t *testing.T) {
	c := startCluster(t)
	a, b := c.dial(t, "a"), c.dial(t, "b")

	t.Run("KEKByCeremony", func(t *testing.T) { kekByCeremony(t, c) })

	t.Run("CreatedOnAFetchedOnB", func(t *testing.T) {
		uid, err := a.CreateAES(mctx(t), 256)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Activate(mctx(t), uid); err != nil {
			t.Fatal(err)
		}
		ka, kb := keyOn(t, a, uid), keyOn(t, b, uid)
		if len(ka) != 32 || !bytes.Equal(ka, kb) {
			t.Fatalf("key %s through b differs from through a (lengths %d, %d)", uid, len(ka), len(kb))
		}
		lb := c.dial(t, "lb")
		if k := keyOn(t, lb, uid); !bytes.Equal(k, ka) {
			t.Fatal("key through the load balancer differs")
		}
	})

	t.Run("ConflictingChangesConverge", func(t *testing.T) {
		// Cut the link both ways so each node decides alone: b revokes the
		// Pre-Active key while a activates it. Forward-only state merge makes
		// both end Deactivated, whatever order the events arrive in.
		uid, err := a.CreateAES(mctx(t), 256)
		if err != nil {
			t.Fatal(err)
		}
		keyOn(t, b, uid)
		for _, n := range []string{"a", "b"} {
			c.exec(t, n, `ALTER SUBSCRIPTION `+c.subscription(t, n)+` DISABLE`)
		}
		if err := b.Revoke(mctx(t), uid, ttlv.RevocationReasonCodeCessationOfOperation, ""); err != nil {
			t.Fatalf("revoke on b: %v", err)
		}
		if err := a.Activate(mctx(t), uid); err != nil {
			t.Fatalf("activate on a: %v", err)
		}
		sa, _ := stateOf(mctx(t), a, uid)
		sb, _ := stateOf(mctx(t), b, uid)
		if sa != "Active" || sb != "Deactivated" {
			t.Fatalf("while cut off: a %s, b %s; want Active, Deactivated", sa, sb)
		}
		for _, n := range []string{"a", "b"} {
			c.exec(t, n, `ALTER SUBSCRIPTION `+c.subscription(t, n)+` ENABLE`)
		}
		for _, x := range []struct {
			name string
			cl   *client.Client
		}{{"a", a}, {"b", b}} {
			waitFor(t, 30*time.Second, "state on "+x.name, func() error {
				s, err := stateOf(mctx(t), x.cl, uid)
				if err == nil && s != "Deactivated" {
					err = fmt.Errorf("state %s", s)
				}
				return err
			})
		}
	})

	t.Run("DisabledSubscriptionCatchesUp", func(t *testing.T) {
		sub := c.subscription(t, "b")
		c.exec(t, "b", `ALTER SUBSCRIPTION `+sub+` DISABLE`)
		var uids []string
		for range 20 {
			uid, err := a.CreateAES(mctx(t), 128)
			if err != nil {
				t.Fatal(err)
			}
			uids = append(uids, uid)
		}
		time.Sleep(500 * time.Millisecond)
		if _, err := b.GetKey(mctx(t), uids[0]); err == nil {
			t.Fatal("b has a key created while its subscription was disabled")
		}
		c.exec(t, "b", `ALTER SUBSCRIPTION `+sub+` ENABLE`)
		for _, uid := range uids {
			if !bytes.Equal(keyOn(t, b, uid), keyOn(t, a, uid)) {
				t.Fatalf("key %s differs after catch-up", uid)
			}
		}
	})

	t.Run("DestroyedOnBScrubbedOnA", func(t *testing.T) {
		uid, err := a.CreateAES(mctx(t), 256)
		if err != nil {
			t.Fatal(err)
		}
		keyOn(t, b, uid)
		if err := b.Destroy(mctx(t), uid); err != nil {
			t.Fatalf("destroy on b: %v", err)
		}
		for _, n := range []string{"a", "b"} {
			waitFor(t, 30*time.Second, "scrubbed blob on "+n, func() error {
				var scrubbed bool
				if err := c.db[n].QueryRow(mctx(t), `SELECT blob IS NULL FROM objects WHERE uid = $1`, uid).Scan(&scrubbed); err != nil {
					return err
				}
				if !scrubbed {
					return errors.New("blob still there")
				}
				return nil
			})
		}
		if s, err := stateOf(mctx(t), a, uid); err != nil || s != "Destroyed" {
			t.Fatalf("state on a: %s, %v", s, err)
		}
	})

	t.Run("ReplicationLagUnderLoad", func(t *testing.T) { measureLag(t, c) })

	t.Run("GrantAndRevocationMirrored", func(t *testing.T) { grantAndRevocationMirrored(t, c, a) })

	t.Run("TruncationSeenByPeer", func(t *testing.T) { truncationSeenByPeer(t, c) })

	t.Run("NoLoop", func(t *testing.T) {
		// Quiet now except the heartbeats (one small row update per node
		// every 2 s): the key tables stop changing, no apply fails, and WAL
		// grows only by the heartbeats.
		counts := func(n string) string {
			var s string
			if err := c.db[n].QueryRow(mctx(t), `SELECT (SELECT count(*) FROM objects)::text || '/' ||
				(SELECT count(*) FROM object_events)::text || '/' ||
				(SELECT count(*) FROM objects WHERE blob IS NULL)::text`).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		waitFor(t, 30*time.Second, "same rows on a and b", func() error {
			if x, y := counts("a"), counts("b"); x != y {
				return fmt.Errorf("a %s, b %s", x, y)
			}
			return nil
		})
		lsn := func(n string) int64 {
			var v int64
			if err := c.db[n].QueryRow(mctx(t), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := map[string]int64{"a": lsn("a"), "b": lsn("b")}
		rows := counts("a")
		time.Sleep(5 * time.Second)
		for _, n := range []string{"a", "b"} {
			if d := lsn(n) - before[n]; d > 64<<10 {
				t.Errorf("node %s wrote %d bytes of WAL in 5 idle seconds", n, d)
			} else {
				t.Logf("node %s: %d bytes of WAL in 5 idle seconds (heartbeats)", n, d)
			}
			if got := counts(n); got != rows {
				t.Errorf("node %s rows changed while idle: %s -> %s", n, rows, got)
			}
			var applyErrors, syncErrors int64
			if err := c.db[n].QueryRow(mctx(t), `SELECT coalesce(sum(apply_error_count), 0)::int8, coalesce(sum(sync_error_count), 0)::int8
				FROM pg_stat_subscription_stats`).Scan(&applyErrors, &syncErrors); err != nil {
				t.Fatal(err)
			}
			if applyErrors != 0 || syncErrors != 0 {
				t.Errorf("node %s: %d apply errors, %d sync errors", n, applyErrors, syncErrors)
			}
			out, err := exec.Command(c.vars["STRONGROOM_BIN"], "--config", c.vars["STRONGROOM_CONFIG_"+strings.ToUpper(n)],
				"mirror", "status", "--check").CombinedOutput()
			if err != nil {
				t.Errorf("node %s: mirror status --check: %v\n%s", n, err, out)
			}
		}
	})

	t.Run("SickNodeTakenOut", func(t *testing.T) { sickNode(t, c) })

	t.Run("CLIAddressListFailsOver", func(t *testing.T) { cliAddrList(t, c) })

	t.Run("FailoverThroughLoadBalancer", func(t *testing.T) { failover(t, c) })
}

// measureLag creates keys through node a from several clients and times,
// for each, the acknowledgement of Create (the row is committed on a) to
// the row's arrival in b's database, polled every 0.5 ms.
func measureLag(t *testing.T, c *devCluster) {
	const workers, perWorker = 4, 100
	acked := sync.Map{} // uid -> time.Time
	seen := map[string]time.Time{}
	start := time.Now()
	stop := make(chan struct{})
	pollDone := make(chan error, 1)
	go func() {
		for {
			rows, err := c.db["b"].Query(context.Background(), `SELECT uid::text FROM objects
				WHERE origin_node = 'a' AND created_at >= $1`, start.Add(-time.Second))
			if err != nil {
				pollDone <- err
				return
			}
			now := time.Now()
			for rows.Next() {
				var u string
				if err := rows.Scan(&u); err != nil {
					rows.Close()
					pollDone <- err
					return
				}
				if _, ok := seen[u]; !ok {
					seen[u] = now
				}
			}
			rows.Close()
			select {
			case <-stop:
				pollDone <- nil
				return
			case <-time.After(500 * time.Microsecond):
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		cl := c.dial(t, "a")
		wg.Go(func() {
			for range perWorker {
				uid, err := cl.CreateAES(context.Background(), 256)
				if err != nil {
					errs <- err
					return
				}
				acked.Store(uid, time.Now())
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	if err := <-pollDone; err != nil {
		t.Fatal(err)
	}
	var lags []time.Duration
	missing := 0
	acked.Range(func(k, v any) bool {
		s, ok := seen[k.(string)]
		if !ok {
			missing++
			return true
		}
		lags = append(lags, max(0, s.Sub(v.(time.Time))))
		return true
	})
	if missing > 0 {
		t.Fatalf("%d of %d keys never reached b", missing, workers*perWorker)
	}
	slices.Sort(lags)
	pct := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	t.Logf("replication lag a→b under %d concurrent Create clients (%d keys, %.0f Create/s): p50 %v, p90 %v, p99 %v, max %v",
		workers, len(lags), float64(len(lags))/elapsed.Seconds(), pct(0.50), pct(0.90), pct(0.99), lags[len(lags)-1])
}

// failover runs a mongod-like client through HAProxy (Create, Get,
// Activate, Get Attributes, reconnecting on any error) while node a's
// server is killed with SIGKILL and restarted; afterwards every
// acknowledged key is on both nodes with the same bytes, and both nodes
// hold the same set of objects.
func failover(t *testing.T, c *devCluster) {
	type ackedKey struct {
		uid string
		key []byte
	}
	var (
		mu     sync.Mutex
		keys   []ackedKey
		fails  int
		stopCh = make(chan struct{})
		done   = make(chan struct{})
	)
	// Three clients; each reconnects through the balancer every five
	// sequences (and after any error), so round-robin keeps spreading
	// connections over both nodes and some are on a when it dies.
	var clients sync.WaitGroup
	for range 3 {
		clients.Go(func() {
			var cl *client.Client
			uses := 0
			for {
				select {
				case <-stopCh:
					if cl != nil {
						cl.Close()
					}
					return
				default:
				}
				if cl != nil && uses == 5 {
					cl.Close()
					cl, uses = nil, 0
				}
				if cl == nil {
					var err error
					if cl, err = c.tryDial("lb"); err != nil {
						mu.Lock()
						fails++
						mu.Unlock()
						time.Sleep(50 * time.Millisecond)
						continue
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				key, uid, err := mongodSequence(ctx, cl)
				cancel()
				uses++
				mu.Lock()
				if err != nil {
					fails++
					cl.Close()
					cl, uses = nil, 0
				} else {
					keys = append(keys, ackedKey{uid, key})
				}
				mu.Unlock()
			}
		})
	}
	go func() { clients.Wait(); close(done) }()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(keys)
	}
	waitFor(t, 20*time.Second, "first keys through the load balancer", func() error {
		if count() < 20 {
			return errors.New("fewer than 20 keys")
		}
		return nil
	})
	pidText, err := os.ReadFile(filepath.Join(c.dir, "a", "strongroom.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 node a's server (pid %d): %v", pid, err)
	}
	killedAt := count()
	// Long enough for HAProxy's check to mark a down (fall 2, inter 1 s):
	// first connections to a are refused and redispatched, then a is out.
	time.Sleep(3 * time.Second)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("node a's server (pid %d) still exists after SIGKILL: %v", pid, err)
	}
	waitFor(t, 20*time.Second, "keys acknowledged while node a is dead", func() error {
		if count() < killedAt+20 {
			return errors.New("no progress through node b")
		}
		return nil
	})
	if out, err := c.script(t, 2*time.Minute, "start-node", "a"); err != nil {
		t.Fatalf("cluster.sh start-node a: %v\n%s", err, out)
	}
	restartedAt := count()
	// HAProxy puts a back after two good checks; round-robin then sends it
	// new connections again (the client reconnects only on errors, so a's
	// share is checked on the database below, not per connection).
	time.Sleep(3 * time.Second)
	waitFor(t, 20*time.Second, "keys acknowledged after node a restarted", func() error {
		if count() < restartedAt+20 {
			return errors.New("no progress")
		}
		return nil
	})
	close(stopCh)
	<-done
	mu.Lock()
	defer mu.Unlock()
	t.Logf("failover: %d keys acknowledged (%d before the kill, %d while a was down), %d failed attempts or reconnects",
		len(keys), killedAt, restartedAt-killedAt, fails)

	// Keys acknowledged well after the kill (the first ones may have been
	// in flight on a) were made by b; before the kill and after the
	// restart, a made some too: the balancer used both nodes.
	origins := func(ks []ackedKey) map[string]int {
		m := map[string]int{}
		for _, k := range ks {
			var origin string
			waitFor(t, 20*time.Second, "key "+k.uid+" on b", func() error {
				return c.db["b"].QueryRow(mctx(t), `SELECT origin_node FROM objects WHERE uid = $1`, k.uid).Scan(&origin)
			})
			m[origin]++
		}
		return m
	}
	before, down, after := origins(keys[:killedAt]), origins(keys[killedAt+10:restartedAt]), origins(keys[restartedAt:])
	t.Logf("origin of acknowledged keys: before the kill %v, while a was down %v, after the restart %v", before, down, after)
	if before["a"] == 0 || down["a"] != 0 || after["a"] == 0 {
		t.Fatal("the balancer did not use a before the kill, avoid it while dead, and use it again after the restart")
	}
	a, b := c.dial(t, "a"), c.dial(t, "b")
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.uid] {
			t.Fatalf("key %s acknowledged twice", k.uid)
		}
		seen[k.uid] = true
		if !bytes.Equal(keyOn(t, a, k.uid), k.key) || !bytes.Equal(keyOn(t, b, k.uid), k.key) {
			t.Fatalf("key %s differs on a or b from what the client got", k.uid)
		}
	}
	objects := func(n string) string {
		var s string
		if err := c.db[n].QueryRow(mctx(t), `SELECT count(*)::text || '/' || md5(string_agg(uid::text || blob_length, ',' ORDER BY uid)) FROM objects`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor(t, 30*time.Second, "same objects on a and b", func() error {
		if x, y := objects("a"), objects("b"); x != y {
			return fmt.Errorf("a %s, b %s", x, y)
		}
		return nil
	})
}

// mongodSequence is what mongod does with a new master key: Create,
// Get, Activate, Get Attributes (State).
func mongodSequence(ctx context.Context, cl *client.Client) (key []byte, uid string, err error) {
	if uid, err = cl.CreateAES(ctx, 256); err != nil {
		return nil, "", err
	}
	if key, err = cl.GetKey(ctx, uid); err != nil {
		return nil, "", err
	}
	if err = cl.Activate(ctx, uid); err != nil {
		return nil, "", err
	}
	if s, err := stateOf(ctx, cl, uid); err != nil || s != "Active" {
		return nil, "", fmt.Errorf("state %q, %v", s, err)
	}
	return key, uid, nil
}
