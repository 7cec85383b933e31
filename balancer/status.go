package balancer

import (
	"context"
	"slices"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
)

// status is the pool's status: its last poll, what admins set, and its costs.
func (pr *poolRun) status(ctx context.Context) (tollgate.PoolStatus, error) {
	rec, _, err := pr.s.o.DB.GetBalancerPool(ctx, pr.cfg.Name)
	if err != nil {
		return tollgate.PoolStatus{}, err
	}
	now := pr.s.o.Now()
	pr.mu.Lock()
	st := tollgate.PoolStatus{Name: pr.cfg.Name, Region: pr.cfg.Region, State: "active",
		Load: pr.last.Raw, Smoothed: pr.last.Smoothed, PollFails: pr.fails, LastPollAt: pr.lastPoll,
		WantMin: pr.last.Min, WantMax: pr.last.Max, Counts: map[string]int{}, Slaves: slices.Clone(pr.slaves),
		SecurityGroup: rec.SecurityGroup, Market: pr.market, SpotPrice: pr.spotPrice, SpotBid: pr.cfg.Bid(),
		BudgetUSD: pr.cfg.BudgetUSD, MaxInst: pr.cfg.MaxInstances, Decisions: slices.Clone(pr.decisions),
		Renderfarm: slices.Clone(pr.renderfarm)}
	if n := len(pr.history); n > 0 {
		st.LoadOK, st.LoadError = pr.history[n-1].OK, pr.history[n-1].Err
	}
	hold := pr.last.Hold
	pr.mu.Unlock()
	switch {
	case rec.Paused:
		st.State = "paused"
	case rec.Draining:
		st.State = "draining"
	case hold:
		st.State = "holding"
	}
	if rec.OverrideMin >= 0 && now.Before(rec.OverrideUntil) {
		st.Override = &tollgate.PoolOverride{Min: rec.OverrideMin, Max: rec.OverrideMax, Until: rec.OverrideUntil}
	}
	for _, s := range []SlaveState{StateRequested, StateBooting, StateReady, StateDraining, StateGone} {
		st.Counts[string(s)] = 0
	}
	var ids []string
	for _, sl := range st.Slaves {
		st.Counts[sl.State]++
		ids = append(ids, sl.ID)
	}
	if st.Slaves == nil {
		st.Slaves = []tollgate.PoolSlave{}
	}
	if st.Decisions == nil {
		st.Decisions = []tollgate.PoolDecision{}
	}
	if st.Renderfarm == nil {
		st.Renderfarm = []string{}
	}
	if pr.s.o.Spend != nil && len(ids) > 0 {
		if costs, err := pr.s.o.Spend.InstanceCosts(ctx, ids); err == nil {
			for i := range st.Slaves {
				st.Slaves[i].CostUSD = costs[st.Slaves[i].ID]
			}
		}
		if spent, err := pr.s.o.Spend.SpentUSD(ctx, Owner(pr.cfg.Name), monthStart(now)); err == nil {
			st.CostUSD = spent
		}
	}
	if len(ids) > 0 {
		rows, err := pr.s.o.DB.ListInstances(ctx, nil, db.InstanceFilter{IDs: ids})
		if err == nil {
			price := map[string]float64{}
			for _, r := range rows {
				price[r.ID] = r.PriceHourly
			}
			for i := range st.Slaves {
				st.Slaves[i].PriceHourly = price[st.Slaves[i].ID]
			}
		}
	}
	return st, nil
}
