package ops

import (
	"bytes"
	"context"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/softhsmtest"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/memstore"
)

// bindingTokens are the keystores the row-binding tests run on: the fake
// token (real HMACs, key in memory) and a real SoftHSM2 token.
var bindingTokens = []struct {
	name string
	open func(t *testing.T) hsm.Keystore
}{
	{"fake token", func(*testing.T) hsm.Keystore { return newFakeKeys() }},
	{"SoftHSM2", softHSMKeys},
}

// softHSMKeys opens a keystore with a KEK and a MAC key on a fresh
// SoftHSM2 token, closed at cleanup. It fails (not skips) without SoftHSM2.
func softHSMKeys(t *testing.T) hsm.Keystore {
	t.Helper()
	ctx := context.Background()
	cfg := softhsmtest.NewToken(t).Config(2)
	cfg.AllowMissingKeys = true
	ks, err := pkcs11hsm.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ks.Close(); err != nil {
			t.Errorf("close keystore: %v", err)
		}
	})
	if _, err := ks.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	return ks
}

// cloneRow copies the byte slices a test changes (nil stays nil).
func cloneRow(r storage.Object) storage.Object {
	r.MAC, r.Blob, r.Attributes = bytes.Clone(r.MAC), bytes.Clone(r.Blob), bytes.Clone(r.Attributes)
	return r
}

// bindV1 sets the MAC column the way binding v1 did: two HSM HMACs.
func bindV1(t *testing.T, keys hsm.Keystore, r storage.Object) storage.Object {
	t.Helper()
	r = cloneRow(r)
	id, err := keys.MAC(t.Context(), objectBinding(r))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := keys.MAC(t.Context(), blobBinding(r))
	if err != nil {
		t.Fatal(err)
	}
	r.MAC = append(id, blob...)
	return r
}

// isIntegrityFailure reports whether err is the Cryptographic Failure load
// answers for a row that failed its check.
func isIntegrityFailure(err error) bool {
	kerr, ok := kmip.AsError(err)
	return ok && kerr.Reason == ttlv.ResultReasonCryptographicFailure
}

