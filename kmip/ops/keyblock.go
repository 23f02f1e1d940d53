package ops

import (
	"encoding/base64"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// keyBlock is what Register needs from a Key Block (KMIP 1.4 §2.1.3).
type keyBlock struct {
	format    ttlv.KeyFormatType
	material  []byte // plaintext key bytes: never logged
	algorithm ttlv.CryptographicAlgorithm
	length    int32
	attrs     []kmip.Attribute // 1.x attributes inside the Key Value
}

// parseKeyBlock reads a plaintext key block. Wrapped key blocks are refused:
// Strongroom only accepts key material it can move into the HSM itself.
func parseKeyBlock(kb ttlv.Item) (*keyBlock, error) {
	if kb.Tag != ttlv.TagKeyBlock || kb.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key block is missing")
	}
	out := &keyBlock{}
	f, ok := kb.Find(ttlv.TagKeyFormatType)
	if !ok {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key format type is required")
	}
	v, _ := f.EnumValue()
	out.format = ttlv.KeyFormatType(v)
	if _, ok := kb.Find(ttlv.TagKeyWrappingData); ok {
		return nil, kmip.Errorf(ttlv.ResultReasonKeyWrapTypeNotSupported, "wrapped key blocks cannot be registered")
	}
	// Key Compression Type is meaningless for symmetric keys; old Percona
	// releases send one anyway, so it is ignored.
	if a, ok := kb.Find(ttlv.TagCryptographicAlgorithm); ok {
		v, _ := a.EnumValue()
		out.algorithm = ttlv.CryptographicAlgorithm(v)
	}
	if l, ok := kb.Find(ttlv.TagCryptographicLength); ok {
		out.length, _ = l.Int32()
	}
	kv, ok := kb.Find(ttlv.TagKeyValue)
	if !ok || kv.Type != ttlv.TypeStructure {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key value must be a structure holding the key material")
	}
	km, ok := kv.Find(ttlv.TagKeyMaterial)
	if !ok {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "key material is missing")
	}
	switch out.format {
	case ttlv.KeyFormatTypeRaw, ttlv.KeyFormatTypeOpaque:
		out.material, ok = rawMaterial(km)
	case ttlv.KeyFormatTypeTransparentSymmetricKey:
		var k ttlv.Item
		if k, ok = km.Find(ttlv.TagKey); ok {
			out.material, ok = k.BytesValue()
		}
	default:
		return nil, kmip.Errorf(ttlv.ResultReasonKeyFormatTypeNotSupported, "key format type %s is not supported for registration", out.format)
	}
	if !ok || len(out.material) == 0 {
		return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "key material does not match key format type %s", out.format)
	}
	for _, c := range kv.FindAll(ttlv.TagAttribute) {
		a, err := kmip.ParseAttribute1(c)
		if err != nil {
			return nil, err
		}
		out.attrs = append(out.attrs, a)
	}
	return out, nil
}

// rawMaterial reads Raw key material: a Byte String, or (old Percona
// releases) base64 text.
func rawMaterial(km ttlv.Item) ([]byte, bool) {
	if b, ok := km.BytesValue(); ok {
		return b, true
	}
	if s, ok := km.TextValue(); ok {
		b, err := base64.StdEncoding.DecodeString(s)
		return b, err == nil
	}
	return nil, false
}
