// Package pkcs11hsm implements hsm.Keystore over a PKCS#11 token (SoftHSM2 in
// tests, a network or PCIe HSM in production) with github.com/miekg/pkcs11
// and, for the signing keys, github.com/ThalesGroup/crypto11.
//
// Two token objects do all the work and never leave the token: the
// key-encryption key (KEK, AES-256, WRAP/UNWRAP only) and the MAC key (a
// 32-byte generic secret, SIGN/VERIFY only). Data keys are generated or
// imported as short-lived session objects, wrapped under the KEK with
// CKM_AES_KEY_WRAP_PAD (RFC 5649) and destroyed; only the wrapped blob leaves
// the package. Every boolean attribute of every template is spelled out
// because tokens disagree on defaults (SoftHSM2 defaults SENSITIVE to false,
// many HSMs to true).
//
// Sessions: PKCS#11 forbids using one session from two goroutines and allows
// one active operation per session, so the Keystore keeps a bounded pool of
// sessions and hands each in-flight call its own. One extra "anchor" session
// stays open and logged in for the Keystore's lifetime because closing the
// last session of an application logs it out. A session that reports it was
// closed, invalidated or logged out is replaced (logging in again) and the
// call retried once; key handles are looked up again when they go stale,
// which SoftHSM2 does to private objects after a new login. A context bounds
// the wait for a session; a PKCS#11 call, once started, cannot be
// interrupted.
//
// The library is process-global: C_Initialize reads SoftHSM2's
// SOFTHSM2_CONF, and C_Finalize ends every session in the process. The CA
// and TLS keys sign through github.com/ThalesGroup/crypto11 (casigner.go),
// which must initialize the module itself: Open configures crypto11 first
// and then finds the module initialized; crypto11 counts its contexts per
// module and the last one's Close finalizes it (crypto11.go).
//
// An unwrapped-key cache is deliberately absent; it can be added later as an
// hsm.Keystore decorator (keyed by the blob) without touching this package.
package pkcs11hsm
