package db

import (
	"context"
	"fmt"
	"time"
)

// Instance action states: an action is written 'requested' before the cloud call and
// settled 'done' or 'failed' after it, by the action itself or by reconcile.
const (
	ActionRequested = "requested"
	ActionDone      = "done"
	ActionFailed    = "failed"
)

// Action is the record of one stop, start or terminate of one instance.
type Action struct {
	ID          int64
	InstanceID  string
	Region      string
	Action      string // stop | start | terminate
	AuditAction string // the audit log's name for it: stop, admin.terminate, reap.stop, ...
	Actor       string
	UID         int
	PrevState   string
	State       string
	Result      string
	CreatedAt   time.Time
	SettledAt   time.Time
}

const actionCols = `id, instance_id, region, action, audit_action, actor, uid, prev_state, state, result,
	created_at, settled_at`

func scanAction(sc Scanner) (Action, error) {
	var a Action
	var created, settled string
	if err := sc.Scan(&a.ID, &a.InstanceID, &a.Region, &a.Action, &a.AuditAction, &a.Actor, &a.UID,
		&a.PrevState, &a.State, &a.Result, &created, &settled); err != nil {
		return Action{}, err
	}
	a.CreatedAt, _ = ParseTime(created)
	a.SettledAt, _ = ParseTime(settled)
	return a, nil
}

// InsertAction writes a requested action through q and returns its id.
func InsertAction(ctx context.Context, q Querier, a Action) (int64, error) {
	var id int64
	err := queryRowContext(ctx, q, `INSERT INTO instance_actions(instance_id, region, action, audit_action,
		actor, uid, prev_state, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'requested', ?) RETURNING id`,
		a.InstanceID, a.Region, a.Action, a.AuditAction, a.Actor, a.UID, a.PrevState, Time(a.CreatedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record %s of %s: %w", a.Action, a.InstanceID, err)
	}
	return id, nil
}

// SettleAction moves a requested action to state (done or failed) with its result. It
// reports false if the action was settled already (by reconcile, or the action itself).
func SettleAction(ctx context.Context, q Querier, id int64, state, result string, now time.Time) (bool, error) {
	res, err := execContext(ctx, q, `UPDATE instance_actions SET state = ?, result = ?, settled_at = ?
		WHERE id = ? AND state = 'requested'`, state, result, Time(now), id)
	if err != nil {
		return false, fmt.Errorf("settle action %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// OpenActions lists the actions still requested, oldest first.
func (d *DB) OpenActions(ctx context.Context) ([]Action, error) {
	rows, err := queryContext(ctx, d, `SELECT `+actionCols+` FROM instance_actions
		WHERE state = 'requested' ORDER BY created_at, id`)
	return scanAll("list open actions", rows, err, scanAction)
}

// ListActions lists the actions on instance id, oldest first.
func (d *DB) ListActions(ctx context.Context, id string) ([]Action, error) {
	rows, err := queryContext(ctx, d, `SELECT `+actionCols+` FROM instance_actions
		WHERE instance_id = ? ORDER BY id`, id)
	return scanAll("list actions", rows, err, scanAction)
}
