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

// sr_open loads the module again: it is loaded already (miekg/pkcs11 and
// crypto11 opened it), so dlopen returns the same instance, whose sessions
// are ours, and only counts one more reference, which close drops.
static void *sr_open(const char *module) {
	return dlopen(module, RTLD_NOW | RTLD_LOCAL);
}

static void *sr_get_attribute_value_of(void *h) {
	return dlsym(h, "C_GetAttributeValue");
}

static void sr_close(void *h) {
	dlclose(h);
}

// sr_getn reads n attributes in one call: with buf NULL only their lengths
// (into lens), else their values, value i at buf + lens[0] + ... +
// lens[i-1], lens[i] bytes long. The attribute array, which points into
// buf, lives only for the call.
static sr_ck_ulong sr_getn(void *fn, sr_ck_ulong session, sr_ck_ulong object,
		const sr_ck_ulong *types, sr_ck_ulong n, unsigned char *buf, sr_ck_ulong *lens) {
	sr_ck_attribute *a = calloc(n, sizeof *a);
	if (a == NULL) {
		return 0x2; // CKR_HOST_MEMORY
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
	sr_ck_ulong rv = ((sr_get_attribute_value)fn)(session, object, a, n);
	for (sr_ck_ulong i = 0; i < n; i++) {
		lens[i] = a[i].ulValueLen;
	}
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

// attrReader reads attributes with the module's C_GetAttributeValue
// straight into Go memory (sr_getn). miekg/pkcs11's GetAttributeValue makes
// two calls (one for the lengths, one for the values) and passes the values
// through C heap buffers it frees without clearing, which for a key's
// CKA_VALUE leaves a copy of the key in freed memory. A Get of a key in the
// key cache is one such read (the cached object's CKA_ID and CKA_VALUE, one
// call with readExact), and it was a fifth of the server's CPU under the Get
// benchmark; a Get beyond the cache reads the unwrapped value and the CKA_ID
// of the entry it evicts, a Get of a private key its components (getN). The
// function comes from the module's exported symbol; a module that does not
// export it (PKCS#11 only requires C_GetFunctionList) keeps miekg's path.
type attrReader struct {
	lib unsafe.Pointer // our reference to the module, or nil
	fn  unsafe.Pointer // C_GetAttributeValue, or nil
}

func newAttrReader(module string) attrReader {
	cs := C.CString(module)
	defer C.free(unsafe.Pointer(cs))
	lib := C.sr_open(cs)
	if lib == nil {
		return attrReader{}
	}
	return attrReader{lib: lib, fn: C.sr_get_attribute_value_of(lib)}
}

// close drops the reference newAttrReader took (Keystore.Close, after the
// module's own teardown).
func (r attrReader) close() {
	if r.lib != nil {
		C.sr_close(r.lib)
	}
}

// readExact reads attributes types[i] of object h, whose values are lens[i]
// bytes long, in one call into buf (laid out in that order, len(buf) the sum
// of lens); ok is false unless the call succeeded and every value had
// exactly its length. On false, buf may hold part of the values: the caller
// clears it.
func (r attrReader) readExact(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types []uint, lens []int, buf []byte) bool {
	if r.fn == nil || len(buf) == 0 || len(types) == 0 || len(types) != len(lens) {
		return false
	}
	ts := make([]C.sr_ck_ulong, len(types))
	ls := make([]C.sr_ck_ulong, len(types))
	total := 0
	for i, t := range types {
		ts[i], ls[i] = C.sr_ck_ulong(t), C.sr_ck_ulong(lens[i])
		total += lens[i]
	}
	if total != len(buf) {
		return false
	}
	rv := C.sr_getn(r.fn, C.sr_ck_ulong(sh), C.sr_ck_ulong(h), &ts[0], C.sr_ck_ulong(len(types)), (*C.uchar)(unsafe.Pointer(&buf[0])), &ls[0])
	if rv != C.sr_ck_ulong(pkcs11.CKR_OK) {
		return false
	}
	for i, l := range ls {
		if int(l) != lens[i] {
			return false
		}
	}
	return true
}

// maxSecretAttr bounds one attribute read by getN: an RSA-16384 private
// exponent is 2 KiB, so a module that reports more is not answering sanely.
const maxSecretAttr = 64 << 10

// getN reads attributes of lengths not known in advance (a private key's
// components) with two calls, lengths then values, the values straight into
// one Go buffer, which the caller clears when done: unlike miekg's path, no
// copy is left in freed C memory. ok is false if the module's function is
// not at hand (the caller then uses miekg's).
func (r attrReader) getN(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types []uint) (vals [][]byte, ok bool, err error) {
	if r.fn == nil || len(types) == 0 {
		return nil, false, nil
	}
	ts := make([]C.sr_ck_ulong, len(types))
	lens := make([]C.sr_ck_ulong, len(types))
	for i, t := range types {
		ts[i] = C.sr_ck_ulong(t)
	}
	n := C.sr_ck_ulong(len(types))
	if rv := C.sr_getn(r.fn, C.sr_ck_ulong(sh), C.sr_ck_ulong(h), &ts[0], n, nil, &lens[0]); rv != C.sr_ck_ulong(pkcs11.CKR_OK) {
		return nil, true, pkcs11.Error(rv)
	}
	sizes := make([]int, len(lens))
	total := 0
	for i, l := range lens {
		if l > maxSecretAttr { // also CK_UNAVAILABLE_INFORMATION
			return nil, true, fmt.Errorf("hsm: attribute 0x%X: the token reports %d bytes", types[i], uint64(l))
		}
		sizes[i] = int(l)
		total += sizes[i]
	}
	buf := make([]byte, total)
	if total > 0 && !r.readExact(sh, h, types, sizes, buf) {
		clear(buf)
		return nil, true, fmt.Errorf("hsm: the token did not return the %d attributes at the lengths it had reported", len(types))
	}
	vals = make([][]byte, len(types))
	off := 0
	for i, n := range sizes {
		vals[i] = buf[off : off+n : off+n]
		off += n
	}
	return vals, true, nil
}
