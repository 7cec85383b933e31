package db

import (
	"errors"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate"
)

// constraintMessages names, for each constraint a user's request can run into, the
// domain error it means. The key is what SQLite names in its message: "table.column" for
// UNIQUE and PRIMARY KEY, "FOREIGN KEY" for references.
var constraintMessages = map[string]*tollgate.Error{
	"users.name": {Code: tollgate.CodeConflict, Message: "that user is already enrolled"},
	"iam_identities.iam_user": {Code: tollgate.CodeConflict,
		Message: "another user already holds an IAM identity with the same name in another case (IAM user names are case-insensitive)",
		Hint:    "ask a tollgate admin: `tollgate admin iam ls` shows who holds it"},
	"iam_identities.user": {Code: tollgate.CodeConflict, Message: "that user already has an IAM identity"},
	"FOREIGN KEY": {Code: tollgate.CodeNotFound, Message: "the user is not enrolled (or was just removed)",
		Hint: "`tollgate admin users ls` lists the enrolled users"},
}

// DomainError maps an SQLite constraint violation in err to the domain error it means
// for a user (see constraintMessages), keeping err as the cause for the log; any other
// err is returned as it is. It is the one place where storage errors become domain
// errors: call it where a request's write may collide, or let the socket layer do it.
func DomainError(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		return err
	}
	msg := se.Error()
	for key, de := range constraintMessages {
		if strings.Contains(msg, key) {
			return &constraintError{domain: *de, cause: err}
		}
	}
	return &constraintError{domain: tollgate.Error{Code: tollgate.CodeConflict,
		Message: "the request conflicts with what tollgate already holds"}, cause: err}
}

// constraintError is a domain error with the storage error behind it.
type constraintError struct {
	domain tollgate.Error
	cause  error
}

func (e *constraintError) Error() string { return e.domain.Message }

// As lets errors.As find the domain error; Unwrap keeps the SQLite cause reachable.
func (e *constraintError) As(target any) bool {
	if t, ok := target.(**tollgate.Error); ok {
		d := e.domain
		*t = &d
		return true
	}
	return false
}

func (e *constraintError) Unwrap() error { return e.cause }
