package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/internal/metrics"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/replication"
)

// fakeHandler answers Get with success and everything else with Item Not
// Found.
type fakeHandler struct{}

func (fakeHandler) ServeKMIP(_ context.Context, _ server.Peer, req ttlv.Item) ttlv.Item {
	parsed, err := kmip.ParseRequest(req)
	if err != nil {
		panic(err)
	}
	resp := kmip.Response{Version: parsed.Header.Version}
	for _, it := range parsed.Items {
		if it.Operation == ttlv.OperationGet {
			resp.Items = append(resp.Items, kmip.ResponseItem{Operation: it.Operation, Status: ttlv.ResultStatusSuccess})
		} else {
			resp.Items = append(resp.Items, kmip.Failure(it.Operation, nil, &kmip.Error{Reason: ttlv.ResultReasonItemNotFound}))
		}
	}
	return resp.TTLV()
}

func (fakeHandler) Malformed(context.Context, server.Peer, []byte, error) ttlv.Item {
	return ttlv.Struct(ttlv.TagResponseMessage)
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m := metrics.New()
	h := m.Handler(fakeHandler{})
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	get := kmip.NewRequest(v, kmip.RequestItem{Operation: ttlv.OperationGet, Payload: ttlv.Struct(ttlv.TagRequestPayload)})
	loc := kmip.NewRequest(v, kmip.RequestItem{Operation: ttlv.OperationLocate, Payload: ttlv.Struct(ttlv.TagRequestPayload)})
	for range 3 {
		h.ServeKMIP(context.Background(), server.Peer{}, get)
	}
	h.ServeKMIP(context.Background(), server.Peer{}, loc)
	h.Malformed(context.Background(), server.Peer{}, nil, errors.New("bad"))
	m.ConnOpened()
	m.ConnOpened()
	m.ConnClosed()
	m.HandshakeFailed()
	m.ObserveHSMCall("unwrap", time.Millisecond)
	m.ObserveAuditCommit(14, 2*time.Millisecond, nil)
	m.ObserveAuditCommit(3, time.Millisecond, errors.New("commit failed"))
	m.HSMPool(func() (int, int) { return 4, 1 })
	m.PostgresPool(func() *pgxpool.Stat { return nil })
	m.Replication(func(context.Context) ([]replication.PeerStatus, error) {
		return []replication.PeerStatus{{Peer: "b", LagBytes: 42, HeartbeatAge: time.Second}}, nil
	})

	out := scrape(t, m)
	for _, want := range []string{
		`strongroom_kmip_operations_total{operation="Get",reason="",status="Success"} 3`,
		`strongroom_kmip_operations_total{operation="Locate",reason="Item Not Found",status="Operation Failed"} 1`,
		`strongroom_kmip_request_duration_seconds_count{operation="Get"} 3`,
		`strongroom_kmip_malformed_requests_total 1`,
		`strongroom_kmip_connections_open 1`,
		`strongroom_kmip_tls_handshake_failures_total 1`,
		`strongroom_hsm_call_duration_seconds_count{call="unwrap"} 1`,
		`strongroom_audit_commit_duration_seconds_count{result="ok"} 1`,
		`strongroom_audit_commit_duration_seconds_count{result="failed"} 1`,
		`strongroom_audit_commit_records_sum 17`,
		`strongroom_hsm_sessions 4`,
		`strongroom_hsm_sessions_in_use 1`,
		`strongroom_replication_lag_bytes{peer="b"} 42`,
		`strongroom_replication_heartbeat_age_seconds{peer="b"} 1`,
		`strongroom_replication_status_up 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
