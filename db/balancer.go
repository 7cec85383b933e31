package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// BalancerPool is a pool's durable state: what admins set and the managed security
// group. A missing row is a pool with nothing set.
type BalancerPool struct {
	Name          string
	Region        string
	Paused        bool
	Draining      bool
	OverrideMin   int // -1 = no override
	OverrideMax   int
	OverrideUntil time.Time
	SecurityGroup string
	Removed       bool // no longer configured: its instances and group are being removed
	UpdatedAt     time.Time
}

const balancerPoolCols = `name, region, paused, draining, override_min, override_max, override_until, security_group, removed, updated_at`

func scanBalancerPool(sc Scanner) (BalancerPool, error) {
	var p BalancerPool
	var until, updated string
	if err := sc.Scan(&p.Name, &p.Region, &p.Paused, &p.Draining, &p.OverrideMin, &p.OverrideMax, &until,
		&p.SecurityGroup, &p.Removed, &updated); err != nil {
		return BalancerPool{}, err
	}
	var err1, err2 error
	p.OverrideUntil, err1 = ParseTime(until)
	p.UpdatedAt, err2 = ParseTime(updated)
	if err := errors.Join(err1, err2); err != nil {
		return BalancerPool{}, fmt.Errorf("balancer pool %s: %w", p.Name, err)
	}
	return p, nil
}

// GetBalancerPool reads pool name's state; ok is false when nothing was ever recorded.
func (d *DB) GetBalancerPool(ctx context.Context, name string) (p BalancerPool, ok bool, err error) {
	p, err = scanBalancerPool(d.QueryRowContext(ctx, `SELECT `+balancerPoolCols+` FROM balancer_pools WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return BalancerPool{Name: name, OverrideMin: -1, OverrideMax: -1}, false, nil
	}
	if err != nil {
		return BalancerPool{}, false, fmt.Errorf("read balancer pool %s: %w", name, err)
	}
	return p, true, nil
}

// ListBalancerPools lists every recorded pool by name, configured or being removed.
func (d *DB) ListBalancerPools(ctx context.Context) ([]BalancerPool, error) {
	rows, err := d.QueryContext(ctx, `SELECT `+balancerPoolCols+` FROM balancer_pools ORDER BY name`)
	return scanAll("list balancer pools", rows, err, scanBalancerPool)
}

// PutBalancerPool writes p (insert or replace) through q (nil = the DB).
func (d *DB) PutBalancerPool(ctx context.Context, q Querier, p BalancerPool) error {
	if q == nil {
		q = d
	}
	_, err := q.ExecContext(ctx, `INSERT INTO balancer_pools (`+balancerPoolCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET region = excluded.region, paused = excluded.paused, draining = excluded.draining,
		override_min = excluded.override_min, override_max = excluded.override_max, override_until = excluded.override_until,
		security_group = excluded.security_group, removed = excluded.removed, updated_at = excluded.updated_at`,
		p.Name, p.Region, p.Paused, p.Draining, p.OverrideMin, p.OverrideMax, Time(p.OverrideUntil), p.SecurityGroup,
		p.Removed, Time(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("write balancer pool %s: %w", p.Name, err)
	}
	return nil
}

// DeleteBalancerPool forgets a pool that has been wound down.
func (d *DB) DeleteBalancerPool(ctx context.Context, name string) error {
	if _, err := d.ExecContext(ctx, `DELETE FROM balancer_pools WHERE name = ?`, name); err != nil {
		return fmt.Errorf("delete balancer pool %s: %w", name, err)
	}
	return nil
}

// OpenLaunches lists the launches of purpose still in state requested, oldest first:
// the balancer counts them as slaves on their way.
func (d *DB) OpenLaunches(ctx context.Context, purpose, owner string) ([]Launch, error) {
	return queryLaunches(ctx, d, `SELECT `+launchCols+` FROM launches WHERE state = ? AND purpose = ? AND owner = ? ORDER BY created_at`,
		LaunchRequested, purpose, owner)
}
