package quota

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tollgate/tollgate"
)

// MaxNameLength is the longest instance name a user may give, in characters.
const MaxNameLength = 128

// budgetEpsilon keeps float noise (0.1+0.2) from refusing a launch that lands exactly on
// the budget.
const budgetEpsilon = 1e-9

func refuse(code, limit, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Limit: limit, Message: fmt.Sprintf(format, args...)}
}

// Admit decides a launch request against policy p, given what the user already holds and
// has spent (usage) and what one instance of the requested type costs (price).
//
// It first fills defaults (WithDefaults), then checks, in order: region, instance type,
// image, count, lifetime, spot, user-data size, name, max_instances, max_vcpus and the
// budget. The first failing check is returned as a Refusal naming the limit, the current
// figure and what was asked; otherwise the Decision holds the filled request and its
// projected cost.
func Admit(p Policy, req Request, usage Usage, price Price) (Decision, *Refusal) {
	req = WithDefaults(p, req)
	if r := checkChoices(p, req); r != nil {
		return Decision{}, r
	}
	if r := checkNumbers(p, req, usage, price); r != nil {
		return Decision{}, r
	}
	projected := float64(req.Count) * price.HourlyUSD * req.Lifetime.Hours()
	if p.BudgetUSD > 0 {
		total := usage.SpentUSD + usage.CommittedUSD + projected
		if total > p.BudgetUSD+budgetEpsilon {
			return Decision{}, refuse(tollgate.CodeBudgetExhausted, "budget_usd",
				"budget_usd is $%.2f per %s: you have spent $%.2f, running leases commit $%.2f more and this launch would cost $%.2f (total $%.2f)",
				p.BudgetUSD, periodName(p.BudgetPeriod), usage.SpentUSD, usage.CommittedUSD, projected, total)
		}
	}
	return Decision{Request: req, ProjectedUSD: projected}, nil
}

// WithDefaults fills what req leaves unset from policy p: Region is the first of
// p.Regions, Count is 1, Lifetime is p.DefaultLifetime, Type is the first of
// p.InstanceTypes unless that is a pattern, and Image the first of p.Images that is an
// ami id. Admit applies it; the broker applies it first to know which region to resolve
// an image in and which type to price.
func WithDefaults(p Policy, req Request) Request {
	if req.Region == "" && len(p.Regions) > 0 {
		req.Region = p.Regions[0]
	}
	if req.Count == 0 {
		req.Count = 1
	}
	if req.Lifetime == 0 {
		req.Lifetime = p.DefaultLifetime
	}
	if req.Type == "" && len(p.InstanceTypes) > 0 && !hasMeta(p.InstanceTypes[0]) {
		req.Type = p.InstanceTypes[0]
	}
	if req.Image == "" {
		for _, im := range p.Images {
			if IsAMIID(im) {
				req.Image = im
				break
			}
		}
	}
	return req
}

// checkChoices checks what the user chose against what the policy offers.
func checkChoices(p Policy, req Request) *Refusal {
	switch {
	case req.Region == "":
		return refuse(tollgate.CodeInvalidRequest, "regions", "no region allowed (regions is empty)")
	case !slices.Contains(p.Regions, req.Region):
		return refuse(tollgate.CodeInvalidRequest, "regions", "region %q is not allowed (regions: %s)",
			req.Region, strings.Join(p.Regions, ", "))
	}
	switch {
	case req.Type == "":
		return refuse(tollgate.CodeInvalidRequest, "instance_types", "no instance type given (instance_types: %s): choose one with --type",
			listOrNone(p.InstanceTypes))
	case !matchAny(p.InstanceTypes, req.Type):
		return refuse(tollgate.CodeInvalidRequest, "instance_types", "instance type %q is not allowed (instance_types: %s)",
			req.Type, listOrNone(p.InstanceTypes))
	}
	switch {
	case req.Image == "":
		return refuse(tollgate.CodeInvalidRequest, "images", "no image given and images lists no ami id to default to (images: %s): choose one with --image",
			listOrNone(p.Images))
	case !imageAllowed(p.Images, req.Image, req.ImageName):
		named := ""
		if req.ImageName != "" {
			named = fmt.Sprintf(" (named %q)", req.ImageName)
		}
		return refuse(tollgate.CodeInvalidRequest, "images", "image %q%s is not allowed (images: %s)",
			req.Image, named, listOrNone(p.Images))
	}
	return nil
}

