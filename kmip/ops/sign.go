package ops

import (
	"context"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// sign handles Sign (KMIP 1.4 §4.31, 2.1 §6.1.48): the private key is
// unwrapped in the HSM for this signature only. RSA PKCS#1 v1.5 and PSS
// hash in the token; ECDSA hashes here and signs in the token, and its
// signature is DER.
func (s *Service) sign(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationSign)
	if err != nil {
		return ttlv.Item{}, err
	}
	if _, ok := p.Find(ttlv.TagDigestedData); ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "signing pre-digested data is not supported; send Data")
	}
	if payloadFlag(p, ttlv.TagInitIndicator) || payloadFlag(p, ttlv.TagFinalIndicator) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "multi-part signatures are not supported")
	}
	data, _, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	uid, o, err := s.useKey(ctx, r, p, ttlv.CryptographicUsageMaskSign)
	if err != nil {
		return ttlv.Item{}, err
	}
	if o.objectType() != ttlv.ObjectTypePrivateKey {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidObjectType, "Sign needs a private key; %s is a %s", uid, o.objectType())
	}
	key, err := s.opKey(ctx, o)
	if err != nil {
		return ttlv.Item{}, err
	}
	sg, err := signatureFor(key, o, paramsFor(o, p))
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.fipsSignature(sg, true); err != nil {
		return ttlv.Item{}, err
	}
	commit, err := s.spendUsage(o, len(data))
	if err != nil {
		return ttlv.Item{}, err
	}
	sig, err := cr.Sign(ctx, key, sg, data)
	if err != nil {
		return ttlv.Item{}, s.hsmError(uid, err)
	}
	if err := commit(ctx); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid),
		ttlv.Bytes(ttlv.TagSignatureData, sig)), nil
}
