package pkcs11hsm

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The few PKCS#11 types this file needs, as the specification's pkcs11t.h
// defines them for Unix (CK_ULONG is unsigned long; structures are not
// packed), so the package needs no PKCS#11 headers of its own.
typedef unsigned long sr_ck_ulong;
typedef struct { sr_ck_ulong type; void *pValue; sr_ck_ulong ulValueLen; } sr_ck_attribute;
typedef sr_ck_ulong (*sr_get_attribute_value)(sr_ck_ulong, sr_ck_ulong, sr_ck_attribute *, sr_ck_ulong);
typedef sr_ck_ulong (*sr_create_object)(sr_ck_ulong, sr_ck_attribute *, sr_ck_ulong, sr_ck_ulong *);

// sr_open loads the module again: it is loaded already (miekg/pkcs11 and
// crypto11 opened it), so dlopen returns the same instance, whose sessions
// are ours, and only counts one more reference, which close drops.
static void *sr_open(const char *module) {
	return dlopen(module, RTLD_NOW | RTLD_LOCAL);
}

static void *sr_sym(void *h, const char *name) {
	return dlsym(h, name);
}

static void sr_close(void *h) {
	dlclose(h);
}

// sr_attrs lays out a template of n attributes whose values lie one after
// the other in buf (value i at buf + lens[0] + ... + lens[i-1], lens[i]
// bytes long), or, with buf NULL, attributes with no value (a length
// query). The array points into buf: it must not outlive the call it is
// made for. NULL if out of memory.
static sr_ck_attribute *sr_attrs(const sr_ck_ulong *types, sr_ck_ulong n, unsigned char *buf, const sr_ck_ulong *lens) {
	sr_ck_attribute *a = calloc(n, sizeof *a);
	if (a == NULL) {
		return NULL;
	}
	sr_ck_ulong off = 0;
	for (sr_ck_ulong i = 0; i < n; i++) {
		a[i].type = types[i];
		if (buf != NULL) {
			a[i].pValue = buf + off;
			a[i].ulValueLen = lens[i];
			off += lens[i];
		}
	}
	return a;
}

// sr_getn reads n attributes in one call: with buf NULL only their lengths
// (into lens), else their values into buf as sr_attrs lays them out, and
// each value's length the token reports into lens.
static sr_ck_ulong sr_getn(void *fn, sr_ck_ulong session, sr_ck_ulong object,
		const sr_ck_ulong *types, sr_ck_ulong n, unsigned char *buf, sr_ck_ulong *lens) {
	sr_ck_attribute *a = sr_attrs(types, n, buf, lens);
	if (a == NULL) {
		return 0x2; // CKR_HOST_MEMORY
	}
	sr_ck_ulong rv = ((sr_get_attribute_value)fn)(session, object, a, n);
	for (sr_ck_ulong i = 0; i < n; i++) {
		lens[i] = a[i].ulValueLen;
	}
	free(a);
	return rv;
}

// sr_create creates an object from a template of n attributes laid out in
// buf as sr_attrs lays them out; the new handle goes to *object.
static sr_ck_ulong sr_create(void *fn, sr_ck_ulong session,
		const sr_ck_ulong *types, sr_ck_ulong n, unsigned char *buf, const sr_ck_ulong *lens, sr_ck_ulong *object) {
	sr_ck_attribute *a = sr_attrs(types, n, buf, lens);
	if (a == NULL) {
		return 0x2; // CKR_HOST_MEMORY
	}
	sr_ck_ulong rv = ((sr_create_object)fn)(session, a, n, object);
	free(a);
	return rv;
}

