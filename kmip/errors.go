package kmip

import (
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Error is a KMIP failure: the Result Reason and Result Message a failed
// batch item carries. Its message is sent to the client, so it must never
// hold key material or internal detail.
type Error struct {
	Reason  ttlv.ResultReason
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("kmip: %s: %s", e.Reason, e.Message)
}

// Errorf builds an *Error.
func Errorf(reason ttlv.ResultReason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
