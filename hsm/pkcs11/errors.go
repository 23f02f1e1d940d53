package pkcs11hsm

import (
	"errors"

	"github.com/miekg/pkcs11"
)

// Errors a caller may want to tell apart; the messages that wrap them name
// the token and key labels.
var (
	// ErrTokenNotFound means no token carries the configured label.
	ErrTokenNotFound = errors.New("hsm: token not found")
	// ErrTokenExists means InitToken found a token with the label already.
	ErrTokenExists = errors.New("hsm: token already exists")
	// ErrKeyNotFound means the KEK or the MAC key is missing from the token;
	// `strongroom init` creates them.
	ErrKeyNotFound = errors.New("hsm: key not found")
	// ErrClosed means the Keystore was closed.
	ErrClosed = errors.New("hsm: keystore closed")
)

// notFoundError reads as a complete sentence for the operator while still
// matching its sentinel (ErrTokenNotFound, ErrKeyNotFound) with errors.Is.
type notFoundError struct {
	msg  string
	kind error
}

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == e.kind }

// ckrCode returns the PKCS#11 return value inside err, if any.
func ckrCode(err error) (uint, bool) {
	var e pkcs11.Error
	if errors.As(err, &e) {
		return uint(e), true
	}
	return 0, false
}

// isCode reports whether err carries one of the PKCS#11 return values.
func isCode(err error, codes ...uint) bool {
	c, ok := ckrCode(err)
	if !ok {
		return false
	}
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// isSessionError reports whether err means the session itself can no longer
// be trusted, so it must be closed and replaced rather than returned to the
// pool. CKR_OPERATION_ACTIVE is included because a session stuck with a
// half-finished operation would fail every later call the same way.
func isSessionError(err error) bool {
	return isCode(err,
		pkcs11.CKR_SESSION_HANDLE_INVALID,
		pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_USER_NOT_LOGGED_IN,
		pkcs11.CKR_OPERATION_ACTIVE,
	)
}
