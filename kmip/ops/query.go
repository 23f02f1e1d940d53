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
			// Only operations the client's version defines (no Set
			// Attribute or Log to a 1.4 client).
			for _, op := range s.implemented {
				if enumInVersion(r.version, ttlv.TagOperation, uint32(op)) {
					resp = resp.Append(ttlv.Enum(ttlv.TagOperation, uint32(op)))
				}
			}
		case ttlv.QueryFunctionQueryObjects:
			for _, t := range servedObjectTypes() {
				if enumInVersion(r.version, ttlv.TagObjectType, uint32(t)) {
					resp = resp.Append(ttlv.Enum(ttlv.TagObjectType, uint32(t)))
				}
			}
		case ttlv.QueryFunctionQueryServerInformation:
			resp = resp.Append(ttlv.Text(ttlv.TagVendorIdentification, s.vendor))
			if s.info != "" {
				info := ttlv.Struct(ttlv.TagServerInformation)
				if tagInVersion(r.version, ttlv.TagServerName) {
					info = info.Append(ttlv.Text(ttlv.TagServerName, s.info))
				}
				resp = resp.Append(info)
			}
		}
	}
	return resp, nil
}

// servedObjectTypes are the managed object types Strongroom stores. Query
// lists only those the client's version defines (Template: KMIP 1.x only).
func servedObjectTypes() []ttlv.ObjectType {
	return []ttlv.ObjectType{
		ttlv.ObjectTypeCertificate, ttlv.ObjectTypeSymmetricKey, ttlv.ObjectTypePublicKey,
		ttlv.ObjectTypePrivateKey, ttlv.ObjectTypeSecretData, ttlv.ObjectTypeTemplate,
		ttlv.ObjectTypeOpaqueObject,
	}
}

// enumInVersion reports whether an enumeration value exists in v.
func enumInVersion(v kmip.ProtocolVersion, tag ttlv.Tag, value uint32) bool {
	info, ok := ttlv.EnumValueInfo(tag, value)
	return ok && info.InVersion(ttlv.Version{Major: int(v.Major), Minor: int(v.Minor)})
}

// tagInVersion reports whether a tag exists in v.
func tagInVersion(v kmip.ProtocolVersion, tag ttlv.Tag) bool {
	info, ok := ttlv.TagInfo(tag)
	return ok && info.InVersion(ttlv.Version{Major: int(v.Major), Minor: int(v.Minor)})
}
