package ops

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// locatePage is how many objects Locate reads from storage at a time.
const locatePage = 500

// locate handles Locate (KMIP 1.4 §4.9, 2.1 §6.1.27): objects whose
// attributes match every attribute in the request, in creation order, with
// Offset Items and Maximum Items. Object Type, Cryptographic Algorithm and
// Cryptographic Length are filtered in the database; the rest on the folded
// attributes.
func (s *Service) locate(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	var crit []kmip.Attribute
	var maxItems, offset int32 = -1, 0
	storageMask := int32(ttlv.StorageStatusMaskOnLineStorage)
	var member uint32
	for _, c := range p.Children() {
		var ok = true
		switch c.Tag {
		case ttlv.TagStorageStatusMask:
			storageMask, ok = c.Int32()
		case ttlv.TagObjectGroupMember:
			member, ok = c.EnumValue()
		case ttlv.TagMaximumItems:
			maxItems, ok = c.Int32()
			ok = ok && maxItems >= 0
		case ttlv.TagOffsetItems:
			offset, ok = c.Int32()
			ok = ok && offset >= 0
		case ttlv.TagAttribute:
			a, err := kmip.ParseAttribute1(c)
			if err != nil {
				return ttlv.Item{}, err
			}
			crit = append(crit, a)
		case ttlv.TagAttributes:
			as, err := kmip.ParseAttributes2(c)
			if err != nil {
				return ttlv.Item{}, err
			}
			crit = append(crit, as...)
		}
		if !ok {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "%s must be a non-negative Integer", c.Tag)
		}
	}
	f, rest := storageFilter(crit)
	visible, err := s.visibility(ctx, r.caller)
	if err != nil {
		return ttlv.Item{}, err
	}
	now := s.now()
	var found []string
	matched := int32(0)
	complete := true
	for {
		f.Limit = locatePage
		recs, err := s.store.ListObjects(ctx, f)
		if err != nil {
			return ttlv.Item{}, fmt.Errorf("ops: locate: %w", err)
		}
		for _, rec := range recs {
			o, err := fold(rec.Object, rec.Events)
			if err != nil {
				s.log.Error("ops: locate skipped an unreadable object", "uid", rec.Object.UID, "err", err)
				continue
			}
			o.applyDates(now)
			if (o.isTemplate() && r.version.V2()) || !visible(o) || !inStorage(o, storageMask) || !matches(o, rest) || !groupMember(o, member) {
				continue
			}
			if ttlv.ObjectGroupMember(member) == ttlv.ObjectGroupMemberGroupMemberDefault {
				// The default member is the newest one (server policy,
				// KMIP 1.4 §4.9): keep only the last match.
				matched, found = 1, []string{o.row.UID}
				continue
			}
			matched++
			if matched <= offset {
				continue
			}
			if maxItems >= 0 && int32(len(found)) == maxItems {
				complete = false
				break
			}
			found = append(found, o.row.UID)
		}
		if !complete || len(recs) < locatePage {
			break
		}
		f.After = recs[len(recs)-1].Object.UID
	}
	resp := ttlv.Struct(ttlv.TagResponsePayload)
	if r.version.AtLeast(1, 3) && complete {
		resp = resp.Append(ttlv.Int(ttlv.TagLocatedItems, matched))
	}
	for _, uid := range found {
		resp = resp.Append(ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	}
	// One object found becomes the ID Placeholder; several empty it, so
	// that batched operations without an identifier fail (KMIP 1.4 §4.9).
	*r.placeholder = ""
	if len(found) == 1 {
		*r.placeholder = found[0]
	}
	return resp, nil
}

// storageFilter moves the criteria the database can check into a filter.
func storageFilter(crit []kmip.Attribute) (storage.Filter, []kmip.Attribute) {
	var f storage.Filter
	var rest []kmip.Attribute
	for _, a := range crit {
		switch a.Value.Tag {
		case ttlv.TagObjectType:
			v, _ := a.Value.EnumValue()
			f.ObjectType = v
		case ttlv.TagCryptographicAlgorithm:
			v, _ := a.Value.EnumValue()
			f.Algorithm = v
		case ttlv.TagCryptographicLength:
			v, _ := a.Value.Int32()
			f.Length = v
		case ttlv.TagName:
			// A hint only: the criterion stays in rest, where the fold
			// decides (the object may have lost the name since).
			if v, ok := nameValue(a); ok && f.Name == "" {
				f.Name = v
			}
			rest = append(rest, a)
			continue
		default:
			rest = append(rest, a)
			continue
		}
		if a.Custom() {
			rest = append(rest, a)
		}
	}
	return f, rest
}

// matches applies Locate's rules: every criterion must be met; a usage
// mask matches objects having at least those bits; two instances of a date
// attribute bound a range; any other value must equal one of the object's.
func matches(o *object, crit []kmip.Attribute) bool {
	dates := map[ttlv.Tag][]time.Time{}
	for _, c := range crit {
		if c.Value.Type == ttlv.TypeDateTime && !c.Custom() {
			t, _ := c.Value.TimeValue()
			dates[c.Value.Tag] = append(dates[c.Value.Tag], t)
			continue
		}
		if c.Value.Tag == ttlv.TagCryptographicUsageMask && !c.Custom() {
			want, _ := c.Value.Int32()
			have, ok := o.value(ttlv.TagCryptographicUsageMask)
			h, _ := have.Int32()
			if !ok || h&want != want {
				return false
			}
			continue
		}
		if c.Value.Tag == ttlv.TagUsageLimits && !c.Custom() {
			if !usageAtLeast(o, c.Value) {
				return false
			}
			continue
		}
		found := false
		for _, a := range o.all(c.Name) {
			if matchValue(a.Value, c.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for tag, ts := range dates {
		if len(ts) == 1 && ts[0].Equal(maxDate) {
			continue // the largest date means "undefined" (KMIP 1.4 §4.9)
		}
		v, ok := o.value(tag)
		if !ok {
			return false
		}
		t, _ := v.TimeValue()
		lo, hi := ts[0], ts[0]
		if len(ts) > 1 {
			hi = ts[1]
			if hi.Before(lo) {
				lo, hi = hi, lo
			}
		}
		if t.Before(lo) || t.After(hi) {
			return false
		}
	}
	return true
}
