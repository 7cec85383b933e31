package accounting

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// SpentUSD is the user's spend in [since, now) from snapshots: compute (running periods,
// per second, 60 s minimum each) plus EBS, with running instances costed up to now.
// Instances of unpriced types add nothing here; Usage names them.
func (s *Service) SpentUSD(ctx context.Context, user string, since time.Time) (float64, error) {
	now := s.now().Unix()
	var total float64
	err := s.opts.DB.Read(ctx, func(tx *db.Tx) error {
		d, err := loadCosts(ctx, tx, scope{owner: user}, since.Unix())
		if err != nil {
			return err
		}
		ss, err := loadSpot(ctx, tx, d.Periods, now)
		if err != nil {
			return err
		}
		c := &coster{prices: s.prices, spot: ss, now: now}
		for _, p := range d.Periods {
			total += c.period(p, since.Unix(), now).USD
		}
		for _, v := range d.Volumes {
			total += c.volume(v, since.Unix(), now).USD
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("spend of %s: %w", user, err)
	}
	return total, nil
}

// BudgetPeriod returns the budget period (by policy budget_period) that contains now:
// [start, end). A term needs accounting.term_start; without term_end it has no end.
func (s *Service) BudgetPeriod(period string, now time.Time) (start, end time.Time, err error) {
	start, err = quota.PeriodStart(period, now, s.term[0])
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	switch period {
	case quota.PeriodMonth:
		end = start.AddDate(0, 1, 0)
	case quota.PeriodWeek:
		end = start.AddDate(0, 0, 7)
	case quota.PeriodTerm:
		if !s.term[1].IsZero() {
			end = s.term[1].AddDate(0, 0, 1) // term_end is the last day, inclusive
		}
	}
	return start, end, nil
}

// policy returns user's effective policy; without a Policy func there is no budget.
func (s *Service) policy(ctx context.Context, user string) (quota.Policy, error) {
	if s.opts.Policy == nil {
		return quota.Policy{BudgetPeriod: quota.PeriodMonth}, nil
	}
	return s.opts.Policy(ctx, user)
}

// periodFor is the budget period of pol at now; a policy whose period cannot be computed
// (a term with no term_start) falls back to the calendar month, logged.
func (s *Service) periodFor(pol quota.Policy, user string, now time.Time) (time.Time, time.Time) {
	start, end, err := s.BudgetPeriod(pol.BudgetPeriod, now)
	if err != nil {
		s.log.Warn("budget period", slog.String(logKeyUser, user), slog.String(logKeyError, err.Error()))
		start, end, _ = s.BudgetPeriod(quota.PeriodMonth, now)
	}
	return start, end
}

// Usage is a user's spend this period.
func (s *Service) Usage(ctx context.Context, user string) (Usage, error) {
	pol, err := s.policy(ctx, user)
	if err != nil {
		return Usage{}, fmt.Errorf("usage of %s: %w", user, err)
	}
	now := s.now()
	start, end := s.periodFor(pol, user, now)
	u := Usage{User: user, PeriodStart: start, PeriodEnd: end, BudgetUSD: pol.BudgetUSD, Instances: []InstanceCost{}}
	err = s.opts.DB.Read(ctx, func(tx *db.Tx) error {
		d, err := loadCosts(ctx, tx, scope{owner: user}, start.Unix())
		if err != nil {
			return err
		}
		ss, err := loadSpot(ctx, tx, d.Periods, now.Unix())
		if err != nil {
			return err
		}
		asOf, err := lastSnapshot(ctx, tx)
		if err != nil {
			return err
		}
		u.AsOf = unixTime(asOf)
		c := &coster{prices: s.prices, spot: ss, now: now.Unix()}
		costs := instanceCosts(c, d, start.Unix(), now.Unix())
		unpriced := map[string]bool{}
		for _, id := range d.Order {
			ic, ok := costs[id]
			in := d.Instances[id]
			live := in.GoneAt == 0 && in.State != "terminated"
			if !ok && !live {
				continue // nothing this period
			}
			if !ok {
				ic = newInstanceCost(in)
			}
			u.SpentUSD += ic.CostUSD
			if ic.Unpriced {
				unpriced[in.Type] = true
			}
			if live {
				hourly, priced := s.liveHourly(c, d, in)
				if !priced {
					unpriced[in.Type] = true
				}
				u.HourlyUSD += hourly.total
				if isRunning(in.State) && in.ExpiresAt > now.Unix() {
					u.CommittedUSD += hourly.compute * float64(in.ExpiresAt-now.Unix()) / 3600
				}
			}
			u.Instances = append(u.Instances, *ic)
		}
		u.Unpriced = sortedKeys(unpriced)
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("usage of %s: %w", user, err)
	}
	if u.BudgetUSD > 0 {
		u.RemainingUSD = max(0, u.BudgetUSD-u.SpentUSD)
	}
	return u, nil
}

type hourlyCost struct{ compute, total float64 }

// liveHourly is what a live instance costs per hour now: compute while it runs (its
// open period's price) plus its volumes.
func (s *Service) liveHourly(c *coster, d *costData, in *instInfo) (hourlyCost, bool) {
	var h hourlyCost
	priced := true
	if isRunning(in.State) {
		p := costPeriod{Region: in.Region, Type: in.Type, Spot: in.Spot}
		for _, q := range in.Periods {
			if q.End == 0 {
				p = q
			}
		}
		v, ok := c.hourly(p)
		priced = ok
		h.compute = v
	}
	h.total = h.compute
	for _, v := range in.Volumes {
		if v.End == 0 {
			h.total += c.volumeHourly(v)
		}
	}
	return h, priced
}

func newInstanceCost(in *instInfo) *InstanceCost {
	return &InstanceCost{ID: in.ID, Owner: in.Owner, Region: in.Region, Type: in.Type, State: in.State,
		Spot: in.Spot, LaunchedAt: unixTime(in.LaunchedAt), ExpiresAt: unixTime(in.ExpiresAt)}
}

// instanceCosts is each instance's cost in [from, until); instances with no period or
// volume in the window are absent.
func instanceCosts(c *coster, d *costData, from, until int64) map[string]*InstanceCost {
	out := map[string]*InstanceCost{}
	get := func(id string) *InstanceCost {
		ic := out[id]
		if ic == nil {
			in := d.Instances[id]
			if in == nil {
				in = &instInfo{ID: id}
			}
			ic = newInstanceCost(in)
			out[id] = ic
		}
		return ic
	}
	add := func(id string, pc piece) {
		if pc.USD == 0 && pc.RunSeconds == 0 && !pc.Unpriced {
			return
		}
		ic := get(id)
		ic.CostUSD += pc.USD
		ic.RunningSeconds += pc.RunSeconds
		ic.Estimated = ic.Estimated || pc.Estimated
		ic.Unpriced = ic.Unpriced || pc.Unpriced
	}
	for _, p := range d.Periods {
		add(p.InstanceID, c.period(p, from, until))
	}
	for _, v := range d.Volumes {
		add(v.InstanceID, c.volume(v, from, until))
	}
	return out
}
