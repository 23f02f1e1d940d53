package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// getAttributeList handles Get Attribute List (KMIP 1.4 §4.13, 2.1
// §6.1.21): names as Attribute Name text to 1.x clients, Attribute
// References to 2.x clients.
func (s *Service) getAttributeList(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	seen := map[string]bool{}
	for _, a := range o.visibleAttrs(r.version) {
		if seen[a.Name] {
			continue
		}
		seen[a.Name] = true
		switch {
		case !r.version.V2():
			resp = resp.Append(ttlv.Text(ttlv.TagAttributeName, a.Name))
		case a.Custom():
			resp = resp.Append(ttlv.Struct(ttlv.TagAttributeReference,
				ttlv.Text(ttlv.TagVendorIdentification, a.Name[:1]),
				ttlv.Text(ttlv.TagAttributeName, a.Name[2:])))
		default:
			resp = resp.Append(ttlv.Enum(ttlv.TagAttributeReference, uint32(a.Value.Tag)))
		}
	}
	return resp, nil
}
