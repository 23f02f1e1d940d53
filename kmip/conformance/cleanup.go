package conformance

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// cleanup revokes and destroys, as best it can, every object a failed file
// made or found: a case that stops half-way leaves objects that later cases
// would find (TL-M-3 locates by attribute and expects one object). A file
// that passes cleans up after itself, or leaves objects on purpose for the
// next (TL-M-2 for TL-M-3), so only failed files are cleaned. Results are
// ignored; the requests use the file's protocol version.
func (r *Runner) cleanup(ctx context.Context, c *Case, st *state) {
	var uids []string
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			uids = append(uids, u)
		}
	}
	for name, b := range st.vars {
		if strings.HasPrefix(name, "UNIQUE_IDENTIFIER_") {
			if u, ok := b.value.(string); ok {
				add(u)
			}
		}
	}
	for u := range st.keys {
		add(u)
	}
	if len(uids) == 0 || len(c.Steps) == 0 {
		return
	}
	sort.Strings(uids)
	hdr, _ := c.Steps[0].Request.Find(ttlv.TagRequestHeader)
	pv, ok := hdr.Find(ttlv.TagProtocolVersion)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := r.Dial(ctx)
	if err != nil {
		return
	}
	if cl, ok := conn.(io.Closer); ok {
		defer cl.Close()
	}
	msg := func(op ttlv.Operation, payload ...ttlv.Item) ttlv.Item {
		return ttlv.Struct(ttlv.TagRequestMessage,
			ttlv.Struct(ttlv.TagRequestHeader, pv, ttlv.Int(ttlv.TagBatchCount, 1)),
			ttlv.Struct(ttlv.TagBatchItem,
				ttlv.Enum(ttlv.TagOperation, uint32(op)),
				ttlv.Struct(ttlv.TagRequestPayload, payload...)))
	}
	for _, u := range uids {
		id := ttlv.Text(ttlv.TagUniqueIdentifier, u)
		_, _ = conn.RoundTrip(ctx, msg(ttlv.OperationRevoke, id, ttlv.Struct(ttlv.TagRevocationReason,
			ttlv.Enum(ttlv.TagRevocationReasonCode, uint32(ttlv.RevocationReasonCodeCessationOfOperation)))))
		_, _ = conn.RoundTrip(ctx, msg(ttlv.OperationDestroy, id))
	}
}
