package ops

import (
	"context"
	"math"
	"math/big"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// adjustAttribute handles Adjust Attribute (KMIP 2.1 §6.1.3): increment,
// decrement or negate the single instance of a numeric or Boolean
// attribute; a missing attribute counts as 0 (or false).
func (s *Service) adjustAttribute(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	uid, o, err := s.target(ctx, r, p)
	if err != nil {
		return ttlv.Item{}, err
	}
	ref, ok := p.Find(ttlv.TagAttributeReference)
	if !ok {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "attribute reference is required")
	}
	name, err := referenceName(ref)
	if err != nil {
		return ttlv.Item{}, err
	}
	at, ok := p.Find(ttlv.TagAdjustmentType)
	e, isEnum := at.EnumValue()
	if !ok || !isEnum {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidMessage, "adjustment type is required")
	}
	kind := ttlv.AdjustmentType(e)
	existing := o.all(name)
	if len(existing) > 1 {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonMultiValuedAttribute, "attribute %q has several instances", name)
	}
	adj, hasAdj := p.Find(ttlv.TagAdjustmentValue)
	var cur kmip.Attribute
	switch {
	case len(existing) == 1:
		cur = existing[0]
	case isCustomName(name) && hasAdj:
		cur = kmip.Attribute{Name: name, Value: zeroLike(ttlv.TagAttributeValue, adj.Type)}
	default:
		tag, known := ttlv.TagByName(name)
		info, _ := ttlv.TagInfo(tag)
		if !known || isCustomName(name) {
			return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonUnsupportedAttribute, "attribute %q cannot be adjusted", name)
		}
		cur = kmip.Attr(zeroLike(tag, info.Type))
	}
	if !ruleFor(cur).modify || internal(name) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonReadOnlyAttribute, "attribute %q cannot be changed by a client", name)
	}
	next, err := adjusted(cur.Value, kind, adj, hasAdj)
	if err != nil {
		return ttlv.Item{}, err
	}
	a := kmip.Attribute{Name: cur.Name, Value: next}
	if err := s.checkChange(ctx, r.version, o, a, existing); err != nil {
		return ttlv.Item{}, err
	}
	if err := s.appendChanges(ctx, o, change{eventSet, []kmip.Attribute{a}}); err != nil {
		return ttlv.Item{}, err
	}
	return ttlv.Struct(ttlv.TagResponsePayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)), nil
}

// zeroLike is the value an absent attribute is assumed to have.
func zeroLike(tag ttlv.Tag, t ttlv.Type) ttlv.Item {
	switch t {
	case ttlv.TypeInteger:
		return ttlv.Int(tag, 0)
	case ttlv.TypeLongInteger:
		return ttlv.Long(tag, 0)
	case ttlv.TypeBigInteger:
		return ttlv.Big(tag, new(big.Int))
	case ttlv.TypeInterval:
		return ttlv.Interval(tag, 0)
	case ttlv.TypeBoolean:
		return ttlv.Bool(tag, false)
	case ttlv.TypeDateTime:
		return ttlv.DateTime(tag, time.Unix(0, 0))
	}
	return ttlv.Item{Tag: tag, Type: t}
}

// adjusted computes the new value. Increment and decrement take the
// Adjustment Value (1 when absent) in the value's own type; Negate flips a
// Boolean or negates a number. Overflow is Numeric Range.
func adjusted(v ttlv.Item, kind ttlv.AdjustmentType, adj ttlv.Item, hasAdj bool) (ttlv.Item, error) {
	rangeErr := kmip.Errorf(ttlv.ResultReasonNumericRange, "the adjusted value is out of range")
	typeErr := kmip.Errorf(ttlv.ResultReasonInvalidDataType, "attribute of type %s cannot be adjusted this way", v.Type)
	if hasAdj && adj.Type != v.Type && !(v.Type == ttlv.TypeDateTime && adj.Type == ttlv.TypeInterval) {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidDataType, "adjustment value must be of type %s", v.Type)
	}
	sign := int64(1)
	switch kind {
	case ttlv.AdjustmentTypeIncrement:
	case ttlv.AdjustmentTypeDecrement:
		sign = -1
	case ttlv.AdjustmentTypeNegate:
		switch v.Type {
		case ttlv.TypeBoolean:
			b, _ := v.BoolValue()
			return ttlv.Bool(v.Tag, !b), nil
		case ttlv.TypeInteger:
			x, _ := v.Int32()
			if x == math.MinInt32 {
				return ttlv.Item{}, rangeErr
			}
			return ttlv.Int(v.Tag, -x), nil
		case ttlv.TypeLongInteger:
			x, _ := v.Int64()
			if x == math.MinInt64 {
				return ttlv.Item{}, rangeErr
			}
			return ttlv.Long(v.Tag, -x), nil
		case ttlv.TypeBigInteger:
			x, _ := v.BigValue()
			return ttlv.Big(v.Tag, new(big.Int).Neg(x)), nil
		}
		return ttlv.Item{}, typeErr
	default:
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "unknown adjustment type %d", kind)
	}
	step := func() int64 {
		if !hasAdj {
			return 1
		}
		switch adj.Type {
		case ttlv.TypeInteger:
			x, _ := adj.Int32()
			return int64(x)
		case ttlv.TypeLongInteger:
			x, _ := adj.Int64()
			return x
		case ttlv.TypeInterval:
			x, _ := adj.IntervalValue()
			return int64(x)
		}
		return 0
	}
	switch v.Type {
	case ttlv.TypeInteger:
		x, _ := v.Int32()
		n := int64(x) + sign*step()
		if n < math.MinInt32 || n > math.MaxInt32 {
			return ttlv.Item{}, rangeErr
		}
		return ttlv.Int(v.Tag, int32(n)), nil
	case ttlv.TypeLongInteger:
		x, _ := v.Int64()
		d := sign * step()
		if (d > 0 && x > math.MaxInt64-d) || (d < 0 && x < math.MinInt64-d) {
			return ttlv.Item{}, rangeErr
		}
		return ttlv.Long(v.Tag, x+d), nil
	case ttlv.TypeInterval:
		x, _ := v.IntervalValue()
		n := int64(x) + sign*step()
		if n < 0 || n > math.MaxUint32 {
			return ttlv.Item{}, rangeErr
		}
		return ttlv.Interval(v.Tag, uint32(n)), nil
	case ttlv.TypeDateTime:
		t, _ := v.TimeValue()
		return ttlv.DateTime(v.Tag, t.Add(time.Duration(sign*step())*time.Second)), nil
	case ttlv.TypeBigInteger:
		x, _ := v.BigValue()
		d := big.NewInt(sign)
		if hasAdj {
			b, _ := adj.BigValue()
			d.Mul(d, b)
		}
		return ttlv.Big(v.Tag, new(big.Int).Add(x, d)), nil
	}
	return ttlv.Item{}, typeErr
}
