package softhsmtests

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strongroom/strongroom/audit"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/pgtest"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/internal/softhsmtest"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ops"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/storage/postgres"
)

// stack is a whole Strongroom node in this process: SoftHSM2 token,
// PostgreSQL, operations layer and TLS server on a loopback port.
type stack struct {
	addr   string
	certs  string // folder with ca.pem, admin.*, client.*
	pg     *pgtest.Server
	dbURL  string
	store  *postgres.Store
	server *server.Server
	// handler is the operations layer, for extra listeners (https_test.go).
	handler server.Handler
	// keys is the token, for checking the audit chain (audit_test.go).
	keys *pkcs11hsm.Keystore
}

// newStack starts a node. Tests that use it must not run in parallel
// (SoftHSM2 is configured per process through SOFTHSM2_CONF).
func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	// Server goroutines may log after the test ends, so not to t.Log.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tok := softhsmtest.NewToken(t)
	cfg := tok.Config(4)
	cfg.AllowMissingKeys = true
	ks, err := pkcs11hsm.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	if _, err := ks.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	pg := pgtest.Start(t)
	store, err := postgres.Open(ctx, pg.URL, "node1", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)

	certs := t.TempDir()
	ca, err := pki.CreateCA("akmmongo", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(certs, pki.FileCA), filepath.Join(certs, pki.FileCAKey)); err != nil {
		t.Fatal(err)
	}
	sc, sk, err := ca.IssueServer("akmmongo", []string{"akmmongo", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePEMFiles(certs, map[string][]byte{pki.FileServerCert: sc, pki.FileServerKey: sk}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []struct {
		base, user, group string
		role              pki.Role
	}{
		{"admin", "admin", "crypto-officers", pki.RoleCryptoOfficer},
		{"client", "client", "key-clients", pki.RoleKeyClient},
		{"auditor", "auditor", "auditors", pki.RoleAuditor},
	} {
		c, k, err := ca.IssueClient(id.user, id.group, id.role, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteCertKeySet(certs, id.base, c, k); err != nil {
			t.Fatal(err)
		}
	}
	tlsCfg, err := server.NewTLSConfig(filepath.Join(certs, pki.FileServerCert), filepath.Join(certs, pki.FileServerKey), filepath.Join(certs, pki.FileCA))
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(ctx, store.Node(), ks, store, log)
	if err != nil {
		t.Fatal(err)
	}
	// ServerInfo as serve sets one: Query's Server Information is expected
	// by TL-M-1 and SASED-M-1 (conformance_test.go).
	svc := ops.New(ops.Config{Keys: ks, Store: store, Logger: log, Audit: trail, ServerInfo: "Strongroom test node"})
	srv, err := server.New(server.Config{TLS: tlsCfg, Logger: log, Handler: svc, IdleTimeout: 15 * time.Minute,
		OnHandshakeError: svc.HandshakeRefused})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		sdctx, c2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer c2()
		_ = srv.Shutdown(sdctx)
		<-done
	})
	return &stack{addr: ln.Addr().String(), certs: certs, pg: pg, dbURL: pg.URL, store: store, server: srv, handler: svc, keys: ks}
}

// sql connects to the node's database as its owner, for tests that change
// rows behind the server's back; exec runs a statement and fails the test
// if it fails.
func (s *stack) sql(t *testing.T) (db *pgx.Conn, exec func(sql string, args ...any)) {
	t.Helper()
	db, err := pgx.Connect(t.Context(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return db, func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(t.Context(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// tlsConfig is a client TLS configuration for one of the issued identities
// ("admin", "client", "auditor").
func (s *stack) tlsConfig(t *testing.T, who string) *tls.Config {
	t.Helper()
	cert, key, _ := pki.CertKeyFiles(who)
	cfg, err := client.ClientTLSConfig(filepath.Join(s.certs, pki.FileCA), filepath.Join(s.certs, cert), filepath.Join(s.certs, key), "akmmongo")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dial opens a fresh connection speaking version v as identity who.
func (s *stack) dial(t *testing.T, who string, v kmip.ProtocolVersion) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, s.addr, s.tlsConfig(t, who))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(conn, v)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
