package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/replication"
)

// healthPath is where load balancers ask.
const healthPath = "/health"

// healthTimeout bounds each check: a token or database that does not
// answer within it is as good as down for a client waiting on it.
const healthTimeout = 2 * time.Second

// healthCheck is one probe's result in the health body.
type healthCheck struct {
	OK      bool    `json:"ok"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// healthReport is the body of GET /health.
type healthReport struct {
	Node    string                   `json:"node"`
	Healthy bool                     `json:"healthy"`
	Checks  map[string]healthCheck   `json:"checks"`
	Peers   []replication.PeerStatus `json:"peers,omitempty"`
	// PeersError says why the replication figures are missing; it does not
	// make the node unhealthy.
	PeersError string `json:"peers_error,omitempty"`
	// FIPS is the state of Go's FIPS 140-3 module (serve_fips.go).
	FIPS fipsStatus `json:"fips"`
}

// pinger is the database check; *postgres.Store has it.
type pinger interface {
	Ping(ctx context.Context) error
}

// healthChecker answers whether this node can serve a KMIP client now.
// Only the node's own parts decide: the token, the database and the KMIP
// listener. Peers' replication is reported but never makes the node
// unhealthy, since a partition between two nodes would otherwise take both
// out of the load balancer while each could still serve alone.
type healthChecker struct {
	node string
	keys hsm.Keystore
	db   pinger
	// kmipAddr is dialled with kmipTLS (the Crypto Officer's certificate)
	// and the TLS handshake completed; when kmipTLS is nil only a TCP
	// connection is made. No KMIP request is sent, so health checks leave
	// no trace in the audit trail.
	kmipAddr string
	kmipTLS  *tls.Config
	// mirror reads replication status; nil when it could not be set up.
	mirror *pgxpool.Pool
}

// check runs the three probes concurrently and gathers replication figures.
func (h *healthChecker) check(ctx context.Context) healthReport {
	probes := map[string]func(ctx context.Context) error{
		"hsm": func(ctx context.Context) error {
			// One byte from the token's RNG: a cheap call that needs a
			// logged-in session of the pool and a live token.
			_, err := h.keys.Random(ctx, 1)
			return err
		},
		"database": h.db.Ping,
		"kmip":     h.dialKMIP,
	}
	rep := healthReport{Node: h.node, Healthy: true, Checks: map[string]healthCheck{}, FIPS: currentFIPS()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, probe := range probes {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, healthTimeout)
			defer cancel()
			start := time.Now()
			err := probe(pctx)
			c := healthCheck{OK: err == nil, Seconds: time.Since(start).Seconds()}
			if err != nil {
				c.Error = err.Error()
			}
			mu.Lock()
			rep.Checks[name] = c
			rep.Healthy = rep.Healthy && c.OK
			mu.Unlock()
		})
	}
	wg.Wait()
	if h.mirror != nil && rep.Checks["database"].OK {
		sctx, cancel := context.WithTimeout(ctx, healthTimeout)
		peers, err := replication.Status(sctx, replication.Local{DB: h.mirror, Node: h.node}, replication.StatusOptions{})
		cancel()
		if err != nil {
			rep.PeersError = err.Error()
		}
		rep.Peers = peers
	}
	return rep
}

func (h *healthChecker) dialKMIP(ctx context.Context) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", h.kmipAddr)
	if err != nil {
		return fmt.Errorf("kmip listener: %w", err)
	}
	defer nc.Close()
	if h.kmipTLS == nil {
		return nil
	}
	tc := tls.Client(nc, h.kmipTLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("kmip listener: TLS handshake: %w", err)
	}
	return tc.Close()
}

// ServeHTTP answers GET /health: 200 when healthy, else 503, with the
// report as JSON either way.
func (h *healthChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rep := h.check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Healthy {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

// healthListener is serve's health endpoint.
type healthListener struct {
	srv  *http.Server
	pool *pgxpool.Pool
	errc chan error
}

// startHealth listens on cfg.HealthListen, when set. The address is bound
// before serve reports that it runs, so that a port in use fails the start.
func startHealth(ctx context.Context, cfg *config.Config, keys hsm.Keystore, db pinger, log *slog.Logger) (*healthListener, error) {
	if cfg.HealthListen == "" {
		return &healthListener{}, nil
	}
	h := &healthChecker{node: cfg.Node, keys: keys, db: db, kmipAddr: dialAddr(cfg.Listen)}
	if cfg.Admin.Cert != "" {
		tlsCfg, err := client.ClientTLSConfig(cfg.TLS.CA, cfg.Admin.Cert, cfg.Admin.Key, cfg.ServerName)
		if err != nil {
			return nil, fmt.Errorf("serve: health: %w", err)
		}
		h.kmipTLS = tlsCfg
	}
	pcfg, err := pgxpool.ParseConfig(cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("serve: health: %w", err)
	}
	pcfg.MaxConns = 1
	if pool, err := pgxpool.NewWithConfig(ctx, pcfg); err == nil {
		h.mirror = pool
	} else {
		log.Warn("serve: health: no replication figures", "err", err)
	}
	mux := http.NewServeMux()
	mux.Handle(healthPath, h)
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second,
		WriteTimeout: 3 * healthTimeout, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HealthListen)
	if err != nil {
		if h.mirror != nil {
			h.mirror.Close()
		}
		return nil, fmt.Errorf("serve: health listen: %w", err)
	}
	l := &healthListener{srv: srv, pool: h.mirror, errc: make(chan error, 1)}
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		l.errc <- err
	}()
	log.Info("strongroom: serving health checks", "addr", cfg.HealthListen, "path", healthPath)
	return l, nil
}

// shutdown stops the health endpoint first, so that load balancers take
// the node out while KMIP requests in flight finish.
func (l *healthListener) shutdown(ctx context.Context, log *slog.Logger) {
	if l.srv == nil {
		return
	}
	if err := l.srv.Shutdown(ctx); err != nil {
		log.Warn("strongroom: health shutdown", "err", err)
	}
	if err := <-l.errc; err != nil {
		log.Warn("strongroom: health endpoint", "err", err)
	}
	if l.pool != nil {
		l.pool.Close()
	}
}
