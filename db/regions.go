package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ServiceRegion is one regional service instance's setup record.
type ServiceRegion struct {
	Service, Region            string
	ImageID, GroupID, KeyPair  string
	LaunchID, InstanceID, Step string
	UpdatedAt                  time.Time
}

const serviceRegionCols = `service, region, image_id, group_id, keypair, launch_id, instance_id, step, updated_at`

func scanServiceRegion(sc Scanner) (ServiceRegion, error) {
	var r ServiceRegion
	var updated string
	if err := sc.Scan(&r.Service, &r.Region, &r.ImageID, &r.GroupID, &r.KeyPair, &r.LaunchID, &r.InstanceID, &r.Step, &updated); err != nil {
		return ServiceRegion{}, err
	}
	r.UpdatedAt, _ = ParseTime(updated)
	return r, nil
}

// GetServiceRegion reads the setup record of service in region; ok is false if none.
func (d *DB) GetServiceRegion(ctx context.Context, service, region string) (r ServiceRegion, ok bool, err error) {
	r, err = scanServiceRegion(d.QueryRowContext(ctx, `SELECT `+serviceRegionCols+` FROM service_regions WHERE service = ? AND region = ?`, service, region))
	if errors.Is(err, sql.ErrNoRows) {
		return ServiceRegion{Service: service, Region: region}, false, nil
	}
	if err != nil {
		return ServiceRegion{}, false, fmt.Errorf("read setup of %s in %s: %w", service, region, err)
	}
	return r, true, nil
}

// ListServiceRegions lists service's setup records by region.
func (d *DB) ListServiceRegions(ctx context.Context, service string) ([]ServiceRegion, error) {
	rows, err := d.QueryContext(ctx, `SELECT `+serviceRegionCols+` FROM service_regions WHERE service = ? ORDER BY region`, service)
	return scanAll("list service regions", rows, err, scanServiceRegion)
}

// PutServiceRegion writes r (insert or replace).
func (d *DB) PutServiceRegion(ctx context.Context, r ServiceRegion) error {
	_, err := d.ExecContext(ctx, `INSERT INTO service_regions (`+serviceRegionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(service, region) DO UPDATE SET image_id = excluded.image_id, group_id = excluded.group_id,
		keypair = excluded.keypair, launch_id = excluded.launch_id, instance_id = excluded.instance_id,
		step = excluded.step, updated_at = excluded.updated_at`,
		r.Service, r.Region, r.ImageID, r.GroupID, r.KeyPair, r.LaunchID, r.InstanceID, r.Step, Time(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("record setup of %s in %s: %w", r.Service, r.Region, err)
	}
	return nil
}

// DeleteServiceRegion forgets service's record in region (after clear).
func (d *DB) DeleteServiceRegion(ctx context.Context, service, region string) error {
	_, err := d.ExecContext(ctx, `DELETE FROM service_regions WHERE service = ? AND region = ?`, service, region)
	return err
}

// Run statuses.
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"
	RunTimedOut    = "timed_out"
	RunInterrupted = "interrupted"
	RunRefused     = "refused"
)

// ServiceRun is one run of a regional service.
type ServiceRun struct {
	ID                 int64
	Service, Region    string
	InstanceID         string
	StartedAt, EndedAt time.Time
	Status             string
	ExitCode           int
	CommandID          string
	Stdout, Stderr     string
	Reason             string
	InstanceSeconds    float64
}

const serviceRunCols = `id, service, region, instance_id, started_at, ended_at, status, exit_code, command_id, stdout, stderr, reason, instance_seconds`

func scanServiceRun(sc Scanner) (ServiceRun, error) {
	var r ServiceRun
	var started, ended string
	if err := sc.Scan(&r.ID, &r.Service, &r.Region, &r.InstanceID, &started, &ended, &r.Status, &r.ExitCode, &r.CommandID,
		&r.Stdout, &r.Stderr, &r.Reason, &r.InstanceSeconds); err != nil {
		return ServiceRun{}, err
	}
	r.StartedAt, _ = ParseTime(started)
	r.EndedAt, _ = ParseTime(ended)
	return r, nil
}

// StartServiceRun records a run in state running (or refused) and returns its id.
func (d *DB) StartServiceRun(ctx context.Context, r ServiceRun) (int64, error) {
	var id int64
	err := d.QueryRowContext(ctx, `INSERT INTO service_runs (service, region, instance_id, started_at, ended_at, status, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.Service, r.Region, r.InstanceID, Time(r.StartedAt), Time(r.EndedAt), r.Status, r.Reason).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record run of %s in %s: %w", r.Service, r.Region, err)
	}
	return id, nil
}

