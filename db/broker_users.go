package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User sources: how a user came to be enrolled.
const (
	SourceAdmin  = "admin"  // enrolled one by one by an admin
	SourceRoster = "roster" // imported from a roster CSV
	SourceGroup  = "group"  // a member of an enrol group, recorded on first use
)

// User is one enrolled user's row. Overrides is the per-user policy override as JSON
// (a quota.Override): db stores it opaque so it depends on no policy type.
type User struct {
	Name      string
	UID       int
	Source    string
	Group     string
	Disabled  bool
	Overrides string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const userCols = `name, coalesce(uid, -1), source, grp, disabled, overrides, created_at, updated_at`

func scanUser(sc Scanner) (User, error) {
	var u User
	var created, updated string
	if err := sc.Scan(&u.Name, &u.UID, &u.Source, &u.Group, &u.Disabled, &u.Overrides, &created, &updated); err != nil {
		return User{}, err
	}
	u.CreatedAt, _ = ParseTime(created)
	u.UpdatedAt, _ = ParseTime(updated)
	return u, nil
}

// GetUser reads one user through q; ok is false if there is no such row.
func GetUser(ctx context.Context, q Querier, name string) (u User, ok bool, err error) {
	u, err = scanUser(queryRowContext(ctx, q, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("read user %s: %w", name, err)
	}
	return u, true, nil
}

// GetUser reads one user; ok is false if there is no such row.
func (d *DB) GetUser(ctx context.Context, name string) (User, bool, error) {
	return GetUser(ctx, d, name)
}

// ListUsers lists every enrolled user by name.
func (d *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := d.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	return scanAll("list users", rows, err, scanUser)
}

// ResourceUser makes the existing user u.Name enrolled by u.Source (and u.Group) from now
// on: an admin or a roster taking over a group enrolment, which keeps the user's keys,
// overrides and history.
func ResourceUser(ctx context.Context, q Querier, u User) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET source = ?, grp = ?, updated_at = ? WHERE name = ?`,
		u.Source, u.Group, Time(u.CreatedAt), u.Name)
	if err != nil {
		return fmt.Errorf("enrol user %s: %w", u.Name, err)
	}
	return nil
}

// InsertUser enrols u through q; a duplicate name is a constraint error (callers check
// for an existing user first, in the same transaction). Empty Overrides is stored as "{}".
func InsertUser(ctx context.Context, q Querier, u User) error {
	if u.Overrides == "" {
		u.Overrides = "{}"
	}
	_, err := q.ExecContext(ctx, `INSERT INTO users(name, uid, source, grp, disabled, overrides, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Name, u.UID, u.Source, u.Group, u.Disabled, u.Overrides, Time(u.CreatedAt), Time(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("enrol user %s: %w", u.Name, err)
	}
	return nil
}

// EnsureGroupUser records a member of an enrol group on first use; an existing row, of
// any source, is left as it is.
func (d *DB) EnsureGroupUser(ctx context.Context, name string, uid int, now time.Time) error {
	_, err := d.ExecContext(ctx, `INSERT INTO users(name, uid, source, grp, disabled, overrides, created_at, updated_at)
		VALUES (?, ?, 'group', '', 0, '{}', ?, ?) ON CONFLICT(name) DO NOTHING`, name, uid, Time(now), Time(now))
	if err != nil {
		return fmt.Errorf("enrol group member %s: %w", name, err)
	}
	return nil
}

// SetUserDisabled disables or re-enables a user; ok is false if there is no such user.
func SetUserDisabled(ctx context.Context, q Querier, name string, disabled bool, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE name = ?`, disabled, Time(now), name)
	if err != nil {
		return false, fmt.Errorf("update user %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// SetUserOverrides replaces a user's override JSON; ok is false if there is no such user.
func SetUserOverrides(ctx context.Context, q Querier, name, overrides string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE users SET overrides = ?, updated_at = ? WHERE name = ?`, overrides, Time(now), name)
	if err != nil {
		return false, fmt.Errorf("update user %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// DeleteUser removes a user's enrolment (their SSH key rows go with it); ok is false if
// there was no such user. Instances and launches keep the name: history is not rewritten.
func DeleteUser(ctx context.Context, q Querier, name string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return false, fmt.Errorf("remove user %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
