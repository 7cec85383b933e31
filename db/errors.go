package db

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/fsafe"
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

// DomainError maps a constraint violation in err, on either engine, to the domain error
// it means for a user (see constraintMessages), keeping err as the cause for the log; any
// other err is returned as it is. It is the one place where storage errors become domain
// errors: call it where a request's write may collide, or let the socket layer do it.
func DomainError(err error) error {
	if !IsConstraint(err) {
		return err
	}
	msg := err.Error()
	if pe, ok := pgError(err); ok {
		msg = pgConstraintKey(pe)
	}
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

// Explain is err as the domain error a user (and the log) can act on when it is a
// problem of the database's storage — the disk full, the database or its directory
// read-only, an I/O error — naming the path and the daemon's user; a constraint
// violation as DomainError; anything else unchanged.
func (d *DB) Explain(err error) error {
	if err == nil {
		return nil
	}
	var msg string
	var se *sqlite.Error
	if errors.As(err, &se) {
		msg = storageProblem(d.path, se.Code())
	} else if d.engine == Postgres {
		msg = pgStorageProblem(err)
	}
	if msg != "" {
		return &constraintError{domain: tollgate.Error{Code: tollgate.CodeUnavailable,
			Message: "tollgate cannot write its database: " + msg + " (nothing was done)",
			Hint:    "this is the host's problem, not your request's: tell a tollgate admin"}, cause: err}
	}
	return DomainError(err)
}

// storageProblem says what an SQLite result code means for the database at path, or ""
// if it is not a storage problem.
func storageProblem(path string, code int) string {
	dir := filepath.Dir(path)
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return fmt.Sprintf("the disk holding %s is full", dir)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return fmt.Sprintf("%s or its directory %s is not writable by %s (or the file system is read-only)", path, dir, fsafe.Whoami())
	case sqlite3.SQLITE_IOERR:
		return fmt.Sprintf("an I/O error writing %s (is the disk full or failing?)", dir)
	}
	return ""
}

// openError is err from opening or migrating the database at path, saying what is wrong
// with the storage when that is the cause ("attempt to write a readonly database (1544)"
// alone does not tell an admin what to fix).
func openError(path, what string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		if msg := storageProblem(path, se.Code()); msg != "" {
			return fmt.Errorf("%s %s: %s: %w", what, path, msg, err)
		}
	}
	return fmt.Errorf("%s %s: %w", what, path, err)
}
