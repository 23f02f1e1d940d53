package ops

import (
	"context"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// cipherOp is Encrypt and Decrypt (KMIP 1.4 §4.29, §4.30; 2.1 §6.1.17,
// §6.1.14): run inside the HSM on the key unwrapped for the operation only,
// single-shot or multi-part.
func (s *Service) cipherOp(ctx context.Context, r *request, p ttlv.Item, encrypt bool) (ttlv.Item, error) {
	op, purpose := ttlv.OperationDecrypt, ttlv.CryptographicUsageMaskDecrypt
	if encrypt {
		op, purpose = ttlv.OperationEncrypt, ttlv.CryptographicUsageMaskEncrypt
	}
	cr, err := s.cryptor(op)
	if err != nil {
		return ttlv.Item{}, err
	}
	data, _, err := payloadBytes(p, ttlv.TagData)
	if err != nil {
		return ttlv.Item{}, err
	}
	if corr, ok, err := payloadBytes(p, ttlv.TagCorrelationValue); err != nil || ok {
		if err != nil {
			return ttlv.Item{}, err
		}
		return s.continueStream(ctx, r, p, string(corr), data, encrypt)
	}
	uid, o, err := s.useKey(ctx, r, p, purpose)
	if err != nil {
		return ttlv.Item{}, err
	}
	key, err := s.opKey(ctx, o)
	if err != nil {
		return ttlv.Item{}, err
	}
	c, err := cipherFor(key, paramsFor(o, p), p, encrypt)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.fipsCipher(key, c, encrypt); err != nil {
		return ttlv.Item{}, err
	}
	clientIV := len(c.IV) > 0
	commit, err := s.spendUsage(o, len(data))
	if err != nil {
		return ttlv.Item{}, err
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	if payloadFlag(p, ttlv.TagInitIndicator) && !payloadFlag(p, ttlv.TagFinalIndicator) {
		return s.startStream(ctx, r, cr, uid, key, c, data, encrypt)
	}
	if encrypt {
		sealed, err := cr.Encrypt(ctx, key, c, data)
		if err != nil {
			return ttlv.Item{}, s.hsmError(uid, err)
		}
		resp = resp.Append(ttlv.Bytes(ttlv.TagData, sealed.Data))
		if !clientIV && len(sealed.IV) > 0 {
			resp = resp.Append(ttlv.Bytes(ttlv.TagIVCounterNonce, sealed.IV))
		}
		if sealed.Tag != nil {
			resp = resp.Append(ttlv.Bytes(ttlv.TagAuthenticatedEncryptionTag, sealed.Tag))
		}
	} else {
		tag, _, err := payloadBytes(p, ttlv.TagAuthenticatedEncryptionTag)
		if err != nil {
			return ttlv.Item{}, err
		}
		if c.Mode == hsm.ModeGCM && tag == nil {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "GCM decryption needs the Authenticated Encryption Tag")
		}
		pt, err := cr.Decrypt(ctx, key, c, data, tag)
		if err != nil {
			return ttlv.Item{}, s.hsmError(uid, err)
		}
		resp = resp.Append(ttlv.Bytes(ttlv.TagData, pt))
	}
	if err := commit(ctx); err != nil {
		return ttlv.Item{}, err
	}
	return resp, nil
}

// startStream begins a multi-part operation with its first part.
func (s *Service) startStream(ctx context.Context, r *request, cr hsm.Cryptor, uid string, key hsm.Key, c hsm.Cipher, data []byte, encrypt bool) (ttlv.Item, error) {
	clientIV := len(c.IV) > 0
	st, err := cr.StartCipher(ctx, key, c, encrypt)
	if err != nil {
		return ttlv.Item{}, s.hsmError(uid, err)
	}
	out, err := st.Update(ctx, data)
	if err != nil {
		st.Close()
		return ttlv.Item{}, s.hsmError(uid, err)
	}
	id, ok := s.streams.put(&openStream{s: st, uid: uid, user: r.caller.User, encrypt: encrypt}, s.now())
	if !ok {
		st.Close()
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonGeneralFailure, "too many multi-part operations are open")
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, out))
	if sc, ok := st.(interface{ IV() []byte }); ok && !clientIV && encrypt {
		resp = resp.Append(ttlv.Bytes(ttlv.TagIVCounterNonce, sc.IV()))
	}
	return resp.Append(ttlv.Bytes(ttlv.TagCorrelationValue, []byte(id))), nil
}

// continueStream feeds a part to an open multi-part operation, finishing
// it when the Final Indicator is set.
func (s *Service) continueStream(ctx context.Context, r *request, p ttlv.Item, id string, data []byte, encrypt bool) (ttlv.Item, error) {
	var uid string
	if u, ok := p.Find(ttlv.TagUniqueIdentifier); ok {
		uid, _ = u.TextValue()
	}
	st := s.streams.take(id, r.caller.User, uid, encrypt, s.now())
	if st == nil {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "no open multi-part operation has this correlation value")
	}
	*r.placeholder = st.uid
	resp := ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, st.uid))
	if !payloadFlag(p, ttlv.TagFinalIndicator) {
		out, err := st.s.Update(ctx, data)
		if err != nil {
			return ttlv.Item{}, s.hsmError(st.uid, err)
		}
		s.streams.putBack(id, st, s.now())
		return resp.Append(ttlv.Bytes(ttlv.TagData, out), ttlv.Bytes(ttlv.TagCorrelationValue, []byte(id))), nil
	}
	tag, _, err := payloadBytes(p, ttlv.TagAuthenticatedEncryptionTag)
	if err != nil {
		st.s.Close()
		return ttlv.Item{}, err
	}
	sealed, err := st.s.Final(ctx, data, tag)
	if err != nil {
		return ttlv.Item{}, s.hsmError(st.uid, err)
	}
	resp = resp.Append(ttlv.Bytes(ttlv.TagData, sealed.Data))
	if encrypt && sealed.Tag != nil {
		resp = resp.Append(ttlv.Bytes(ttlv.TagAuthenticatedEncryptionTag, sealed.Tag))
	}
	return resp, nil
}
