package conformance

import (
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// state is what one test case run remembers between its steps.
type state struct {
	now func() time.Time
	// vars holds the captured placeholders, by name ("UNIQUE_IDENTIFIER_0").
	vars map[string]binding
	// lastByTag is the last value of each tag that a response carried.
	lastByTag map[ttlv.Tag]binding
	// generated holds the identifiers of objects whose key material the
	// server chose (Create, Create Key Pair, Re-key, ...).
	generated map[string]bool
	// keys describes the objects the case registered or created.
	keys map[string]keyInfo
}

// keyInfo is what the requests said about an object: enough to tell
// whether an operation's output is reproducible.
type keyInfo struct {
	objectType uint32
	// algorithms are the Cryptographic Algorithm values given anywhere in
	// the request that made the object (its own or in Cryptographic
	// Parameters).
	algorithms []uint32
	// params are the Cryptographic Parameters given at registration.
	params []ttlv.Item
}

func newState(now func() time.Time) *state {
	if now == nil {
		now = time.Now
	}
	return &state{
		now:       now,
		vars:      map[string]binding{},
		lastByTag: map[ttlv.Tag]binding{},
		generated: map[string]bool{},
		keys:      map[string]keyInfo{},
	}
}

// cloneVars copies the captured placeholders, so that a tentative match
// (of an attribute against each candidate) can be abandoned.
func cloneVars(m map[string]binding) map[string]binding {
	out := make(map[string]binding, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// generatingOps are the operations whose new objects hold key material the
// server chose.
var generatingOps = map[ttlv.Operation]bool{
	ttlv.OperationCreate:         true,
	ttlv.OperationCreateKeyPair:  true,
	ttlv.OperationReKey:          true,
	ttlv.OperationReKeyKeyPair:   true,
	ttlv.OperationCreateSplitKey: true,
	ttlv.OperationCertify:        true,
	ttlv.OperationReCertify:      true,
}

// learn records, after a step, which objects the server generated and what
// the request said about the objects it made.
func (s *state) learn(req, got ttlv.Item) {
	reqItems := req.FindAll(ttlv.TagBatchItem)
	for i, bi := range got.FindAll(ttlv.TagBatchItem) {
		op := operationOf(bi)
		payload, ok := bi.Find(ttlv.TagResponsePayload)
		if !ok {
			continue
		}
		var rp ttlv.Item
		if i < len(reqItems) {
			rp, _ = reqItems[i].Find(ttlv.TagRequestPayload)
		}
		for _, c := range payload.Children() {
			uid, ok := c.TextValue()
			if !ok {
				continue
			}
			var ot uint32
			switch c.Tag {
			case ttlv.TagUniqueIdentifier:
				if v, ok := rp.Find(ttlv.TagObjectType); ok {
					ot, _ = v.EnumValue()
				}
				if v, ok := payload.Find(ttlv.TagObjectType); ok {
					ot, _ = v.EnumValue()
				}
			case ttlv.TagPrivateKeyUniqueIdentifier:
				ot = uint32(ttlv.ObjectTypePrivateKey)
			case ttlv.TagPublicKeyUniqueIdentifier:
				ot = uint32(ttlv.ObjectTypePublicKey)
			default:
				continue
			}
			if generatingOps[op] {
				s.generated[uid] = true
			}
			if op == ttlv.OperationRegister || generatingOps[op] {
				ki := keyInfo{objectType: ot}
				collectCrypto(rp, 0, &ki)
				s.keys[uid] = ki
			}
		}
	}
	s.record(got, 0)
}

// collectCrypto gathers the Cryptographic Algorithm values and Cryptographic
// Parameters in a request payload, in either the 1.x or the 2.x form.
func collectCrypto(it ttlv.Item, attrName ttlv.Tag, ki *keyInfo) {
	tag := effectiveTag(it, attrName)
	switch {
	case tag == ttlv.TagCryptographicAlgorithm && it.Type == ttlv.TypeEnumeration:
		if v, ok := it.Value.(uint32); ok {
			ki.algorithms = append(ki.algorithms, v)
		}
	case tag == ttlv.TagCryptographicParameters && it.Type == ttlv.TypeStructure:
		ki.params = append(ki.params, it)
	}
	if it.Type != ttlv.TypeStructure {
		return
	}
	var an ttlv.Tag
	for _, c := range it.Children() {
		collectCrypto(c, an, ki)
		if t := attributeNameTag(c); t != 0 {
			an = t
		}
	}
}

// operationOf returns a batch item's Operation, or 0.
func operationOf(batchItem ttlv.Item) ttlv.Operation {
	if o, ok := batchItem.Find(ttlv.TagOperation); ok {
		v, _ := o.EnumValue()
		return ttlv.Operation(v)
	}
	return 0
}
