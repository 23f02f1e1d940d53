package kmipbench

import (
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
		why      string // part of the refusal
	}{
		{in: "get", want: "get"},
		{in: "create", want: "create"},
		{in: "get=6,get-attributes=2,create=1,encrypt=1", want: "get=6,get-attributes=2,create=1,encrypt=1"},
		{in: "get,create", want: "get=1,create=1"},
		{in: " get = 3 , mongod ", want: "get=3,mongod=1"},
		{in: "locate=1000", want: "locate"},
		{in: "", why: "unknown operation"},
		{in: "dance", why: "unknown operation"},
		{in: "get,", why: "unknown operation"},
		{in: "get=0", why: "weight of get"},
		{in: "get=-2", why: "weight of get"},
		{in: "get=1001", why: "weight of get"},
		{in: "get=x", why: "weight of get"},
		{in: "get=", why: "weight of get"},
		{in: "get=1,get=2", why: "named twice"},
	}
	for _, tc := range tests {
		m, err := parseMix(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseMix(%q) = %v, want a refusal", tc.in, m)
		case tc.want == "" && !strings.Contains(err.Error(), tc.why):
			t.Errorf("parseMix(%q): %v, want it to say %q", tc.in, err, tc.why)
		case tc.want != "" && err != nil:
			t.Errorf("parseMix(%q): %v", tc.in, err)
		case tc.want != "" && m.String() != tc.want:
			t.Errorf("parseMix(%q) = %q, want %q", tc.in, m, tc.want)
		}
	}
}

// TestPicker: every cycle of the picker holds each operation exactly its
// weight's times, no operation of weight 1 comes twice in a row, and workers
// start at different points of the cycle.
func TestPicker(t *testing.T) {
	tests := []string{"get", "get=3,create=1", "get=6,get-attributes=2,create=1,encrypt=1", "create=2,get=5", "get,create,locate"}
	for _, in := range tests {
		m, err := parseMix(in)
		if err != nil {
			t.Fatal(err)
		}
		p := m.picker(0)
		for cycle := range 3 {
			counts := make([]int, len(m))
			prev := -1
			for range p.total {
				j := p.next()
				counts[j]++
				if j == prev && m[j].weight == 1 && len(m) > 1 {
					t.Errorf("%s: %s twice in a row", in, m[j].op)
				}
				prev = j
			}
			for j, e := range m {
				if counts[j] != e.weight {
					t.Errorf("%s, cycle %d: %s sent %d times, want %d", in, cycle, e.op, counts[j], e.weight)
				}
			}
		}
		if len(m) == 1 {
			continue
		}
		first := func(start int) string {
			p := m.picker(start)
			var b strings.Builder
			for range p.total {
				b.WriteString(m[p.next()].op + " ")
			}
			return b.String()
		}
		if first(0) == first(1) {
			t.Errorf("%s: workers 0 and 1 send the same sequence: %s", in, first(0))
		}
	}
}
