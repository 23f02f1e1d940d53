package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// interop handles Interop (KMIP 2.1 §6.1.26), which test tools send around
// each test case (Begin, End, Reset). Strongroom keeps no per-test state,
// so it only records the marker in the log and answers success.
func (s *Service) interop(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	f, ok := p.Find(ttlv.TagInteropFunction)
	e, isEnum := f.EnumValue()
	if !ok || !isEnum {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "interop function is required")
	}
	fn := ttlv.InteropFunction(e)
	switch fn {
	case ttlv.InteropFunctionBegin, ttlv.InteropFunctionEnd, ttlv.InteropFunctionReset:
	default:
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "unknown interop function %d", e)
	}
	id := ""
	if it, ok := p.Find(ttlv.TagInteropIdentifier); ok {
		id, _ = it.TextValue()
	}
	s.log.InfoContext(ctx, "ops: interop", "function", fn.String(), "identifier", id, "user", r.caller.User)
	return ttlv.Struct(ttlv.TagResponsePayload), nil
}

// logMessage handles Log (KMIP 2.1 §6.1.29): the client's message goes into
// the server log at info level, attributed to the caller.
func (s *Service) logMessage(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	m, ok := p.Find(ttlv.TagLogMessage)
	msg, isText := m.TextValue()
	if !ok || !isText {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "log message is required")
	}
	s.log.InfoContext(ctx, "ops: client log", "message", msg, "user", r.caller.User, "addr", r.caller.Addr)
	return ttlv.Struct(ttlv.TagResponsePayload), nil
}
