package cli

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/quota"
)

// AdminUsersSetCmd is `tollgate admin users set USER --max-instances 4 …`: flags given
// overlay the user's override, --clear removes keys so the group/default value applies.
type AdminUsersSetCmd struct {
	User            string   `arg:"" help:"User."`
	MaxInstances    *int     `name:"max-instances" help:"Non-terminated instances." placeholder:"N"`
	MaxVCPUs        *int     `name:"max-vcpus" help:"vCPUs of running and pending instances." placeholder:"N"`
	MaxCount        *int     `name:"max-count" help:"Instances per launch request." placeholder:"N"`
	InstanceTypes   []string `name:"instance-types" help:"Allowed types (patterns like t3.* allowed)." placeholder:"TYPE,…"`
	Images          []string `help:"Allowed images (ids or name patterns)." placeholder:"AMI,…"`
	Regions         []string `help:"Allowed regions." placeholder:"REGION,…"`
	DefaultLifetime string   `name:"default-lifetime" help:"Default lease, e.g. 4h." placeholder:"DURATION"`
	MaxLifetime     string   `name:"max-lifetime" help:"Longest lease, e.g. 12h." placeholder:"DURATION"`
	ExpireAction    *string  `name:"expire-action" enum:"stop,terminate" help:"What the reaper does at expiry (stop|terminate)."`
	BudgetUSD       *float64 `name:"budget-usd" help:"Budget in USD per period (0 = none)." placeholder:"USD"`
	BudgetPeriod    *string  `name:"budget-period" enum:"term,month,week" help:"Budget period (term|month|week)."`
	BudgetAction    *string  `name:"budget-action" enum:"stop,terminate,notify" help:"What happens when the budget is spent (stop|terminate|notify)."`
	Spot            *string  `enum:"allowed,required,forbidden" help:"Spot instances (allowed|required|forbidden)."`
	Clear           []string `help:"Override keys to remove, e.g. max_instances,budget_usd." placeholder:"KEY,…"`
}

// Run changes the override.
func (c *AdminUsersSetCmd) Run(env *Env) error {
	o, err := c.override()
	if err != nil {
		return err
	}
	u, err := env.Client.SetUser(env.Ctx, api.UserSetRequest{User: c.User, Set: o, Clear: c.Clear})
	if err != nil {
		return err
	}
	return printUsers(env, []api.User{u})
}

// override collects the flags given; an empty override with no --clear is a usage error
// (nothing to do).
func (c *AdminUsersSetCmd) override() (quota.Override, error) {
	o := quota.Override{
		MaxInstances:  c.MaxInstances,
		MaxVCPUs:      c.MaxVCPUs,
		MaxCount:      c.MaxCount,
		InstanceTypes: c.InstanceTypes,
		Images:        c.Images,
		Regions:       c.Regions,
		ExpireAction:  c.ExpireAction,
		BudgetUSD:     c.BudgetUSD,
		BudgetPeriod:  c.BudgetPeriod,
		BudgetAction:  c.BudgetAction,
		Spot:          c.Spot,
	}
	var err error
	if o.DefaultLifetime, err = lifetimeFlag("--default-lifetime", c.DefaultLifetime); err != nil {
		return o, err
	}
	if o.MaxLifetime, err = lifetimeFlag("--max-lifetime", c.MaxLifetime); err != nil {
		return o, err
	}
	if reflect.ValueOf(o).IsZero() && len(c.Clear) == 0 {
		return o, usagef("users set %s: give at least one setting or --clear", c.User)
	}
	return o, nil
}

// lifetimeFlag parses a lease duration flag ("4h", "90m", "2d"); "" means not given.
// The daemon validates the policy as a whole; this only catches typos early.
func lifetimeFlag(flag, s string) (*time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	d, err := parseLease(s)
	if err != nil {
		return nil, usagef("%s %s: %v", flag, s, err)
	}
	return &d, nil
}

// parseLease reads "4h", "90m", "1h30m" or "2d" (d = 24h) as whole minutes.
func parseLease(s string) (time.Duration, error) {
	bad := fmt.Errorf("not a duration (use e.g. 4h, 90m, 1h30m, 2d)")
	var d time.Duration
	rest := s
	if days, after, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, bad
		}
		d, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		d += v
	}
	if d <= 0 || d%time.Minute != 0 {
		return 0, fmt.Errorf("must be a positive whole number of minutes")
	}
	return d, nil
}
