package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is one running PostgreSQL server in its own folder.
type Cluster struct {
	// Dir holds the data folder, the Unix socket and the server log.
	Dir string
	// Port is the TCP port on 127.0.0.1 (and the socket's number).
	Port int
	// BinDir is where initdb, pg_ctl and postgres were found.
	BinDir string

	acct *account
}

// serverSettings are appended to postgresql.conf. wal_level and the
// replication limits let mirroring tests publish and subscribe without a
// restart; fsync stays on so tests see real commit costs.
const serverSettings = `
# added by pgtest
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
fsync = on
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_logical_replication_workers = 8
max_worker_processes = 16
max_slot_wal_keep_size = 1GB
logging_collector = off
`

// hbaConf trusts only the superuser on the Unix socket (whose folder only
// the server's user can enter) and demands SCRAM passwords over TCP.
const hbaConf = `# written by pgtest
local   all          postgres                  trust
host    all          all       127.0.0.1/32    scram-sha-256
host    replication  all       127.0.0.1/32    scram-sha-256
`

// StartCluster runs initdb into dir/data (dir is created if needed and must
// not already hold a cluster) and starts the server on 127.0.0.1:port, or
// on a free port when port is 0. The caller must call Stop; dir is left for
// the caller to remove.
func StartCluster(ctx context.Context, dir string, port int) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	// The socket path must fit in sun_path (107 bytes).
	if len(dir)+len("/.s.PGSQL.65535") > 107 {
		return nil, fmt.Errorf("pgtest: folder path %s is too long for a Unix socket", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := acct.checkTraversable(dir); err != nil {
		return nil, err
	}
	if err := acct.own(dir); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, BinDir: bin, acct: acct}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		p := port
		if p == 0 {
			if p, err = freePort(); err != nil {
				return nil, err
			}
		}
		c.Port = p
		err = c.start(ctx)
		if err == nil {
			return c, nil
		}
		// Another process may take a free port between our probe and the
		// server's bind; try a different one.
		if port != 0 || attempt == 2 || !strings.Contains(err.Error(), "already in use") {
			return nil, err
		}
	}
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

// LogFile is the server's log.
func (c *Cluster) LogFile() string { return filepath.Join(c.Dir, "postgres.log") }

func (c *Cluster) initdb(ctx context.Context) error {
	// --no-sync: the cluster is thrown away, and initdb's own fsyncs cost
	// about a second; the running server keeps fsync on.
	if out, err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres",
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	conf := filepath.Join(c.dataDir(), "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = fmt.Fprintf(f, serverSettings, strings.ReplaceAll(c.Dir, "'", "''"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: write %s: %w", conf, err)
	}
	// Rewriting an existing file keeps its owner and mode.
	if err := os.WriteFile(filepath.Join(c.dataDir(), "pg_hba.conf"), []byte(hbaConf), 0o600); err != nil {
		return fmt.Errorf("pgtest: write pg_hba.conf: %w", err)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-l", c.LogFile(),
		"-o", "-p "+strconv.Itoa(c.Port), "-w", "-t", "60", "start")
	if err == nil {
		return nil
	}
	// pg_ctl may have left a server behind (for example when ctx ended).
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, _ = c.run(stopCtx, "pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop")
	return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\nlog:\n%s", c.Port, err, out, c.logTail(20))
}

// Stop shuts the server down (fast mode: open sessions are ended). Stopping
// a stopped cluster is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir(), "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// run runs a PostgreSQL program as the server's account with a clean
// environment, so PGDATA, PGPORT and locale settings of the caller do not
// leak into the cluster.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, prog), args...)
	cmd.Dir = c.Dir
	cmd.Env = []string{"PATH=" + c.BinDir + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = c.acct.sysProcAttr()
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

func (c *Cluster) logTail(n int) string {
	b, err := os.ReadFile(c.LogFile())
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// AdminDSN is a connection string for the superuser "postgres" over the
// Unix socket (trust authentication) to database dbname. Only processes
// that can enter Dir (root or the server's user) can use it. Mirroring
// tests need it: CREATE SUBSCRIPTION requires a superuser on PostgreSQL 15.
func (c *Cluster) AdminDSN(dbname string) string {
	return fmt.Sprintf("host='%s' port=%d user=postgres dbname='%s' sslmode=disable",
		dsnQuote(c.Dir), c.Port, dsnQuote(dbname))
}

func dsnQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// CreateDatabase creates a role with a random password and a database it
// owns, and returns a postgres:// URL that logs in over TCP with SCRAM. The
// URL holds the password: do not log it.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	suffix, err := randomHex(6)
	if err != nil {
		return "", err
	}
	password, err := randomHex(24)
	if err != nil {
		return "", err
	}
	verifier, err := scramVerifier(password)
	if err != nil {
		return "", err
	}
	role, db := "role_"+suffix, "db_"+suffix
	conn, err := pgx.Connect(ctx, c.AdminDSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect as superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, verifier),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", db, role),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("pgtest: create database %s: %w", db, err)
		}
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(role, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String(), nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pgtest: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
