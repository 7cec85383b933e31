package tollgate

import (
	"errors"
	"fmt"
)

// Error codes cross the socket as JSON and scripts match on them: the list is
// append-only. The socket layer (broker/api) maps each to an HTTP status in one table.
const (
	CodeInvalidRequest  = "invalid_request"  // malformed, or outside what policy lets a user choose
	CodeQuotaExceeded   = "quota_exceeded"   // a numeric limit (max_instances, max_vcpus, ...)
	CodeBudgetExhausted = "budget_exhausted" // the launch would cross the budget
	CodeNotEnrolled     = "not_enrolled"     // the caller is not a tollgate user
	CodeDisabled        = "disabled"         // the caller's enrolment is disabled
	CodeNotOwner        = "not_owner"        // the instance is someone else's (or unknown)
	CodeNotFound        = "not_found"        // no such instance, user or identity
	CodeForbidden       = "forbidden"        // an admin-only request from a non-admin
	CodeConflict        = "conflict"         // the state does not allow it (e.g. already exists)
	CodeCloudError      = "cloud_error"      // AWS refused or failed
	CodeUnavailable     = "unavailable"      // the daemon is starting or shutting down, or throttled
	CodeInternal        = "internal"         // a bug or a local failure; see the daemon's log
)

// Error is tollgate's domain error: a code from the list above, one line a user can act
// on, and optionally a hint of what to do. Business code returns it; the socket carries
// it as JSON unchanged and the Go client returns it again, so the CLI and the daemon
// cannot drift. Anything that is not an *Error reaches a user as CodeInternal.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// cause is what the error came from (a cloud error, say), for errors.As in the
	// daemon; it never crosses the socket.
	cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause WithCause set.
func (e *Error) Unwrap() error { return e.cause }

// WithCause returns e with its cause set (e is changed and returned, for chaining).
func (e *Error) WithCause(err error) *Error {
	e.cause = err
	return e
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithHint returns e with hint set (e is changed and returned, for chaining).
func (e *Error) WithHint(hint string) *Error {
	e.Hint = hint
	return e
}

// ErrorCode returns err's code if it is (or wraps) an *Error, else "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
