package config

import (
	"slices"
	"sort"
)

// AllRegions is every region instances may live in: aws.regions, then any region the
// default policy or a group policy allows, then the balancer pools' and the regional
// services' regions. The daemon (reconcile, its collector) and
// `tollgated collect` both scan exactly these, so a region that only a policy names is
// never missed. Group policies are taken in file order (then by name for groups built in
// code), so the result is stable.
func (c *Config) AllRegions() []string {
	var out []string
	add := func(rs []string) {
		for _, r := range rs {
			if r != "" && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	add(c.AWS.Regions)
	add(c.Policy.Default.Regions)
	groups := make([]string, 0, len(c.Policy.Group))
	for g := range c.Policy.Group {
		groups = append(groups, g)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		oi, oj := slices.Index(c.Policy.GroupOrder, groups[i]), slices.Index(c.Policy.GroupOrder, groups[j])
		if oi != oj {
			if oi < 0 || oj < 0 {
				return oj < 0 // listed groups first
			}
			return oi < oj
		}
		return groups[i] < groups[j]
	})
	for _, g := range groups {
		add(c.Policy.Group[g].Regions)
	}
	// The balancer's pools and the regional services launch there too.
	for _, p := range c.Balancer.Pools {
		if p.Region == "" && p.GBrowseConf != "" {
			if r, err := p.Resolve(); err == nil { // an unreadable file is check-config's to report
				p = r
			}
		}
		add([]string{p.Region})
	}
	for _, s := range c.Regions.Services {
		add(append([]string{s.HomeRegion}, s.Regions...))
	}
	return out
}
