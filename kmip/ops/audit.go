package ops

import (
	"context"
	"net"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Every batch item becomes one audit record (package audit). The record
// rides in the context: the first write of the item (CreateObject,
// AppendEvents, ScrubBlob) stores it in the same transaction as the change,
// marked Success; an item that wrote nothing (reads, refusals, failures)
// gets its record inserted on its own when it ends, with its result. Items
// of an Undo batch write through the staging layer, so their records are
// inserted on their own, before the staged changes are flushed.

type pendingKey struct{}

// auditBegin starts the record of one batch item and returns the context
// the item runs in.
func (s *Service) auditBegin(ctx context.Context, r *request, it kmip.RequestItem) (context.Context, *audit.Pending) {
	ctx = withCaller(ctx, r.caller)
	if s.audit == nil {
		return ctx, nil
	}
	rec := storage.AuditRecord{
		Time: s.now(), Operation: it.Operation.String(),
		User: r.caller.User, Group: r.caller.Group, Addr: r.caller.Addr,
	}
	if u, ok := it.Payload.Find(ttlv.TagUniqueIdentifier); ok {
		if v, ok := u.TextValue(); ok && validUID(v) {
			rec.UID = v
		}
	}
	p := s.audit.Begin(rec)
	ctx = context.WithValue(ctx, pendingKey{}, p)
	if _, staging := ctx.Value(stagingKey{}).(*staged); !staging {
		ctx = storage.WithAudit(ctx, p)
	}
	return ctx, p
}

// auditFinish records the item's result.
func (s *Service) auditFinish(ctx context.Context, p *audit.Pending, res kmip.ResponseItem) {
	if p == nil {
		return
	}
	reason := ""
	if res.Status != ttlv.ResultStatusSuccess {
		reason = res.Reason.String()
	}
	p.Finish(context.WithoutCancel(ctx), res.Status.String(), reason, res.Message)
}

// auditObject names the object an item works on in its audit record.
func auditObject(ctx context.Context, o *object) {
	p, ok := ctx.Value(pendingKey{}).(*audit.Pending)
	if !ok || o == nil {
		return
	}
	name := ""
	for _, a := range o.attrs {
		if a.Value.Tag == ttlv.TagName && !a.Custom() {
			name, _ = nameValue(a)
			break
		}
	}
	p.Object(o.row.UID, name)
}

// auditMessage records a message that could not be parsed or decoded.
func (s *Service) auditMessage(ctx context.Context, peer server.Peer, reason ttlv.ResultReason, msg string) {
	if s.audit == nil {
		return
	}
	c := s.identify(peer.Certificate)
	if peer.Addr != nil {
		c.Addr = peer.Addr.String()
	}
	rec := storage.AuditRecord{
		Time: s.now(), Operation: "Invalid Message", User: c.User, Group: c.Group, Addr: c.Addr,
		Status: ttlv.ResultStatusOperationFailed.String(), Reason: reason.String(), Message: msg,
	}
	if err := s.audit.Append(context.WithoutCancel(ctx), rec); err != nil {
		s.log.Error("ops: audit record not stored", "err", err)
	}
}

// HandshakeRefused records a refused or failed TLS handshake (the server's
// OnHandshakeError hook). There is no verified identity to record.
func (s *Service) HandshakeRefused(addr net.Addr, err error) {
	if s.audit == nil {
		return
	}
	rec := storage.AuditRecord{
		Time: s.now(), Operation: "TLS Handshake",
		Status: ttlv.ResultStatusOperationFailed.String(), Reason: ttlv.ResultReasonAuthenticationNotSuccessful.String(),
		Message: err.Error(),
	}
	if addr != nil {
		rec.Addr = addr.String()
	}
	if aerr := s.audit.Append(context.Background(), rec); aerr != nil {
		s.log.Error("ops: audit record not stored", "err", aerr)
	}
}

// auditNote replaces the message of the item's audit record: what really
// happened, when the client is told less.
func auditNote(ctx context.Context, msg string) {
	if p, ok := ctx.Value(pendingKey{}).(*audit.Pending); ok {
		p.Note(msg)
	}
}