// SetRunCommand records the command id of a running run.
func (d *DB) SetRunCommand(ctx context.Context, id int64, commandID string) error {
	_, err := d.ExecContext(ctx, `UPDATE service_runs SET command_id = ? WHERE id = ?`, commandID, id)
	return err
}

// FinishServiceRun settles a running run.
func (d *DB) FinishServiceRun(ctx context.Context, r ServiceRun) error {
	_, err := d.ExecContext(ctx, `UPDATE service_runs SET ended_at = ?, status = ?, exit_code = ?, stdout = ?, stderr = ?,
		reason = ?, instance_seconds = ? WHERE id = ? AND status = 'running'`,
		Time(r.EndedAt), r.Status, r.ExitCode, r.Stdout, r.Stderr, r.Reason, r.InstanceSeconds, r.ID)
	if err != nil {
		return fmt.Errorf("settle run %d: %w", r.ID, err)
	}
	return nil
}

// ListServiceRuns lists service's runs, newest first (status "" = any; limit 0 = 100).
func (d *DB) ListServiceRuns(ctx context.Context, service, status string, limit int) ([]ServiceRun, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + serviceRunCols + ` FROM service_runs WHERE (? = '' OR service = ?) AND (? = '' OR status = ?) ORDER BY id DESC LIMIT ?`
	rows, err := d.QueryContext(ctx, q, service, service, status, status, limit)
	return scanAll("list service runs", rows, err, scanServiceRun)
}

// HostKeyPin is an instance's pinned SSH host keys.
type HostKeyPin struct {
	InstanceID string
	Keys       []string // authorized_keys lines
	Source     string   // "console" or "first-use"
	PinnedAt   time.Time
}

// GetHostKeyPin reads the instance's pinned host keys; ok is false if none are pinned.
func (d *DB) GetHostKeyPin(ctx context.Context, instanceID string) (p HostKeyPin, ok bool, err error) {
	var keys, pinned string
	err = d.QueryRowContext(ctx, `SELECT keys, source, pinned_at FROM host_keys WHERE instance_id = ?`, instanceID).
		Scan(&keys, &p.Source, &pinned)
	if errors.Is(err, sql.ErrNoRows) {
		return HostKeyPin{}, false, nil
	}
	if err != nil {
		return HostKeyPin{}, false, fmt.Errorf("read the host keys of %s: %w", instanceID, err)
	}
	p.InstanceID, p.Keys = instanceID, strings.Split(keys, "\n")
	p.PinnedAt, _ = ParseTime(pinned)
	return p, true, nil
}

// PinHostKeys pins the instance's host keys unless some are pinned already (a pin is
// never replaced: a changed key is an alarm, not an update); ok is false when an
// earlier pin stands.
func (d *DB) PinHostKeys(ctx context.Context, p HostKeyPin) (ok bool, err error) {
	res, err := d.ExecContext(ctx, `INSERT INTO host_keys (instance_id, keys, source, pinned_at) VALUES (?, ?, ?, ?)
		ON CONFLICT(instance_id) DO NOTHING`, p.InstanceID, strings.Join(p.Keys, "\n"), p.Source, Time(p.PinnedAt))
	if err != nil {
		return false, fmt.Errorf("pin the host keys of %s: %w", p.InstanceID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UnpinHostKeys forgets the instance's host keys (the instance is gone, or an admin
// accepted a new key).
func (d *DB) UnpinHostKeys(ctx context.Context, instanceID string) error {
	_, err := d.ExecContext(ctx, `DELETE FROM host_keys WHERE instance_id = ?`, instanceID)
	return err
}