*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// direct calls two of the module's functions itself, so that secret values
// pass only through Go memory that Strongroom clears. miekg/pkcs11 copies
// attribute values into C heap buffers and frees them without clearing:
// for a key's CKA_VALUE, going in (C_CreateObject) or coming out
// (C_GetAttributeValue), that leaves a copy of the key in freed memory.
//
// Reads: a Get of a key in the key cache reads the cached object's CKA_ID
// and CKA_VALUE in one call (readExact), which was a fifth of the server's
// CPU under the Get benchmark, where miekg makes two; a Get beyond the cache
// reads the unwrapped value and the CKA_ID of the entry it evicts, a Get of
// a private key its components (getN). Writes: Register's key material and
// a private key's components enter the token through createObject.
//
// The functions come from the module's exported symbols; for a module that
// does not export them (PKCS#11 only requires C_GetFunctionList),
// readAttrs and createSecret, through which every caller goes, fall back to
// miekg's path.
type direct struct {
	lib    unsafe.Pointer // our reference to the module, or nil
	get    unsafe.Pointer // C_GetAttributeValue, or nil
	create unsafe.Pointer // C_CreateObject, or nil
}

func newDirect(module string) direct {
	cs := C.CString(module)
	defer C.free(unsafe.Pointer(cs))
	lib := C.sr_open(cs)
	if lib == nil {
		return direct{}
	}
	sym := func(name string) unsafe.Pointer {
		cn := C.CString(name)
		defer C.free(unsafe.Pointer(cn))
		return C.sr_sym(lib, cn)
	}
	return direct{lib: lib, get: sym("C_GetAttributeValue"), create: sym("C_CreateObject")}
}

// close drops the reference newDirect took (Keystore.Close, after the
// module's own teardown).
func (r direct) close() {
	if r.lib != nil {
		C.sr_close(r.lib)
	}
}

// createObject creates an object from tmpl with one call, its values copied
// one after another into a Go buffer that is cleared before it returns. ok
// is false if the module's function is not at hand (the caller then uses
// miekg's CreateObject). tmpl is not modified.
func (r direct) createObject(sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) (h pkcs11.ObjectHandle, ok bool, err error) {
	if r.create == nil || len(tmpl) == 0 {
		return 0, false, nil
	}
	ts := make([]C.sr_ck_ulong, len(tmpl))
	ls := make([]C.sr_ck_ulong, len(tmpl))
	total := 0
	for i, a := range tmpl {
		ts[i], ls[i] = C.sr_ck_ulong(a.Type), C.sr_ck_ulong(len(a.Value))
		total += len(a.Value)
	}
	buf := make([]byte, max(total, 1)) // &buf[0] must exist even if every value is empty
	defer clear(buf)
	off := 0
	for _, a := range tmpl {
		off += copy(buf[off:], a.Value)
	}
	var obj C.sr_ck_ulong
	rv := C.sr_create(r.create, C.sr_ck_ulong(sh), &ts[0], C.sr_ck_ulong(len(tmpl)), (*C.uchar)(unsafe.Pointer(&buf[0])), &ls[0], &obj)
	if rv != C.sr_ck_ulong(pkcs11.CKR_OK) {
		return 0, true, pkcs11.Error(rv)
	}
	return pkcs11.ObjectHandle(obj), true, nil
}

// readExact reads attributes types[i] of object h, whose values are lens[i]
// bytes long, in one call into one Go buffer, laid out in that order (split
// cuts it). ok is false unless the call succeeded and every value had
// exactly its length; the buffer, which may then hold part of the values,
// is cleared first.
func (r direct) readExact(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types []uint, lens []int) (buf []byte, ok bool) {
	if r.get == nil || len(types) == 0 || len(types) != len(lens) {
		return nil, false
	}
	ts := make([]C.sr_ck_ulong, len(types))
	ls := make([]C.sr_ck_ulong, len(types))
	total := 0
	for i, t := range types {
		ts[i], ls[i] = C.sr_ck_ulong(t), C.sr_ck_ulong(lens[i])
		total += lens[i]
	}
	buf = make([]byte, max(total, 1)) // &buf[0] must exist even if every value is empty
	rv := C.sr_getn(r.get, C.sr_ck_ulong(sh), C.sr_ck_ulong(h), &ts[0], C.sr_ck_ulong(len(types)), (*C.uchar)(unsafe.Pointer(&buf[0])), &ls[0])
	ok = rv == C.sr_ck_ulong(pkcs11.CKR_OK)
	for i, l := range ls {
		ok = ok && int(l) == lens[i]
	}
	if !ok {
		clear(buf)
		return nil, false
	}
	return buf[:total], true
}

