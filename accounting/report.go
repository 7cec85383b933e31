package accounting

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/tollgate/tollgate"
)

// Report groupings.
const (
	ByUser    = "user"
	ByGroup   = "group"
	ByPurpose = "purpose"
	ByType    = "type"
	ByRegion  = "region"
	ByDay     = "day"
)

// chartSeries is how many users (or groups) the chart stacks before lumping the rest
// into "other": a chart of a thousand colours says nothing.
const chartSeries = 10

// Placeholder keys for instances without the attribute grouped by.
const (
	keyUntracked = "(untracked)"
	keyNone      = "(none)"
	keyOther     = tollgate.DayOther
)

const day = 24 * 3600

// Report builds a spend report over [Since, Until) grouped by req.By. Every row, every
// day and the total are sums of the same per-instance, per-window costs, so they agree.
func (s *Service) Report(ctx context.Context, req ReportRequest) (Report, error) {
	now := s.now()
	by := req.By
	if by == "" {
		by = ByUser
	}
	switch by {
	case ByUser, ByGroup, ByPurpose, ByType, ByRegion, ByDay:
	default:
		return Report{}, fmt.Errorf("report: by %q is not one of user, group, purpose, type, region, day", by)
	}
	since, until := req.Since.UTC(), req.Until.UTC()
	if until.IsZero() {
		until = now
	}
	if since.IsZero() {
		since = s.defaultSince(now)
	}
	if !since.Before(until) {
		return Report{}, fmt.Errorf("report: since %s is not before until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	r := Report{Since: since, Until: until, By: by, Rows: []ReportRow{}, Days: []DaySpend{},
		Untracked: []InstanceCost{}, Instances: []InstanceCost{}}
	d, err := loadAllCosts(ctx, s.opts.DB, since.Unix())
	if err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	var c *coster
	err = s.opts.DB.Read(ctx, func(tx *sql.Tx) error {
		groups, err := loadGroups(ctx, tx)
		if err != nil {
			return err
		}
		for _, in := range d.Instances {
			in.Group = groups[in.Owner]
		}
		ss, err := loadSpot(ctx, tx, d.Periods, now.Unix())
		if err != nil {
			return err
		}
		asOf, err := lastSnapshot(ctx, tx)
		r.AsOf = unixTime(asOf)
		c = &coster{prices: s.prices, spot: ss, now: now.Unix()}
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	from, to := since.Unix(), until.Unix()
	unpriced := map[string]bool{}

	// Aggregation walks instance by instance, so a row counts an instance once by
	// remembering the last one it saw; days are indexes from the window's first day.
	type rowAgg struct {
		row  ReportRow
		last string
	}
	rows := map[string]*rowAgg{}
	base := from - from%day
	ndays := int((to-base+day-1)/day) + 1
	var series []string
	seriesIdx := map[string]int{}
	var chart [][]float64 // series → day → USD
	seriesTotal := map[string]float64{}
	addRow := func(key, id string, pc piece) {
		ra := rows[key]
		if ra == nil {
			ra = &rowAgg{row: ReportRow{Key: key}}
			rows[key] = ra
		}
		ra.row.CostUSD += pc.USD
		ra.row.RunningSeconds += pc.RunSeconds
		if ra.last != id {
			ra.last = id
			ra.row.Instances++
		}
	}
	dayKeys := make([]string, ndays)
	for i := range dayKeys {
		dayKeys[i] = time.Unix(base+int64(i)*day, 0).UTC().Format(time.DateOnly)
	}
	for _, id := range d.Order {
		in := d.Instances[id]
		sk := userKey(in)
		if by == ByGroup {
			sk = groupKey(in)
		}
		si, ok := seriesIdx[sk]
		if !ok {
			si = len(series)
			series = append(series, sk)
			seriesIdx[sk] = si
			chart = append(chart, make([]float64, ndays))
		}
		instKey := rowKey(by, in, in.Type)
		ic := InstanceCost{ID: in.ID, Owner: in.Owner, Region: in.Region, Type: in.Type, State: in.State,
			Spot: in.Spot, LaunchedAt: unixTime(in.LaunchedAt), ExpiresAt: unixTime(in.ExpiresAt)}
		counted := false
		// Every cost is split by UTC day: the chart needs it, and by=day rows are those days.
		each := func(typ string, start, end int64, cost func(a, b int64) piece) {
			a, b := max(start, from), min(end, to)
			key := instKey
			if by == ByType {
				key = rowKey(by, in, typ)
			}
			for ds := a - a%day; ds < b; ds += day {
				pc := cost(max(ds, from), min(ds+day, to))
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
				di := int((ds - base) / day)
				if by == ByDay {
					addRow(dayKeys[di], id, pc)
				} else {
					addRow(key, id, pc)
				}
				chart[si][di] += pc.USD
				seriesTotal[sk] += pc.USD
			}
		}
		for _, p := range in.Periods {
			end := p.End
			if end == 0 {
				end = max(c.now, p.Start)
			}
			end = max(end, p.Start+minBilledSeconds)
			each(p.Type, p.Start, end, func(a, b int64) piece { return c.period(p, a, b) })
		}
		for _, v := range in.Volumes {
			end := v.End
			if end == 0 {
				end = c.now
			}
			each(in.Type, v.Start, end, func(a, b int64) piece { return c.volume(v, a, b) })
		}
		if !counted {
			continue // nothing in the window
		}
		r.TotalUSD += ic.CostUSD
		if ic.Unpriced {
			unpriced[ic.Type] = true
		}
		if !in.Tracked {
			r.Untracked = append(r.Untracked, ic)
		} else {
			r.Instances = append(r.Instances, ic)
		}
	}
	r.Unpriced = sortedKeys(unpriced)
	for _, k := range sortedKeys(rows) {
		r.Rows = append(r.Rows, rows[k].row)
	}
	if by != ByDay {
		sort.SliceStable(r.Rows, func(i, j int) bool { return r.Rows[i].CostUSD > r.Rows[j].CostUSD })
	}
	shown := topSeries(seriesTotal, chartSeries)
	for di := range ndays {
		ds := DaySpend{Day: dayKeys[di], Spend: map[string]float64{}}
		for si, k := range series {
			v := chart[si][di]
			if v == 0 {
				continue
			}
			if !shown[k] {
				k = keyOther
			}
			ds.Spend[k] += v
		}
		if len(ds.Spend) > 0 {
			r.Days = append(r.Days, ds)
		}
	}
	if by != ByGroup {
		for _, k := range sortedKeys(shown) {
			if k == keyUntracked || k == keyNone {
				continue
			}
			pol, err := s.policy(ctx, k)
			if err == nil && pol.BudgetUSD > 0 {
				r.Budgets = append(r.Budgets, BudgetLine{Key: k, BudgetUSD: pol.BudgetUSD})
			}
		}
	}
	return r, nil
}

// defaultSince is the start of the current term when one is configured, else of the
// calendar month.
func (s *Service) defaultSince(now time.Time) time.Time {
	if !s.term[0].IsZero() && !s.term[0].After(now) {
		return s.term[0]
	}
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func userKey(in *instInfo) string {
	if !in.Tracked || in.Owner == "" {
		return keyUntracked
	}
	return in.Owner
}

func groupKey(in *instInfo) string {
	if !in.Tracked || in.Owner == "" {
		return keyUntracked
	}
	if in.Group == "" {
		return keyNone
	}
	return in.Group
}

func rowKey(by string, in *instInfo, typ string) string {
	switch by {
	case ByGroup:
		return groupKey(in)
	case ByPurpose:
		if in.Purpose == "" {
			return keyNone
		}
		return in.Purpose
	case ByType:
		if typ == "" {
			return keyNone
		}
		return typ
	case ByRegion:
		return in.Region
	}
	return userKey(in)
}

// topSeries returns the n keys with the largest totals.
func topSeries(totals map[string]float64, n int) map[string]bool {
	keys := sortedKeys(totals)
	sort.SliceStable(keys, func(i, j int) bool { return totals[keys[i]] > totals[keys[j]] })
	out := map[string]bool{}
	for i, k := range keys {
		if i >= n {
			break
		}
		out[k] = true
	}
	return out
}
