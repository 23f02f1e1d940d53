package ops

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// create handles Create (KMIP 1.4 §4.1, 2.1 §6.1.3): a symmetric key born
// in the HSM, stored wrapped, committed before the response leaves.
func (s *Service) create(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	objType, err := payloadObjectType(p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if objType != ttlv.ObjectTypeSymmetricKey {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "Create supports Symmetric Key objects; got %s", objType)
	}
	if err := checkProtectionStorage(p); err != nil {
		return ttlv.Item{}, err
	}
	attrs, err := s.requestAttrs(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	t, err := checkTemplate(attrs, objType)
	if err != nil {
		return ttlv.Item{}, err
	}
	kind, bits, err := symmetricSpec(t)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.fipsApproved(t.algorithm, t.length); err != nil {
		return ttlv.Item{}, err
	}
	w, err := s.keys.GenerateWrapped(ctx, kind, bits)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: create: %w", err)
	}
	uid, err := s.insert(ctx, objType, t, w, nil)
	if err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = uid
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Enum(ttlv.TagObjectType, uint32(objType)),
		ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// insert stores a new object with its full attribute set.
func (s *Service) insert(ctx context.Context, objType ttlv.ObjectType, t *template, w hsm.Wrapped, extra []kmip.Attribute) (string, error) {
	uid := uuid.NewString()
	now := s.now()
	attrs := append(s.newObjectAttrs(uid, objType, t, now), extra...)
	more, err := s.serverAttrs(ctx, uid, objType, t.algorithm, attrs, w, generated(extra))
	if err != nil {
		return "", err
	}
	if err := s.storeObject(ctx, uid, objType, t.algorithm, t.length, w, append(attrs, more...), now); err != nil {
		return "", err
	}
	return uid, nil
}

// storeObject writes a new object row: the caller as owner, the row bound
// by the HSM's MAC, committed before it returns.
func (s *Service) storeObject(ctx context.Context, uid string, objType ttlv.ObjectType, alg ttlv.CryptographicAlgorithm, length int32, w hsm.Wrapped, attrs []kmip.Attribute, now time.Time) error {
	attrs = withOwner(ctx, attrs)
	enc, err := encodeAttrs(attrs)
	if err != nil {
		return fmt.Errorf("ops: encode attributes: %w", err)
	}
	auditObject(ctx, &object{row: storage.Object{UID: uid}, attrs: attrs})
	row := storage.Object{
		UID: uid, OriginNode: s.store.Node(), ObjectType: uint32(objType),
		Algorithm: uint32(alg), Length: length,
		KEK: w.KEK, Mechanism: w.Mechanism, Blob: w.Blob, BlobLength: w.Length,
		Attributes: enc, CreatedAt: now, Names: nameHints(attrs),
	}
	if err := s.bindObject(ctx, &row); err != nil {
		return err
	}
	if err := s.db(ctx).CreateObject(ctx, row); err != nil {
		return fmt.Errorf("ops: store new object: %w", err)
	}
	return nil
}

// generated tells a key born in the HSM (Create passes no extra attributes)
// from one a client registered (Register always states its Key Format
// Type).
func generated(extra []kmip.Attribute) bool { return extra == nil }

// payloadObjectType reads the Object Type of a Create or Register payload.
func payloadObjectType(p ttlv.Item) (ttlv.ObjectType, error) {
	ot, ok := p.Find(ttlv.TagObjectType)
	if !ok {
		return 0, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "object type is required")
	}
	v, ok := ot.EnumValue()
	if !ok {
		return 0, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "object type must be an Enumeration")
	}
	return ttlv.ObjectType(v), nil
}
