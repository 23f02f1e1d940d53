package kmip

import (
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// maxBatchItems bounds the batch items of one request; a larger batch is an
// Invalid Message, not work for the server.
const maxBatchItems = 1024

// RequestHeader is the part of a Request Header the server acts on
// (KMIP 1.4 §7.2, KMIP 2.1 §8.2).
type RequestHeader struct {
	Version                ProtocolVersion
	MaximumResponseSize    int32 // 0 when absent
	ClientCorrelationValue string
	ServerCorrelationValue string
	AsynchronousIndicator  bool
	// BatchErrorContinuation is Stop (the default), Continue or Undo.
	BatchErrorContinuation ttlv.BatchErrorContinuationOption
	BatchOrderOption       bool
	TimeStamp              time.Time
	BatchCount             int32
}

// RequestItem is one batch item of a request.
type RequestItem struct {
	Operation ttlv.Operation
	// ID is the Unique Batch Item ID, echoed in the response; nil if absent.
	ID []byte
	// Payload is the Request Payload structure.
	Payload ttlv.Item
}

// Request is a decoded Request Message.
type Request struct {
	Header RequestHeader
	Items  []RequestItem
}

// ParseRequest decodes a Request Message. The returned error is an *Error
// with reason Invalid Message (or Protocol Version Not Supported); when the
// header could be read, Request.Header is filled even on error so that the
// response can be written in the client's version.
func ParseRequest(msg ttlv.Item) (*Request, error) {
	req := &Request{Header: RequestHeader{Version: ProtocolVersion{1, 0}}}
	if msg.Tag != ttlv.TagRequestMessage || msg.Type != ttlv.TypeStructure {
		return req, Errorf(ttlv.ResultReasonInvalidMessage, "expected a Request Message")
	}
	hdr, ok := msg.Find(ttlv.TagRequestHeader)
	if !ok || hdr.Type != ttlv.TypeStructure {
		return req, Errorf(ttlv.ResultReasonInvalidMessage, "request header is missing")
	}
	if err := parseRequestHeader(hdr, &req.Header); err != nil {
		return req, err
	}
	for _, c := range msg.Children() {
		switch c.Tag {
		case ttlv.TagRequestHeader:
		case ttlv.TagBatchItem:
			if len(req.Items) == maxBatchItems {
				return req, Errorf(ttlv.ResultReasonInvalidMessage, "more than %d batch items", maxBatchItems)
			}
			it, err := parseRequestItem(c)
			if err != nil {
				return req, err
			}
			req.Items = append(req.Items, it)
		default:
			return req, Errorf(ttlv.ResultReasonInvalidMessage, "unexpected %s in request message", c.Tag)
		}
	}
	if len(req.Items) == 0 {
		return req, Errorf(ttlv.ResultReasonInvalidMessage, "request has no batch items")
	}
	if int(req.Header.BatchCount) != len(req.Items) {
		return req, Errorf(ttlv.ResultReasonInvalidMessage, "batch count %d does not match %d batch items", req.Header.BatchCount, len(req.Items))
	}
	if !req.Header.Version.Supported() {
		return req, Errorf(ttlv.ResultReasonUnsupportedProtocolVersion, "protocol version %s is not supported", req.Header.Version)
	}
	return req, nil
}

func parseRequestHeader(hdr ttlv.Item, h *RequestHeader) error {
	pv, ok := hdr.Find(ttlv.TagProtocolVersion)
	if !ok {
		return Errorf(ttlv.ResultReasonInvalidMessage, "request header has no protocol version")
	}
	v, err := ParseProtocolVersion(pv)
	if err != nil {
		return err
	}
	h.Version = v
	bc, ok := hdr.Find(ttlv.TagBatchCount)
	if !ok {
		return Errorf(ttlv.ResultReasonInvalidMessage, "request header has no batch count")
	}
	if h.BatchCount, ok = bc.Int32(); !ok {
		return Errorf(ttlv.ResultReasonInvalidMessage, "batch count must be an Integer")
	}
	for _, c := range hdr.Children() {
		var ok bool
		switch c.Tag {
		case ttlv.TagMaximumResponseSize:
			h.MaximumResponseSize, ok = c.Int32()
		case ttlv.TagClientCorrelationValue:
			h.ClientCorrelationValue, ok = c.TextValue()
		case ttlv.TagServerCorrelationValue:
			h.ServerCorrelationValue, ok = c.TextValue()
		case ttlv.TagAsynchronousIndicator:
			h.AsynchronousIndicator, ok = c.BoolValue()
		case ttlv.TagBatchErrorContinuationOption:
			var e uint32
			e, ok = c.EnumValue()
			h.BatchErrorContinuation = ttlv.BatchErrorContinuationOption(e)
		case ttlv.TagBatchOrderOption:
			h.BatchOrderOption, ok = c.BoolValue()
		case ttlv.TagTimeStamp:
			h.TimeStamp, ok = c.TimeValue()
		default:
			// Authentication, attestation and unknown header fields are
			// accepted and ignored: identity comes from the TLS certificate.
			ok = true
		}
		if !ok {
			return Errorf(ttlv.ResultReasonInvalidMessage, "request header field %s has the wrong type", c.Tag)
		}
	}
	return nil
}

func parseRequestItem(bi ttlv.Item) (RequestItem, error) {
	var it RequestItem
	if bi.Type != ttlv.TypeStructure {
		return it, Errorf(ttlv.ResultReasonInvalidMessage, "batch item must be a structure")
	}
	op, ok := bi.Find(ttlv.TagOperation)
	if !ok {
		return it, Errorf(ttlv.ResultReasonInvalidMessage, "batch item has no operation")
	}
	v, ok := op.EnumValue()
	if !ok {
		return it, Errorf(ttlv.ResultReasonInvalidMessage, "operation must be an Enumeration")
	}
	it.Operation = ttlv.Operation(v)
	if id, ok := bi.Find(ttlv.TagUniqueBatchItemID); ok {
		if it.ID, ok = id.BytesValue(); !ok {
			return it, Errorf(ttlv.ResultReasonInvalidMessage, "unique batch item ID must be a Byte String")
		}
	}
	p, ok := bi.Find(ttlv.TagRequestPayload)
	if !ok || p.Type != ttlv.TypeStructure {
		// Some operations have empty payloads; accept a missing one.
		p = ttlv.Struct(ttlv.TagRequestPayload)
	}
	it.Payload = p
	return it, nil
}

// ResponseItem is one batch item of a response.
type ResponseItem struct {
	Operation ttlv.Operation // 0: omitted (the request's was unreadable)
	ID        []byte
	Status    ttlv.ResultStatus
	Reason    ttlv.ResultReason // set when Status is not Success
	Message   string            // set when Status is not Success
	// Payload is the Response Payload structure; nil for none.
	Payload *ttlv.Item
}

// Response is a Response Message to be encoded in Version.
type Response struct {
	Version                ProtocolVersion
	TimeStamp              time.Time
	ClientCorrelationValue string
	ServerCorrelationValue string
	Items                  []ResponseItem
}

// Failure builds a failed response item.
func Failure(op ttlv.Operation, id []byte, err *Error) ResponseItem {
	return ResponseItem{
		Operation: op, ID: id,
		Status: ttlv.ResultStatusOperationFailed, Reason: err.Reason, Message: err.Message,
	}
}

// TTLV encodes the response message. The 1.0 header is exactly Protocol
// Version, Time Stamp, Batch Count (strict clients parse it in order);
// correlation values appear only from 1.4 on.
func (r *Response) TTLV() ttlv.Item {
	ts := r.TimeStamp
	if ts.IsZero() {
		ts = time.Now()
	}
	hdr := ttlv.Struct(ttlv.TagResponseHeader, r.Version.TTLV(), ttlv.DateTime(ttlv.TagTimeStamp, ts))
	if r.Version.AtLeast(1, 4) {
		if r.ClientCorrelationValue != "" {
			hdr = hdr.Append(ttlv.Text(ttlv.TagClientCorrelationValue, r.ClientCorrelationValue))
		}
		if r.ServerCorrelationValue != "" {
			hdr = hdr.Append(ttlv.Text(ttlv.TagServerCorrelationValue, r.ServerCorrelationValue))
		}
	}
	hdr = hdr.Append(ttlv.Int(ttlv.TagBatchCount, int32(len(r.Items))))
	msg := ttlv.Struct(ttlv.TagResponseMessage, hdr)
	for _, it := range r.Items {
		if it.Reason != 0 {
			it.Reason = ReasonIn(r.Version, it.Reason)
		}
		msg = msg.Append(it.TTLV())
	}
	return msg
}

// TTLV encodes one response batch item. (Response.TTLV first puts its
// Result Reason in the message's version: ReasonIn.)
func (it ResponseItem) TTLV() ttlv.Item {
	bi := ttlv.Struct(ttlv.TagBatchItem)
	if it.Operation != 0 {
		bi = bi.Append(ttlv.Enum(ttlv.TagOperation, uint32(it.Operation)))
	}
	if it.ID != nil {
		bi = bi.Append(ttlv.Bytes(ttlv.TagUniqueBatchItemID, it.ID))
	}
	bi = bi.Append(ttlv.Enum(ttlv.TagResultStatus, uint32(it.Status)))
	// An undone item (Batch Error Continuation Option Undo) has a status
	// but no reason of its own.
	if it.Status != ttlv.ResultStatusSuccess && it.Reason != 0 {
		bi = bi.Append(ttlv.Enum(ttlv.TagResultReason, uint32(it.Reason)))
		msg := it.Message
		if msg == "" {
			msg = it.Reason.String()
		}
		bi = bi.Append(ttlv.Text(ttlv.TagResultMessage, msg))
	}
	if it.Payload != nil {
		p := *it.Payload
		p.Tag = ttlv.TagResponsePayload
		bi = bi.Append(p)
	}
	return bi
}

// ParseResponse decodes a Response Message (used by the client).
func ParseResponse(msg ttlv.Item) (*Response, error) {
	if msg.Tag != ttlv.TagResponseMessage || msg.Type != ttlv.TypeStructure {
		return nil, Errorf(ttlv.ResultReasonInvalidMessage, "expected a Response Message")
	}
	hdr, ok := msg.Find(ttlv.TagResponseHeader)
	if !ok {
		return nil, Errorf(ttlv.ResultReasonInvalidMessage, "response header is missing")
	}
	pv, ok := hdr.Find(ttlv.TagProtocolVersion)
	if !ok {
		return nil, Errorf(ttlv.ResultReasonInvalidMessage, "response header has no protocol version")
	}
	v, err := ParseProtocolVersion(pv)
	if err != nil {
		return nil, err
	}
	r := &Response{Version: v}
	if ts, ok := hdr.Find(ttlv.TagTimeStamp); ok {
		r.TimeStamp, _ = ts.TimeValue()
	}
	for _, bi := range msg.FindAll(ttlv.TagBatchItem) {
		var it ResponseItem
		if op, ok := bi.Find(ttlv.TagOperation); ok {
			v, _ := op.EnumValue()
			it.Operation = ttlv.Operation(v)
		}
		if id, ok := bi.Find(ttlv.TagUniqueBatchItemID); ok {
			it.ID, _ = id.BytesValue()
		}
		st, ok := bi.Find(ttlv.TagResultStatus)
		if !ok {
			return nil, Errorf(ttlv.ResultReasonInvalidMessage, "response batch item has no result status")
		}
		s, _ := st.EnumValue()
		it.Status = ttlv.ResultStatus(s)
		if rr, ok := bi.Find(ttlv.TagResultReason); ok {
			v, _ := rr.EnumValue()
			it.Reason = ttlv.ResultReason(v)
		}
		if m, ok := bi.Find(ttlv.TagResultMessage); ok {
			it.Message, _ = m.TextValue()
		}
		if p, ok := bi.Find(ttlv.TagResponsePayload); ok {
			it.Payload = &p
		}
		r.Items = append(r.Items, it)
	}
	return r, nil
}

// NewRequest builds a Request Message item of one or more batch items.
func NewRequest(v ProtocolVersion, items ...RequestItem) ttlv.Item {
	hdr := ttlv.Struct(ttlv.TagRequestHeader, v.TTLV(), ttlv.Int(ttlv.TagBatchCount, int32(len(items))))
	msg := ttlv.Struct(ttlv.TagRequestMessage, hdr)
	for _, it := range items {
		bi := ttlv.Struct(ttlv.TagBatchItem, ttlv.Enum(ttlv.TagOperation, uint32(it.Operation)))
		if it.ID != nil {
			bi = bi.Append(ttlv.Bytes(ttlv.TagUniqueBatchItemID, it.ID))
		}
		p := it.Payload
		p.Tag, p.Type = ttlv.TagRequestPayload, ttlv.TypeStructure
		if p.Value == nil {
			p.Value = []ttlv.Item{}
		}
		msg = msg.Append(bi.Append(p))
	}
	return msg
}
