package pkcs11hsm

import (
	"fmt"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// signWait bounds how long a signature (a TLS handshake, a certificate)
// waits for one of crypto11's sessions; crypto11 would wait for ever.
const signWait = 10 * time.Second

// openCrypto11 configures crypto11 on the token: it loads and initializes
// the module unless another crypto11 context already holds it, opens a
// persistent session and logs in (tolerating CKR_USER_ALREADY_LOGGED_IN).
//
// A process loads a PKCS#11 module once and may call C_Initialize once:
// crypto11.Configure fails with CKR_CRYPTOKI_ALREADY_INITIALIZED if anyone
// else initialized the module, while this package's own miekg/pkcs11 context
// tolerates it. So Open configures crypto11 first, then initializes its own
// context (finding the module initialized, it never finalizes it), logs in
// on its sessions (the login is per application, so that answers
// CKR_USER_ALREADY_LOGGED_IN) and Close closes crypto11 last, whose final
// reference finalizes the module.
func openCrypto11(cfg Config) (*crypto11.Context, error) {
	return crypto11.Configure(&crypto11.Config{
		Path:       cfg.Module,
		TokenLabel: cfg.TokenLabel,
		Pin:        cfg.PIN,
		// One persistent session plus a pool as large as this package's.
		MaxSessions:     cfg.Sessions + 1,
		PoolWaitTimeout: signWait,
	})
}

// explainOpenError turns a failed crypto11.Configure into this package's
// errors, which tell the operator what to do and match its sentinels
// (ErrTokenNotFound; the pkcs11.Error of a refused login): crypto11 says
// "could not find PKCS#11 token" or "failed to log into long term session".
// Unless the login failed, the steps are repeated on p to find which one
// fails. The PIN is in none of the messages.
func explainOpenError(p *pkcs11.Ctx, cfg Config, err error) error {
	if isCode(err, pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED,
		pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_USER_PIN_NOT_INITIALIZED) {
		return fmt.Errorf("hsm: log in to token %q: %w", cfg.TokenLabel, err)
	}
	switch ierr := p.Initialize(); {
	case ierr == nil:
		defer p.Finalize()
	case isCode(ierr, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
	default:
		return fmt.Errorf("hsm: initialize PKCS#11 module %q: %w", cfg.Module, ierr)
	}
	if _, ferr := findTokenSlot(p, cfg.TokenLabel); ferr != nil {
		return ferr
	}
	return fmt.Errorf("hsm: open token %q with crypto11: %w", cfg.TokenLabel, err)
}
