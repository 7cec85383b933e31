package config

import (
	"reflect"
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
	fillZero(reflect.ValueOf(&c.AWS).Elem(), reflect.ValueOf(d.AWS))
	d.Policy.Default.Regions = slices.Clone(c.AWS.Regions)
	c.Broker.Defaults()
	fillZero(reflect.ValueOf(c).Elem(), reflect.ValueOf(d).Elem())
	if len(c.Policy.Group) > 0 {
		c.Policy.GroupOrder = c.groupOrder()
	}
}

// Defaults fills the zero broker keys, the ones the daemon cannot run without, with
// their defaults. broker.New calls it on configurations built in code; it leaves the
// policy and the other sections alone (a test's zero budget stays zero).
func (b *Broker) Defaults() {
	if b.ReconcileInterval < 0 {
		b.ReconcileInterval = 0 // a ticker needs a positive interval: take the default
	}
	fillZero(reflect.ValueOf(b).Elem(), reflect.ValueOf(Default().Broker))
}

// fillZero sets every zero key of dst (a field with a toml tag; an empty list counts as
// zero) to its value in def, recursing into sections but not into maps: what Default
// holds is the one list of defaults.
func fillZero(dst, def reflect.Value) {
	for i := range dst.NumField() {
		f := dst.Type().Field(i)
		if tagName(f) == "" {
			continue
		}
		dv, fv := def.Field(i), dst.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct:
			fillZero(fv, dv)
		case f.Type.Kind() == reflect.Slice:
			if fv.Len() == 0 && dv.Len() > 0 {
				fv.Set(reflect.AppendSlice(reflect.MakeSlice(f.Type, 0, dv.Len()), dv))
			}
		case f.Type.Kind() != reflect.Map && fv.IsZero():
			fv.Set(dv)
		}
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
