package balancer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// GroupName is the managed security group of a pool: one name per pool, so a restarted
// daemon finds it again (it is also tagged with the pool).
func GroupName(pool string) string { return "tollgate-balancer-" + pool }

// ensureGroup finds or creates the pool's security group and makes its ingress exactly
// the wanted rules: the slave ports (and 22 with an SSH key) from the master only.
// Rules someone added by hand are revoked. The group id is kept in rec.
func (pr *poolRun) ensureGroup(ctx context.Context, rec *db.BalancerPool) error {
	c, region := pr.s.o.Cloud, pr.cfg.Region
	tags := map[string]string{cloud.TagPurpose: string(tollgate.PurposeBalancer), TagPool: pr.cfg.Name}
	var g *cloud.SecurityGroup
	if rec.SecurityGroup != "" {
		gs, err := c.DescribeSecurityGroups(ctx, region, cloud.SecurityGroupFilter{IDs: []string{rec.SecurityGroup}})
		if err != nil && !cloud.IsNotFound(err) {
			return err
		}
		if len(gs) == 1 {
			g = &gs[0]
		}
	}
	if g == nil {
		// After a crash between CreateSecurityGroup and the record, the group is found
		// by its tags (or its name, should the tags have been removed).
		gs, err := c.DescribeSecurityGroups(ctx, region, cloud.SecurityGroupFilter{Tags: tags})
		if err != nil {
			return err
		}
		if len(gs) == 0 {
			if gs, err = c.DescribeSecurityGroups(ctx, region, cloud.SecurityGroupFilter{Names: []string{GroupName(pr.cfg.Name)}}); err != nil && !cloud.IsNotFound(err) {
				return err
			}
		}
		if len(gs) > 0 {
			g = &gs[0]
		} else {
			desc := fmt.Sprintf("tollgate balancer pool %s: slave ports from the master only", pr.cfg.Name)
			id, err := c.CreateSecurityGroup(ctx, region, GroupName(pr.cfg.Name), desc, "", tags)
			if err != nil {
				return fmt.Errorf("create security group %s in %s: %w", GroupName(pr.cfg.Name), region, err)
			}
			g = &cloud.SecurityGroup{ID: id, Name: GroupName(pr.cfg.Name)}
			_ = pr.s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysBalancer), audit.Entry{Action: ActionGroup,
				Target: id, Decision: audit.Done, Reason: "managed security group created",
				Detail: map[string]any{"pool": pr.cfg.Name, "region": region, "name": GroupName(pr.cfg.Name)}})
		}
		rec.SecurityGroup = g.ID
		if err := pr.s.o.DB.PutBalancerPool(ctx, nil, *rec); err != nil {
			return err
		}
	}
	want := pr.wantIngress()
	var extra, missing []rule
	have := flatten(g.Ingress)
	for _, p := range have {
		if !slices.ContainsFunc(want, p.equal) {
			extra = append(extra, p)
		}
	}
	for _, p := range want {
		if !slices.ContainsFunc(have, p.equal) {
			missing = append(missing, p)
		}
	}
	if len(extra) > 0 {
		if err := c.RevokeIngress(ctx, region, g.ID, perms(extra)); err != nil {
			return fmt.Errorf("revoke ingress not wanted on %s: %w", g.ID, err)
		}
	}
	if len(missing) > 0 {
		if err := c.AuthorizeIngress(ctx, region, g.ID, perms(missing)); err != nil {
			return fmt.Errorf("authorize ingress on %s: %w", g.ID, err)
		}
	}
	if len(extra)+len(missing) > 0 {
		_ = pr.s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysBalancer), audit.Entry{Action: ActionGroup,
			Target: g.ID, Decision: audit.Done, Reason: "ingress set to the slave ports from the master",
			Detail: map[string]any{"pool": pr.cfg.Name, "authorized": describePerms(missing), "revoked": describePerms(extra)}})
	}
	return nil
}

// rule is one ingress rule with one source: a CIDR or a security group.
type rule struct {
	proto        string
	from, to     int
	cidr, source string
}

func (r rule) equal(o rule) bool { return r == o }

// wantIngress is the ingress the pool's group must have.
func (pr *poolRun) wantIngress() []rule {
	ports := slices.Clone(pr.cfg.Ports)
	if pr.cfg.SSHKey != "" && !slices.Contains(ports, 22) {
		ports = append(ports, 22)
	}
	var out []rule
	for _, p := range ports {
		r := rule{proto: "tcp", from: p, to: p}
		if m := pr.cfg.Master; strings.HasPrefix(m, "sg-") {
			r.source = m
		} else if strings.Contains(m, "/") {
			r.cidr = m
		} else if m != "" {
			r.cidr = m + "/32"
		}
		out = append(out, r)
	}
	return out
}

// flatten splits permissions into single-source rules.
func flatten(ps []cloud.Permission) []rule {
	var out []rule
	for _, p := range ps {
		for _, c := range p.CIDRs {
			out = append(out, rule{proto: p.Protocol, from: p.FromPort, to: p.ToPort, cidr: c})
		}
		for _, g := range p.GroupIDs {
			out = append(out, rule{proto: p.Protocol, from: p.FromPort, to: p.ToPort, source: g})
		}
	}
	return out
}

// perms turns rules back into EC2 permissions.
func perms(rs []rule) []cloud.Permission {
	var out []cloud.Permission
	for _, r := range rs {
		p := cloud.Permission{Protocol: r.proto, FromPort: r.from, ToPort: r.to}
		if r.cidr != "" {
			p.CIDRs = []string{r.cidr}
		}
		if r.source != "" {
			p.GroupIDs = []string{r.source}
		}
		out = append(out, p)
	}
	return out
}

func describePerms(rs []rule) []string {
	var out []string
	for _, r := range rs {
		src := r.cidr
		if src == "" {
			src = r.source
		}
		ports := fmt.Sprint(r.from)
		if r.to != r.from {
			ports += "-" + fmt.Sprint(r.to)
		}
		out = append(out, fmt.Sprintf("%s/%s from %s", r.proto, ports, src))
	}
	return out
}
