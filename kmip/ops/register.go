package ops

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// register handles Register (KMIP 1.4 §4.3, 2.1 §6.1.41) of a Symmetric Key
// or Secret Data: the client's bytes go into the HSM and only the wrapped
// blob is stored.
func (s *Service) register(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	objType, err := payloadObjectType(p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := checkProtectionStorage(p); err != nil {
		return ttlv.Item{}, err
	}
	var kbItem ttlv.Item
	var ok bool
	var extra []kmip.Attribute
	switch objType {
	case ttlv.ObjectTypeSymmetricKey:
		var obj ttlv.Item
		if obj, ok = p.Find(ttlv.TagSymmetricKey); ok {
			kbItem, ok = obj.Find(ttlv.TagKeyBlock)
		}
	case ttlv.ObjectTypePrivateKey, ttlv.ObjectTypePublicKey:
		return s.registerAsymmetric(ctx, r, p, objType)
	case ttlv.ObjectTypeSecretData:
		var obj ttlv.Item
		if obj, ok = p.Find(ttlv.TagSecretData); ok {
			kbItem, ok = obj.Find(ttlv.TagKeyBlock)
			sdt, has := obj.Find(ttlv.TagSecretDataType)
			v, isEnum := sdt.EnumValue()
			if !has || !isEnum {
				return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "secret data type is required")
			}
			extra = append(extra, kmip.Attribute{Name: "y-strongroom-secret-data-type", Value: ttlv.Enum(ttlv.TagAttributeValue, v)})
		}
	case ttlv.ObjectTypeTemplate:
		return s.registerTemplate(ctx, r, p)
	default:
		return s.registerOther(ctx, r, p, objType)
	}
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "the %s object is missing", objType)
	}
	kb, err := parseKeyBlock(kbItem)
	if err != nil {
		return ttlv.Item{}, err
	}
	attrs, err := s.requestAttrs(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	t, err := checkTemplate(append(attrs, kb.attrs...), objType)
	if err != nil {
		return ttlv.Item{}, err
	}
	kind, err := reconcileKey(objType, kb, t)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.fipsApproved(t.algorithm, t.length); err != nil {
		return ttlv.Item{}, err
	}
	w, err := s.keys.ImportWrapped(ctx, kind, kb.material)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: register: %w", err)
	}
	extra = append(extra, kmip.Attr(ttlv.Enum(ttlv.TagKeyFormatType, uint32(kb.format))))
	if digestable(kb.format) {
		// The client sent the plaintext, so it is hashed here; no unwrap.
		extra = append(extra, digestAttr(kb.material, kb.format))
	}
	hm, err := s.hmacForm(ctx, t, kind, w, kb.material)
	if err != nil {
		return ttlv.Item{}, err
	}
	extra = append(extra, hm...)
	uid, err := s.insert(ctx, objType, t, w, extra)
	if err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = uid
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// reconcileKey checks that the key block and the attributes agree on the
// algorithm and length, fills what only one of them says, and picks the
// HSM key kind.
func reconcileKey(objType ttlv.ObjectType, kb *keyBlock, t *template) (hsm.KeyKind, error) {
	bits := int32(len(kb.material) * 8)
	if objType == ttlv.ObjectTypeSecretData {
		t.length = 0
		t.algorithm = 0
		return hsm.KindGeneric, nil
	}
	if t.algorithm == 0 {
		t.algorithm = kb.algorithm
	}
	if kb.algorithm != 0 && kb.algorithm != t.algorithm {
		return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "key block and attributes disagree on the cryptographic algorithm")
	}
	if t.algorithm == 0 {
		return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "cryptographic algorithm is required for a symmetric key")
	}
	if t.algorithm == ttlv.CryptographicAlgorithm3DES && bits == 192 {
		return des3Length(kb, t)
	}
	if (t.length != 0 && t.length != bits) || (kb.length != 0 && kb.length != bits) {
		return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "cryptographic length does not match the %d-bit key material", bits)
	}
	t.length = bits
	if t.algorithm == ttlv.CryptographicAlgorithmAES {
		switch bits {
		case 128, 192, 256:
			return hsm.KindAES, nil
		}
		return 0, kmip.Errorf(ttlv.ResultReasonInvalidField, "AES key material must be 16, 24 or 32 bytes")
	}
	return hsm.KindGeneric, nil
}
