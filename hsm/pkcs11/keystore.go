package pkcs11hsm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

var _ hsm.Keystore = (*Keystore)(nil)

// Keystore is an hsm.Keystore backed by one PKCS#11 token. It is safe for
// concurrent use; at most Config.Sessions calls run in the token at once.
type Keystore struct {
	cfg Config
	log *slog.Logger
	p   *pkcs11.Ctx
	// c11 is the crypto11 context of the same module and token: the CA and
	// TLS keys sign through it (casigner.go). Open configures it before
	// initializing p, and Close closes it after p's sessions.
	c11 *crypto11.Context
	// slot is the token's slot id as found by label at Open.
	slot uint
	// ownsInit records whether Open's C_Initialize initialized the module
	// (rather than finding it initialized, normally by crypto11), which
	// makes Close finalize it.
	ownsInit bool
	// anchor keeps the login alive: closing the last session logs out.
	anchor pkcs11.SessionHandle
	pool   *sessionPool
	// sealPool is one session of its own for SealMAC, so that the audit
	// writer, which every request waits for, never queues for a session
	// behind the requests themselves.
	sealPool *sessionPool

	// ensureMu serializes EnsureKeys: token objects are created one at a
	// time (SoftHSM2 2.6.1 fails concurrent token-object creation).
	ensureMu sync.Mutex
	keys     atomic.Pointer[keyHandles]
	// streams bounds the multi-part operations in flight, each of which
	// holds its own session outside the pool (see StartCipher).
	streams chan struct{}
	// direct reads and writes key material through Go memory only
	// (direct.go).
	direct direct
	// digests are generated keys' digests until DigestKey takes them.
	digests digestMemo
	// cache keeps recently read keys unwrapped inside the token (nil when
	// turned off); sweepStop ends the goroutine that expires its entries
	// and sweepDone says it has ended.
	cache     *unwrapCache
	sweepStop chan struct{}
	sweepDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// keyHandles are the object handles of the two token keys; a zero handle
// means the key was absent at Open and EnsureKeys has not created it.
type keyHandles struct {
	kek, mac pkcs11.ObjectHandle
}

// Open loads the module, logs in to the token labelled cfg.TokenLabel,
// opens the session pool and finds the KEK and MAC key. Unless
// cfg.AllowMissingKeys is set, a missing key is an error wrapping
// ErrKeyNotFound that tells the operator to run `strongroom init`.
func Open(ctx context.Context, cfg Config) (*Keystore, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hsm: open token %q: %w", cfg.TokenLabel, err)
	}
	p := pkcs11.New(cfg.Module)
	if p == nil {
		return nil, fmt.Errorf("hsm: load PKCS#11 module %q: cannot load library", cfg.Module)
	}
	// crypto11 first: it initializes the module only if no crypto11 context
	// holds it yet (it counts references per module path) and fails if
	// anyone else initialized it; this package tolerates the reverse.
	c11, err := openCrypto11(cfg)
	if err != nil {
		err = explainOpenError(p, cfg, err)
		p.Destroy()
		return nil, err
	}
	k := &Keystore{cfg: cfg, log: cfg.Logger, p: p, c11: c11, streams: make(chan struct{}, maxStreams),
		cache: newUnwrapCache(cfg.KeyCacheSize, cfg.KeyCacheTTL), direct: newDirect(cfg.Module)}
	switch err := p.Initialize(); {
	case err == nil:
		// Only if the library was loaded twice (say, through another path).
		k.ownsInit = true
	case isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
	default:
		k.teardown()
		return nil, fmt.Errorf("hsm: initialize PKCS#11 module %q: %w", cfg.Module, err)
	}
	if err := k.open(ctx); err != nil {
		k.teardown()
		return nil, err
	}
	k.startSweeper()
	k.log.Info("hsm: token opened", "config", cfg, "slot", k.slot, "finalize_on_close", k.ownsInit)
	return k, nil
}