// TestRowBindingV2 tampers with object rows as someone with SQL access but
// without the HSM could, and checks what checkBinding accepts: the rows as
// bound (v2, and v1 rows made the old way), scrubbed, and nothing else.
// Each case is checked by the Service that bound the rows (its MAC cache
// holds their HMACs) and by a fresh one (every HMAC checked in the token).
func TestRowBindingV2(t *testing.T) {
	for _, tok := range bindingTokens {
		t.Run(tok.name, func(t *testing.T) {
			ctx := t.Context()
			keys := tok.open(t)
			store := memstore.New("node1")
			s := New(Config{Keys: keys, Store: store, Identify: officer})
			read := func(uid string) storage.Object {
				row, _, err := store.Object(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				return row
			}
			a, b := read(newKey(t, s)), read(newKey(t, s))
			if len(a.MAC) != rowMACv2Size || a.MAC[0] != rowMACv2 {
				t.Fatalf("new row's MAC column is %x, want 0x02 || HMAC || D (65 bytes)", a.MAC)
			}
			if d := blobDigest(a); !bytes.Equal(a.MAC[1+macSize:], d[:]) {
				t.Fatalf("stored D %x, want SHA-256 of the blob binding %x", a.MAC[1+macSize:], d)
			}
			if len(a.Blob) == 0 || bytes.Equal(a.Blob, b.Blob) || a.BlobLength != b.BlobLength {
				t.Fatal("want two keys of one length with distinct blobs")
			}
			aV1, bV1 := bindV1(t, keys, a), bindV1(t, keys, b)
			hmacOf := func(r storage.Object) []byte { return r.MAC[1 : 1+macSize] }
			dOf := func(r storage.Object) []byte { return r.MAC[1+macSize:] }
			mac := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
			tag := []byte{rowMACv2}
			// change returns a copy of r changed by f.
			change := func(r storage.Object, f func(*storage.Object)) storage.Object {
				r = cloneRow(r)
				f(&r)
				return r
			}
			flip := func(p []byte, i int) []byte { p = bytes.Clone(p); p[i] ^= 1; return p }
			tests := []struct {
				name string
				row  storage.Object
				ok   bool
			}{
				{"v2 as bound", a, true},
				{"v2 scrubbed (Destroy)", change(a, func(r *storage.Object) { r.Blob = nil }), true},
				{"v1 row made the old way", aV1, true},
				{"v1 row scrubbed", change(aV1, func(r *storage.Object) { r.Blob = nil }), true},

				// Blobs moved between rows.
				{"blob moved from another row", change(a, func(r *storage.Object) { r.Blob = b.Blob }), false},
				{"blob and its D moved from another row", change(a, func(r *storage.Object) {
					r.Blob, r.MAC = b.Blob, mac(tag, hmacOf(a), dOf(b))
				}), false},
				{"blob, D and KEK fields moved from another row", change(a, func(r *storage.Object) {
					r.Blob, r.KEK, r.Mechanism, r.BlobLength, r.MAC = b.Blob, b.KEK, b.Mechanism, b.BlobLength, mac(tag, hmacOf(a), dOf(b))
				}), false},
				{"blob one bit off", change(a, func(r *storage.Object) { r.Blob = flip(r.Blob, 0) }), false},
				{"blob cut", change(a, func(r *storage.Object) { r.Blob = r.Blob[:len(r.Blob)-1] }), false},
				{"v1: blob moved from another row", change(aV1, func(r *storage.Object) { r.Blob = b.Blob }), false},
				{"v1: blob and blob HMAC moved from another row", change(aV1, func(r *storage.Object) {
					r.Blob, r.MAC = b.Blob, mac(aV1.MAC[:macSize], bV1.MAC[macSize:])
				}), false},

				// D and the HMAC.
				{"D changed", change(a, func(r *storage.Object) { r.MAC = mac(tag, hmacOf(a), flip(dOf(a), 31)) }), false},
				{"D changed to match a moved blob", change(a, func(r *storage.Object) {
					r.Blob = b.Blob
					d := blobDigest(*r)
					r.MAC = mac(tag, hmacOf(a), d[:])
				}), false},
				{"D changed, blob scrubbed", change(a, func(r *storage.Object) {
					r.Blob, r.MAC = nil, mac(tag, hmacOf(a), flip(dOf(a), 0))
				}), false},
				{"D of another row, blob scrubbed", change(a, func(r *storage.Object) {
					r.Blob, r.MAC = nil, mac(tag, hmacOf(a), dOf(b))
				}), false},
				{"HMAC changed", change(a, func(r *storage.Object) { r.MAC = mac(tag, flip(hmacOf(a), 5), dOf(a)) }), false},
				{"HMAC of another row", change(a, func(r *storage.Object) { r.MAC = mac(tag, hmacOf(b), dOf(a)) }), false},

				// Whole MAC columns swapped.
				{"MAC column of another row", change(a, func(r *storage.Object) { r.MAC = bytes.Clone(b.MAC) }), false},
				{"MAC column and blob of another row", change(a, func(r *storage.Object) { r.MAC, r.Blob = bytes.Clone(b.MAC), b.Blob }), false},
				{"MAC column of another row, blob scrubbed", change(a, func(r *storage.Object) { r.MAC, r.Blob = bytes.Clone(b.MAC), nil }), false},
				{"v1 MAC column of another row", change(aV1, func(r *storage.Object) { r.MAC = bytes.Clone(bV1.MAC) }), false},
				{"v1 MAC column of another row, blob scrubbed", change(aV1, func(r *storage.Object) {
					r.MAC, r.Blob = bytes.Clone(bV1.MAC), nil
				}), false},

				// Every identity field.
				{"UID of another row", change(a, func(r *storage.Object) { r.UID = b.UID }), false},
				{"origin node", change(a, func(r *storage.Object) { r.OriginNode = "node2" }), false},
				{"object type", change(a, func(r *storage.Object) { r.ObjectType = uint32(ttlv.ObjectTypeSecretData) }), false},
				{"algorithm", change(a, func(r *storage.Object) { r.Algorithm = uint32(ttlv.CryptographicAlgorithmHMACSHA256) }), false},
				{"length", change(a, func(r *storage.Object) { r.Length = 256 }), false},
				{"KEK label", change(a, func(r *storage.Object) { r.KEK = "other-kek" }), false},
				{"mechanism", change(a, func(r *storage.Object) { r.Mechanism++ }), false},
				{"blob length", change(a, func(r *storage.Object) { r.BlobLength = 32 }), false},
				{"initial attributes of another row", change(a, func(r *storage.Object) { r.Attributes = b.Attributes }), false},
				{"initial attributes one bit off", change(a, func(r *storage.Object) { r.Attributes = flip(r.Attributes, len(r.Attributes)-1) }), false},
				{"length, blob scrubbed", change(a, func(r *storage.Object) { r.Length, r.Blob = 256, nil }), false},
				{"initial attributes, blob scrubbed", change(a, func(r *storage.Object) { r.Attributes, r.Blob = b.Attributes, nil }), false},
				{"v1: length", change(aV1, func(r *storage.Object) { r.Length = 256 }), false},
				{"v1: initial attributes, blob scrubbed", change(aV1, func(r *storage.Object) { r.Attributes, r.Blob = b.Attributes, nil }), false},

				// One layout passed off as the other.
				{"v2 tag stripped (64 bytes, v1-looking)", change(a, func(r *storage.Object) { r.MAC = r.MAC[1:] }), false},
				{"v2 tag stripped, blob scrubbed", change(a, func(r *storage.Object) { r.MAC, r.Blob = r.MAC[1:], nil }), false},
				{"v2 cut to 64 bytes", change(a, func(r *storage.Object) { r.MAC = r.MAC[:rowMACv1Size] }), false},
				{"v2 cut to 64 bytes, blob scrubbed", change(a, func(r *storage.Object) { r.MAC, r.Blob = r.MAC[:rowMACv1Size], nil }), false},
				{"v2 HMAC with the blob's v2 D laid out as v1", change(a, func(r *storage.Object) { r.MAC = mac(hmacOf(a), dOf(a)) }), false},
				{"v1 with a v2 tag (65 bytes)", change(aV1, func(r *storage.Object) { r.MAC = mac(tag, aV1.MAC) }), false},
				{"v1 identity HMAC with D, as v2", change(aV1, func(r *storage.Object) { r.MAC = mac(tag, aV1.MAC[:macSize], dOf(a)) }), false},
				{"v1 identity HMAC with D, as v2, blob scrubbed", change(aV1, func(r *storage.Object) {
					r.MAC, r.Blob = mac(tag, aV1.MAC[:macSize], dOf(a)), nil
				}), false},
				{"v1 cut to its identity HMAC, blob scrubbed", change(aV1, func(r *storage.Object) { r.MAC, r.Blob = r.MAC[:macSize], nil }), false},

				// Cut, padded, other tags.
				{"no MAC", change(a, func(r *storage.Object) { r.MAC = nil }), false},
				{"empty MAC", change(a, func(r *storage.Object) { r.MAC = []byte{} }), false},
				{"tag only", change(a, func(r *storage.Object) { r.MAC = r.MAC[:1] }), false},
				{"cut to 33 bytes (no D)", change(a, func(r *storage.Object) { r.MAC = r.MAC[:1+macSize] }), false},
				{"cut to 33 bytes, blob scrubbed", change(a, func(r *storage.Object) { r.MAC, r.Blob = r.MAC[:1+macSize], nil }), false},
				{"one byte cut", change(a, func(r *storage.Object) { r.MAC = r.MAC[:rowMACv2Size-1] }), false},
				{"one byte added", change(a, func(r *storage.Object) { r.MAC = mac(a.MAC, []byte{0}) }), false},
				{"one byte added, blob scrubbed", change(a, func(r *storage.Object) { r.MAC, r.Blob = mac(a.MAC, []byte{0}), nil }), false},
				{"v1 and v2 concatenated", change(a, func(r *storage.Object) { r.MAC = mac(a.MAC, aV1.MAC) }), false},
				{"tag 0x01", change(a, func(r *storage.Object) { r.MAC = mac([]byte{1}, a.MAC[1:]) }), false},
				{"tag 0x03", change(a, func(r *storage.Object) { r.MAC = mac([]byte{3}, a.MAC[1:]) }), false},
				{"v1 one byte cut", change(aV1, func(r *storage.Object) { r.MAC = r.MAC[:rowMACv1Size-1] }), false},
				{"v1 one byte added", change(aV1, func(r *storage.Object) { r.MAC = mac(aV1.MAC, []byte{0}) }), false},
			}
			services := []struct {
				name string
				s    *Service
			}{
				{"binding service", s},
				{"fresh service", New(Config{Keys: keys, Store: store, Identify: officer})},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					for _, sv := range services {
						err := sv.s.checkBinding(ctx, tt.row, nil)
						if tt.ok && err != nil {
							t.Errorf("%s refused it: %v", sv.name, err)
						}
						if !tt.ok && !isIntegrityFailure(err) {
							t.Errorf("%s: got %v, want Cryptographic Failure", sv.name, err)
						}
					}
				})
			}
		})
	}
}

