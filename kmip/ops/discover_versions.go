package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// discoverVersions handles Discover Versions (KMIP 1.4 §4.26, 2.1
// §6.1.13): the versions the client offered that the server speaks, in the
// client's order of preference, or every version when it offered none.
func (s *Service) discoverVersions(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	resp := ttlv.Struct(ttlv.TagResponsePayload)
	offered := p.FindAll(ttlv.TagProtocolVersion)
	if len(offered) == 0 {
		for _, v := range kmip.SupportedVersions() {
			resp = resp.Append(v.TTLV())
		}
		return resp, nil
	}
	for _, it := range offered {
		v, err := kmip.ParseProtocolVersion(it)
		if err != nil {
			return ttlv.Item{}, err
		}
		if v.Supported() {
			resp = resp.Append(v.TTLV())
		}
	}
	return resp, nil
}