// checkNumbers checks count, lifetime, spot, user-data, name and the instance and vCPU
// limits, in that order.
func checkNumbers(p Policy, req Request, usage Usage, price Price) *Refusal {
	maxCount, countKey := p.MaxCount, "max_count"
	if maxCount == 0 {
		maxCount, countKey = p.MaxInstances, "max_instances"
	}
	switch {
	case req.Count < 1:
		return refuse(tollgate.CodeInvalidRequest, "count", "count must be at least 1: you asked for %d", req.Count)
	case req.Count > maxCount:
		return refuse(tollgate.CodeQuotaExceeded, countKey, "%s is %d per launch: you asked for %d instances", countKey, maxCount, req.Count)
	}
	switch {
	case req.Lifetime < time.Minute:
		return refuse(tollgate.CodeInvalidRequest, "lifetime", "lifetime must be at least 1m: you asked for %s", FormatDuration(req.Lifetime))
	case req.Lifetime%time.Minute != 0:
		return refuse(tollgate.CodeInvalidRequest, "lifetime", "lifetime must be whole minutes: you asked for %s", FormatDuration(req.Lifetime))
	case req.Lifetime > p.MaxLifetime:
		return refuse(tollgate.CodeQuotaExceeded, "max_lifetime", "max_lifetime is %s: you asked for a lifetime of %s",
			FormatDuration(p.MaxLifetime), FormatDuration(req.Lifetime))
	}
	switch {
	case p.Spot == SpotRequired && !req.Spot:
		return refuse(tollgate.CodeInvalidRequest, "spot", "spot is %q: you asked for an on-demand instance (launch with --spot)", p.Spot)
	case p.Spot == SpotForbidden && req.Spot:
		return refuse(tollgate.CodeInvalidRequest, "spot", "spot is %q: you asked for a spot instance (launch without --spot)", p.Spot)
	}
	if req.UserData > MaxUserData {
		return refuse(tollgate.CodeQuotaExceeded, "user_data", "user-data is limited to %d bytes: yours is %d bytes", MaxUserData, req.UserData)
	}
	if n := utf8.RuneCountInString(req.Name); n > MaxNameLength {
		return refuse(tollgate.CodeInvalidRequest, "name", "name is limited to %d characters: yours has %d", MaxNameLength, n)
	}
	if !printable(req.Name) {
		return refuse(tollgate.CodeInvalidRequest, "name", "name %q holds a character that is not printable", req.Name)
	}
	if usage.Instances+req.Count > p.MaxInstances {
		return refuse(tollgate.CodeQuotaExceeded, "max_instances", "max_instances is %d: you have %d non-terminated %s and asked for %d more",
			p.MaxInstances, usage.Instances, plural(usage.Instances, "instance", "instances"), req.Count)
	}
	asked := req.Count * price.VCPUs
	if usage.VCPUs+asked > p.MaxVCPUs {
		return refuse(tollgate.CodeQuotaExceeded, "max_vcpus", "max_vcpus is %d: your pending and running instances have %d %s and you asked for %d more (%d × %s with %d)",
			p.MaxVCPUs, usage.VCPUs, plural(usage.VCPUs, "vCPU", "vCPUs"), asked, req.Count, req.Type, price.VCPUs)
	}
	return nil
}

// Extend checks extending a lease by d: d must be whole minutes of at least 1m, and the
// lease from launchedAt to the new expiry (expiresAt + d) must stay within p.MaxLifetime.
// It returns the new expiry.
func Extend(p Policy, launchedAt, expiresAt time.Time, d time.Duration) (time.Time, *Refusal) {
	switch {
	case d < time.Minute:
		return time.Time{}, refuse(tollgate.CodeInvalidRequest, "lifetime", "an extension must be at least 1m: you asked for %s", FormatDuration(d))
	case d%time.Minute != 0:
		return time.Time{}, refuse(tollgate.CodeInvalidRequest, "lifetime", "an extension must be whole minutes: you asked for %s", FormatDuration(d))
	}
	newExpiry := expiresAt.Add(d)
	if total := newExpiry.Sub(launchedAt); total > p.MaxLifetime {
		return time.Time{}, refuse(tollgate.CodeQuotaExceeded, "max_lifetime",
			"max_lifetime is %s: the lease already runs %s from launch and you asked for %s more",
			FormatDuration(p.MaxLifetime), FormatDuration(expiresAt.Sub(launchedAt).Round(time.Minute)), FormatDuration(d))
	}
	return newExpiry, nil
}

// PeriodStart returns the start of the budget period that contains now: for "month" the
// first of the month, for "week" the Monday, both 00:00 UTC; for "term" termStart, which
// must be set.
func PeriodStart(period string, now, termStart time.Time) (time.Time, error) {
	now = now.UTC()
	switch period {
	case PeriodMonth:
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), nil
	case PeriodWeek:
		back := (int(now.Weekday()) + 6) % 7 // days since Monday
		return time.Date(now.Year(), now.Month(), now.Day()-back, 0, 0, 0, 0, time.UTC), nil
	case PeriodTerm:
		if termStart.IsZero() {
			return time.Time{}, fmt.Errorf("budget_period is %q but the term start is not set (accounting.term_start)", period)
		}
		return termStart, nil
	default:
		return time.Time{}, fmt.Errorf("budget_period %q is not one of %s, %s, %s", period, PeriodTerm, PeriodMonth, PeriodWeek)
	}
}

func periodName(period string) string {
	if period == "" {
		return "period"
	}
	return period
}

// hasMeta reports whether a policy entry is a pattern rather than a literal value.
func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == s {
			return true
		}
		if ok, err := path.Match(p, s); err == nil && ok {
			return true
		}
	}
	return false
}

// slashless stands in for '/' when matching image names, so that '*' spans path segments
// as in EC2's own name filters ("ubuntu/*jammy*" matches "ubuntu/images/hvm-ssd/ubuntu-jammy-…").
const slashless = "\uE000"

// imageAllowed: an ami id listed exactly, or the image's name matching a name pattern.
func imageAllowed(images []string, id, name string) bool {
	flat := strings.ReplaceAll(name, "/", slashless)
	for _, im := range images {
		if IsAMIID(im) {
			if im == id {
				return true
			}
			continue
		}
		if name == "" {
			continue
		}
		if im == name {
			return true
		}
		if ok, err := path.Match(strings.ReplaceAll(im, "/", slashless), flat); err == nil && ok {
			return true
		}
	}
	return false
}

// printable is the rule for names others see (tollgate.Printable, also used for labels).
func printable(s string) bool { return tollgate.Printable(s) }

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
