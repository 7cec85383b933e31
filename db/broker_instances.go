package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Instance is one row of the instances table as the broker reads and writes it.
type Instance struct {
	ID         string
	LaunchID   string // "" when not launched through the gate
	Owner      string // "" for untracked instances
	UID        int
	Region     string
	Type       string
	Image      string
	Name       string
	Purpose    string
	Spot       bool
	Tracked    bool
	Adopted    bool
	State      string
	PublicIP   string
	PrivateIP  string
	LaunchedAt time.Time
	ExpiresAt  time.Time
	LastSeen   time.Time
	GoneAt     time.Time
	Tags       map[string]string
	// PriceHourly and VCPUsEach come from the launch record (zero for adopted instances).
	PriceHourly float64
	VCPUsEach   int
}

// Live reports whether the instance still counts against its owner's max_instances: it
// is neither gone nor on its way to termination.
func (in Instance) Live() bool {
	return in.GoneAt.IsZero() && in.State != "terminated" && in.State != "shutting-down"
}

const instanceCols = `i.id, coalesce(i.launch_id, ''), coalesce(i.owner, ''), coalesce(i.uid, -1), i.region, i.type, i.image,
	i.name, i.purpose, i.spot, i.tracked, i.adopted, i.state, i.public_ip, i.private_ip, i.launched_at, i.expires_at,
	i.last_seen, i.gone_at, i.tags, coalesce(l.price_hourly, 0), coalesce(l.vcpus_each, 0)`

const instanceFrom = ` FROM instances i LEFT JOIN launches l ON l.id = i.launch_id`

func scanInstance(sc Scanner) (Instance, error) {
	var in Instance
	var launched, expires, seen, gone, tags string
	if err := sc.Scan(&in.ID, &in.LaunchID, &in.Owner, &in.UID, &in.Region, &in.Type, &in.Image, &in.Name, &in.Purpose,
		&in.Spot, &in.Tracked, &in.Adopted, &in.State, &in.PublicIP, &in.PrivateIP, &launched, &expires, &seen, &gone,
		&tags, &in.PriceHourly, &in.VCPUsEach); err != nil {
		return Instance{}, err
	}
	in.LaunchedAt, _ = ParseTime(launched)
	in.ExpiresAt, _ = ParseTime(expires)
	in.LastSeen, _ = ParseTime(seen)
	in.GoneAt, _ = ParseTime(gone)
	if tags != "" && tags != "{}" {
		_ = json.Unmarshal([]byte(tags), &in.Tags)
	}
	return in, nil
}

// InstanceFilter selects instances; zero fields match everything.
type InstanceFilter struct {
	Owner     string
	IDs       []string
	Regions   []string
	LiveOnly  bool // exclude gone, terminated and shutting-down instances
	NotGone   bool // exclude instances whose gone_at is set
	OwnedOnly bool // exclude untracked instances (no owner)
	// Purposes, if set, keeps only instances of these purposes ("user" includes the
	// instances recorded before purposes existed, whose purpose is empty).
	Purposes []string
}

// ListInstances lists matching instances through q (nil = the DB), by launch time.
func (d *DB) ListInstances(ctx context.Context, q Querier, f InstanceFilter) ([]Instance, error) {
	if q == nil {
		q = d
	}
	return ListInstances(ctx, q, f)
}

