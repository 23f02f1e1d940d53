package ops

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Internal attributes of the object types registered here: the fields of
// the managed object that are not attributes in every version.
const (
	attrOpaqueType = internalPrefix + "opaque-data-type"
	attrCertType   = internalPrefix + "certificate-type"
)

// registerOther handles Register of an Opaque Object (Opaque Managed Object
// Store profile) or a Certificate (Baseline). Their bytes are wrapped in the
// HSM like key material although a certificate is public: one storage path
// for every object, and Get needs no special case for where bytes live.
func (s *Service) registerOther(ctx context.Context, r *request, p ttlv.Item, objType ttlv.ObjectType) (ttlv.Item, error) {
	var value []byte
	var extra []kmip.Attribute
	switch objType {
	case ttlv.ObjectTypeOpaqueObject:
		obj, ok := p.Find(ttlv.TagOpaqueObject)
		dt, okT := obj.Find(ttlv.TagOpaqueDataType)
		dv, okV := obj.Find(ttlv.TagOpaqueDataValue)
		t, isEnum := dt.EnumValue()
		value, _ = dv.BytesValue()
		if !ok || !okT || !okV || !isEnum {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "opaque object needs Opaque Data Type and Opaque Data Value")
		}
		sum := sha256.Sum256(value)
		extra = append(extra,
			kmip.Attribute{Name: attrOpaqueType, Value: ttlv.Enum(ttlv.TagAttributeValue, t)},
			kmip.Attr(ttlv.Struct(ttlv.TagDigest,
				ttlv.Enum(ttlv.TagHashingAlgorithm, uint32(ttlv.HashingAlgorithmSHA256)),
				ttlv.Bytes(ttlv.TagDigestValue, sum[:]))))
	case ttlv.ObjectTypeCertificate:
		obj, ok := p.Find(ttlv.TagCertificate)
		ct, okT := obj.Find(ttlv.TagCertificateType)
		cv, okV := obj.Find(ttlv.TagCertificateValue)
		t, isEnum := ct.EnumValue()
		value, _ = cv.BytesValue()
		if !ok || !okT || !okV || !isEnum {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "certificate needs Certificate Type and Certificate Value")
		}
		attrs, err := certAttrs(ttlv.CertificateType(t), value)
		if err != nil {
			return ttlv.Item{}, err
		}
		extra = append(attrs, kmip.Attribute{Name: attrCertType, Value: ttlv.Enum(ttlv.TagAttributeValue, t)})
	default:
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "Register does not support %s objects", objType)
	}
	if len(value) == 0 {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "the %s value is empty", objType)
	}
	attrs, err := s.requestAttrs(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	t, err := checkTemplate(attrs, objType)
	if err != nil {
		return ttlv.Item{}, err
	}
	// The certificate's own attributes win over the client's copies.
	kept := t.attrs[:0:0]
	for _, a := range t.attrs {
		if a.Value.Tag != ttlv.TagCertificateType || a.Custom() {
			kept = append(kept, a)
		}
	}
	t.attrs, t.algorithm, t.length = kept, 0, 0
	w, err := s.keys.ImportWrapped(ctx, hsm.KindGeneric, value)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: register %s: %w", objType, err)
	}
	uid, err := s.insert(ctx, objType, t, w, extra)
	if err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = uid
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// certAttrs are the attributes a server derives from a certificate (KMIP
// 1.4 §3.8–§3.9, 2.1 §4.11–§4.14): type, length, digest and, for X.509, the
// subject and issuer fields.
func certAttrs(ct ttlv.CertificateType, der []byte) ([]kmip.Attribute, error) {
	sum := sha256.Sum256(der)
	out := []kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagCertificateType, uint32(ct))),
		kmip.Attr(ttlv.Int(ttlv.TagCertificateLength, int32(len(der)))),
		kmip.Attr(ttlv.Struct(ttlv.TagDigest,
			ttlv.Enum(ttlv.TagHashingAlgorithm, uint32(ttlv.HashingAlgorithmSHA256)),
			ttlv.Bytes(ttlv.TagDigestValue, sum[:]))),
	}
	if ct != ttlv.CertificateTypeX509 {
		return out, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "certificate value is not an X.509 certificate")
	}
	name := func(n pkix.Name, cn, o, ou, email, country, st, l, serial ttlv.Tag) {
		text := func(tag ttlv.Tag, vs ...string) {
			for _, v := range vs {
				if v != "" {
					out = append(out, kmip.Attr(ttlv.Text(tag, v)))
				}
			}
		}
		text(cn, n.CommonName)
		text(o, n.Organization...)
		text(ou, n.OrganizationalUnit...)
		text(country, n.Country...)
		text(st, n.Province...)
		text(l, n.Locality...)
		text(serial, n.SerialNumber)
		for _, atv := range n.Names {
			if atv.Type.Equal([]int{1, 2, 840, 113549, 1, 9, 1}) {
				if s, ok := atv.Value.(string); ok {
					text(email, s)
				}
			}
		}
	}
	name(c.Subject, ttlv.TagCertificateSubjectCN, ttlv.TagCertificateSubjectO, ttlv.TagCertificateSubjectOU,
		ttlv.TagCertificateSubjectEmail, ttlv.TagCertificateSubjectC, ttlv.TagCertificateSubjectST,
		ttlv.TagCertificateSubjectL, ttlv.TagCertificateSubjectSerialNumber)
	name(c.Issuer, ttlv.TagCertificateIssuerCN, ttlv.TagCertificateIssuerO, ttlv.TagCertificateIssuerOU,
		ttlv.TagCertificateIssuerEmail, ttlv.TagCertificateIssuerC, ttlv.TagCertificateIssuerST,
		ttlv.TagCertificateIssuerL, ttlv.TagCertificateIssuerSerialNumber)
	return out, nil
}

// getOther answers Get for the object types registered here; ok is false
// for any other type.
func (s *Service) getOther(ctx context.Context, o *object) (ttlv.Item, bool, error) {
	var field ttlv.Tag
	switch o.objectType() {
	case ttlv.ObjectTypeOpaqueObject:
		field = ttlv.TagOpaqueDataType
	case ttlv.ObjectTypeCertificate:
		field = ttlv.TagCertificateType
	default:
		return ttlv.Item{}, false, nil
	}
	value, err := s.keys.Unwrap(ctx, hsm.KindGeneric, hsm.Wrapped{
		KEK: o.row.KEK, Mechanism: o.row.Mechanism, Blob: o.row.Blob, Length: o.row.BlobLength,
	})
	if err != nil {
		return ttlv.Item{}, true, fmt.Errorf("ops: get %s: %w", o.row.UID, err)
	}
	var obj ttlv.Item
	if field == ttlv.TagOpaqueDataType {
		obj = ttlv.Struct(ttlv.TagOpaqueObject,
			ttlv.Enum(ttlv.TagOpaqueDataType, o.internalEnum(attrOpaqueType)),
			ttlv.Bytes(ttlv.TagOpaqueDataValue, value))
	} else {
		obj = ttlv.Struct(ttlv.TagCertificate,
			ttlv.Enum(ttlv.TagCertificateType, o.internalEnum(attrCertType)),
			ttlv.Bytes(ttlv.TagCertificateValue, value))
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, o.row.ObjectType),
		ttlv.Text(ttlv.TagUniqueIdentifier, o.row.UID),
		obj), true, nil
}

// internalEnum reads an Enumeration kept in an internal attribute.
func (o *object) internalEnum(name string) uint32 {
	for _, a := range o.all(name) {
		v, _ := a.Value.EnumValue()
		return v
	}
	return 0
}
