package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/audit"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/config"
	"github.com/strongroom/strongroom/internal/metrics"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/replication"
	"github.com/strongroom/strongroom/storage/postgres"
)

// metricsListener is the Prometheus endpoint (metrics_listen); its zero
// value is "off" and every method works on it.
type metricsListener struct {
	m    *metrics.Metrics
	srv  *http.Server
	pool *pgxpool.Pool
	errc chan error
}

// startMetrics listens on cfg.MetricsListen, when set, and serves GET
// /metrics; withPprof adds net/http/pprof under /debug/pprof/ (profiling the
// hot path under `strongroom bench`). The HSM and PostgreSQL pools are read
// at each scrape, mirroring lag through replication.Status.
func startMetrics(ctx context.Context, cfg *config.Config, ks *pkcs11hsm.Keystore, store *postgres.Store, withPprof bool, log *slog.Logger) (*metricsListener, error) {
	if cfg.MetricsListen == "" {
		if withPprof {
			return nil, errors.New("serve: --pprof needs metrics_listen (or --metrics-listen)")
		}
		return &metricsListener{}, nil
	}
	m := metrics.New()
	ks.SetCallObserver(m.ObserveHSMCall)
	m.HSMPool(ks.PoolStats)
	m.HSMKeyCache(ks.CacheStats)
	m.PostgresPool(store.PoolStat)
	m.ObjectCache(store.ObjectCacheStats)
	l := &metricsListener{m: m, errc: make(chan error, 1)}
	pcfg, err := pgxpool.ParseConfig(cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("serve: metrics: %w", err)
	}
	pcfg.MaxConns = 1
	if pool, err := pgxpool.NewWithConfig(ctx, pcfg); err == nil {
		l.pool = pool
		local := replication.Local{DB: pool, Node: cfg.Node}
		m.Replication(func(ctx context.Context) ([]replication.PeerStatus, error) {
			return replication.Status(ctx, local, replication.StatusOptions{})
		})
	} else {
		log.Warn("serve: metrics: no replication figures", "err", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.HTTPHandler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	l.srv = &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.MetricsListen)
	if err != nil {
		l.closePool()
		return nil, fmt.Errorf("serve: metrics listen: %w", err)
	}
	go func() {
		err := l.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		l.errc <- err
	}()
	log.Info("strongroom: serving metrics", "addr", cfg.MetricsListen, "pprof", withPprof)
	return l, nil
}

// handler wraps the KMIP handler with the metrics, when on.
func (l *metricsListener) handler(h server.Handler) server.Handler {
	if l.m == nil {
		return h
	}
	return l.m.Handler(h)
}

// observeTrail has the audit trail's group commits counted, when on.
func (l *metricsListener) observeTrail(t *audit.Trail) {
	if l.m != nil {
		t.ObserveCommits(l.m.ObserveAuditCommit)
	}
}

// observer is the connection observer, nil when metrics are off.
func (l *metricsListener) observer() server.Observer {
	if l.m == nil {
		return nil
	}
	return l.m
}

func (l *metricsListener) closePool() {
	if l.pool != nil {
		l.pool.Close()
	}
}

// shutdown stops the endpoint.
func (l *metricsListener) shutdown(ctx context.Context, log *slog.Logger) {
	if l.srv == nil {
		return
	}
	if err := l.srv.Shutdown(ctx); err != nil {
		log.Warn("strongroom: metrics shutdown", "err", err)
	}
	if err := <-l.errc; err != nil {
		log.Warn("strongroom: metrics endpoint", "err", err)
	}
	l.closePool()
}