// ListInstances lists matching instances through q, by launch time.
func ListInstances(ctx context.Context, q Querier, f InstanceFilter) ([]Instance, error) {
	var where []string
	var args []any
	if f.Owner != "" {
		where = append(where, "i.owner = ?")
		args = append(args, f.Owner)
	}
	if len(f.IDs) > 0 {
		where = append(where, "i.id IN ("+placeholders(len(f.IDs))+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if len(f.Regions) > 0 {
		where = append(where, "i.region IN ("+placeholders(len(f.Regions))+")")
		for _, r := range f.Regions {
			args = append(args, r)
		}
	}
	if f.LiveOnly {
		where = append(where, "i.gone_at = '' AND i.state NOT IN ('terminated', 'shutting-down')")
	}
	if f.NotGone {
		where = append(where, "i.gone_at = ''")
	}
	if f.OwnedOnly {
		where = append(where, "i.owner IS NOT NULL AND i.owner != ''")
	}
	if len(f.Purposes) > 0 {
		ps := slices.Clone(f.Purposes)
		if slices.Contains(ps, "user") {
			ps = append(ps, "")
		}
		where = append(where, "i.purpose IN ("+placeholders(len(ps))+")")
		for _, p := range ps {
			args = append(args, p)
		}
	}
	query := `SELECT ` + instanceCols + instanceFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY i.launched_at, i.id"
	run := queryContext // a fixed query text: worth a cached prepared statement
	if len(f.IDs) > 0 || len(f.Regions) > 0 || len(f.Purposes) > 0 {
		run = func(ctx context.Context, q Querier, query string, args ...any) (*sql.Rows, error) {
			return q.QueryContext(ctx, query, args...)
		}
	}
	rows, err := run(ctx, q, query, args...)
	return scanAll("list instances", rows, err, scanInstance)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// InsertInstance records an owned instance through q. A row the collector wrote for the
// same id without an owner is taken over (the instance is now tracked); a row that
// already has an owner is left alone and ok is false.
func InsertInstance(ctx context.Context, q Querier, in Instance) (ok bool, err error) {
	tags := "{}"
	if len(in.Tags) > 0 {
		b, err := json.Marshal(in.Tags)
		if err != nil {
			return false, fmt.Errorf("record instance %s: %w", in.ID, err)
		}
		tags = string(b)
	}
	var launchID any
	if in.LaunchID != "" {
		launchID = in.LaunchID
	}
	res, err := q.ExecContext(ctx, `INSERT INTO instances(id, launch_id, owner, uid, region, type, image, name, purpose, spot,
		tracked, adopted, state, public_ip, private_ip, launched_at, expires_at, last_seen, gone_at, tags)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, '', ?)
		ON CONFLICT(id) DO UPDATE SET launch_id = excluded.launch_id, owner = excluded.owner, uid = excluded.uid,
			name = excluded.name, purpose = excluded.purpose, tracked = 1, adopted = excluded.adopted,
			expires_at = excluded.expires_at, tags = excluded.tags
		WHERE instances.owner IS NULL OR instances.owner = ''`,
		in.ID, launchID, in.Owner, in.UID, in.Region, in.Type, in.Image, in.Name, in.Purpose, in.Spot, in.Adopted,
		in.State, in.PublicIP, in.PrivateIP, Time(in.LaunchedAt), Time(in.ExpiresAt), Time(in.LastSeen), tags)
	if err != nil {
		return false, fmt.Errorf("record instance %s: %w", in.ID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// UpdateInstanceState records an instance's state as last seen; a terminated state also
// marks it gone. Empty IPs leave the recorded ones unless the instance stopped.
func UpdateInstanceState(ctx context.Context, q Querier, id, state, publicIP, privateIP string, now time.Time) error {
	gone := ""
	if state == "terminated" {
		gone = Time(now)
	}
	_, err := q.ExecContext(ctx, `UPDATE instances SET state = ?, last_seen = ?,
		public_ip = CASE WHEN ? != '' OR ? IN ('stopped', 'terminated') THEN ? ELSE public_ip END,
		private_ip = CASE WHEN ? != '' THEN ? ELSE private_ip END,
		gone_at = CASE WHEN gone_at = '' THEN ? ELSE gone_at END
		WHERE id = ?`,
		state, Time(now), publicIP, state, publicIP, privateIP, privateIP, gone, id)
	if err != nil {
		return fmt.Errorf("update instance %s: %w", id, err)
	}
	return nil
}

// SetInstanceExpiry moves an instance's lease expiry (extend). The lease warning needs no
// reset: notices are keyed by instance and expiry, so a new expiry gets its own warning.
func SetInstanceExpiry(ctx context.Context, q Querier, id string, expires time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE instances SET expires_at = ? WHERE id = ?`, Time(expires), id)
	if err != nil {
		return fmt.Errorf("update expiry of %s: %w", id, err)
	}
	return nil
}

// RevertInstanceState sets an instance's state back from `from` to `to`, only if it is
// still `from`: an admission that marked it ahead of a cloud call that then failed must
// not overwrite a state recorded since.
func RevertInstanceState(ctx context.Context, q Querier, id, from, to string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE instances SET state = ?, last_seen = ? WHERE id = ? AND state = ?`,
		to, Time(now), id, from)
	if err != nil {
		return fmt.Errorf("revert state of %s: %w", id, err)
	}
	return nil
}

// RevertInstanceExpiry moves an instance's lease expiry back from `from` to `to`, only if
// it is still `from` (an extend whose cloud tag failed).
func RevertInstanceExpiry(ctx context.Context, q Querier, id string, from, to time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE instances SET expires_at = ? WHERE id = ? AND expires_at = ?`,
		Time(to), id, Time(from))
	if err != nil {
		return fmt.Errorf("revert expiry of %s: %w", id, err)
	}
	return nil
}
