package accounting

import (
	"context"
	"fmt"
	"sort"

	"github.com/tollgate/tollgate/db"
)

// instInfo is an instance's row as reports and usage show it.
type instInfo struct {
	ID, Owner, Group, Purpose string
	Region, Type, State       string
	Spot, Tracked             bool
	LaunchedAt, ExpiresAt     int64
	GoneAt                    int64
	Periods                   []costPeriod
	Volumes                   []costVolume
}

// costData is what costs are computed from: instances, their periods and volumes (also
// flattened, for callers that only sum).
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

// loadCosts reads the instances in sc that may cost anything in [since, …), each with
// its periods and volumes: three indexed queries (by owner for one user), in q's
// snapshot.
func loadCosts(ctx context.Context, q db.Querier, sc scope, since int64) (*costData, error) {
	insts, err := loadInstances(ctx, q, sc, since)
	if err != nil {
		return nil, err
	}
	periods, err := loadPeriods(ctx, q, sc, since)
	if err != nil {
		return nil, err
	}
	vols, err := loadVolumes(ctx, q, sc, since)
	if err != nil {
		return nil, err
	}
	return assemble(insts, periods, vols), nil
}

// assemble files periods and volumes under their instances, in launch order.
func assemble(insts []*instInfo, periods []costPeriod, vols []costVolume) *costData {
	sort.Slice(insts, func(i, j int) bool {
		if insts[i].LaunchedAt != insts[j].LaunchedAt {
			return insts[i].LaunchedAt < insts[j].LaunchedAt
		}
		return insts[i].ID < insts[j].ID
	})
	d := &costData{Instances: make(map[string]*instInfo, len(insts)), Order: make([]string, len(insts)),
		Periods: periods[:0], Volumes: vols[:0]}
	for i, in := range insts {
		d.Instances[in.ID] = in
		d.Order[i] = in.ID
	}
	for _, p := range periods {
		in := d.Instances[p.InstanceID]
		if in == nil {
			continue // gone before the window (its gone_at says so)
		}
		p.Region = in.Region
		in.Periods = append(in.Periods, p)
		d.Periods = append(d.Periods, p)
	}
	for _, v := range vols {
		in := d.Instances[v.InstanceID]
		if in == nil {
			continue
		}
		v.Region = in.Region
		in.Volumes = append(in.Volumes, v)
		d.Volumes = append(d.Volumes, v)
	}
	return d
}

func ownerFilter(sc scope, alias string) (string, []any) {
	if sc.owner == "" {
		return "", nil
	}
	return " AND " + alias + ".owner = ?", []any{sc.owner}
}