// TestRowBindingGolden pins both layouts on one row (fake token key): the
// v1 column was written by the code before binding v2 and still verifies,
// so the v1 encodings have not moved; bindObject writes exactly the v2
// column of the design (recomputed outside Go), which existing v2 rows
// depend on. Neither column verifies for a changed row.
func TestRowBindingGolden(t *testing.T) {
	row := storage.Object{UID: "3f2c8f4e-8a1d-4c7b-9e51-2d6a0b7c9e13", OriginNode: "node1", ObjectType: 2, Algorithm: 3,
		Length: 256, KEK: "strongroom-kek", Mechanism: 0x2109, Blob: []byte("wrapped key bytes, 40 of them.........."),
		BlobLength: 32, Attributes: []byte("initial attributes")}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v1 := unhex("b4cc6d139679cee198988d68916eec283803326531b4fc12cc26ff69b53223c2" +
		"3964062ace1bba245925e80e7f1e0ad3b0dca336f14f455df845771ce0123bc2")
	v2 := unhex("02" + "efcbf9bd4eee454ea90b07ce60597bd00535ad334d64d5c8b5c78214ed4b1fe7" +
		"079968602d110f3ceb8cb16c16ff99beb5bb13d62e2df2ede0549fdf14eddb90")
	s := newTestService(nil)
	ctx := t.Context()
	bound := cloneRow(row)
	if err := s.bindObject(ctx, &bound); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bound.MAC, v2) {
		t.Fatalf("bindObject wrote %x, want %x", bound.MAC, v2)
	}
	for _, layout := range []struct {
		name string
		mac  []byte
	}{{"v1", v1}, {"v2", v2}} {
		r := cloneRow(row)
		r.MAC = layout.mac
		if err := newTestService(nil).checkBinding(ctx, r, nil); err != nil {
			t.Errorf("%s row: %v", layout.name, err)
		}
		r.Blob = nil
		if err := newTestService(nil).checkBinding(ctx, r, nil); err != nil {
			t.Errorf("scrubbed %s row: %v", layout.name, err)
		}
		for name, f := range map[string]func(*storage.Object){
			"blob":   func(r *storage.Object) { r.Blob[0] ^= 1 },
			"length": func(r *storage.Object) { r.Length = 128 },
			"UID":    func(r *storage.Object) { r.UID = "3f2c8f4e-8a1d-4c7b-9e51-2d6a0b7c9e14" },
		} {
			r := cloneRow(row)
			r.MAC = layout.mac
			f(&r)
			if err := newTestService(nil).checkBinding(ctx, r, nil); !isIntegrityFailure(err) {
				t.Errorf("%s row, %s changed: %v", layout.name, name, err)
			}
		}
	}
}

