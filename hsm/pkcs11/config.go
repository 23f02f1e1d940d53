package pkcs11hsm

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Wrapping mechanism identifiers. PKCS#11 2.40 names RFC 5649 key wrap with
// padding CKM_AES_KEY_WRAP_PAD (0x210A); PKCS#11 3.0 calls it
// CKM_AES_KEY_WRAP_KWP (0x210B) and some v3.0 HSMs only accept the new id.
// SoftHSM2 2.6.1 only knows 0x210A.
const (
	MechAESKeyWrapPad uint = 0x210A
	MechAESKeyWrapKWP uint = 0x210B
)

// Defaults applied by Open for zero-valued Config fields.
const (
	DefaultKEKLabel = "strongroom-kek"
	DefaultMACLabel = "strongroom-mac"
	DefaultSessions = 4
	// DefaultKeyCacheSize and DefaultKeyCacheTTL bound the unwrapped keys
	// kept in the token between Gets (unwrapcache.go).
	DefaultKeyCacheSize = 1024
	DefaultKeyCacheTTL  = 30 * time.Second
)

// Config says which token to use and how. The PIN is supplied by the caller
// (the config layer reads it from a file or the environment); this package
// never logs it or puts it in an error, and Config's String, GoString and
// LogValue redact it so that printing a Config by mistake is harmless.
type Config struct {
	// Module is the path of the PKCS#11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token. Slot ids are not stable (SoftHSM2
	// renumbers slots at C_Initialize), so tokens are found by label only.
	TokenLabel string
	// PIN is the user PIN. It is kept in memory for the Keystore's lifetime
	// to log in again if the token drops the login.
	PIN string
	// KEKLabel is the CKA_LABEL of the key-encryption key.
	KEKLabel string
	// MACLabel is the CKA_LABEL of the HMAC key.
	MACLabel string
	// WrapMechanism is the key wrap mechanism, MechAESKeyWrapPad by default;
	// set MechAESKeyWrapKWP for HSMs that only speak the PKCS#11 3.0 id.
	WrapMechanism uint
	// Sessions is the size of the session pool, i.e. how many calls may run
	// in the token at once (DefaultSessions if zero).
	Sessions int
	// KeyCacheSize is how many unwrapped keys Get may keep inside the token
	// as session objects for the next Get of the same key
	// (DefaultKeyCacheSize if zero; negative turns the cache off).
	KeyCacheSize int
	// KeyCacheTTL is how long such a key stays in the token after its last
	// use (DefaultKeyCacheTTL if zero; negative turns the cache off).
	KeyCacheTTL time.Duration
	// AllowMissingKeys lets Open succeed when the KEK or MAC key does not
	// exist yet. Only `strongroom init` sets it, and calls EnsureKeys next;
	// until then the methods that need a missing key fail with
	// ErrKeyNotFound.
	AllowMissingKeys bool
	// Exportable makes EnsureKeys create the KEK and MAC key extractable
	// but only under a wrapping key the token's SO marked trusted
	// (CKA_WRAP_WITH_TRUSTED), so that the KEK ceremony (ceremony.go) can
	// send them to a mirrored node's token. Off, they can never leave.
	Exportable bool
	// Logger receives session replacements and lifecycle events; nil
	// discards them.
	Logger *slog.Logger
	// ObserveCall, when set, receives the name of each call that used a
	// pooled session and how long it held it (metrics); it must be fast.
	ObserveCall func(op string, d time.Duration)
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.KEKLabel == "" {
		c.KEKLabel = DefaultKEKLabel
	}
	if c.MACLabel == "" {
		c.MACLabel = DefaultMACLabel
	}
	if c.WrapMechanism == 0 {
		c.WrapMechanism = MechAESKeyWrapPad
	}
	if c.Sessions == 0 {
		c.Sessions = DefaultSessions
	}
	if c.KeyCacheSize == 0 {
		c.KeyCacheSize = DefaultKeyCacheSize
	}
	if c.KeyCacheTTL == 0 {
		c.KeyCacheTTL = DefaultKeyCacheTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports the first unusable field; it must run after withDefaults.
func (c Config) validate() error {
	switch {
	case c.Module == "":
		return errors.New("hsm: config: module path is empty")
	case c.TokenLabel == "":
		return errors.New("hsm: config: token label is empty")
	case len(c.TokenLabel) > 32:
		return fmt.Errorf("hsm: config: token label %q is longer than 32 bytes", c.TokenLabel)
	case c.PIN == "":
		return errors.New("hsm: config: PIN is empty")
	case c.KEKLabel == c.MACLabel:
		return fmt.Errorf("hsm: config: KEK and MAC key share the label %q", c.KEKLabel)
	case c.Sessions < 1:
		return fmt.Errorf("hsm: config: session pool size %d is less than 1", c.Sessions)
	}
	return nil
}

// String describes c without the PIN.
func (c Config) String() string {
	return fmt.Sprintf("pkcs11hsm.Config{Module:%q TokenLabel:%q PIN:%s KEKLabel:%q MACLabel:%q WrapMechanism:0x%X Sessions:%d KeyCacheSize:%d KeyCacheTTL:%s}",
		c.Module, c.TokenLabel, redact(c.PIN), c.KEKLabel, c.MACLabel, c.WrapMechanism, c.Sessions, c.KeyCacheSize, c.KeyCacheTTL)
}

// GoString keeps %#v from printing the PIN.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the PIN.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("module", c.Module),
		slog.String("token", c.TokenLabel),
		slog.String("pin", redact(c.PIN)),
		slog.String("kek", c.KEKLabel),
		slog.String("mac_key", c.MACLabel),
		slog.String("wrap_mechanism", fmt.Sprintf("0x%X", c.WrapMechanism)),
		slog.Int("sessions", c.Sessions),
		slog.Int("key_cache_size", c.KeyCacheSize),
		slog.Duration("key_cache_ttl", c.KeyCacheTTL),
	)
}

func redact(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<redacted>"
}
