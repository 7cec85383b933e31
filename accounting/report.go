package accounting

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
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
	from, to := since.Unix(), until.Unix()
	w := &reportWalk{by: by, from: from, to: to, base: from - from%day}
	w.ndays = int((to-w.base+day-1)/day) + 1
	w.dayKeys = make([]string, w.ndays)
	for i := range w.dayKeys {
		w.dayKeys[i] = time.Unix(w.base+int64(i)*day, 0).UTC().Format(time.DateOnly)
	}
	var ranges [loadParts][2]int64
	if err := s.opts.DB.Read(ctx, func(tx *db.Tx) (err error) {
		ranges, err = rowidParts(ctx, tx)
		return err
	}); err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	// Each part of the instances is loaded and walked on its own goroutine and
	// connection: a term's report is CPU-bound in the driver and the walk alike. What
	// the walk shares (groups, spot prices) loads meanwhile; walks wait for it.
	var (
		wg       sync.WaitGroup
		parts    [loadParts]*reportAgg
		errs     [loadParts]error
		setupErr error
		setup    = make(chan struct{})
	)
	for i := range loadParts {
		wg.Go(func() {
			var insts []*instInfo
			errs[i] = s.opts.DB.Read(ctx, func(tx *db.Tx) (err error) {
				insts, err = loadPacked(ctx, tx, from, ranges[i])
				return err
			})
			<-setup
			if errs[i] == nil && setupErr == nil {
				parts[i] = w.walk(insts)
			}
		})
	}
	setupErr = s.opts.DB.Read(ctx, func(tx *db.Tx) error {
		var err error
		if w.groups, err = loadGroups(ctx, tx); err != nil {
			return err
		}
		ss, err := loadSpotWindow(ctx, tx, from, max(to, now.Unix())+minBilledSeconds)
		if err != nil {
			return err
		}
		asOf, err := lastSnapshot(ctx, tx)
		r.AsOf = unixTime(asOf)
		w.c = &coster{prices: s.prices, spot: ss, now: now.Unix()}
		return err
	})
	close(setup)
	wg.Wait()
	if err := errors.Join(append([]error{setupErr}, errs[:]...)...); err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	agg := mergeAggs(parts[:])
	r.TotalUSD = agg.total
	if len(agg.instances) > 0 {
		r.Instances = agg.instances // not copied: a term's list is tens of thousands long
	}
	if len(agg.untracked) > 0 {
		r.Untracked = agg.untracked
	}
	unpriced, rows, dayKeys, ndays := agg.unpriced, agg.rows, w.dayKeys, w.ndays
	r.Unpriced = sortedKeys(unpriced)
	for _, k := range sortedKeys(rows) {
		r.Rows = append(r.Rows, rows[k].row)
	}
	if by != ByDay {
		sort.SliceStable(r.Rows, func(i, j int) bool { return r.Rows[i].CostUSD > r.Rows[j].CostUSD })
	}
	seriesTotal := make(map[string]float64, len(agg.chart))
	for k, days := range agg.chart {
		for _, v := range days {
			seriesTotal[k] += v
		}
	}
	shown := topSeries(seriesTotal, chartSeries)
	// Sorted once, not per day: a term has a hundred days and a thousand series.
	chartKeys := sortedKeys(agg.chart)
	for di := range ndays {
		ds := DaySpend{Day: dayKeys[di], Spend: map[string]float64{}}
		for _, k := range chartKeys {
			v := agg.chart[k][di]
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