// tamperStore is a store whose reads of one object pass through a change,
// as if someone had altered the row in the database.
type tamperStore struct {
	storage.Store
	mu     sync.Mutex
	uid    string
	tamper func(*storage.Object)
}

func (ts *tamperStore) set(uid string, f func(*storage.Object)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.uid, ts.tamper = uid, f
}

func (ts *tamperStore) Object(ctx context.Context, uid string) (storage.Object, []storage.Event, error) {
	row, evs, err := ts.Store.Object(ctx, uid)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err == nil && uid == ts.uid && ts.tamper != nil {
		row = cloneRow(row)
		ts.tamper(&row)
	}
	return row, evs, err
}

// TestRowBindingThroughLoad runs rows through load with its MAC cache and
// fold memo warm: a row changed after a successful Get misses both and is
// refused; the unchanged row is served again; a v2 row scrubbed by Destroy
// still loads, and so does a v1 row, before and after Destroy.
func TestRowBindingThroughLoad(t *testing.T) {
	for _, tok := range bindingTokens {
		t.Run(tok.name, func(t *testing.T) {
			ctx := t.Context()
			keys := tok.open(t)
			base := memstore.New("node1")
			store := &tamperStore{Store: base}
			s := New(Config{Keys: keys, Store: store, Identify: officer})
			op := func(s *Service, o ttlv.Operation, uid string) *kmip.ResponseItem {
				t.Helper()
				resp := serve(t, s, v14, kmip.RequestItem{Operation: o, Payload: uidPayload(uid)})
				return &resp.Items[0]
			}
			mustSucceed := func(s *Service, o ttlv.Operation, uid, what string) {
				t.Helper()
				if it := op(s, o, uid); it.Status != ttlv.ResultStatusSuccess {
					t.Fatalf("%s: %s %s", what, it.Reason, it.Message)
				}
			}
			uid, other := newKey(t, s), newKey(t, s)
			mustSucceed(s, ttlv.OperationGet, uid, "get as created")
			mustSucceed(s, ttlv.OperationGet, uid, "get again (memo)")
			otherRow, _, err := base.Object(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			tampers := []struct {
				name string
				f    func(*storage.Object)
			}{
				{"blob moved from another row", func(r *storage.Object) { r.Blob = otherRow.Blob }},
				{"blob and D moved from another row", func(r *storage.Object) {
					r.Blob = otherRow.Blob
					copy(r.MAC[1+macSize:], otherRow.MAC[1+macSize:])
				}},
				{"D changed", func(r *storage.Object) { r.MAC[len(r.MAC)-1] ^= 1 }},
				{"MAC column of another row", func(r *storage.Object) { r.MAC = bytes.Clone(otherRow.MAC) }},
				{"tag stripped", func(r *storage.Object) { r.MAC = r.MAC[1:] }},
				{"initial attributes of another row", func(r *storage.Object) { r.Attributes = otherRow.Attributes }},
			}
			for _, tt := range tampers {
				store.set(uid, tt.f)
				if it := op(s, ttlv.OperationGet, uid); it.Reason != ttlv.ResultReasonCryptographicFailure {
					t.Errorf("%s: get answered %s %s, want Cryptographic Failure", tt.name, it.Reason, it.Message)
				}
			}
			store.set("", nil)
			mustSucceed(s, ttlv.OperationGet, uid, "get after the row was put back")

			// Destroy scrubs the blob in place; the row still loads, on
			// this Service and on one with cold caches.
			mustSucceed(s, ttlv.OperationDestroy, uid, "destroy")
			row, _, err := base.Object(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			if row.Blob != nil || len(row.MAC) != rowMACv2Size {
				t.Fatalf("after Destroy: blob %x, MAC of %d bytes; want no blob and the v2 column", row.Blob, len(row.MAC))
			}
			mustSucceed(s, ttlv.OperationGetAttributes, uid, "get attributes of the destroyed key")
			cold := New(Config{Keys: keys, Store: store, Identify: officer})
			mustSucceed(cold, ttlv.OperationGetAttributes, uid, "get attributes of the destroyed key, cold caches")
			store.set(uid, func(r *storage.Object) { r.MAC[len(r.MAC)-1] ^= 1 })
			if it := op(cold, ttlv.OperationGetAttributes, uid); it.Reason != ttlv.ResultReasonCryptographicFailure {
				t.Errorf("destroyed key with D changed: %s %s, want Cryptographic Failure", it.Reason, it.Message)
			}
			store.set(uid, func(r *storage.Object) { r.Blob = otherRow.Blob })
			if it := op(cold, ttlv.OperationGetAttributes, uid); it.Reason != ttlv.ResultReasonCryptographicFailure {
				t.Errorf("destroyed key given another row's blob: %s %s, want Cryptographic Failure", it.Reason, it.Message)
			}
			store.set("", nil)

			// A v1 row (bound the old way, in a database of its own) is
			// served, destroyed and still loads after.
			v1, evs, err := base.Object(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			v1 = bindV1(t, keys, v1)
			old := memstore.New("node1")
			if err := old.CreateObject(ctx, v1, evs...); err != nil {
				t.Fatal(err)
			}
			sv1 := New(Config{Keys: keys, Store: old, Identify: officer})
			mustSucceed(sv1, ttlv.OperationGet, other, "get of a v1 row")
			mustSucceed(sv1, ttlv.OperationDestroy, other, "destroy of a v1 row")
			mustSucceed(sv1, ttlv.OperationGetAttributes, other, "get attributes of a destroyed v1 row")
			mustSucceed(New(Config{Keys: keys, Store: old, Identify: officer}), ttlv.OperationGetAttributes, other,
				"get attributes of a destroyed v1 row, cold caches")
		})
	}
}
