package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// get handles Get (KMIP 1.4 §4.11, 2.1 §6.1.18). It works on Pre-Active and
// Deactivated keys (mongod reads a rotated-out key) and fails cleanly on
// destroyed ones. Keys come back in the format they were registered in
// (Raw for keys Strongroom created: mongod refuses anything else) unless
// another format is asked for.
func (s *Service) get(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	wrapSpec, wrapped := p.Find(ttlv.TagKeyWrappingSpecification)
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if o.isTemplate() {
		if wrapped {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonIllegalOperation, "object %s is a Template; it cannot be returned wrapped", uid)
		}
		return getTemplate(r, o)
	}
	if destroyed(o.state()) || o.row.Blob == nil {
		if r.version.V2() {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonObjectDestroyed, "object %s was destroyed", uid)
		}
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonItemNotFound, "object %s was destroyed", uid)
	}
	if o.archived() {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonObjectArchived, "object %s is archived; recover it first", uid)
	}
	if err := o.exportable(r.version); err != nil {
		return ttlv.Item{}, err
	}
	if wrapped {
		return s.getWrapped(ctx, r, o, wrapSpec)
	}
	if item, ok, err := s.getAsymmetric(ctx, o, p); ok || err != nil {
		if err == nil {
			err = s.served(ctx, o)
		}
		return item, err
	}
	if item, ok, err := s.getOther(ctx, o); ok || err != nil {
		if err == nil {
			err = s.served(ctx, o)
		}
		return item, err
	}
	format, err := getFormat(o, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	kind := hsm.KindGeneric
	if o.objectType() == ttlv.ObjectTypeSymmetricKey && ttlv.CryptographicAlgorithm(o.row.Algorithm) == ttlv.CryptographicAlgorithmAES {
		kind = hsm.KindAES
	}
	material, err := s.keys.Unwrap(ctx, kind, wrappedOf(o))
	if errors.Is(err, hsm.ErrIntegrity) {
		s.log.Error("ops: stored key failed its integrity check", "uid", uid)
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonCryptographicFailure, "stored key %s failed its integrity check", uid)
	}
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: get %s: %w", uid, err)
	}
	obj := s.objectItem(o, format, material)
	if err := s.served(ctx, o); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, o.row.ObjectType),
		ttlv.Text(ttlv.TagUniqueIdentifier, uid),
		obj), nil
}

// getFormat picks the Key Format Type of a Get response.
func getFormat(o *object, p ttlv.Item) (ttlv.KeyFormatType, error) {
	stored := ttlv.KeyFormatTypeRaw
	if v, ok := o.value(ttlv.TagKeyFormatType); ok {
		e, _ := v.EnumValue()
		stored = ttlv.KeyFormatType(e)
	}
	asked := stored
	if f, ok := p.Find(ttlv.TagKeyFormatType); ok {
		e, _ := f.EnumValue()
		asked = ttlv.KeyFormatType(e)
	}
	switch o.objectType() {
	case ttlv.ObjectTypeSymmetricKey:
		if asked == ttlv.KeyFormatTypeRaw || asked == ttlv.KeyFormatTypeTransparentSymmetricKey {
			return asked, nil
		}
	case ttlv.ObjectTypeSecretData:
		if asked == ttlv.KeyFormatTypeRaw || asked == ttlv.KeyFormatTypeOpaque {
			return asked, nil
		}
	}
	return 0, kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not available for %s objects", asked, o.objectType())
}

// objectItem builds the managed object structure (Symmetric Key or Secret
// Data) around the plaintext material.
func (s *Service) objectItem(o *object, format ttlv.KeyFormatType, material []byte) ttlv.Item {
	km := ttlv.Bytes(ttlv.TagKeyMaterial, material)
	if format == ttlv.KeyFormatTypeTransparentSymmetricKey {
		km = ttlv.Struct(ttlv.TagKeyMaterial, ttlv.Bytes(ttlv.TagKey, material))
	}
	kb := ttlv.Struct(ttlv.TagKeyBlock,
		ttlv.Enum(ttlv.TagKeyFormatType, uint32(format)),
		ttlv.Struct(ttlv.TagKeyValue, km))
	if o.row.Algorithm != 0 {
		kb = kb.Append(ttlv.Enum(ttlv.TagCryptographicAlgorithm, o.row.Algorithm))
	}
	if o.row.Length != 0 {
		kb = kb.Append(ttlv.Int(ttlv.TagCryptographicLength, o.row.Length))
	}
	if o.objectType() == ttlv.ObjectTypeSecretData {
		sdt := uint32(ttlv.SecretDataTypePassword)
		for _, a := range o.all("y-strongroom-secret-data-type") {
			sdt, _ = a.Value.EnumValue()
		}
		return ttlv.Struct(ttlv.TagSecretData, ttlv.Enum(ttlv.TagSecretDataType, sdt), kb)
	}
	return ttlv.Struct(ttlv.TagSymmetricKey, kb)
}
