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
// its periods and volumes, in q's snapshot: one query (indexed by owner for one user)
// of the packed rows reports read.
func loadCosts(ctx context.Context, q db.Querier, sc scope, since int64) (*costData, error) {
	where, args := "", []any(nil)
	if sc.owner != "" {
		where, args = "owner = ?", []any{sc.owner}
	}
	insts, err := queryPacked(ctx, q, since, where, args...)
	if err != nil {
		return nil, err
	}
	d := &costData{Instances: make(map[string]*instInfo, len(insts)), Order: make([]string, len(insts))}
	for i, in := range insts {
		d.Instances[in.ID] = in
		d.Order[i] = in.ID
		d.Periods = append(d.Periods, in.Periods...)
		d.Volumes = append(d.Volumes, in.Volumes...)
	}
	return d, nil
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
