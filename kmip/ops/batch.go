package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// request is the state one batch item's handler sees.
type request struct {
	version kmip.ProtocolVersion
	// op is the operation of the batch item being served.
	op     ttlv.Operation
	caller Caller
	// placeholder is the ID Placeholder carried between the batch items of
	// one message (KMIP 1.4 §3.8 / 2.1 §6.1).
	placeholder *string
}

// handlerFunc is one operation: it returns the Response Payload.
type handlerFunc func(ctx context.Context, r *request, payload ttlv.Item) (ttlv.Item, error)

// ServeKMIP answers one request message (server.Handler).
func (s *Service) ServeKMIP(ctx context.Context, peer server.Peer, msg ttlv.Item) ttlv.Item {
	caller := s.identify(peer.Certificate)
	if peer.Addr != nil {
		caller.Addr = peer.Addr.String()
	}
	caller.Conn = peer.ConnID
	req, err := kmip.ParseRequest(msg)
	if err != nil {
		resp := s.failMessage(req, msg, err)
		s.auditMessage(ctx, peer, resp.Items[0].Reason, resp.Items[0].Message)
		return resp.TTLV()
	}
	resp := &kmip.Response{
		Version:                req.Header.Version,
		TimeStamp:              s.now(),
		ClientCorrelationValue: req.Header.ClientCorrelationValue,
	}
	var placeholder string
	r := &request{version: req.Header.Version, caller: caller, placeholder: &placeholder}
	itemCtx, stage := ctx, (*staged)(nil)
	if req.Header.BatchErrorContinuation == ttlv.BatchErrorContinuationOptionUndo {
		itemCtx, stage = withStaging(ctx, s.store) // see undo.go
	}
	for _, it := range req.Items {
		r.op = it.Operation
		actx, pending := s.auditBegin(itemCtx, r, it)
		item := s.serveItem(actx, r, it)
		s.auditFinish(ctx, pending, item)
		resp.Items = append(resp.Items, item)
		if item.Status != ttlv.ResultStatusSuccess && req.Header.BatchErrorContinuation != ttlv.BatchErrorContinuationOptionContinue {
			break // Stop (the default) or Undo
		}
	}
	if stage != nil {
		s.finishUndo(ctx, stage, resp)
	}
	out := resp.TTLV()
	if max := req.Header.MaximumResponseSize; max > 0 {
		if b, err := ttlv.Encode(out); err == nil && len(b) > int(max) {
			for i := range resp.Items {
				resp.Items[i] = kmip.Failure(resp.Items[i].Operation, resp.Items[i].ID,
					kmip.Errorf(ttlv.ResultReasonResponseTooLarge, "response of %d bytes exceeds the maximum response size %d", len(b), max))
			}
			out = resp.TTLV()
		}
	}
	return out
}

// serveItem runs one batch item, turning errors and panics into a failed
// item so that one bad item never takes the connection down.
func (s *Service) serveItem(ctx context.Context, r *request, it kmip.RequestItem) (res kmip.ResponseItem) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("ops: panic in operation", "operation", it.Operation.String(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = kmip.Failure(it.Operation, it.ID, kmip.Errorf(ttlv.ResultReasonGeneralFailure, "internal error"))
		}
	}()
	h, ok := s.handlers[it.Operation]
	if !ok {
		return kmip.Failure(it.Operation, it.ID, kmip.Errorf(ttlv.ResultReasonOperationNotSupported, "operation %s is not supported", it.Operation))
	}
	if err := s.authorizeItem(r.caller, it.Operation); err != nil {
		s.log.Warn("ops: permission denied", "operation", it.Operation.String(), "user", r.caller.User, "role", string(r.caller.Role), "addr", r.caller.Addr)
		return kmip.Failure(it.Operation, it.ID, err)
	}
	payload, err := h(ctx, r, it.Payload)
	if err != nil {
		kerr, ok := kmip.AsError(err)
		if !ok {
			// Internal detail stays in the log; the client learns only
			// that the server failed.
			s.log.Error("ops: operation failed", "operation", it.Operation.String(), "user", r.caller.User, "err", err)
			kerr = kmip.Errorf(ttlv.ResultReasonGeneralFailure, "%s failed on the server", it.Operation)
		} else {
			s.log.Info("ops: operation refused", "operation", it.Operation.String(), "user", r.caller.User, "reason", kerr.Reason.String(), "msg", kerr.Message)
		}
		return kmip.Failure(it.Operation, it.ID, kerr)
	}
	s.log.Debug("ops: operation done", "operation", it.Operation.String(), "user", r.caller.User)
	payload.Tag = ttlv.TagResponsePayload
	return kmip.ResponseItem{Operation: it.Operation, ID: it.ID, Status: ttlv.ResultStatusSuccess, Payload: &payload}
}

