package pgtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Server is a cluster started for one test, with a first database.
type Server struct {
	*Cluster
	// URL connects to a fresh database as its owner, a non-superuser role
	// with a random password. It holds the password: do not log it.
	URL string
}

// startTimeout bounds initdb plus server start on a slow CI machine.
const startTimeout = 2 * time.Minute

// Start starts a cluster in a new temporary folder, creates a database and
// stops the cluster and removes the folder when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	acct, err := serverAccount()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := tempDir(acct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("pgtest: remove %s: %v", dir, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	began := time.Now()
	c, err := StartCluster(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("%v", err)
		}
	})
	s := &Server{Cluster: c}
	s.URL = s.NewDatabase(t)
	t.Logf("pgtest: PostgreSQL (%s) on 127.0.0.1:%d ready in %v", c.BinDir, c.Port, time.Since(began).Round(time.Millisecond))
	return s
}

// NewDatabase creates another database with its own role on the server
// and returns its URL (which holds the password: do not log it).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tempDir makes the cluster folder under the system temporary directory,
// or under /tmp when the former is not reachable by the server's account.
// t.TempDir is not used: its folders are private to root and their long
// test-derived names can overflow the Unix socket path limit.
func tempDir(acct *account) (string, error) {
	base := os.TempDir()
	if acct.checkTraversable(base+"/x") != nil {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return dir, nil
}
