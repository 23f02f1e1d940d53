package pkcs11hsm

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/miekg/pkcs11"
)

// digestMemo keeps the SHA-256 digest of each key GenerateWrapped made,
// computed in the token (C_DigestKey) while the generated object still
// existed, until DigestKey asks for it. KMIP Create sets the new key's
// Digest attribute right after generating it; without the memo, DigestKey
// unwrapped the blob again into a new session object only to hash it: an
// unwrap, an object creation and a destruction (about 40 % of a Create's
// time in the token). The digest is a hash of the key value, which Get
// Attributes returns to clients anyway, never the value itself; the memo
// is keyed by a hash of the wrapped blob, holds at most digestMemoSize
// entries and forgets an entry once it is taken.
type digestMemo struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte][]byte
}

const digestMemoSize = 256

func memoKey(blob []byte, length int) [sha256.Size]byte {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(length)))
	h.Write(blob)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// remember records the digest of the key wrapped as blob.
func (d *digestMemo) remember(blob []byte, length int, sum []byte) {
	k := memoKey(blob, length)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[[sha256.Size]byte][]byte)
	}
	for old := range d.m {
		if len(d.m) < digestMemoSize {
			break
		}
		delete(d.m, old)
	}
	d.m[k] = sum
}

// take returns and forgets the digest of the key wrapped as blob.
func (d *digestMemo) take(blob []byte, length int) ([]byte, bool) {
	k := memoKey(blob, length)
	d.mu.Lock()
	defer d.mu.Unlock()
	sum, ok := d.m[k]
	if ok {
		delete(d.m, k)
	}
	return sum, ok
}

// digestObject hashes a live secret key object with SHA-256 in the token;
// nil if the token refuses (the caller then leaves the memo empty).
func (k *Keystore) digestObject(sh pkcs11.SessionHandle, obj pkcs11.ObjectHandle) []byte {
	if err := k.p.DigestInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256, nil)}); err != nil {
		return nil
	}
	if err := k.p.DigestKey(sh, obj); err != nil {
		_, _ = k.p.DigestFinal(sh) // end the operation
		return nil
	}
	sum, err := k.p.DigestFinal(sh)
	if err != nil {
		return nil
	}
	return sum
}
