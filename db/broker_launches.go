package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Launch states: a launch record is written 'requested' before RunInstances is called,
// and settled to 'launched' or 'failed' by the launch itself or by reconcile.
const (
	LaunchRequested = "requested"
	LaunchLaunched  = "launched"
	LaunchFailed    = "failed"
)

// Launch is one launch request's record.
type Launch struct {
	ID          string
	ClientToken string
	Purpose     string // tollgate.Purpose: user, balancer, service
	Owner       string
	UID         int
	Region      string
	Type        string
	Image       string
	Count       int
	Name        string
	Spot        bool
	VCPUsEach   int
	PriceHourly float64
	Lifetime    time.Duration
	ExpiresAt   time.Time
	State       string
	Error       string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const launchCols = `id, client_token, purpose, owner, uid, region, type, image, count, name, spot, vcpus_each,
	price_hourly, lifetime_s, expires_at, state, error, created_at, updated_at`

func scanLaunch(sc Scanner) (Launch, error) {
	var l Launch
	var lifetime int64
	var expires, created, updated string
	if err := sc.Scan(&l.ID, &l.ClientToken, &l.Purpose, &l.Owner, &l.UID, &l.Region, &l.Type, &l.Image, &l.Count, &l.Name,
		&l.Spot, &l.VCPUsEach, &l.PriceHourly, &lifetime, &expires, &l.State, &l.Error, &created, &updated); err != nil {
		return Launch{}, err
	}
	l.Lifetime = time.Duration(lifetime) * time.Second
	l.ExpiresAt, _ = ParseTime(expires)
	l.CreatedAt, _ = ParseTime(created)
	l.UpdatedAt, _ = ParseTime(updated)
	return l, nil
}

// InsertLaunch writes a launch record through q (the admission transaction).
func InsertLaunch(ctx context.Context, q Querier, l Launch) error {
	_, err := execContext(ctx, q, `INSERT INTO launches(`+launchCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.ClientToken, purposeOr(l.Purpose), l.Owner, l.UID, l.Region, l.Type, l.Image, l.Count, l.Name, l.Spot, l.VCPUsEach,
		l.PriceHourly, int64(l.Lifetime/time.Second), Time(l.ExpiresAt), l.State, l.Error, Time(l.CreatedAt), Time(l.CreatedAt))
	if err != nil {
		return fmt.Errorf("record launch %s: %w", l.ID, err)
	}
	return nil
}

// GetLaunch reads one launch record through q; ok is false if there is none.
func GetLaunch(ctx context.Context, q Querier, id string) (l Launch, ok bool, err error) {
	l, err = scanLaunch(q.QueryRowContext(ctx, `SELECT `+launchCols+` FROM launches WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Launch{}, false, nil
	}
	if err != nil {
		return Launch{}, false, fmt.Errorf("read launch %s: %w", id, err)
	}
	return l, true, nil
}

// LaunchesInState lists launch records in state, oldest first.
func (d *DB) LaunchesInState(ctx context.Context, state string) ([]Launch, error) {
	return queryLaunches(ctx, d, `SELECT `+launchCols+` FROM launches WHERE state = ? ORDER BY created_at`, state)
}

func queryLaunches(ctx context.Context, q Querier, query string, args ...any) ([]Launch, error) {
	rows, err := queryContext(ctx, q, query, args...)
	return scanAll("list launches", rows, err, scanLaunch)
}

// SettleLaunch moves a launch out of state requested (to launched or failed) through q.
// It reports false if the launch was no longer requested: someone else settled it first,
// except that a failed launch may still become launched when its instance turns up.
func SettleLaunch(ctx context.Context, q Querier, id, state, errMsg string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE launches SET state = ?, error = ?, updated_at = ?
		WHERE id = ? AND (state = 'requested' OR (state = 'failed' AND ? = 'launched'))`,
		state, errMsg, Time(now), id, state)
	if err != nil {
		return false, fmt.Errorf("settle launch %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// purposeOr is p, or "user" for a record built before purposes existed.
func purposeOr(p string) string {
	if p == "" {
		return "user"
	}
	return p
}
