package pkcs11hsm

import (
	"context"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// HoldSessionForTest takes one session out of the pool until release is
// called, so tests can exhaust the pool deterministically.
func (k *Keystore) HoldSessionForTest(ctx context.Context) (release func(), err error) {
	s, err := k.pool.acquire(ctx, "test hold")
	if err != nil {
		return nil, err
	}
	return func() { k.pool.release(s) }, nil
}

// WithTokenForTest runs f on a pooled session with the raw module and key
// handles, for tests that probe the token directly. The session goes back
// to the pool as if healthy whatever f did to it.
func (k *Keystore) WithTokenForTest(ctx context.Context, f func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, kek, mac pkcs11.ObjectHandle) error) error {
	s, err := k.pool.acquire(ctx, "test probe")
	if err != nil {
		return err
	}
	defer k.pool.release(s)
	h := k.keys.Load()
	return f(k.p, s.h, h.kek, h.mac)
}

// CAKeyTemplatesForTest exposes the CA key pair templates, for a test that
// makes a key pair the way versions before crypto11 did.
var CAKeyTemplatesForTest = caKeyTemplates

// SwapCachedHandleForTest makes the cache entry of a point at the object
// cached for b, as if a's handle had been reused by the token for another
// object.
func (k *Keystore) SwapCachedHandleForTest(a, b hsm.Wrapped) bool {
	c := k.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	ea, okA := c.entries[idOf(a)]
	eb, okB := c.entries[idOf(b)]
	if !okA || !okB {
		return false
	}
	ea.Value.(*cacheEntry).h = eb.Value.(*cacheEntry).h
	return true
}

// DataKeyTemplateForTest exposes the template of short-lived data keys.
var DataKeyTemplateForTest = dataKeyAttrs

// ReadValueForTest makes a readable session object holding material and
// reads it back with readValue, expecting length bytes.
func (k *Keystore) ReadValueForTest(ctx context.Context, material []byte, length int) ([]byte, error) {
	var value []byte
	err := k.do(ctx, "test read value", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		h, err := k.createSecret(sh, append(dataKeyAttrs(pkcs11.CKK_GENERIC_SECRET, false), pkcs11.NewAttribute(pkcs11.CKA_VALUE, material)))
		if err != nil {
			return err
		}
		defer k.destroy(sh, h)
		value, err = k.readValue(sh, h, length)
		return err
	})
	return value, err
}

// CreateDirectForTest creates a session object from tmpl through the
// module's own C_CreateObject (ok false if the module does not export it),
// reads the attributes read back with miekg's GetAttributeValue and
// destroys the object.
func (k *Keystore) CreateDirectForTest(ctx context.Context, tmpl []*pkcs11.Attribute, read []uint) (vals [][]byte, ok bool, err error) {
	err = k.do(ctx, "test create", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		var h pkcs11.ObjectHandle
		var err error
		if h, ok, err = k.direct.createObject(sh, tmpl); !ok || err != nil {
			return err
		}
		defer k.destroy(sh, h)
		q := make([]*pkcs11.Attribute, len(read))
		for i, t := range read {
			q[i] = pkcs11.NewAttribute(t, nil)
		}
		got, err := k.p.GetAttributeValue(sh, h, q)
		for _, a := range got {
			vals = append(vals, a.Value)
		}
		return err
	})
	return vals, ok, err
}
