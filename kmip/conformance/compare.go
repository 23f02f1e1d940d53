package conformance

import (
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Diff is the first difference between the expected and the received
// response of a step. Path names the field from the response message down,
// with an index where a tag repeats:
// "ResponseMessage[2]/BatchItem[0]/ResponsePayload/Attribute[2]/AttributeValue"
// (ResponseMessage[2] is the third response of the file). Expected and Got
// are the two items in the XML form on one line, "(missing)" for an item
// the server left out, "(nothing)" where it sent one too many.
type Diff struct {
	Path     string
	Expected string
	Got      string
}

func (d *Diff) String() string {
	return fmt.Sprintf("%s: expected %s, got %s", d.Path, d.Expected, d.Got)
}

// itemContext is what the comparison of one response batch item needs to
// know about its request, to tell the server's legitimate choices from
// differences.
type itemContext struct {
	op ttlv.Operation
	// request is the request batch item's payload, placeholders substituted.
	request ttlv.Item
	// uid is the object the item is about; key describes it.
	uid string
	key keyInfo
	// generated: the server chose the object's key material.
	generated bool
	// ivGenerated: an Encrypt whose IV the server chose, since the request
	// gave none and the response returns one.
	ivGenerated bool
	// randomized: the operation's output is not reproducible (Encrypt with
	// a public key or a generated key, a PSS or (EC)DSA signature, ...).
	randomized bool
	// anyLength: randomized output whose length varies too (DER-encoded
	// (EC)DSA signatures).
	anyLength bool
}

// comparer compares one response with its expected form. vars is a working
// copy of the captured placeholders, committed when the response matches.
type comparer struct {
	st        *state
	vars      map[string]binding
	reqHeader ttlv.Item
	reqItems  []ttlv.Item
	ic        *itemContext
}

// compareResponse compares a received response message with the expected
// one; on a match the placeholders it captured are kept.
func (s *state) compareResponse(step int, req, exp, got ttlv.Item) *Diff {
	c := &comparer{st: s, vars: cloneVars(s.vars), reqItems: req.FindAll(ttlv.TagBatchItem)}
	c.reqHeader, _ = req.Find(ttlv.TagRequestHeader)
	d := c.item(exp, got, fmt.Sprintf("%s[%d]", exp.Tag.XMLName(), step), nil, 0, 0)
	if d == nil {
		s.vars = c.vars
	}
	return d
}

func diffOf(path string, exp, got ttlv.Item, expAttr, gotAttr ttlv.Tag, redactGot bool) *Diff {
	return &Diff{Path: path, Expected: render(exp, expAttr, false), Got: render(got, gotAttr, redactGot)}
}

func contains(stack []ttlv.Tag, t ttlv.Tag) bool {
	for _, s := range stack {
		if s == t {
			return true
		}
	}
	return false
}

// item compares exp and got at path. stack holds the effective tags of the
// enclosing items, outermost first; expAttr and gotAttr name the attribute
// a 1.x Attribute Value belongs to.
func (c *comparer) item(exp, got ttlv.Item, path string, stack []ttlv.Tag, expAttr, gotAttr ttlv.Tag) *Diff {
	redact := contains(stack, ttlv.TagKeyValue) || got.Tag == ttlv.TagKeyValue
	if exp.Tag != got.Tag || exp.Type != got.Type {
		return diffOf(path, exp, got, expAttr, gotAttr, redact)
	}
	stack = append(stack[:len(stack):len(stack)], effectiveTag(exp, expAttr))
	if exp.Type == ttlv.TypeStructure {
		return c.children(exp, got, path, stack)
	}
	return c.leaf(exp, got, path, stack, expAttr, gotAttr, redact)
}

// leaf compares two primitive items of the same tag and type.
func (c *comparer) leaf(exp, got ttlv.Item, path string, stack []ttlv.Tag, expAttr, gotAttr ttlv.Tag, redact bool) *Diff {
	if p, ok := parsePlaceholder(exp); ok {
		if p.now {
			// Any time: the server's clock is its own.
			return nil
		}
		b, ok := c.vars[p.name]
		if !ok {
			c.vars[p.name] = binding{typ: got.Type, value: got.Value}
			return nil
		}
		if b.typ == got.Type && equalValues(b.value, got.Value) {
			return nil
		}
		d := diffOf(path, exp, got, expAttr, gotAttr, redact)
		captured := render(ttlv.Item{Tag: exp.Tag, Type: b.typ, Value: b.value}, expAttr, redact)
		d.Expected = fmt.Sprintf("%s (captured earlier as %s)", d.Expected, captured)
		return d
	}
	switch c.variation(stack) {
	case anyValue:
		return nil
	case sameLength:
		eb, eok := exp.Value.([]byte)
		gb, gok := got.Value.([]byte)
		if !eok || !gok || len(eb) == len(gb) {
			return nil
		}
		d := diffOf(path, exp, got, expAttr, gotAttr, redact)
		d.Got = fmt.Sprintf("%s (a server-chosen value, but %d bytes long, not %d)", d.Got, len(gb), len(eb))
		return d
	}
	if equalValues(exp.Value, got.Value) {
		return nil
	}
	return diffOf(path, exp, got, expAttr, gotAttr, redact)
}

// entry is one child of a structure with its place in the path.
type entry struct {
	it   ttlv.Item
	path string
	attr ttlv.Tag // attribute named by a preceding Attribute Name sibling
}

// entries names the children of a structure for paths: the XML name, with
// the index among same-tag siblings where the tag repeats on either side
// (and always for Batch Item and Attribute).
func entries(path string, list []ttlv.Item, counts map[ttlv.Tag]int) []entry {
	seen := map[ttlv.Tag]int{}
	out := make([]entry, len(list))
	var an ttlv.Tag
	for i, it := range list {
		name := it.Tag.XMLName()
		if name == "" {
			name = fmt.Sprintf("TTLV[0x%06X]", uint32(it.Tag))
		}
		if counts[it.Tag] > 1 || it.Tag == ttlv.TagBatchItem || it.Tag == ttlv.TagAttribute {
			name = fmt.Sprintf("%s[%d]", name, seen[it.Tag])
		}
		seen[it.Tag]++
		out[i] = entry{it: it, path: path + "/" + name, attr: an}
		if t := attributeNameTag(it); t != 0 {
			an = t
		}
	}
	return out
}

func tagCounts(lists ...[]ttlv.Item) map[ttlv.Tag]int {
	m := map[ttlv.Tag]int{}
	for _, l := range lists {
		n := map[ttlv.Tag]int{}
		for _, it := range l {
			n[it.Tag]++
		}
		for t, k := range n {
			m[t] = max(m[t], k)
		}
	}
	return m
}

// children compares two structures of the same tag.
func (c *comparer) children(exp, got ttlv.Item, path string, stack []ttlv.Tag) *Diff {
	parent := stack[len(stack)-1]
	if c.anyContent(stack) {
		return nil
	}
	E, G := exp.Children(), got.Children()
	for _, t := range c.optionalFields(stack) {
		E, G = without(E, t), without(G, t)
	}
	if len(stack) == 2 && parent == ttlv.TagResponseHeader {
		// A Client Correlation Value, if the server returns one, is the
		// request's (optional in the KMIP 2.x response header).
		if cv, ok := c.reqHeader.Find(ttlv.TagClientCorrelationValue); ok {
			G = withoutEqual(G, cv)
		}
	}
	counts := tagCounts(E, G)
	ee, ge := entries(path, E, counts), entries(path, G, counts)
	inSet, superset := c.unordered(stack)
	var eo, es, gOrd, gs []entry
	for _, e := range ee {
		if inSet != nil && inSet(e.it.Tag) {
			es = append(es, e)
		} else {
			eo = append(eo, e)
		}
	}
	for _, g := range ge {
		if inSet != nil && inSet(g.it.Tag) {
			gs = append(gs, g)
		} else {
			gOrd = append(gOrd, g)
		}
	}
	if parent == ttlv.TagResponseMessage {
		// The header last: a short Batch Count says less than the batch
		// item that stopped the batch.
		isHeader := func(e entry) bool { return e.it.Tag == ttlv.TagResponseHeader }
		if d := c.ordered(filter(eo, isHeader, false), filter(gOrd, isHeader, false), stack, got); d != nil {
			return d
		}
		if d := c.ordered(filter(eo, isHeader, true), filter(gOrd, isHeader, true), stack, got); d != nil {
			return d
		}
	} else if d := c.ordered(eo, gOrd, stack, got); d != nil {
		return d
	}
	return c.matchSet(es, gs, stack, superset)
}

// ordered compares two lists of children item by item.
func (c *comparer) ordered(eo, gOrd []entry, stack []ttlv.Tag, got ttlv.Item) *Diff {
	parent := stack[len(stack)-1]
	batch := 0
	for i := 0; i < len(eo) || i < len(gOrd); i++ {
		switch {
		case i >= len(gOrd):
			return &Diff{Path: eo[i].path, Expected: render(eo[i].it, eo[i].attr, false), Got: missing}
		case i >= len(eo):
			return &Diff{Path: gOrd[i].path, Expected: nothing, Got: render(gOrd[i].it, gOrd[i].attr, contains(stack, ttlv.TagKeyValue))}
		}
		e, g := eo[i], gOrd[i]
		if parent == ttlv.TagResponseMessage && e.it.Tag == ttlv.TagBatchItem {
			c.ic = c.itemContext(batch, e.it, g.it)
			batch++
		}
		if d := c.item(e.it, g.it, e.path, stack, e.attr, g.attr); d != nil {
			if parent == ttlv.TagBatchItem && e.it.Tag == ttlv.TagResultStatus {
				d.Got += failureDetail(got)
			}
			return d
		}
	}
	return nil
}

func filter(list []entry, f func(entry) bool, want bool) []entry {
	var out []entry
	for _, e := range list {
		if f(e) == want {
			out = append(out, e)
		}
	}
	return out
}

// failureDetail is the Result Reason and Result Message of a failed
// response batch item, for a difference on its Result Status.
func failureDetail(batchItem ttlv.Item) string {
	var parts []string
	if r, ok := batchItem.Find(ttlv.TagResultReason); ok {
		parts = append(parts, renderValue(r, 0, false))
	}
	if m, ok := batchItem.Find(ttlv.TagResultMessage); ok {
		s, _ := m.TextValue()
		parts = append(parts, fmt.Sprintf("%q", s))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ": ") + ")"
}

// matchSet matches items whose order the specification leaves open: each
// expected item takes the first unused received item it matches.
func (c *comparer) matchSet(es, gs []entry, stack []ttlv.Tag, superset bool) *Diff {
	used := make([]bool, len(gs))
	for _, e := range es {
		found := false
		for j, g := range gs {
			if used[j] {
				continue
			}
			saved := c.vars
			c.vars = cloneVars(saved)
			if c.item(e.it, g.it, e.path, stack, e.attr, g.attr) == nil {
				used[j], found = true, true
				break
			}
			c.vars = saved
		}
		if found {
			continue
		}
		// Explain with the unused item of the same kind, if there is one
		// of a kind (an attribute of the same name).
		if j := sameKind(e, es, gs, used); j >= 0 {
			return c.item(e.it, gs[j].it, e.path, stack, e.attr, gs[j].attr)
		}
		return &Diff{Path: e.path, Expected: render(e.it, e.attr, false), Got: missing}
	}
	if superset {
		return nil
	}
	for j, g := range gs {
		if !used[j] {
			return &Diff{Path: g.path, Expected: nothing, Got: render(g.it, g.attr, contains(stack, ttlv.TagKeyValue))}
		}
	}
	return nil
}

// sameKind returns the index of the one unused received item that stands
// for the same thing as e (a 1.x Attribute of the same name, else an item
// of the same tag) when e is the only one of its kind expected, or -1.
func sameKind(e entry, es, gs []entry, used []bool) int {
	key := func(it ttlv.Item) any {
		if it.Tag != ttlv.TagAttribute {
			return it.Tag
		}
		n, _ := it.Find(ttlv.TagAttributeName)
		s, _ := n.TextValue()
		return s
	}
	k := key(e.it)
	n := 0
	for _, o := range es {
		if key(o.it) == k {
			n++
		}
	}
	if n != 1 {
		return -1
	}
	for j, g := range gs {
		if !used[j] && key(g.it) == k {
			return j
		}
	}
	return -1
}

// withoutEqual drops the items equal to it (same tag, type and value).
func withoutEqual(list []ttlv.Item, it ttlv.Item) []ttlv.Item {
	var out []ttlv.Item
	for _, x := range list {
		if x.Tag == it.Tag && x.Type == it.Type && equalValues(x.Value, it.Value) {
			continue
		}
		out = append(out, x)
	}
	return out
}

func without(list []ttlv.Item, t ttlv.Tag) []ttlv.Item {
	var out []ttlv.Item
	for _, it := range list {
		if it.Tag != t {
			out = append(out, it)
		}
	}
	return out
}

// itemContext prepares the comparison of the response batch item exp/got,
// the index-th of its message.
func (c *comparer) itemContext(index int, exp, got ttlv.Item) *itemContext {
	ic := &itemContext{op: operationOf(exp)}
	if index < len(c.reqItems) {
		ic.request, _ = c.reqItems[index].Find(ttlv.TagRequestPayload)
	}
	if u, ok := ic.request.Find(ttlv.TagUniqueIdentifier); ok {
		ic.uid, _ = u.TextValue()
	} else if p, ok := got.Find(ttlv.TagResponsePayload); ok {
		if u, ok := p.Find(ttlv.TagUniqueIdentifier); ok {
			ic.uid, _ = u.TextValue()
		}
	}
	ic.key = c.st.keys[ic.uid]
	ic.generated = c.st.generated[ic.uid]
	switch ic.op {
	case ttlv.OperationEncrypt:
		_, reqIV := ic.request.Find(ttlv.TagIVCounterNonce)
		var expIV bool
		if p, ok := exp.Find(ttlv.TagResponsePayload); ok {
			_, expIV = p.Find(ttlv.TagIVCounterNonce)
		}
		ic.ivGenerated = !reqIV && expIV
		ic.randomized = ic.generated || ic.key.objectType == uint32(ttlv.ObjectTypePublicKey) ||
			ic.key.objectType == uint32(ttlv.ObjectTypePrivateKey) || usesAlgorithm(ic, ttlv.CryptographicAlgorithmRSA)
	case ttlv.OperationSign:
		dsa := usesAlgorithm(ic, ttlv.CryptographicAlgorithmECDSA, ttlv.CryptographicAlgorithmDSA, ttlv.CryptographicAlgorithmEC) ||
			signatureAlgorithmHas(ic, "ECDSA", "DSA")
		ic.randomized = ic.generated || dsa || usesPSS(ic)
		ic.anyLength = dsa
	}
	return ic
}

// paramsOf returns the Cryptographic Parameters that apply to the item:
// the request's and those registered with the key.
func paramsOf(ic *itemContext) []ttlv.Item {
	out := append([]ttlv.Item(nil), ic.key.params...)
	if p, ok := ic.request.Find(ttlv.TagCryptographicParameters); ok {
		out = append(out, p)
	}
	return out
}

func usesAlgorithm(ic *itemContext, algs ...ttlv.CryptographicAlgorithm) bool {
	has := func(v uint32) bool {
		for _, a := range algs {
			if uint32(a) == v {
				return true
			}
		}
		return false
	}
	for _, v := range ic.key.algorithms {
		if has(v) {
			return true
		}
	}
	for _, p := range paramsOf(ic) {
		if a, ok := p.Find(ttlv.TagCryptographicAlgorithm); ok {
			if v, ok := a.EnumValue(); ok && has(v) {
				return true
			}
		}
	}
	return false
}

func usesPSS(ic *itemContext) bool {
	for _, p := range paramsOf(ic) {
		if m, ok := p.Find(ttlv.TagPaddingMethod); ok {
			if v, ok := m.EnumValue(); ok && v == uint32(ttlv.PaddingMethodPSS) {
				return true
			}
		}
	}
	return signatureAlgorithmHas(ic, "PSS")
}

func signatureAlgorithmHas(ic *itemContext, words ...string) bool {
	for _, p := range paramsOf(ic) {
		a, ok := p.Find(ttlv.TagDigitalSignatureAlgorithm)
		if !ok {
			continue
		}
		v, _ := a.EnumValue()
		name, _ := ttlv.EnumName(ttlv.TagDigitalSignatureAlgorithm, v)
		for _, w := range words {
			if strings.Contains(strings.ToUpper(name), w) {
				return true
			}
		}
	}
	return false
}
