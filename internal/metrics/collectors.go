package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strongroom/strongroom/replication"
	"github.com/strongroom/strongroom/storage/postgres"
)

var (
	pgTotal    = prometheus.NewDesc("strongroom_postgres_pool_connections", "PostgreSQL pool connections open.", nil, nil)
	pgAcquired = prometheus.NewDesc("strongroom_postgres_pool_connections_acquired", "PostgreSQL pool connections in use.", nil, nil)
	pgIdle     = prometheus.NewDesc("strongroom_postgres_pool_connections_idle", "PostgreSQL pool connections idle.", nil, nil)
	pgMax      = prometheus.NewDesc("strongroom_postgres_pool_connections_max", "PostgreSQL pool size limit.", nil, nil)
	pgWaits    = prometheus.NewDesc("strongroom_postgres_pool_acquire_waits_total", "Acquisitions that had to wait for a connection.", nil, nil)
	pgWaitSec  = prometheus.NewDesc("strongroom_postgres_pool_acquire_wait_seconds_total", "Time spent waiting for a pool connection.", nil, nil)

	ocEntries = prometheus.NewDesc("strongroom_object_cache_entries", "Objects (wrapped rows, never key material) held in memory.", nil, nil)
	ocLive    = prometheus.NewDesc("strongroom_object_cache_live", "1 when the object cache's change listener is listening and the cache serves.", nil, nil)
	ocHits    = prometheus.NewDesc("strongroom_object_cache_hits_total", "Object reads answered from memory.", nil, nil)
	ocMisses  = prometheus.NewDesc("strongroom_object_cache_misses_total", "Object reads that went to PostgreSQL.", nil, nil)
	ocInvals  = prometheus.NewDesc("strongroom_object_cache_invalidations_total", "Objects dropped from the cache because their rows changed.", nil, nil)

	replLagBytes = prometheus.NewDesc("strongroom_replication_lag_bytes", "WAL written here that the peer has not confirmed.", []string{"peer"}, nil)
	replLagSec   = prometheus.NewDesc("strongroom_replication_lag_seconds", "The peer's replay lag as its walsender reports it.", []string{"peer"}, nil)
	replHBAge    = prometheus.NewDesc("strongroom_replication_heartbeat_age_seconds", "Age of the peer's last heartbeat applied here (-1: none yet).", []string{"peer"}, nil)
	replHealthy  = prometheus.NewDesc("strongroom_replication_peer_healthy", "1 when mirroring with the peer has no problem.", []string{"peer"}, nil)
	replUp       = prometheus.NewDesc("strongroom_replication_status_up", "1 when the mirroring status could be read.", nil, nil)
)

type pgCollector struct{ stat func() *pgxpool.Stat }

func (c *pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pgTotal, pgAcquired, pgIdle, pgMax, pgWaits, pgWaitSec} {
		ch <- d
	}
}

func (c *pgCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(pgTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(pgAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(pgIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(pgMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(pgWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(pgWaitSec, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

type objectCacheCollector struct {
	stats func() postgres.ObjectCacheStats
}

func (c *objectCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ocEntries, ocLive, ocHits, ocMisses, ocInvals} {
		ch <- d
	}
}

func (c *objectCacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	if !s.Enabled {
		return
	}
	live := 0.0
	if s.Live {
		live = 1
	}
	ch <- prometheus.MustNewConstMetric(ocEntries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(ocLive, prometheus.GaugeValue, live)
	ch <- prometheus.MustNewConstMetric(ocHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(ocMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(ocInvals, prometheus.CounterValue, float64(s.Invalidations))
}

type replicationCollector struct {
	status func(ctx context.Context) ([]replication.PeerStatus, error)
}

func (c *replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{replLagBytes, replLagSec, replHBAge, replHealthy, replUp} {
		ch <- d
	}
}

func (c *replicationCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	peers, err := c.status(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(replUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(replUp, prometheus.GaugeValue, 1)
	for _, p := range peers {
		age := -1.0
		if p.HeartbeatAge >= 0 {
			age = p.HeartbeatAge.Seconds()
		}
		healthy := 0.0
		if p.Healthy() {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(replLagBytes, prometheus.GaugeValue, float64(p.LagBytes), p.Peer)
		ch <- prometheus.MustNewConstMetric(replLagSec, prometheus.GaugeValue, p.LagTime.Seconds(), p.Peer)
		ch <- prometheus.MustNewConstMetric(replHBAge, prometheus.GaugeValue, age, p.Peer)
		ch <- prometheus.MustNewConstMetric(replHealthy, prometheus.GaugeValue, healthy, p.Peer)
	}
}
