package accounting

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/db"
)

// instInfo is an instance's row as reports and usage show it.
type instInfo struct {
	ID, Owner, Group, Purpose string
	Region, Type, State       string
	Spot, Tracked             bool
	LaunchedAt, ExpiresAt     int64
	GoneAt                    int64
}

// costData is what costs are computed from: instances, their periods and volumes.
type costData struct {
	Instances map[string]*instInfo
	Order     []string // instance ids in launch order
	Periods   []costPeriod
	Volumes   []costVolume
}

// scope selects the instances of one owner ("" = every instance, tracked or not).
type scope struct {
	owner string
}

// loadCosts reads the instances in sc and the periods and volumes that may cost anything
// in [since, …). Every query is indexed: by owner for one user, by time for reports.
func loadCosts(ctx context.Context, q db.Querier, sc scope, since int64, withInstances bool) (*costData, error) {
	d := &costData{Instances: map[string]*instInfo{}}
	where, args := "1 = 1", []any{}
	if sc.owner != "" {
		where, args = "i.owner = ?", []any{sc.owner}
	}
	if withInstances {
		rows, err := q.QueryContext(ctx, `SELECT i.id, coalesce(i.owner, ''), coalesce(u.grp, ''), i.purpose,
			i.region, i.type, i.state, i.spot, i.tracked, i.launched_at, i.expires_at, i.gone_at
			FROM instances i LEFT JOIN users u ON u.name = i.owner WHERE `+where+` ORDER BY i.launched_at, i.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
		for rows.Next() {
			in := &instInfo{}
			var launched, expires, gone string
			if err := rows.Scan(&in.ID, &in.Owner, &in.Group, &in.Purpose, &in.Region, &in.Type, &in.State,
				&in.Spot, &in.Tracked, &launched, &expires, &gone); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load instances: %w", err)
			}
			in.LaunchedAt, in.ExpiresAt, in.GoneAt = parseUnix(launched), parseUnix(expires), parseUnix(gone)
			d.Instances[in.ID] = in
			d.Order = append(d.Order, in.ID)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
	}
	pargs := append(append([]any{}, args...), since-minBilledSeconds)
	rows, err := q.QueryContext(ctx, `SELECT p.instance_id, p.region, p.az, p.type, p.spot, p.start_s,
		coalesce(p.end_s, 0), p.estimated
		FROM acct_periods p JOIN instances i ON i.id = p.instance_id
		WHERE `+where+` AND (p.end_s IS NULL OR p.end_s > ?) ORDER BY p.instance_id, p.start_s`, pargs...)
	if err != nil {
		return nil, fmt.Errorf("load periods: %w", err)
	}
	for rows.Next() {
		var p costPeriod
		if err := rows.Scan(&p.InstanceID, &p.Region, &p.AZ, &p.Type, &p.Spot, &p.Start, &p.End, &p.Estimated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load periods: %w", err)
		}
		d.Periods = append(d.Periods, p)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("load periods: %w", err)
	}
	vargs := append(append([]any{}, args...), since)
	rows, err = q.QueryContext(ctx, `SELECT v.instance_id, v.region, v.type, v.size_gb, v.start_s,
		coalesce(v.end_s, 0), v.estimated
		FROM acct_volumes v JOIN instances i ON i.id = v.instance_id
		WHERE `+where+` AND (v.end_s IS NULL OR v.end_s > ?) ORDER BY v.instance_id, v.volume_id`, vargs...)
	if err != nil {
		return nil, fmt.Errorf("load volumes: %w", err)
	}
	for rows.Next() {
		var v costVolume
		if err := rows.Scan(&v.InstanceID, &v.Region, &v.Type, &v.SizeGB, &v.Start, &v.End, &v.Estimated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load volumes: %w", err)
		}
		d.Volumes = append(d.Volumes, v)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("load volumes: %w", err)
	}
	return d, nil
}

// loadSpot reads the spot price points the spot periods in d need (all of them for
// their region and type: a term holds a few per zone per day).
func loadSpot(ctx context.Context, q db.Querier, periods []costPeriod) (spotSeries, error) {
	ss := spotSeries{}
	type rt struct{ region, typ string }
	done := map[rt]bool{}
	for _, p := range periods {
		k := rt{p.Region, p.Type}
		if !p.Spot || done[k] {
			continue
		}
		done[k] = true
		rows, err := q.QueryContext(ctx, `SELECT az, at_s, price FROM acct_spot_prices WHERE region = ? AND type = ?`,
			k.region, k.typ)
		if err != nil {
			return nil, fmt.Errorf("load spot prices: %w", err)
		}
		for rows.Next() {
			var az string
			var at int64
			var price float64
			if err := rows.Scan(&az, &at, &price); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load spot prices: %w", err)
			}
			ss.add(k.region, k.typ, az, at, price)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("load spot prices: %w", err)
		}
	}
	ss.sort()
	return ss, nil
}

// lastSnapshot is the time of the latest successful snapshot of any region.
func lastSnapshot(ctx context.Context, q db.Querier) (int64, error) {
	var at *int64
	if err := q.QueryRowContext(ctx, `SELECT max(last_s) FROM acct_region_runs WHERE ok = 1`).Scan(&at); err != nil {
		return 0, fmt.Errorf("last snapshot: %w", err)
	}
	if at == nil {
		return 0, nil
	}
	return *at, nil
}