// failMessage answers a message that could not be parsed: one failed batch
// item, in the client's version when its header was readable.
func (s *Service) failMessage(req *kmip.Request, msg ttlv.Item, err error) *kmip.Response {
	kerr, ok := kmip.AsError(err)
	if !ok {
		kerr = kmip.Errorf(ttlv.ResultReasonInvalidMessage, "invalid message")
	}
	v := kmip.ProtocolVersion{Major: 1, Minor: 0}
	if req != nil && req.Header.Version.Supported() {
		v = req.Header.Version
	} else if req != nil && req.Header.Version.Major > 0 {
		// Answer an unsupported version in the nearest version we speak.
		for _, sv := range kmip.SupportedVersions() {
			if !req.Header.Version.Less(sv) {
				v = sv
				break
			}
		}
	}
	// (A 1.x client gets Invalid Message for Unsupported Protocol Version,
	// which 1.x lacks: kmip.ReasonIn, when the response is encoded.)
	var op ttlv.Operation
	var id []byte
	if bi, ok := msg.Find(ttlv.TagBatchItem); ok {
		if o, ok := bi.Find(ttlv.TagOperation); ok {
			e, _ := o.EnumValue()
			op = ttlv.Operation(e)
		}
		if i, ok := bi.Find(ttlv.TagUniqueBatchItemID); ok {
			id, _ = i.BytesValue()
		}
	}
	return &kmip.Response{Version: v, TimeStamp: s.now(), Items: []kmip.ResponseItem{kmip.Failure(op, id, kerr)}}
}

// Malformed answers a frame that could not be decoded (server.Handler).
func (s *Service) Malformed(ctx context.Context, peer server.Peer, raw []byte, err error) ttlv.Item {
	reason := ttlv.ResultReasonInvalidMessage
	msg := "message could not be decoded"
	if errors.Is(err, ttlv.ErrTooLarge) {
		reason = ttlv.ResultReasonInvalidMessage
		msg = "message exceeds the server's maximum message size"
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "ops: malformed message", slog.Uint64("conn", peer.ConnID), slog.String("err", err.Error()))
	s.auditMessage(ctx, peer, reason, msg)
	resp := &kmip.Response{Version: kmip.ProtocolVersion{Major: 1, Minor: 0}, TimeStamp: s.now(),
		Items: []kmip.ResponseItem{kmip.Failure(0, nil, kmip.Errorf(reason, "%s", msg))}}
	return resp.TTLV()
}

// uid returns the payload's Unique Identifier, or the ID Placeholder when
// it is absent.
func (r *request) uid(payload ttlv.Item) (string, error) {
	if u, ok := payload.Find(ttlv.TagUniqueIdentifier); ok {
		s, ok := u.TextValue()
		if !ok {
			return "", kmip.Errorf(ttlv.ResultReasonInvalidMessage, "unique identifier must be a Text String")
		}
		return s, nil
	}
	if *r.placeholder == "" {
		return "", kmip.Errorf(ttlv.ResultReasonInvalidField, "unique identifier is missing and no ID placeholder is set")
	}
	return *r.placeholder, nil
}
