package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QuotaCmd is `tollgate quota`: the caller's effective policy and their use of it.
type QuotaCmd struct{}

// Run shows the quota.
func (c *QuotaCmd) Run(env *Env) error {
	q, err := env.Client.Quota(env.Ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return printJSON(env.Out, q)
	}
	p, u := q.Policy, q.Usage
	t := newTable(env.Out, "LIMIT", "USED", "ALLOWED")
	t.row("max_instances", strconv.Itoa(u.Instances), limit(p.MaxInstances))
	t.row("max_vcpus", strconv.Itoa(u.VCPUs), limit(p.MaxVCPUs))
	budget := "none"
	if p.BudgetUSD > 0 {
		budget = usd(p.BudgetUSD) + " per " + p.BudgetPeriod
	}
	t.row("budget_usd", usd(u.SpentUSD)+" spent + "+usd(u.CommittedUSD)+" committed", budget)
	if err := t.flush(); err != nil {
		return err
	}
	w := env.Out
	fmt.Fprintln(w)
	fmt.Fprintf(w, "user:            %s\n", q.User)
	fmt.Fprintf(w, "period start:    %s\n", day(q.PeriodStart))
	fmt.Fprintf(w, "instance types:  %s\n", strings.Join(p.InstanceTypes, ", "))
	fmt.Fprintf(w, "images:          %s\n", strings.Join(p.Images, ", "))
	fmt.Fprintf(w, "regions:         %s\n", strings.Join(p.Regions, ", "))
	fmt.Fprintf(w, "lifetime:        %s default, %s max; then %s\n", durOrDash(p.DefaultLifetime), durOrDash(p.MaxLifetime), p.ExpireAction)
	fmt.Fprintf(w, "spot:            %s\n", p.Spot)
	if p.BudgetUSD > 0 {
		fmt.Fprintf(w, "budget action:   %s\n", p.BudgetAction)
	}
	return nil
}

// limit shows a numeric limit; 0 means none.
func limit(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func durOrDash(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return shortDur(d)
}
