package pkcs11hsm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/miekg/pkcs11"
)

// InitToken initializes a fresh token labelled label in the first
// uninitialized slot, sets its SO PIN and user PIN, and leaves it with no
// keys (Open with AllowMissingKeys, then EnsureKeys, creates those). It
// fails with ErrTokenExists if a token already carries the label. It uses
// PKCS#11 only (C_InitToken, C_InitPIN), so it works for SoftHSM2 without
// softhsm2-util.
//
// If confPath is not empty it is exported as SOFTHSM2_CONF first. SoftHSM2
// reads that variable at C_Initialize, so it applies to the whole process,
// and only if the module is not initialized yet; InitToken refuses a
// confPath it cannot honour. If InitToken initialized the module it
// finalizes it again before returning.
func InitToken(ctx context.Context, module, confPath, label, soPIN, userPIN string) (err error) {
	switch {
	case module == "":
		return errors.New("hsm: init token: module path is empty")
	case label == "" || len(label) > 32:
		return fmt.Errorf("hsm: init token: label %q must be 1 to 32 bytes", label)
	case soPIN == "" || userPIN == "":
		return errors.New("hsm: init token: SO PIN and user PIN must not be empty")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hsm: init token %q: %w", label, err)
	}
	prevConf, hadConf := os.LookupEnv("SOFTHSM2_CONF")
	if confPath != "" {
		if err := os.Setenv("SOFTHSM2_CONF", confPath); err != nil {
			return fmt.Errorf("hsm: init token: set SOFTHSM2_CONF: %w", err)
		}
	}
	p := pkcs11.New(module)
	if p == nil {
		return fmt.Errorf("hsm: load PKCS#11 module %q: cannot load library", module)
	}
	defer p.Destroy()
	switch ierr := p.Initialize(); {
	case ierr == nil:
		defer func() {
			if ferr := p.Finalize(); ferr != nil && err == nil {
				err = fmt.Errorf("hsm: finalize PKCS#11 module: %w", ferr)
			}
		}()
	case isCode(ierr, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
		if confPath != "" && (!hadConf || prevConf != confPath) {
			return fmt.Errorf("hsm: init token %q: module %q is already initialized, so SOFTHSM2_CONF %q would be ignored", label, module, confPath)
		}
	default:
		return fmt.Errorf("hsm: initialize PKCS#11 module %q: %w", module, ierr)
	}
	return initToken(ctx, p, label, soPIN, userPIN)
}

func initToken(ctx context.Context, p *pkcs11.Ctx, label, soPIN, userPIN string) error {
	free, err := freeSlot(p, label)
	if err != nil {
		return err
	}
	if err := p.InitToken(free, soPIN, label); err != nil {
		return fmt.Errorf("hsm: init token %q in slot %d: %w", label, free, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hsm: init token %q: %w", label, err)
	}
	// The token may have moved to another slot id; find it by label.
	slot, err := findTokenSlot(p, label)
	if err != nil {
		return fmt.Errorf("hsm: init token %q: token vanished after C_InitToken: %w", label, err)
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("hsm: init token %q: open session: %w", label, err)
	}
	defer func() { _ = p.CloseSession(sh) }()
	if err := p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("hsm: init token %q: log in as SO: %w", label, err)
	}
	defer func() { _ = p.Logout(sh) }()
	if err := p.InitPIN(sh, userPIN); err != nil {
		return fmt.Errorf("hsm: init token %q: set user PIN: %w", label, err)
	}
	return nil
}

// freeSlot returns the first slot with an uninitialized token, after making
// sure no initialized token already has the label.
func freeSlot(p *pkcs11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("hsm: list slots: %w", err)
	}
	free, haveFree := uint(0), false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			return 0, fmt.Errorf("hsm: read token info of slot %d: %w", s, err)
		}
		initialized := ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0
		if initialized && ti.Label == label {
			return 0, fmt.Errorf("%w: token %q is in slot %d", ErrTokenExists, label, s)
		}
		if !initialized && !haveFree {
			free, haveFree = s, true
		}
	}
	if !haveFree {
		return 0, fmt.Errorf("hsm: init token %q: no slot holds an uninitialized token", label)
	}
	return free, nil
}
