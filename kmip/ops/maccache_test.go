package ops

import (
	"fmt"
	"testing"
)

func TestMACCache(t *testing.T) {
	c := newMACCache(4)
	data, mac := []byte("row bytes"), []byte("0123456789abcdef0123456789abcdef")
	c.add(data, mac)
	tests := []struct {
		name string
		data []byte
		mac  []byte
		want bool
	}{
		{"same bytes and MAC", data, mac, true},
		{"altered bytes", []byte("row bytez"), mac, false},
		{"altered MAC", data, []byte("1123456789abcdef0123456789abcdef"), false},
		{"bytes moved into the MAC", []byte("row byte"), append([]byte("s"), mac...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.verified(tt.data, tt.mac); got != tt.want {
				t.Fatalf("verified = %v, want %v", got, tt.want)
			}
		})
	}
	for i := range 100 {
		c.add(fmt.Appendf(nil, "row %d", i), mac)
	}
	if n := len(c.entries); n > 4 {
		t.Fatalf("%d entries, bound is 4", n)
	}
	var none *macCache
	none.add(data, mac)
	if none.verified(data, mac) {
		t.Fatal("a nil cache verified something")
	}
}
