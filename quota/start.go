package quota

import (
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
)

// Lease is one existing instance a start or an extend is about: what it costs, how many
// vCPUs it takes when running, and when its lease ends.
type Lease struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	VCPUs     int       `json:"vcpus"`
	HourlyUSD float64   `json:"hourly_usd"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RemainingUSD is what the lease still commits from now to its expiry (0 once expired).
func (l Lease) RemainingUSD(now time.Time) float64 {
	return l.HourlyUSD * RemainingHours(l.ExpiresAt, now)
}

// RemainingHours is the time from now to expires in hours, 0 if it is not in the future
// (or unset).
func RemainingHours(expires, now time.Time) float64 {
	if expires.IsZero() || !expires.After(now) {
		return 0
	}
	return expires.Sub(now).Hours()
}

// AdmitStart decides starting stopped instances. Starting is admission like a launch:
// otherwise stop → launch → start would run more vCPUs than max_vcpus allows, and a
// budget a launch may not cross could be crossed by restarting.
//
// usage is what the user holds APART FROM the instances to start (their vCPUs and their
// remaining lease cost excluded); AdmitStart adds them back. It refuses, in order: an
// instance whose lease has expired at now (the user must extend it first, which is
// bounded by max_lifetime and the budget), max_vcpus with the started vCPUs added, a
// budget already spent whatever budget_action is, and spent + committed + the started
// instances' remaining lease cost crossing the budget.
func AdmitStart(p Policy, usage Usage, start []Lease, now time.Time) *Refusal {
	vcpus, cost := 0, 0.0
	for _, l := range start {
		if !l.ExpiresAt.After(now) {
			return refuse(tollgate.CodeQuotaExceeded, "lease", "the lease of %s expired at %s: extend it first (tollgate extend %s DURATION)",
				l.ID, l.ExpiresAt.UTC().Format(time.RFC3339), l.ID)
		}
		vcpus += l.VCPUs
		cost += l.RemainingUSD(now)
	}
	if usage.VCPUs+vcpus > p.MaxVCPUs {
		return refuse(tollgate.CodeQuotaExceeded, "max_vcpus", "max_vcpus is %d: your pending and running instances have %d %s and starting %s needs %d more",
			p.MaxVCPUs, usage.VCPUs, plural(usage.VCPUs, "vCPU", "vCPUs"), leaseIDs(start), vcpus)
	}
	if p.BudgetUSD <= 0 {
		return nil
	}
	if usage.SpentUSD >= p.BudgetUSD-budgetEpsilon {
		return refuse(tollgate.CodeBudgetExhausted, "budget_usd", "budget_usd is $%.2f per %s and you have spent $%.2f: nothing may be started",
			p.BudgetUSD, periodName(p.BudgetPeriod), usage.SpentUSD)
	}
	if total := usage.SpentUSD + usage.CommittedUSD + cost; total > p.BudgetUSD+budgetEpsilon {
		return refuse(tollgate.CodeBudgetExhausted, "budget_usd",
			"budget_usd is $%.2f per %s: you have spent $%.2f, your other leases commit $%.2f more and the remaining leases of %s would cost $%.2f (total $%.2f)",
			p.BudgetUSD, periodName(p.BudgetPeriod), usage.SpentUSD, usage.CommittedUSD, leaseIDs(start), cost, total)
	}
	return nil
}

// AdmitExtend decides extending lease l by d: Extend's checks (whole minutes, at most
// max_lifetime from launchedAt), then the budget, since a longer lease commits more:
// spent + committed (usage, which includes l's current remaining cost) + what the
// extension adds must stay within it. It returns the new expiry.
func AdmitExtend(p Policy, usage Usage, l Lease, launchedAt time.Time, d time.Duration, now time.Time) (time.Time, *Refusal) {
	newExp, ref := Extend(p, launchedAt, l.ExpiresAt, d)
	if ref != nil || p.BudgetUSD <= 0 {
		return newExp, ref
	}
	longer := l
	longer.ExpiresAt = newExp
	added := longer.RemainingUSD(now) - l.RemainingUSD(now)
	if total := usage.SpentUSD + usage.CommittedUSD + added; added > 0 && total > p.BudgetUSD+budgetEpsilon {
		return time.Time{}, refuse(tollgate.CodeBudgetExhausted, "budget_usd",
			"budget_usd is $%.2f per %s: you have spent $%.2f, your leases commit $%.2f more and extending %s by %s would add $%.2f (total $%.2f)",
			p.BudgetUSD, periodName(p.BudgetPeriod), usage.SpentUSD, usage.CommittedUSD, l.ID, FormatDuration(d), added, total)
	}
	return newExp, nil
}

func leaseIDs(ls []Lease) string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	if len(ids) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(ids[:3], ", "), len(ids)-3)
	}
	return strings.Join(ids, ", ")
}
