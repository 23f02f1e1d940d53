package ops

import (
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// clientSettable reports whether a client may set a standard attribute
// when it creates or registers an object. Everything else is the server's
// to set (KMIP 1.4 §3, "Modifiable by client" / "Initially set by").
func clientSettable(tag ttlv.Tag) bool {
	switch tag {
	case ttlv.TagCryptographicAlgorithm,
		ttlv.TagCryptographicLength,
		ttlv.TagCryptographicUsageMask,
		ttlv.TagCryptographicParameters,
		ttlv.TagName,
		ttlv.TagObjectGroup,
		ttlv.TagActivationDate,
		ttlv.TagDeactivationDate,
		ttlv.TagProcessStartDate,
		ttlv.TagProtectStopDate,
		ttlv.TagContactInformation,
		ttlv.TagApplicationSpecificInformation,
		ttlv.TagOperationPolicyName,
		ttlv.TagDescription,
		ttlv.TagComment,
		ttlv.TagSensitive,
		ttlv.TagExtractable,
		ttlv.TagLink,
		ttlv.TagCertificateType,
		ttlv.TagObjectType,
		ttlv.TagKeyFormatType,
		ttlv.TagCryptographicDomainParameters,
		ttlv.TagUsageLimits,
		ttlv.TagAlternativeName,
		ttlv.TagKeyValueLocation,
		ttlv.TagProtectionLevel,
		ttlv.TagProtectionPeriod,
		ttlv.TagQuantumSafe,
		ttlv.TagFresh:
		return true
	}
	return false
}

// multiValued reports whether an attribute may have several instances.
func multiValued(tag ttlv.Tag) bool {
	switch tag {
	case ttlv.TagName,
		ttlv.TagObjectGroup,
		ttlv.TagLink,
		ttlv.TagApplicationSpecificInformation,
		ttlv.TagAlternativeName,
		ttlv.TagKeyValueLocation,
		ttlv.TagCryptographicParameters,
		ttlv.TagCryptographicDomainParameters:
		return true
	}
	return false
}

// template is the result of checking the attributes a client sent.
type template struct {
	attrs     []kmip.Attribute // kept as sent (less the lenient drops)
	algorithm ttlv.CryptographicAlgorithm
	length    int32
	usage     int32
	hasUsage  bool
	activate  *time.Time
}

// checkTemplate validates client attributes for Create and Register. It is
// lenient where real clients are known to be sloppy (Percona sends empty
// Name and Object Group values) and strict everywhere else.
func checkTemplate(attrs []kmip.Attribute, objType ttlv.ObjectType) (*template, error) {
	t := &template{}
	seen := map[ttlv.Tag]bool{}
	for _, a := range attrs {
		if a.Custom() {
			if a.Name[0] == 'y' {
				return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "attribute %q: y- attributes are set by the server", a.Name)
			}
			t.attrs = append(t.attrs, a)
			continue
		}
		tag := a.Value.Tag
		if !clientSettable(tag) {
			return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "attribute %q is set by the server", a.Name)
		}
		if seen[tag] && !multiValued(tag) {
			return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "attribute %q may have only one value", a.Name)
		}
		seen[tag] = true
		ok := true
		switch tag {
		case ttlv.TagObjectType:
			var v uint32
			v, ok = a.Value.EnumValue()
			if ok && ttlv.ObjectType(v) != objType {
				return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "attribute Object Type does not match the request's object type")
			}
			continue
		case ttlv.TagCryptographicAlgorithm:
			var v uint32
			v, ok = a.Value.EnumValue()
			t.algorithm = ttlv.CryptographicAlgorithm(v)
		case ttlv.TagCryptographicLength:
			t.length, ok = a.Value.Int32()
			ok = ok && t.length > 0
		case ttlv.TagCryptographicUsageMask:
			t.usage, ok = a.Value.Int32()
			t.hasUsage = ok
		case ttlv.TagActivationDate:
			var at time.Time
			at, ok = a.Value.TimeValue()
			t.activate = &at
		case ttlv.TagName:
			if empty(a.Value, ttlv.TagNameValue) {
				continue
			}
			ok = a.Value.Type == ttlv.TypeStructure
		case ttlv.TagObjectGroup:
			if s, _ := a.Value.TextValue(); s == "" {
				continue
			}
		}
		if !ok {
			return nil, kmip.Errorf(ttlv.ResultReasonInvalidField, "attribute %q has an invalid value", a.Name)
		}
		t.attrs = append(t.attrs, a)
	}
	return t, nil
}

// empty reports whether a structure's text field is missing or empty.
func empty(it ttlv.Item, field ttlv.Tag) bool {
	f, ok := it.Find(field)
	if !ok {
		return true
	}
	s, _ := f.TextValue()
	return s == ""
}

// newObjectAttrs is the full attribute set of a new object: the client's
// template and the attributes the server sets.
func (s *Service) newObjectAttrs(uid string, objType ttlv.ObjectType, t *template, now time.Time) []kmip.Attribute {
	state := ttlv.StatePreActive
	if t.activate != nil && !t.activate.After(now) {
		state = ttlv.StateActive
	}
	attrs := []kmip.Attribute{
		kmip.Attr(ttlv.Text(ttlv.TagUniqueIdentifier, uid)),
		kmip.Attr(ttlv.Enum(ttlv.TagObjectType, uint32(objType))),
	}
	if t.algorithm != 0 {
		attrs = append(attrs, kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(t.algorithm))))
	}
	if t.length != 0 {
		attrs = append(attrs, kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, t.length)))
	}
	if !t.hasUsage {
		// KMIP leaves the default to the server; Encrypt|Decrypt is what
		// database master keys are used for.
		attrs = append(attrs, kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask,
			int32(ttlv.CryptographicUsageMaskEncrypt|ttlv.CryptographicUsageMaskDecrypt))))
	}
	attrs = append(attrs,
		stateAttr(state),
		dateAttr(ttlv.TagInitialDate, now),
		dateAttr(ttlv.TagLastChangeDate, now),
		dateAttr(ttlv.TagOriginalCreationDate, now),
	)
	for _, a := range t.attrs {
		if a.Value.Tag == ttlv.TagCryptographicAlgorithm || a.Value.Tag == ttlv.TagCryptographicLength {
			continue
		}
		attrs = append(attrs, a)
	}
	return attrs
}
