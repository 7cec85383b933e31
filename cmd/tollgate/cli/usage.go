package cli

import (
	"fmt"
	"strings"
	"time"
)

// UsageCmd is `tollgate usage`: spend this budget period, from the daemon's own
// snapshots (minutes old, not a day like billing data).
type UsageCmd struct{}

// Run shows usage.
func (c *UsageCmd) Run(env *Env) error {
	u, err := env.Client.Usage(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		u.Instances = nonNil(u.Instances)
		return printJSON(env.Out, u)
	}
	w := env.Out
	fmt.Fprintf(w, "user:       %s\n", u.User)
	fmt.Fprintf(w, "period:     %s → %s\n", day(u.PeriodStart), day(u.PeriodEnd))
	if u.BudgetUSD > 0 {
		fmt.Fprintf(w, "budget:     %s (spent %s, remaining %s)\n", usd(u.BudgetUSD), usd(u.SpentUSD), usd(u.RemainingUSD))
	} else {
		fmt.Fprintf(w, "budget:     none (spent %s)\n", usd(u.SpentUSD))
	}
	fmt.Fprintf(w, "committed:  %s until running leases end\n", usd(u.CommittedUSD))
	fmt.Fprintf(w, "burn rate:  %s/hour\n", usd(u.HourlyUSD))
	if !u.AsOf.IsZero() {
		fmt.Fprintf(w, "as of:      %s\n", stamp(u.AsOf))
	}
	if len(u.Unpriced) > 0 {
		fmt.Fprintf(w, "unpriced:   %s (their cost is unknown, not zero)\n", strings.Join(u.Unpriced, ", "))
	}
	if len(u.Instances) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "ID", "TYPE", "REGION", "STATE", "RUNNING", "COST")
	for _, in := range u.Instances {
		cost := usd(in.CostUSD)
		switch {
		case in.Unpriced:
			cost = "unknown"
		case in.Estimated:
			cost += " (est.)"
		}
		t.row(in.ID, in.Type, in.Region, in.State, shortDur(time.Duration(in.RunningSeconds)*time.Second), cost)
	}
	return t.flush()
}

// day is a date in UTC, the zone budgets and reports count days in.
func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}
