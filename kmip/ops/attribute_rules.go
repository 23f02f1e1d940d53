package ops

import (
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// clientRule is what a client may do to an existing object's attribute
// with Add, Modify, Set, Adjust and Delete Attribute: the "Modifiable by
// client" and "Deletable by client" rows of the attribute tables (KMIP 1.4
// §3, 2.1 §4). Attributes absent from the table are read-only.
type clientRule struct {
	modify bool
	delete bool
	// states, when not nil, limits modification to these lifecycle states
	// (the dates of KMIP 1.4 §3.24–§3.27).
	states []ttlv.State
}

var (
	preActive       = []ttlv.State{ttlv.StatePreActive}
	preActiveActive = []ttlv.State{ttlv.StatePreActive, ttlv.StateActive}
)

// ruleFor returns the client rule of an attribute.
func ruleFor(a kmip.Attribute) clientRule {
	if a.Custom() {
		// x- attributes belong to the client; y- ones to the server.
		if a.Name[0] == 'x' {
			return clientRule{modify: true, delete: true}
		}
		return clientRule{}
	}
	switch a.Value.Tag {
	case ttlv.TagName, ttlv.TagObjectGroup, ttlv.TagLink, ttlv.TagApplicationSpecificInformation,
		ttlv.TagAlternativeName, ttlv.TagKeyValueLocation, ttlv.TagCryptographicParameters,
		ttlv.TagContactInformation, ttlv.TagDescription, ttlv.TagComment, ttlv.TagOperationPolicyName,
		ttlv.TagProtectionLevel, ttlv.TagProtectionPeriod, ttlv.TagQuantumSafe, ttlv.TagUsageLimits:
		return clientRule{modify: true, delete: true}
	case ttlv.TagActivationDate:
		return clientRule{modify: true, states: preActive}
	case ttlv.TagProcessStartDate, ttlv.TagProtectStopDate, ttlv.TagDeactivationDate:
		return clientRule{modify: true, states: preActiveActive}
	case ttlv.TagSensitive, ttlv.TagExtractable:
		return clientRule{modify: true}
	}
	return clientRule{}
}

// rule returns the client rule of an attribute of this object.
func (o *object) rule(a kmip.Attribute) clientRule {
	if o.isTemplate() {
		return templateRule(a)
	}
	return ruleFor(a)
}

// allowedIn reports whether the rule lets the client modify the attribute
// in state st.
func (c clientRule) allowedIn(st ttlv.State) bool {
	if c.states == nil {
		return true
	}
	for _, s := range c.states {
		if s == st {
			return true
		}
	}
	return false
}

// multiInstance reports whether an attribute may have several instances:
// the standard multi-valued ones and client custom attributes.
func multiInstance(a kmip.Attribute) bool {
	if a.Custom() {
		return true
	}
	return multiValued(a.Value.Tag) || a.Value.Tag == ttlv.TagDigest
}

// attrError builds the error of an attribute operation in the reason set of
// the client's version: KMIP 2.x has specific reasons, KMIP 1.x the ones of
// its error tables (1.4 §11.15–§11.17).
func attrError(v kmip.ProtocolVersion, r2, r1 ttlv.ResultReason, format string, args ...any) error {
	if v.V2() {
		return kmip.Errorf(r2, format, args...)
	}
	return kmip.Errorf(r1, format, args...)
}

func readOnly(v kmip.ProtocolVersion, name string) error {
	return attrError(v, ttlv.ResultReasonAttributeReadOnly, ttlv.ResultReasonPermissionDenied,
		"attribute %q cannot be changed by a client", name)
}

// checkValue validates the value a client gives an attribute: the type the
// tag table says, and the rules some attributes carry.
func checkValue(v kmip.ProtocolVersion, o *object, a kmip.Attribute) error {
	if a.Custom() {
		return nil
	}
	bad := func(why string) error {
		return attrError(v, ttlv.ResultReasonInvalidAttributeValue, ttlv.ResultReasonInvalidField,
			"attribute %q: %s", a.Name, why)
	}
	if info, ok := ttlv.TagInfo(a.Value.Tag); ok && info.Type != 0 && info.Type != a.Value.Type {
		return bad("wrong type " + a.Value.Type.String())
	}
	switch a.Value.Tag {
	case ttlv.TagName:
		if empty(a.Value, ttlv.TagNameValue) {
			return bad("empty name")
		}
	case ttlv.TagSensitive:
		// Sensitive may only be turned on (KMIP 2.1 §4.53).
		if on, _ := a.Value.BoolValue(); !on && o.flag(ttlv.TagSensitive) {
			return readOnly(v, a.Name)
		}
	case ttlv.TagExtractable:
		// Extractable may only be turned off (KMIP 2.1 §4.27).
		if on, _ := a.Value.BoolValue(); on && !o.flagOr(ttlv.TagExtractable, true) {
			return readOnly(v, a.Name)
		}
	}
	return nil
}

// flag returns a Boolean attribute, false when absent.
func (o *object) flag(tag ttlv.Tag) bool { return o.flagOr(tag, false) }

// flagOr returns a Boolean attribute or def when absent.
func (o *object) flagOr(tag ttlv.Tag, def bool) bool {
	v, ok := o.value(tag)
	if !ok {
		return def
	}
	b, ok := v.BoolValue()
	if !ok {
		return def
	}
	return b
}

// attributeSince2 reports tags that are fields in KMIP 1.x but attributes
// only from KMIP 2.0 on, so the tag table's versions alone would let them
// through to a 1.x client.
func attributeSince2(tag ttlv.Tag) bool {
	switch tag {
	case ttlv.TagKeyFormatType, ttlv.TagOpaqueDataType:
		return true
	}
	return false
}
