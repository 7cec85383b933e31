package accounting

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/db"
)

// reportWalk is what every part of a report's walk shares, read-only: the window, its
// days, the grouping, the prices and the users' groups.
type reportWalk struct {
	by             string
	from, to, base int64 // the window and the start of its first UTC day
	ndays          int
	dayKeys        []string
	c              *coster
	groups         map[string]string
}

// rowAgg is one report row being summed; last is the last instance counted in it, so a
// row counts an instance once (a walk goes instance by instance).
type rowAgg struct {
	row  ReportRow
	last string
}

// reportAgg is one part's sums. Parts hold disjoint instances, so merging adds them.
type reportAgg struct {
	rows                 map[string]*rowAgg
	chart                map[string][]float64 // series (user or group) → day → USD
	instances, untracked []InstanceCost       // in launch order
	total                float64
	unpriced             map[string]bool
}

// walk costs insts (in launch order) over the window, every cost split by UTC day:
// the chart needs it, and by=day rows are those days.
func (w *reportWalk) walk(insts []*instInfo) *reportAgg {
	g := &reportAgg{rows: map[string]*rowAgg{}, chart: map[string][]float64{}, unpriced: map[string]bool{}}
	addRow := func(key, id string, pc piece) {
		ra := g.rows[key]
		if ra == nil {
			ra = &rowAgg{row: ReportRow{Key: key}}
			g.rows[key] = ra
		}
		ra.row.CostUSD += pc.USD
		ra.row.RunningSeconds += pc.RunSeconds
		if ra.last != id {
			ra.last = id
			ra.row.Instances++
		}
	}
	from, to, c := w.from, w.to, w.c
	g.instances = make([]InstanceCost, 0, len(insts))
	for _, in := range insts {
		in.Group = w.groups[in.Owner]
		id := in.ID
		sk := userKey(in)
		if w.by == ByGroup {
			sk = groupKey(in)
		}
		chart := g.chart[sk]
		if chart == nil {
			chart = make([]float64, w.ndays)
			g.chart[sk] = chart
		}
		instKey := rowKey(w.by, in, in.Type)
		ic := InstanceCost{ID: in.ID, Owner: in.Owner, Region: in.Region, Type: in.Type, State: in.State,
			Spot: in.Spot, LaunchedAt: unixTime(in.LaunchedAt), ExpiresAt: unixTime(in.ExpiresAt)}
		counted := false
		// A period (p != nil) or a volume (v != nil) is priced per day over [start, end).
		each := func(typ string, start, end int64, p *costPeriod, v *costVolume) {
			a, b := max(start, from), min(end, to)
			key := instKey
			if w.by == ByType {
				key = rowKey(w.by, in, typ)
			}
			for ds := a - a%day; ds < b; ds += day {
				var pc piece
				if p != nil {
					pc = c.period(*p, max(ds, from), min(ds+day, to))
				} else {
					pc = c.volume(*v, max(ds, from), min(ds+day, to))
				}
				if pc.Unpriced {
					ic.Unpriced, counted = true, true // its cost is unknown, not zero: list it
				}
				if pc.USD == 0 && pc.RunSeconds == 0 {
					continue
				}
				counted = true
				ic.CostUSD += pc.USD
				ic.RunningSeconds += pc.RunSeconds
				ic.Estimated = ic.Estimated || pc.Estimated
				di := int((ds - w.base) / day)
				if w.by == ByDay {
					addRow(w.dayKeys[di], id, pc)
				} else {
					addRow(key, id, pc)
				}
				chart[di] += pc.USD
			}
		}
		for i := range in.Periods {
			p := &in.Periods[i]
			end := p.End
			if end == 0 {
				end = max(c.now, p.Start)
			}
			end = max(end, p.Start+minBilledSeconds)
			each(p.Type, p.Start, end, p, nil)
		}
		for i := range in.Volumes {
			v := &in.Volumes[i]
			end := v.End
			if end == 0 {
				end = c.now
			}
			each(in.Type, v.Start, end, nil, v)
		}
		if !counted {
			continue // nothing in the window
		}
		g.total += ic.CostUSD
		if ic.Unpriced {
			g.unpriced[ic.Type] = true
		}
		if !in.Tracked {
			g.untracked = append(g.untracked, ic)
		} else {
			g.instances = append(g.instances, ic)
		}
	}
	return g
}

// mergeAggs adds parts' sums, in part order (so the float sums do not depend on which
// part finished first), and merges their instance lists in launch order.
func mergeAggs(parts []*reportAgg) *reportAgg {
	out := &reportAgg{rows: map[string]*rowAgg{}, chart: map[string][]float64{}, unpriced: map[string]bool{}}
	var insts, untracked [][]InstanceCost
	for _, g := range parts {
		out.total += g.total
		for k := range g.unpriced {
			out.unpriced[k] = true
		}
		for k, ra := range g.rows {
			o := out.rows[k]
			if o == nil {
				out.rows[k] = &rowAgg{row: ra.row}
				continue
			}
			o.row.CostUSD += ra.row.CostUSD
			o.row.RunningSeconds += ra.row.RunningSeconds
			o.row.Instances += ra.row.Instances
		}
		for k, days := range g.chart {
			o := out.chart[k]
			if o == nil {
				out.chart[k] = days
				continue
			}
			for i, v := range days {
				o[i] += v
			}
		}
		insts, untracked = append(insts, g.instances), append(untracked, g.untracked)
	}
	out.instances, out.untracked = mergeCosts(insts), mergeCosts(untracked)
	return out
}

// mergeCosts merges lists each in launch order (then id) into one in that order.
func mergeCosts(lists [][]InstanceCost) []InstanceCost {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]InstanceCost, 0, n)
	before := func(a, b *InstanceCost) bool {
		if !a.LaunchedAt.Equal(b.LaunchedAt) {
			return a.LaunchedAt.Before(b.LaunchedAt)
		}
		return a.ID < b.ID
	}
	for len(out) < n {
		best := -1
		for i, l := range lists {
			if len(l) > 0 && (best < 0 || before(&l[0], &lists[best][0])) {
				best = i
			}
		}
		out = append(out, lists[best][0])
		lists[best] = lists[best][1:]
	}
	return out
}

// loadSpotWindow reads every zone's and type's spot price points in force at some time
// in [from, to): the point in force at from and every later one before to.
func loadSpotWindow(ctx context.Context, q db.Querier, from, to int64) (spotSeries, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.region, p.type, p.az, p.at_s, p.price FROM acct_spot_prices p
		WHERE p.at_s < ? AND p.at_s >= coalesce((SELECT max(q.at_s) FROM acct_spot_prices q
			WHERE q.region = p.region AND q.type = p.type AND q.az = p.az AND q.at_s <= ?), 0)`, to, from)
	if err != nil {
		return nil, fmt.Errorf("load spot prices: %w", err)
	}
	defer rows.Close()
	ss := spotSeries{}
	for rows.Next() {
		var region, typ, az string
		var at int64
		var price float64
		if err := rows.Scan(&region, &typ, &az, &at, &price); err != nil {
			return nil, fmt.Errorf("load spot prices: %w", err)
		}
		ss.add(region, typ, az, at, price)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load spot prices: %w", err)
	}
	ss.sort()
	return ss, nil
}
