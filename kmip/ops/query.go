package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// query handles Query (KMIP 1.4 §4.25, 2.1 §6.1.37): the operations and
// object types served, and server information.
func (s *Service) query(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	resp := ttlv.Struct(ttlv.TagResponsePayload)
	for _, f := range p.FindAll(ttlv.TagQueryFunction) {
		v, ok := f.EnumValue()
		if !ok {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "query function must be an Enumeration")
		}
		switch ttlv.QueryFunction(v) {
		case ttlv.QueryFunctionQueryOperations:
			for _, op := range s.implemented {
				resp = resp.Append(ttlv.Enum(ttlv.TagOperation, uint32(op)))
			}
		case ttlv.QueryFunctionQueryObjects:
			resp = resp.Append(
				ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)),
				ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSecretData)))
		case ttlv.QueryFunctionQueryServerInformation:
			resp = resp.Append(ttlv.Text(ttlv.TagVendorIdentification, s.vendor))
			if s.info != "" {
				resp = resp.Append(ttlv.Struct(ttlv.TagServerInformation,
					ttlv.Text(ttlv.TagServerName, s.info)))
			}
		}
	}
	return resp, nil
}