// open does the part of Open that needs cleaning up on failure.
func (k *Keystore) open(ctx context.Context) error {
	slot, err := findTokenSlot(k.p, k.cfg.TokenLabel)
	if err != nil {
		return err
	}
	k.slot = slot
	if err := k.checkMechanisms(); err != nil {
		return err
	}
	if k.anchor, err = k.openSession(); err != nil {
		return err
	}
	k.pool = newSessionPool(k.cfg.Sessions, k.openSession, k.closeSession)
	k.sealPool = newSessionPool(1, k.openSession, k.closeSession)
	k.SetCallObserver(k.cfg.ObserveCall)
	if err := k.pool.fill(); err != nil {
		return err
	}
	if err := k.sealPool.fill(); err != nil {
		return err
	}
	return k.findKeys(ctx)
}

// findTokenSlot returns the slot holding the one initialized token labelled
// label. Slot ids are never configured: SoftHSM2 renumbers them.
func findTokenSlot(p *pkcs11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("hsm: list slots: %w", err)
	}
	var found []uint
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			return 0, fmt.Errorf("hsm: read token info of slot %d: %w", s, err)
		}
		if ti.Label == label && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, &notFoundError{
			msg:  fmt.Sprintf("hsm: token %q not found (%d tokens present)", label, len(slots)),
			kind: ErrTokenNotFound,
		}
	case 1:
		return found[0], nil
	default:
		return 0, fmt.Errorf("hsm: %d tokens are labelled %q; labels must be unique", len(found), label)
	}
}

// checkMechanisms fails early, with a message an operator can act on, when
// the token lacks the wrap or HMAC mechanism.
func (k *Keystore) checkMechanisms() error {
	needs := []struct {
		mech  uint
		flags uint
		name  string
	}{
		{k.cfg.WrapMechanism, pkcs11.CKF_WRAP | pkcs11.CKF_UNWRAP, "key wrap"},
		{pkcs11.CKM_SHA256_HMAC, pkcs11.CKF_SIGN, "HMAC-SHA-256"},
	}
	for _, n := range needs {
		info, err := k.p.GetMechanismInfo(k.slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(n.mech, nil)})
		if err != nil {
			return fmt.Errorf("hsm: token %q does not offer %s mechanism 0x%X: %w", k.cfg.TokenLabel, n.name, n.mech, err)
		}
		if info.Flags&n.flags != n.flags {
			return fmt.Errorf("hsm: token %q mechanism 0x%X lacks flags 0x%X", k.cfg.TokenLabel, n.mech, n.flags)
		}
	}
	return nil
}

// openSession opens a read-write session and logs the application in. The
// login is per application, so later sessions normally get
// CKR_USER_ALREADY_LOGGED_IN; calling Login anyway is what restores a login
// the token dropped.
func (k *Keystore) openSession() (pkcs11.SessionHandle, error) {
	sh, err := k.p.OpenSession(k.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("hsm: open session on token %q: %w", k.cfg.TokenLabel, err)
	}
	if err := k.p.Login(sh, pkcs11.CKU_USER, k.cfg.PIN); err != nil && !isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		_ = k.p.CloseSession(sh)
		return 0, fmt.Errorf("hsm: log in to token %q: %w", k.cfg.TokenLabel, err)
	}
	return sh, nil
}

func (k *Keystore) closeSession(sh pkcs11.SessionHandle) {
	if err := k.p.CloseSession(sh); err != nil && !isCode(err, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED) {
		k.log.Warn("hsm: close session", "error", err)
	}
}

// do runs f on a pooled session with the current key handles. If f fails
// because the session is broken (closed, invalidated, logged out) the
// session is replaced, which logs in again; if the key handles went stale
// (SoftHSM2 renumbers private objects after a new login) they are looked up
// again. Either way f is retried once: every operation here is safe to
// repeat because session objects die with their session.
func (k *Keystore) do(ctx context.Context, op string, f func(sh pkcs11.SessionHandle, keys *keyHandles) error) error {
	return k.doOn(ctx, k.pool, op, f)
}