// loadInstances reads the instances in sc not gone before since. It selects few columns
// and joins nothing: per row and column is where the driver's time goes.
func loadInstances(ctx context.Context, q db.Querier, sc scope, since int64) ([]*instInfo, error) {
	where, args := ownerFilter(sc, "i")
	rows, err := q.QueryContext(ctx, `SELECT i.id, coalesce(i.owner, ''), i.purpose, i.region, i.type, i.state,
		i.spot, i.tracked, i.launched_at, i.expires_at, i.gone_at
		FROM instances i WHERE (i.gone_at = '' OR i.gone_at >= ?)`+where,
		append([]any{secTime(since - minBilledSeconds)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	defer rows.Close()
	var out []*instInfo
	for rows.Next() {
		in := &instInfo{}
		var launched, expires, gone string
		if err := rows.Scan(&in.ID, &in.Owner, &in.Purpose, &in.Region, &in.Type, &in.State,
			&in.Spot, &in.Tracked, &launched, &expires, &gone); err != nil {
			return nil, fmt.Errorf("load instances: %w", err)
		}
		in.LaunchedAt, in.ExpiresAt, in.GoneAt = parseUnix(launched), parseUnix(expires), parseUnix(gone)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load instances: %w", err)
	}
	return out, nil
}

// loadPeriods reads the periods in sc that may cost anything from since on.
func loadPeriods(ctx context.Context, q db.Querier, sc scope, since int64) ([]costPeriod, error) {
	where, args := ownerFilter(sc, "i")
	join := ""
	if where != "" {
		join = " JOIN instances i ON i.id = p.instance_id"
	}
	rows, err := q.QueryContext(ctx, `SELECT p.instance_id, p.type, CASE WHEN p.spot THEN p.az ELSE '' END,
		p.spot, p.start_s, coalesce(p.end_s, 0), p.estimated
		FROM acct_periods p`+join+` WHERE (p.end_s IS NULL OR p.end_s > ?)`+where,
		append([]any{since - minBilledSeconds}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("load periods: %w", err)
	}
	defer rows.Close()
	var out []costPeriod
	for rows.Next() {
		var p costPeriod
		if err := rows.Scan(&p.InstanceID, &p.Type, &p.AZ, &p.Spot, &p.Start, &p.End, &p.Estimated); err != nil {
			return nil, fmt.Errorf("load periods: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load periods: %w", err)
	}
	return out, nil
}

// loadVolumes reads the volumes in sc that existed at since or later.
func loadVolumes(ctx context.Context, q db.Querier, sc scope, since int64) ([]costVolume, error) {
	where, args := ownerFilter(sc, "i")
	join := ""
	if where != "" {
		join = " JOIN instances i ON i.id = v.instance_id"
	}
	rows, err := q.QueryContext(ctx, `SELECT v.instance_id, v.type, v.size_gb, v.start_s, coalesce(v.end_s, 0), v.estimated
		FROM acct_volumes v`+join+` WHERE (v.end_s IS NULL OR v.end_s > ?)`+where,
		append([]any{since}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("load volumes: %w", err)
	}
	defer rows.Close()
	var out []costVolume
	for rows.Next() {
		var v costVolume
		if err := rows.Scan(&v.InstanceID, &v.Type, &v.SizeGB, &v.Start, &v.End, &v.Estimated); err != nil {
			return nil, fmt.Errorf("load volumes: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load volumes: %w", err)
	}
	return out, nil
}

// loadGroups maps user names to their roster group.
func loadGroups(ctx context.Context, q db.Querier) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, grp FROM users WHERE grp != ''`)
	if err != nil {
		return nil, fmt.Errorf("load groups: %w", err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var name, grp string
		if err := rows.Scan(&name, &grp); err != nil {
			return nil, fmt.Errorf("load groups: %w", err)
		}
		m[name] = grp
	}
	return m, rows.Err()
}

// loadSpot reads the spot price points the spot periods need: per zone and type, the
// point in force at the earliest start and every later one up to the latest end.
func loadSpot(ctx context.Context, q db.Querier, periods []costPeriod, now int64) (spotSeries, error) {
	type span struct{ from, to int64 }
	need := map[spotKey]*span{}
	for _, p := range periods {
		if !p.Spot {
			continue
		}
		k := spotKey{p.Region, p.Type, p.AZ}
		end := p.End
		if end == 0 {
			end = now
		}
		end = max(end, p.Start+minBilledSeconds)
		if sp := need[k]; sp == nil {
			need[k] = &span{p.Start, end}
		} else {
			sp.from, sp.to = min(sp.from, p.Start), max(sp.to, end)
		}
	}
	ss := spotSeries{}
	for k, sp := range need {
		rows, err := q.QueryContext(ctx, `SELECT at_s, price FROM acct_spot_prices
			WHERE region = ? AND type = ? AND az = ? AND at_s < ? AND at_s >= coalesce(
				(SELECT max(at_s) FROM acct_spot_prices WHERE region = ? AND type = ? AND az = ? AND at_s <= ?), 0)`,
			k.region, k.typ, k.az, sp.to, k.region, k.typ, k.az, sp.from)
		if err != nil {
			return nil, fmt.Errorf("load spot prices: %w", err)
		}
		for rows.Next() {
			var at int64
			var price float64
			if err := rows.Scan(&at, &price); err != nil {
				rows.Close()
				return nil, fmt.Errorf("load spot prices: %w", err)
			}
			ss.add(k.region, k.typ, k.az, at, price)
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
