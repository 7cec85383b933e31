package api

import (
	"net/http"

	"github.com/tollgate/tollgate"
)

// Error codes, as defined once in package tollgate (the list is append-only: scripts
// match on codes).
const (
	CodeInvalidRequest  = tollgate.CodeInvalidRequest
	CodeQuotaExceeded   = tollgate.CodeQuotaExceeded
	CodeBudgetExhausted = tollgate.CodeBudgetExhausted
	CodeNotEnrolled     = tollgate.CodeNotEnrolled
	CodeDisabled        = tollgate.CodeDisabled
	CodeNotOwner        = tollgate.CodeNotOwner
	CodeNotFound        = tollgate.CodeNotFound
	CodeForbidden       = tollgate.CodeForbidden
	CodeConflict        = tollgate.CodeConflict
	CodeCloudError      = tollgate.CodeCloudError
	CodeUnavailable     = tollgate.CodeUnavailable
	CodeInternal        = tollgate.CodeInternal
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
// returns: tollgate's domain error itself, so what the daemon decided arrives unchanged.
type Error = tollgate.Error

// Status is the HTTP status for e's code.
func Status(e *Error) int {
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorCode returns err's code if it is (or wraps) an *Error, else "".
func ErrorCode(err error) string { return tollgate.ErrorCode(err) }
