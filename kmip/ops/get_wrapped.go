package ops

import (
	"context"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// getWrapped answers a Get with a Key Wrapping Specification (KMIP 1.4
// §2.1.5): the key comes back wrapped under another managed key, the
// wrapping done inside the HSM. Encrypt with AES Key Wrap (NIST Key Wrap,
// RFC 3394, or AES Key Wrap with Padding, RFC 5649) is supported.
func (s *Service) getWrapped(ctx context.Context, r *request, o *object, spec ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationGet)
	if err != nil {
		return ttlv.Item{}, err
	}
	// (A 1.x client, whose Get error table says only "Not Supported", gets
	// Feature Not Supported: kmip.ReasonIn.)
	unsupported := func(format string, args ...any) error {
		return kmip.Errorf(ttlv.ResultReasonKeyWrapTypeNotSupported, format, args...)
	}
	if m, ok := spec.Find(ttlv.TagWrappingMethod); ok {
		if v, _ := m.EnumValue(); ttlv.WrappingMethod(v) != ttlv.WrappingMethodEncrypt {
			return ttlv.Item{}, unsupported("only the Encrypt wrapping method is supported")
		}
	}
	if _, ok := spec.Find(ttlv.TagMACSignatureKeyInformation); ok {
		return ttlv.Item{}, unsupported("MAC/signature key information is not supported")
	}
	eki, ok := spec.Find(ttlv.TagEncryptionKeyInformation)
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "Encryption Key Information is required")
	}
	if o.objectType() != ttlv.ObjectTypeSymmetricKey && o.objectType() != ttlv.ObjectTypeSecretData {
		return ttlv.Item{}, unsupported("only secret keys can be returned wrapped")
	}
	wuid := ""
	if u, ok := eki.Find(ttlv.TagUniqueIdentifier); ok {
		wuid, _ = u.TextValue()
	}
	wo, err := s.load(ctx, wuid)
	if err != nil {
		return ttlv.Item{}, err
	}
	// The wrapping key is used too: it must be the caller's to use.
	if err := s.checkAccess(ctx, r, wo); err != nil {
		return ttlv.Item{}, err
	}
	if err := wo.usable(r.version, s.now(), ttlv.CryptographicUsageMaskWrapKey); err != nil {
		return ttlv.Item{}, err
	}
	if wo.objectType() != ttlv.ObjectTypeSymmetricKey || ttlv.CryptographicAlgorithm(wo.row.Algorithm) != ttlv.CryptographicAlgorithmAES || wo.row.Blob == nil {
		return ttlv.Item{}, unsupported("the wrapping key must be an AES key")
	}
	mode := hsm.WrapAESKW
	cp := paramsFor(wo, eki)
	switch cp.mode {
	case 0, ttlv.BlockCipherModeNISTKeyWrap:
	case ttlv.BlockCipherModeAESKeyWrapPadding:
		mode = hsm.WrapAESKWP
	default:
		return ttlv.Item{}, unsupported("block cipher mode %s cannot wrap keys", cp.mode)
	}
	blob, err := cr.WrapKey(ctx, hsm.Key{Kind: hsm.KindAES, Wrapped: wrappedOf(wo)}, mode, hsm.Key{Kind: keyKind(o), Wrapped: wrappedOf(o)})
	if err != nil {
		return ttlv.Item{}, s.hsmError(o.row.UID, err)
	}
	kb := ttlv.Struct(ttlv.TagKeyBlock,
		ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
		ttlv.Bytes(ttlv.TagKeyValue, blob))
	if o.row.Algorithm != 0 {
		kb = kb.Append(ttlv.Enum(ttlv.TagCryptographicAlgorithm, o.row.Algorithm))
	}
	if o.row.Length != 0 {
		kb = kb.Append(ttlv.Int(ttlv.TagCryptographicLength, o.row.Length))
	}
	kb = kb.Append(ttlv.Struct(ttlv.TagKeyWrappingData,
		ttlv.Enum(ttlv.TagWrappingMethod, uint32(ttlv.WrappingMethodEncrypt)),
		eki))
	tag := ttlv.TagSymmetricKey
	if o.objectType() == ttlv.ObjectTypeSecretData {
		tag = ttlv.TagSecretData
	}
	obj := ttlv.Struct(tag, kb)
	if tag == ttlv.TagSecretData {
		sdt := uint32(ttlv.SecretDataTypePassword)
		for _, a := range o.all("y-strongroom-secret-data-type") {
			sdt, _ = a.Value.EnumValue()
		}
		obj = ttlv.Struct(tag, ttlv.Enum(ttlv.TagSecretDataType, sdt), kb)
	}
	if err := s.served(ctx, o); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, o.row.ObjectType),
		ttlv.Text(ttlv.TagUniqueIdentifier, o.row.UID),
		obj), nil
}
