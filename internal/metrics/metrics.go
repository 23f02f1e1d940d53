// Package metrics is Strongroom's Prometheus endpoint: KMIP operations
// (counts by result and reason, latency), connections and failed
// handshakes, HSM calls and session pool use, the PostgreSQL pool, and
// mirroring lag. The KMIP layers never import Prometheus: they take small
// hooks (server.Observer, a wrapping server.Handler, pkcs11 Config.ObserveCall)
// that this package implements.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/replication"
	"github.com/strongroom/strongroom/storage/postgres"
)

// latencyBuckets run from 50 µs to about 6.5 s: a Get is under a
// millisecond on a real HSM, a stalled database takes seconds.
var latencyBuckets = prometheus.ExponentialBuckets(0.00005, 2, 18)

// Metrics holds the registry and the instruments. Create it with New.
type Metrics struct {
	reg        *prometheus.Registry
	operations *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	malformed  prometheus.Counter
	conns      prometheus.Gauge
	handshakes prometheus.Counter
	hsmCalls   *prometheus.HistogramVec
	auditDur   *prometheus.HistogramVec
	auditRecs  prometheus.Histogram
}

var _ server.Observer = (*Metrics)(nil)

// New makes the registry with the process and Go runtime collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strongroom_kmip_operations_total",
			Help: "KMIP batch items answered, by operation, result status and result reason.",
		}, []string{"operation", "status", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strongroom_kmip_request_duration_seconds",
			Help:    "Time to answer one KMIP request message, by operation (\"batch\" for several items).",
			Buckets: latencyBuckets,
		}, []string{"operation"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strongroom_kmip_malformed_requests_total",
			Help: "Request frames that did not decode or exceeded the size limit.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strongroom_kmip_connections_open",
			Help: "KMIP connections open (TLS handshake included).",
		}),
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strongroom_kmip_tls_handshake_failures_total",
			Help: "TLS handshakes that failed or presented no verified client certificate.",
		}),
		hsmCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strongroom_hsm_call_duration_seconds",
			Help:    "Time an HSM call held its pooled session, by call.",
			Buckets: latencyBuckets,
		}, []string{"call"}),
		auditDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strongroom_audit_commit_duration_seconds",
			Help:    "Time the audit trail's writer took for one group commit (seal, insert, commit), by result; every audited request waits for one.",
			Buckets: latencyBuckets,
		}, []string{"result"}),
		auditRecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strongroom_audit_commit_records",
			Help:    "Audit records carried by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	m.reg.MustRegister(m.operations, m.duration, m.malformed, m.conns, m.handshakes, m.hsmCalls, m.auditDur, m.auditRecs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// HTTPHandler serves the registry in the Prometheus text format.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ConnOpened implements server.Observer.
func (m *Metrics) ConnOpened() { m.conns.Inc() }

// ConnClosed implements server.Observer.
func (m *Metrics) ConnClosed() { m.conns.Dec() }

// HandshakeFailed implements server.Observer.
func (m *Metrics) HandshakeFailed() { m.handshakes.Inc() }

// ObserveHSMCall is the pkcs11 Config.ObserveCall hook.
func (m *Metrics) ObserveHSMCall(call string, d time.Duration) {
	m.hsmCalls.WithLabelValues(call).Observe(d.Seconds())
}

// ObserveAuditCommit is the audit Trail's commit observer.
func (m *Metrics) ObserveAuditCommit(records int, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.auditDur.WithLabelValues(result).Observe(d.Seconds())
	m.auditRecs.Observe(float64(records))
}

// HSMPool exports the session pool's size and use, read at each scrape.
func (m *Metrics) HSMPool(stats func() (size, inUse int)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strongroom_hsm_sessions", Help: "Sessions in the HSM session pool.",
		}, func() float64 { s, _ := stats(); return float64(s) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strongroom_hsm_sessions_in_use", Help: "HSM pool sessions held by calls.",
		}, func() float64 { _, u := stats(); return float64(u) }))
}

// HSMKeyCache exports the Get key cache's size, hits and misses, read at
// each scrape.
func (m *Metrics) HSMKeyCache(stats func() (size int, hits, misses uint64)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strongroom_hsm_key_cache_entries", Help: "Keys held unwrapped inside the HSM for the next Get.",
		}, func() float64 { n, _, _ := stats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "strongroom_hsm_key_cache_hits_total", Help: "Gets served from a key already unwrapped inside the HSM.",
		}, func() float64 { _, h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "strongroom_hsm_key_cache_misses_total", Help: "Gets that had to unwrap the key in the HSM.",
		}, func() float64 { _, _, m := stats(); return float64(m) }))
}

// PostgresPool exports the pgx pool's statistics, read at each scrape.
func (m *Metrics) PostgresPool(stat func() *pgxpool.Stat) {
	m.reg.MustRegister(&pgCollector{stat: stat})
}

// ObjectCache exports the object cache's use (storage/postgres/cache.go).
func (m *Metrics) ObjectCache(stats func() postgres.ObjectCacheStats) {
	m.reg.MustRegister(&objectCacheCollector{stats: stats})
}

// Replication exports each mirroring peer's lag, read at each scrape
// (bounded to 2 s so that a slow database cannot hang the scrape).
func (m *Metrics) Replication(status func(ctx context.Context) ([]replication.PeerStatus, error)) {
	m.reg.MustRegister(&replicationCollector{status: status})
}
