package pkcs11hsm

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// MAC computes HMAC-SHA-256 over data with the token's MAC key.
func (k *Keystore) MAC(ctx context.Context, data []byte) ([]byte, error) {
	return k.macOn(ctx, k.pool, "compute MAC", data)
}

// SealMAC is MAC on a session reserved for it. The audit trail seals its
// records with it: every request waits for its record's seal, so under
// load a seal that queued for a pooled session behind the requests would
// hold all of them up (one wait per record of a group commit).
func (k *Keystore) SealMAC(ctx context.Context, data []byte) ([]byte, error) {
	return k.macOn(ctx, k.sealPool, "seal audit record", data)
}

func (k *Keystore) macOn(ctx context.Context, pool *sessionPool, op string, data []byte) ([]byte, error) {
	if err := k.requireKeys(false, true); err != nil {
		return nil, err
	}
	var mac []byte
	err := k.doOn(ctx, pool, op, func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		err := k.p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, keys.mac)
		if err != nil {
			return fmt.Errorf("hsm: start HMAC with %q: %w", k.cfg.MACLabel, err)
		}
		if mac, err = k.p.Sign(sh, data); err != nil {
			return fmt.Errorf("hsm: compute HMAC with %q: %w", k.cfg.MACLabel, err)
		}
		return nil
	})
	return mac, err
}

// VerifyMAC recomputes the MAC in the token and compares in constant time
// here rather than trusting the module's C_Verify to do so.
func (k *Keystore) VerifyMAC(ctx context.Context, data, mac []byte) error {
	want, err := k.MAC(ctx, data)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, mac) != 1 {
		return fmt.Errorf("%w: MAC does not verify", hsm.ErrIntegrity)
	}
	return nil
}

// Random returns n bytes from the token's random number generator.
func (k *Keystore) Random(ctx context.Context, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("hsm: random: negative length %d", n)
	}
	if n == 0 {
		return []byte{}, nil
	}
	var out []byte
	err := k.do(ctx, "generate random", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		var err error
		if out, err = k.p.GenerateRandom(sh, n); err != nil {
			return fmt.Errorf("hsm: generate %d random bytes: %w", n, err)
		}
		return nil
	})
	return out, err
}
