package kmipbench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxWeight bounds one operation's weight in a mix: enough for any ratio
// worth measuring, small enough that a cycle of the picker stays short.
const maxWeight = 1000

// mixEntry is one operation of a mix and its share of the requests.
type mixEntry struct {
	op     string
	weight int
}

// mix is what one run sends: one operation ("get"), or several with
// weights ("get=6,get-attributes=2,create=1,encrypt=1"), the way a fleet of
// databases loads a key server: many start-ups, a few new keys.
type mix []mixEntry

// parseMix reads Options.Op: a comma-separated list of operations, each
// with an optional "=weight" (default 1). Every operation is one of Ops,
// named once.
func parseMix(s string) (mix, error) {
	var m mix
	for part := range strings.SplitSeq(s, ",") {
		op, w, hasWeight := strings.Cut(strings.TrimSpace(part), "=")
		op = strings.TrimSpace(op)
		if !slices.Contains(Ops, op) {
			return nil, fmt.Errorf("kmipbench: unknown operation %q (one of %v, optionally with =weight, comma-separated)", op, Ops)
		}
		weight := 1
		if hasWeight {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 1 || n > maxWeight {
				return nil, fmt.Errorf("kmipbench: weight of %s must be a whole number from 1 to %d, not %q", op, maxWeight, w)
			}
			weight = n
		}
		if slices.ContainsFunc(m, func(e mixEntry) bool { return e.op == op }) {
			return nil, fmt.Errorf("kmipbench: operation %s named twice in %q", op, s)
		}
		m = append(m, mixEntry{op: op, weight: weight})
	}
	return m, nil
}

// String is the mix's canonical form, which results carry: the operation
// alone, or every operation with its weight.
func (m mix) String() string {
	if len(m) == 1 {
		return m[0].op
	}
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.op + "=" + strconv.Itoa(e.weight)
	}
	return strings.Join(parts, ",")
}

// has reports whether the mix sends any of ops.
func (m mix) has(ops ...string) bool {
	return slices.ContainsFunc(m, func(e mixEntry) bool { return slices.Contains(ops, e.op) })
}

// usesKeys reports whether an operation of the mix works on keys the set-up
// creates (every one but create).
func (m mix) usesKeys() bool {
	return slices.ContainsFunc(m, func(e mixEntry) bool { return e.op != "create" })
}

// needsActive reports whether an operation of the mix needs those keys
// Active (encrypt, and mongod, which checks the State).
func (m mix) needsActive() bool { return m.has("encrypt", "mongod") }

// picker chooses a worker's next operation by smooth weighted round robin:
// every cycle of total picks holds each operation exactly its weight's
// times, spread out (get=3,create=1 gives get get create get, never two
// Creates in a row), with no random draw per operation. Each worker starts
// at a different point of the cycle, so that the workers do not all send
// the rare operation at once.
type picker struct {
	weights, current []int
	total            int
}

func (m mix) picker(start int) *picker {
	p := &picker{weights: make([]int, len(m)), current: make([]int, len(m))}
	for i, e := range m {
		p.weights[i] = e.weight
		p.total += e.weight
	}
	for range start % p.total {
		p.next()
	}
	return p
}

// next returns the index in the mix of the operation to send next.
func (p *picker) next() int {
	best := 0
	for i, w := range p.weights {
		p.current[i] += w
		if p.current[i] > p.current[best] {
			best = i
		}
	}
	p.current[best] -= p.total
	return best
}