// doOn is do on the given pool's sessions.
func (k *Keystore) doOn(ctx context.Context, pool *sessionPool, op string, f func(sh pkcs11.SessionHandle, keys *keyHandles) error) error {
	refresh := false
	for attempt := 1; ; attempt++ {
		s, err := pool.acquire(ctx, op)
		if err != nil {
			return err
		}
		if refresh {
			if rerr := k.refreshKeys(s.h); rerr != nil {
				pool.release(s)
				return rerr
			}
		}
		keys := k.keys.Load()
		err = f(s.h, keys)
		verdict := sessionOK
		if err != nil {
			verdict = k.diagnose(s.h, err)
		}
		if verdict == sessionBroken {
			k.log.Warn("hsm: replacing broken session", "op", op, "attempt", attempt, "error", err)
			if rerr := pool.replace(s); rerr != nil {
				return errors.Join(err, rerr)
			}
		} else {
			pool.release(s)
		}
		if verdict == sessionOK || attempt == 2 {
			return err
		}
		// Look the keys up again unless another call already did.
		refresh = verdict == sessionBroken || k.keys.Load() == keys
	}
}

// sessionVerdict is what a failed call says about its session.
type sessionVerdict int

const (
	// sessionOK: the session is fine, the error is the caller's.
	sessionOK sessionVerdict = iota
	// staleHandles: the session is logged in but a key handle is invalid.
	staleHandles
	// sessionBroken: replace the session (and log in again).
	sessionBroken
)

// diagnose classifies a failed call on sh. Besides the explicit session
// errors, a token that dropped the login hides its private objects, so
// SoftHSM2 reports the KEK or MAC key handle as invalid
// (CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID) rather than
// CKR_USER_NOT_LOGGED_IN; the session state tells the cases apart.
func (k *Keystore) diagnose(sh pkcs11.SessionHandle, err error) sessionVerdict {
	if isSessionError(err) {
		return sessionBroken
	}
	if !isCode(err,
		pkcs11.CKR_OBJECT_HANDLE_INVALID,
		pkcs11.CKR_KEY_HANDLE_INVALID,
		pkcs11.CKR_WRAPPING_KEY_HANDLE_INVALID,
		pkcs11.CKR_UNWRAPPING_KEY_HANDLE_INVALID,
	) {
		return sessionOK
	}
	info, ierr := k.p.GetSessionInfo(sh)
	if ierr != nil || (info.State != pkcs11.CKS_RO_USER_FUNCTIONS && info.State != pkcs11.CKS_RW_USER_FUNCTIONS) {
		return sessionBroken
	}
	return staleHandles
}

// Close waits for in-flight calls, closes every session (which logs out)
// and, if Open initialized the module, finalizes it. Later calls fail with
// ErrClosed. Close is idempotent.
func (k *Keystore) Close() error {
	k.closeOnce.Do(func() {
		k.closeErr = k.teardown()
		k.log.Info("hsm: token closed", "token", k.cfg.TokenLabel)
	})
	return k.closeErr
}

// teardown releases whatever Open acquired; it tolerates a partial Open.
func (k *Keystore) teardown() error {
	k.stopSweeper()
	if k.sealPool != nil {
		k.sealPool.shutdown()
	}
	if k.pool != nil {
		k.pool.shutdown()
	}
	var errs []error
	if k.anchor != 0 {
		// Logging out would also log out whoever else in the process uses
		// the module (another Keystore's crypto11 context, say); only the
		// owner does. Otherwise the last session to close logs out.
		if k.ownsInit {
			if err := k.p.Logout(k.anchor); err != nil && !isCode(err, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_SESSION_HANDLE_INVALID) {
				errs = append(errs, fmt.Errorf("hsm: log out of token %q: %w", k.cfg.TokenLabel, err))
			}
		}
		k.closeSession(k.anchor)
	}
	if k.c11 != nil {
		// Finalizes the module when this was the last crypto11 context.
		if err := k.c11.Close(); err != nil {
			errs = append(errs, fmt.Errorf("hsm: close crypto11 context: %w", err))
		}
	}
	if k.ownsInit {
		if err := k.p.Finalize(); err != nil {
			errs = append(errs, fmt.Errorf("hsm: finalize PKCS#11 module: %w", err))
		}
	}
	k.p.Destroy()
	k.direct.close()
	return errors.Join(errs...)
}
