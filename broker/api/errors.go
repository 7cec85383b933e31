package api

import (
	"errors"
	"net/http"
)

// Error codes cross the socket as JSON. The list is append-only: scripts match on codes.
const (
	CodeInvalidRequest  = "invalid_request"  // malformed or outside what policy lets a user choose
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

// statusOf maps each code to its HTTP status: the one table both sides rely on.
var statusOf = map[string]int{
	CodeInvalidRequest:  http.StatusBadRequest,
	CodeQuotaExceeded:   http.StatusForbidden,
	CodeBudgetExhausted: http.StatusPaymentRequired,
	CodeNotEnrolled:     http.StatusForbidden,
	CodeDisabled:        http.StatusForbidden,
	CodeNotOwner:        http.StatusForbidden,
	CodeNotFound:        http.StatusNotFound,
	CodeForbidden:       http.StatusForbidden,
	CodeConflict:        http.StatusConflict,
	CodeCloudError:      http.StatusBadGateway,
	CodeUnavailable:     http.StatusServiceUnavailable,
	CodeInternal:        http.StatusInternalServerError,
}

// Error is the JSON error body of every failed request, and the error the Go client
// returns. Message is one line a user can act on; Hint suggests what to do.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Status is the HTTP status for e's code.
func (e *Error) Status() int {
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorCode returns err's code if it is (or wraps) an *Error, else "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
