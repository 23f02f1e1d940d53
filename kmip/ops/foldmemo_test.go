package ops

import (
	"testing"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// TestFoldMemo checks when a remembered fold may stand in for the rows just
// read: only for the same rows (MACs, blob, events), never after a change,
// and never handing two callers one attribute slice.
func TestFoldMemo(t *testing.T) {
	const uid = "0b7e1f8e-6a47-4c55-8f0e-3c1d2b4a5e6f"
	row := storage.Object{UID: uid, Blob: []byte{1}, MAC: []byte("row-mac-row-mac")}
	evs := []storage.Event{{ID: "e1", UID: uid, MAC: []byte("mac1")}}
	folded := &object{row: row, attrs: []kmip.Attribute{kmip.Attr(ttlv.Text(ttlv.TagName, "k"))}}
	tests := []struct {
		name   string
		row    func() storage.Object
		events func() []storage.Event
		hit    bool
	}{
		{"same rows", func() storage.Object { return row }, func() []storage.Event { return evs }, true},
		{"event appended", func() storage.Object { return row },
			func() []storage.Event { return append(evs[:1:1], storage.Event{ID: "e2", MAC: []byte("mac2")}) }, false},
		{"blob scrubbed", func() storage.Object { r := row; r.Blob = nil; return r }, func() []storage.Event { return evs }, false},
		{"row MAC differs", func() storage.Object { r := row; r.MAC = []byte("other"); return r }, func() []storage.Event { return evs }, false},
		{"event MAC differs", func() storage.Object { return row },
			func() []storage.Event { return []storage.Event{{ID: "e1", UID: uid, MAC: []byte("macX")}} }, false},
		{"attributes altered, MACs kept", func() storage.Object { r := row; r.Attributes = []byte{9}; return r }, func() []storage.Event { return evs }, false},
		{"event payload altered, MAC kept", func() storage.Object { return row },
			func() []storage.Event {
				return []storage.Event{{ID: "e1", UID: uid, MAC: []byte("mac1"), Payload: []byte{9}}}
			}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newFoldMemo(4)
			m.put(row, evs, folded)
			o, ok := m.get(tt.row(), tt.events())
			if ok != tt.hit {
				t.Fatalf("hit = %v, want %v", ok, tt.hit)
			}
			if !ok {
				return
			}
			o.attrs[0] = kmip.Attr(ttlv.Text(ttlv.TagName, "changed"))
			o.add([]kmip.Attribute{kmip.Attr(ttlv.Text(ttlv.TagName, "more"))})
			again, _ := m.get(row, evs)
			if len(again.attrs) != 1 {
				t.Fatalf("remembered object has %d attributes after a caller's change, want 1", len(again.attrs))
			}
			if v, _ := again.attrs[0].Value.TextValue(); v != "k" {
				t.Errorf("a caller's change reached the memo: %q", v)
			}
		})
	}
	t.Run("put after fold is not changed by the caller", func(t *testing.T) {
		m := newFoldMemo(4)
		o := &object{row: row, attrs: []kmip.Attribute{kmip.Attr(ttlv.Text(ttlv.TagName, "k"))}}
		m.put(row, evs, o)
		o.attrs[0] = kmip.Attr(ttlv.Text(ttlv.TagName, "changed"))
		got, _ := m.get(row, evs)
		if v, _ := got.attrs[0].Value.TextValue(); v != "k" {
			t.Errorf("a change after put reached the memo: %q", v)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		m := newFoldMemo(2)
		for _, u := range []string{"a", "b", "c", "d"} {
			r := row
			r.UID = u
			m.put(r, evs, folded)
		}
		if len(m.entries) > 2 {
			t.Errorf("%d entries, want at most 2", len(m.entries))
		}
	})
}
