package metrics

import (
	"context"
	"time"

	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Handler wraps h so that every message is counted and timed. It reads only
// the operation of each request batch item and the result status and reason
// of each response batch item: never payloads.
func (m *Metrics) Handler(h server.Handler) server.Handler { return &handler{m: m, next: h} }

type handler struct {
	m    *Metrics
	next server.Handler
}

func (h *handler) ServeKMIP(ctx context.Context, peer server.Peer, req ttlv.Item) ttlv.Item {
	start := time.Now()
	resp := h.next.ServeKMIP(ctx, peer, req)
	d := time.Since(start)
	items := req.FindAll(ttlv.TagBatchItem)
	label := "unknown"
	switch {
	case len(items) == 1:
		label = operationName(items[0])
	case len(items) > 1:
		label = "batch"
	}
	h.m.duration.WithLabelValues(label).Observe(d.Seconds())
	for _, it := range resp.FindAll(ttlv.TagBatchItem) {
		status, reason := "", ""
		if v, ok := it.Find(ttlv.TagResultStatus); ok {
			status = enumName(ttlv.TagResultStatus, v)
		}
		if v, ok := it.Find(ttlv.TagResultReason); ok {
			reason = enumName(ttlv.TagResultReason, v)
		}
		h.m.operations.WithLabelValues(operationName(it), status, reason).Inc()
	}
	return resp
}

func (h *handler) Malformed(ctx context.Context, peer server.Peer, raw []byte, err error) ttlv.Item {
	h.m.malformed.Inc()
	return h.next.Malformed(ctx, peer, raw, err)
}

func operationName(batchItem ttlv.Item) string {
	v, ok := batchItem.Find(ttlv.TagOperation)
	if !ok {
		return "unknown"
	}
	return enumName(ttlv.TagOperation, v)
}

// enumName names an enumeration item from the one table; values outside it
// become "other" so that a client cannot grow the label set.
func enumName(tag ttlv.Tag, it ttlv.Item) string {
	v, ok := it.EnumValue()
	if !ok {
		return "other"
	}
	if n, ok := ttlv.EnumName(tag, v); ok {
		return n
	}
	return "other"
}