// maxSecretAttr bounds one attribute read by getN: an RSA-16384 private
// exponent is 2 KiB, so a module that reports more is not answering sanely.
const maxSecretAttr = 64 << 10

// getN reads attributes of lengths not known in advance (a private key's
// components) with two calls, lengths then values, the values straight into
// one Go buffer, which the caller clears when done: unlike miekg's path, no
// copy is left in freed C memory. ok is false if the module's function is
// not at hand.
func (r direct) getN(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types []uint) (vals [][]byte, ok bool, err error) {
	if r.get == nil || len(types) == 0 {
		return nil, false, nil
	}
	ts := make([]C.sr_ck_ulong, len(types))
	lens := make([]C.sr_ck_ulong, len(types))
	for i, t := range types {
		ts[i] = C.sr_ck_ulong(t)
	}
	n := C.sr_ck_ulong(len(types))
	if rv := C.sr_getn(r.get, C.sr_ck_ulong(sh), C.sr_ck_ulong(h), &ts[0], n, nil, &lens[0]); rv != C.sr_ck_ulong(pkcs11.CKR_OK) {
		return nil, true, pkcs11.Error(rv)
	}
	sizes := make([]int, len(lens))
	for i, l := range lens {
		if l > maxSecretAttr { // also CK_UNAVAILABLE_INFORMATION
			return nil, true, fmt.Errorf("hsm: attribute 0x%X: the token reports %d bytes", types[i], uint64(l))
		}
		sizes[i] = int(l)
	}
	buf, ok := r.readExact(sh, h, types, sizes)
	if !ok {
		return nil, true, fmt.Errorf("hsm: the token did not return the %d attributes at the lengths it had reported", len(types))
	}
	return split(buf, sizes), true, nil
}

// split cuts buf into consecutive values of the given sizes.
func split(buf []byte, sizes []int) [][]byte {
	vals := make([][]byte, len(sizes))
	off := 0
	for i, n := range sizes {
		vals[i] = buf[off : off+n : off+n]
		off += n
	}
	return vals
}

// readAttrs reads attributes types of object h, in that order, into Go
// memory the caller clears when done. With lens, the lengths the caller
// expects, it reads them in one call (readExact: a cached key's read); when
// lens is nil or a length differs (SoftHSM2 2.6.1 pads a key that is not
// whole 8-byte blocks, see trimUnwrapped) it asks the lengths first (getN).
// Only for a module that does not export C_GetAttributeValue does it take
// miekg's path, which leaves a copy in freed C memory.
func (k *Keystore) readAttrs(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types []uint, lens []int) ([][]byte, error) {
	if lens != nil {
		if buf, ok := k.direct.readExact(sh, h, types, lens); ok {
			return split(buf, lens), nil
		}
	}
	if vals, ok, err := k.direct.getN(sh, h, types); ok {
		return vals, err
	}
	want := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		want[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := k.p.GetAttributeValue(sh, h, want)
	if err != nil {
		return nil, err
	}
	vals := make([][]byte, len(got))
	for i, a := range got {
		vals[i] = a.Value
	}
	return vals, nil
}

// createSecret creates an object whose template carries a secret (a key's
// material or a private key's components): through direct when the module
// exports C_CreateObject, else through miekg's CreateObject.
func (k *Keystore) createSecret(sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if h, ok, err := k.direct.createObject(sh, tmpl); ok {
		return h, err
	}
	return k.p.CreateObject(sh, tmpl)
}
