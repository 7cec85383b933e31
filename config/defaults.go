package config

import (
	"slices"
	"sort"
	"time"

	"github.com/tollgate/tollgate/quota"
)

// Defaults of the settings; DESIGN.md's Configuration section shows them in a file.
const (
	DefaultSocket            = "/run/tollgate/tollgate.sock"
	DefaultDatabase          = "/var/lib/tollgate/tollgate.db"
	DefaultAdminGroup        = "tollgate-admin"
	DefaultSocketMode        = 0o666
	DefaultReconcileInterval = 5 * time.Minute
	DefaultRegion            = "us-west-2"
	DefaultRunInstancesRate  = 2.0
	DefaultRunInstancesBurst = 5
	DefaultCollectInterval   = 5 * time.Minute
	DefaultUserNamePattern   = "tollgate-{user}"
	DefaultIAMPath           = "/tollgate/"
	DefaultIAMPolicyName     = "tollgate-student"
	DefaultPropagation       = 60 * time.Second
	DefaultLogLevel          = "info"
)

// DefaultPolicy returns the built-in default policy: two small instances, 4h leases up to
// 12h that stop when they expire, and a $50 monthly budget.
func DefaultPolicy() quota.Policy {
	return quota.Policy{
		MaxInstances:    2,
		MaxVCPUs:        4,
		InstanceTypes:   []string{"t3.micro", "t3.small"},
		Images:          []string{"ami-0123456789abcdef0"},
		ImageOwners:     slices.Clone(quota.DefaultImageOwners),
		Regions:         []string{DefaultRegion},
		DefaultLifetime: 4 * time.Hour,
		MaxLifetime:     12 * time.Hour,
		ExpireAction:    quota.ActionStop,
		ExpireWarning:   15 * time.Minute,
		BudgetUSD:       50,
		BudgetPeriod:    quota.PeriodMonth,
		BudgetAction:    quota.ActionStop,
		Spot:            quota.SpotAllowed,
		VolumeType:      "gp3",
	}
}

// Default returns the configuration an empty file yields.
func Default() *Config {
	return &Config{
		Broker: Broker{
			Socket:            DefaultSocket,
			Database:          DefaultDatabase,
			AdminGroup:        DefaultAdminGroup,
			SocketMode:        DefaultSocketMode,
			ReconcileInterval: DefaultReconcileInterval,
			LogLevel:          DefaultLogLevel,
		},
		AWS: AWS{
			Regions:               []string{DefaultRegion},
			RunInstancesPerSecond: DefaultRunInstancesRate,
			RunInstancesBurst:     DefaultRunInstancesBurst,
		},
		Policy:     Policies{Default: DefaultPolicy()},
		Accounting: Accounting{CollectInterval: DefaultCollectInterval},
		IAM: IAM{
			UserNamePattern:    DefaultUserNamePattern,
			Path:               DefaultIAMPath,
			PolicyName:         DefaultIAMPolicyName,
			PropagationTimeout: DefaultPropagation,
		},
	}
}

// Defaults fills the zero fields of a configuration built in code with their defaults
// (policy.default.regions from aws.regions), and appends any groups missing from
// GroupOrder, by name. It cannot tell an unset field from one set to zero: Parse fills
// defaults only for keys the file leaves out, so a file can set collect_interval = "0"
// or budget_usd = 0, and code that wants those should set them after Defaults.
func (c *Config) Defaults() {
	d := Default()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	list := func(v *[]string, def []string) {
		if len(*v) == 0 {
			*v = slices.Clone(def)
		}
	}

	c.Broker.Defaults()

	list(&c.AWS.Regions, d.AWS.Regions)
	if c.AWS.RunInstancesPerSecond == 0 {
		c.AWS.RunInstancesPerSecond = d.AWS.RunInstancesPerSecond
	}
	num(&c.AWS.RunInstancesBurst, d.AWS.RunInstancesBurst)

	p, dp := &c.Policy.Default, d.Policy.Default
	num(&p.MaxInstances, dp.MaxInstances)
	num(&p.MaxVCPUs, dp.MaxVCPUs)
	list(&p.InstanceTypes, dp.InstanceTypes)
	list(&p.Images, dp.Images)
	list(&p.ImageOwners, dp.ImageOwners)
	list(&p.Regions, c.AWS.Regions)
	dur(&p.DefaultLifetime, dp.DefaultLifetime)
	dur(&p.MaxLifetime, dp.MaxLifetime)
	str(&p.ExpireAction, dp.ExpireAction)
	dur(&p.ExpireWarning, dp.ExpireWarning)
	if p.BudgetUSD == 0 {
		p.BudgetUSD = dp.BudgetUSD
	}
	str(&p.BudgetPeriod, dp.BudgetPeriod)
	str(&p.BudgetAction, dp.BudgetAction)
	str(&p.Spot, dp.Spot)
	str(&p.VolumeType, dp.VolumeType)

	if len(c.Policy.Group) > 0 {
		c.Policy.GroupOrder = c.groupOrder()
	}

	dur(&c.Accounting.CollectInterval, d.Accounting.CollectInterval)

	str(&c.IAM.UserNamePattern, d.IAM.UserNamePattern)
	str(&c.IAM.Path, d.IAM.Path)
	str(&c.IAM.PolicyName, d.IAM.PolicyName)
	dur(&c.IAM.PropagationTimeout, d.IAM.PropagationTimeout)
}

// Defaults fills the zero broker keys, the ones the daemon cannot run without, with
// their defaults. broker.New calls it on configurations built in code; it leaves the
// policy and the other sections alone (a test's zero budget stays zero).
func (b *Broker) Defaults() {
	d := Default().Broker
	if b.Socket == "" {
		b.Socket = d.Socket
	}
	if b.Database == "" {
		b.Database = d.Database
	}
	if b.AdminGroup == "" {
		b.AdminGroup = d.AdminGroup
	}
	if b.SocketMode == 0 {
		b.SocketMode = d.SocketMode
	}
	if b.ReconcileInterval <= 0 {
		b.ReconcileInterval = d.ReconcileInterval
	}
	if b.LogLevel == "" {
		b.LogLevel = d.LogLevel
	}
}

// EffectivePolicy returns the policy of a user in the given Unix groups with the given
// per-user override (nil for none): policy.default, overlaid by the override of each of
// the user's groups in the order the [policy.group.*] tables appear in the file, overlaid
// by the per-user override.
func (c *Config) EffectivePolicy(groups []string, user *quota.Override) quota.Policy {
	var overrides []quota.Override
	for _, g := range c.groupOrder() {
		if o, ok := c.Policy.Group[g]; ok && slices.Contains(groups, g) {
			overrides = append(overrides, o)
		}
	}
	return quota.Effective(c.Policy.Default, overrides, user)
}

// groupOrder is GroupOrder followed by any group it misses, by name, so that a
// configuration built in code without GroupOrder still applies every group, in a
// deterministic order.
func (c *Config) groupOrder() []string {
	order := make([]string, 0, len(c.Policy.Group))
	seen := make(map[string]bool, len(c.Policy.Group))
	for _, g := range c.Policy.GroupOrder {
		if !seen[g] {
			seen[g] = true
			order = append(order, g)
		}
	}
	var rest []string
	for g := range c.Policy.Group {
		if !seen[g] {
			rest = append(rest, g)
		}
	}
	sort.Strings(rest)
	return append(order, rest...)
}
