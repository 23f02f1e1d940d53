package ops

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// reKey handles Re-key (KMIP 1.4 §4.4, 2.1 §6.1.46): a new AES key born in
// the HSM with the existing key's attributes, except those the
// specification's Re-key table renews, linked both ways (Replacement Object
// on the old key, Replaced Object on the new one). The replacement takes
// over the old key's names. The old key's state is left alone: the
// specification does not change it, and data encrypted under it must stay
// decryptable; the client revokes it when it is done with it.
func (s *Service) reKey(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	if o.objectType() != ttlv.ObjectTypeSymmetricKey {
		return ttlv.Item{}, attrError(r.version, ttlv.ResultReasonInvalidObjectType, ttlv.ResultReasonIllegalOperation,
			"Re-key replaces symmetric keys; object %s is a %s", uid, o.objectType())
	}
	if destroyed(o.state()) || o.row.Blob == nil {
		return ttlv.Item{}, wrongState(r.version, "object %s is destroyed", uid)
	}
	if o.archived() {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonObjectArchived, "object %s is archived", uid)
	}
	alg := ttlv.CryptographicAlgorithm(o.row.Algorithm)
	if alg != ttlv.CryptographicAlgorithmAES {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonFeatureNotSupported, "Re-key supports AES keys")
	}
	asked, err := s.requestAttrs(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	now := s.now()
	t := &template{algorithm: alg, length: o.row.Length, hasUsage: true}
	t.attrs = rekeyCopy(o, asked)
	if off, ok := p.Find(ttlv.TagOffset); ok {
		secs, isInterval := off.IntervalValue()
		if !isInterval {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "offset must be an Interval")
		}
		t.attrs = shiftDates(o, t.attrs, now.Add(time.Duration(secs)*time.Second))
	}
	for _, a := range asked {
		if a.Custom() || clientSettable(a.Value.Tag) {
			continue
		}
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "attribute %q is set by the server", a.Name)
	}
	checked, err := checkTemplate(t.attrs, ttlv.ObjectTypeSymmetricKey)
	if err != nil {
		return ttlv.Item{}, err
	}
	t.activate = checked.activate
	w, err := s.keys.GenerateWrapped(ctx, hsm.KindAES, int(o.row.Length))
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: re-key: %w", err)
	}
	newUID, err := s.insert(ctx, ttlv.ObjectTypeSymmetricKey, t, w, nil)
	if err != nil {
		return ttlv.Item{}, err
	}
	// insert added no Link (extra is nil so that the key counts as
	// generated); the new key's link to the old one is a first event.
	nk, err := s.load(ctx, newUID)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.appendChanges(ctx, nk, change{eventAdd, []kmip.Attribute{link(ttlv.LinkTypeReplacedObjectLink, uid)}}); err != nil {
		return ttlv.Item{}, err
	}
	oldChanges := []change{{eventAdd, []kmip.Attribute{link(ttlv.LinkTypeReplacementObjectLink, newUID)}}}
	if names := o.all(ttlv.TagName.String()); len(names) > 0 {
		oldChanges = append(oldChanges, change{eventDelete, names})
	}
	if err := s.appendChanges(ctx, o, oldChanges...); err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = newUID
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, newUID)), nil
}

// rekeyCopy is the replacement key's attribute template: the old key's
// attributes less those Re-key renews or the server sets, with the
// client's requested values replacing the old ones.
func rekeyCopy(o *object, asked []kmip.Attribute) []kmip.Attribute {
	override := map[string]bool{}
	for _, a := range asked {
		override[a.Name] = true
	}
	var out []kmip.Attribute
	for _, a := range o.attrs {
		if override[a.Name] || internal(a.Name) {
			continue
		}
		if !a.Custom() {
			switch a.Value.Tag {
			case ttlv.TagUniqueIdentifier, ttlv.TagShortUniqueIdentifier, ttlv.TagObjectType,
				ttlv.TagCryptographicAlgorithm, ttlv.TagCryptographicLength, ttlv.TagState,
				ttlv.TagInitialDate, ttlv.TagLastChangeDate, ttlv.TagOriginalCreationDate,
				ttlv.TagDestroyDate, ttlv.TagCompromiseDate, ttlv.TagCompromiseOccurrenceDate,
				ttlv.TagRevocationReason, ttlv.TagArchiveDate, ttlv.TagLink, ttlv.TagDigest,
				ttlv.TagRandomNumberGenerator, ttlv.TagFresh, ttlv.TagLeaseTime, ttlv.TagKeyFormatType,
				ttlv.TagAlwaysSensitive, ttlv.TagNeverExtractable, ttlv.TagKeyValuePresent, ttlv.TagProtectionStorageMask:
				continue
			}
		}
		out = append(out, a)
	}
	return append(out, asked...)
}

// shiftDates applies Re-key's Offset (KMIP 2.1 Table 303): the new
// Activation Date is now+offset and the other lifecycle dates keep their
// distance from it.
func shiftDates(o *object, attrs []kmip.Attribute, activation time.Time) []kmip.Attribute {
	old, hasOld := o.date(ttlv.TagActivationDate)
	shift := time.Duration(0)
	if hasOld {
		shift = activation.Sub(old)
	}
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Custom() {
			out = append(out, a)
			continue
		}
		switch a.Value.Tag {
		case ttlv.TagActivationDate:
			continue
		case ttlv.TagProcessStartDate, ttlv.TagProtectStopDate, ttlv.TagDeactivationDate:
			t, _ := a.Value.TimeValue()
			a = dateAttr(a.Value.Tag, t.Add(shift))
		}
		out = append(out, a)
	}
	return append(out, dateAttr(ttlv.TagActivationDate, activation))
}

// link builds a Link attribute.
func link(lt ttlv.LinkType, uid string) kmip.Attribute {
	return kmip.Attr(ttlv.Struct(ttlv.TagLink,
		ttlv.Enum(ttlv.TagLinkType, uint32(lt)),
		ttlv.Text(ttlv.TagLinkedObjectIdentifier, uid)))
}
