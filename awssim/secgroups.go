package awssim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// secGroup is a VPC security group of a region.
type secGroup struct {
	id, name, description, vpcID string
	tags                         map[string]string
	ingress                      []permRule
	seq                          uint64
}

// permRule is one ingress rule with one source, as EC2 keeps them.
type permRule struct {
	proto        string
	from, to     int
	cidr, source string
}

// regionVPC is the id of a region's (only, default) VPC.
func regionVPC(rg *region) string { return "vpc-" + hex17(hash64("vpc", rg.name)) }

// groups returns rg's security groups, creating the default group on first use.
func (s *Sim) groups(rg *region) map[string]*secGroup {
	if rg.secGroups == nil {
		rg.secGroups = map[string]*secGroup{}
		id := "sg-" + hex17(hash64("sg", rg.name, "default"))
		rg.secGroups[id] = &secGroup{id: id, name: "default", description: "default VPC security group",
			vpcID: regionVPC(rg), tags: map[string]string{}}
	}
	return rg.secGroups
}

type xmlCreateGroup struct {
	Return  bool     `xml:"return"`
	GroupID string   `xml:"groupId"`
	Tags    []xmlTag `xml:"tagSet>item,omitempty"`
}

func (s *Sim) createSecurityGroup(rg *region, c *call, now time.Time) (any, *apiError) {
	name, desc := c.get("GroupName"), c.get("GroupDescription")
	switch {
	case name == "":
		return nil, missing("GroupName")
	case desc == "":
		return nil, missing("GroupDescription")
	case len(name) > 255 || strings.HasPrefix(strings.ToLower(name), "sg-"):
		return nil, badParam("Invalid value '%s' for groupName. Group names may not start with 'sg-' and are limited to 255 characters.", name)
	}
	vpc := c.get("VpcId")
	if vpc == "" {
		vpc = regionVPC(rg)
	} else if vpc != regionVPC(rg) {
		return nil, errf(400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc)
	}
	gs := s.groups(rg)
	for _, g := range gs {
		if g.name == name && g.vpcID == vpc {
			return nil, errf(400, "InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpc)
		}
	}
	tags := map[string]string{}
	if aerr := c.tagSpecs(tags, "security-group"); aerr != nil {
		return nil, aerr
	}
	g := &secGroup{id: s.newID("sg"), name: name, description: desc, vpcID: vpc, tags: tags, seq: s.counter}
	gs[g.id] = g
	return xmlCreateGroup{Return: true, GroupID: g.id, Tags: tagsXML(tags)}, nil
}

type xmlIPRange struct {
	CidrIP string `xml:"cidrIp"`
}

type xmlGroupPair struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type xmlIPPermission struct {
	Protocol string         `xml:"ipProtocol"`
	FromPort int            `xml:"fromPort"`
	ToPort   int            `xml:"toPort"`
	Groups   []xmlGroupPair `xml:"groups>item"`
	Ranges   []xmlIPRange   `xml:"ipRanges>item"`
}

type xmlSecurityGroup struct {
	OwnerID     string            `xml:"ownerId"`
	GroupID     string            `xml:"groupId"`
	GroupName   string            `xml:"groupName"`
	Description string            `xml:"groupDescription"`
	VpcID       string            `xml:"vpcId"`
	Ingress     []xmlIPPermission `xml:"ipPermissions>item"`
	Tags        []xmlTag          `xml:"tagSet>item,omitempty"`
}

type xmlSecurityGroups struct {
	Groups []xmlSecurityGroup `xml:"securityGroupInfo>item"`
}

func (g *secGroup) xml() xmlSecurityGroup {
	x := xmlSecurityGroup{OwnerID: AccountID, GroupID: g.id, GroupName: g.name, Description: g.description,
		VpcID: g.vpcID, Tags: tagsXML(g.tags)}
	// Rules with the same protocol and ports are one permission, as EC2 lists them.
	idx := map[string]int{}
	for _, r := range g.ingress {
		k := fmt.Sprintf("%s/%d/%d", r.proto, r.from, r.to)
		i, ok := idx[k]
		if !ok {
			i = len(x.Ingress)
			idx[k] = i
			x.Ingress = append(x.Ingress, xmlIPPermission{Protocol: r.proto, FromPort: r.from, ToPort: r.to})
		}
		if r.cidr != "" {
			x.Ingress[i].Ranges = append(x.Ingress[i].Ranges, xmlIPRange{CidrIP: r.cidr})
		} else {
			x.Ingress[i].Groups = append(x.Ingress[i].Groups, xmlGroupPair{GroupID: r.source, UserID: AccountID})
		}
	}
	return x
}

func (s *Sim) describeSecurityGroups(rg *region, c *call, now time.Time) (any, *apiError) {
	gs := s.groups(rg)
	var sel []*secGroup
	ids, names := c.list("GroupId"), c.list("GroupName")
	for _, id := range ids {
		g := gs[id]
		if g == nil {
			return nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		}
		sel = append(sel, g)
	}
	for _, n := range names {
		var found *secGroup
		for _, g := range gs {
			if g.name == n {
				found = g
			}
		}
		if found == nil {
			return nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", n, regionVPC(rg))
		}
		sel = append(sel, found)
	}
	if len(ids) == 0 && len(names) == 0 {
		for _, g := range gs {
			sel = append(sel, g)
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].id < sel[j].id })
	fs := c.filters()
	out := xmlSecurityGroups{}
	seen := map[string]bool{}
	for _, g := range sel {
		if seen[g.id] {
			continue
		}
		seen[g.id] = true
		ok, aerr := matchFilters(fs, func(name string) ([]string, bool) {
			switch name {
			case "group-id":
				return []string{g.id}, true
			case "group-name":
				return []string{g.name}, true
			case "vpc-id":
				return []string{g.vpcID}, true
			case "description":
				return []string{g.description}, true
			}
			return tagFilterValues(g.tags, name)
		})
		if aerr != nil {
			return nil, aerr
		}
		if ok {
			out.Groups = append(out.Groups, g.xml())
		}
	}
	return out, nil
}

// permRules reads IpPermissions.N into single-source rules.
func permRules(c *call) ([]permRule, *apiError) {
	var out []permRule
	for _, n := range c.indices("IpPermissions") {
		p := "IpPermissions." + strconv.Itoa(n) + "."
		proto := c.get(p + "IpProtocol")
		if proto == "" {
			return nil, missing(p + "IpProtocol")
		}
		from, _, aerr := c.integer(p + "FromPort")
		if aerr != nil {
			return nil, aerr
		}
		to, _, aerr := c.integer(p + "ToPort")
		if aerr != nil {
			return nil, aerr
		}
		if proto == "-1" {
			from, to = -1, -1
		} else if from < 0 || to > 65535 || from > to {
			return nil, errf(400, "InvalidParameterValue", "Invalid TCP/UDP port range %d-%d", from, to)
		}
		sources := 0
		for _, cidr := range c.list(p + "IpRanges") {
			_ = cidr
		}
		for _, m := range c.indices(p + "IpRanges") {
			cidr := c.get(p + "IpRanges." + strconv.Itoa(m) + ".CidrIp")
			if !strings.Contains(cidr, "/") {
				return nil, errf(400, "InvalidParameterValue", "CIDR block %s is malformed", cidr)
			}
			out = append(out, permRule{proto: proto, from: from, to: to, cidr: cidr})
			sources++
		}
		for _, m := range c.indices(p + "Groups") {
			gid := c.get(p + "Groups." + strconv.Itoa(m) + ".GroupId")
			out = append(out, permRule{proto: proto, from: from, to: to, source: gid})
			sources++
		}
		if sources == 0 {
			return nil, missing(p + "IpRanges")
		}
	}
	if len(out) == 0 {
		return nil, missing("IpPermissions")
	}
	return out, nil
}

func (s *Sim) groupFor(rg *region, c *call) (*secGroup, *apiError) {
	id := c.get("GroupId")
	if id == "" {
		return nil, missing("GroupId")
	}
	g := s.groups(rg)[id]
	if g == nil {
		return nil, errf(400, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	}
	return g, nil
}

func (s *Sim) authorizeIngress(rg *region, c *call, now time.Time) (any, *apiError) {
	g, aerr := s.groupFor(rg, c)
	if aerr != nil {
		return nil, aerr
	}
	rules, aerr := permRules(c)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range rules {
		for _, have := range g.ingress {
			if have == r {
				src := r.cidr
				if src == "" {
					src = r.source
				}
				return nil, errf(400, "InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists", src, strings.ToUpper(r.proto), r.from, r.to)
			}
		}
	}
	g.ingress = append(g.ingress, rules...)
	return xmlReturn{true}, nil
}

func (s *Sim) revokeIngress(rg *region, c *call, now time.Time) (any, *apiError) {
	g, aerr := s.groupFor(rg, c)
	if aerr != nil {
		return nil, aerr
	}
	rules, aerr := permRules(c)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range rules {
		i := -1
		for k, have := range g.ingress {
			if have == r {
				i = k
			}
		}
		if i < 0 {
			return nil, errf(400, "InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
		}
		g.ingress = append(g.ingress[:i:i], g.ingress[i+1:]...)
	}
	return xmlReturn{true}, nil
}

func (s *Sim) deleteSecurityGroup(rg *region, c *call, now time.Time) (any, *apiError) {
	g, aerr := s.groupFor(rg, c)
	if aerr != nil {
		return nil, aerr
	}
	if g.name == "default" {
		return nil, errf(400, "CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.id)
	}
	for _, in := range rg.order {
		if _, done := in.terminatedAt(now); done || in.forgotten {
			continue
		}
		for _, ig := range in.groups {
			if ig.id == g.id {
				return nil, errf(400, "DependencyViolation", "resource %s has a dependent object", g.id)
			}
		}
	}
	delete(rg.secGroups, g.id)
	return xmlReturn{true}, nil
}

// --- snapshots ----------------------------------------------------------------------

// ebsSnapshot is a standalone EBS snapshot (images' root snapshots live in image).
type ebsSnapshot struct {
	id, description string
	sizeGiB         int
	tags            map[string]string
	created         time.Time
}

// AddSnapshot registers a completed snapshot of sizeGiB in region, as if the account had
// taken it, and returns its id.
func (s *Sim) AddSnapshot(region string, sizeGiB int, tags map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.regions[region]
	if rg == nil {
		return ""
	}
	sn := &ebsSnapshot{id: s.newID("snap"), sizeGiB: sizeGiB, tags: copyTags(tags), created: s.Now()}
	if rg.snapshots == nil {
		rg.snapshots = map[string]*ebsSnapshot{}
	}
	rg.snapshots[sn.id] = sn
	return sn.id
}

type xmlSnapshot struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeSize  int      `xml:"volumeSize"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	Tags        []xmlTag `xml:"tagSet>item,omitempty"`
}

type xmlSnapshots struct {
	Snapshots []xmlSnapshot `xml:"snapshotSet>item"`
}

func (s *Sim) describeSnapshots(rg *region, c *call, now time.Time) (any, *apiError) {
	ids := c.list("SnapshotId")
	all := map[string]xmlSnapshot{}
	for _, sn := range rg.snapshots {
		all[sn.id] = xmlSnapshot{SnapshotID: sn.id, VolumeSize: sn.sizeGiB, Status: "completed", StartTime: fmtTime(sn.created),
			Progress: "100%", OwnerID: AccountID, Description: sn.description, Tags: tagsXML(sn.tags)}
	}
	for _, im := range rg.images {
		all[im.snapshotID] = xmlSnapshot{SnapshotID: im.snapshotID, VolumeSize: im.rootSizeGiB, Status: "completed",
			StartTime: im.created, Progress: "100%", OwnerID: im.ownerID, Description: "root of " + im.id}
	}
	var out xmlSnapshots
	if len(ids) > 0 {
		for _, id := range ids {
			x, ok := all[id]
			if !ok {
				return nil, errf(400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
			}
			out.Snapshots = append(out.Snapshots, x)
		}
		return out, nil
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		if all[k].OwnerID == AccountID {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Snapshots = append(out.Snapshots, all[k])
	}
	return out, nil
}

// --- the spot market ----------------------------------------------------------------

// SetSpotPrice fixes the spot price of instanceType in region (in zone az, or every zone
// of the region when az is ""), overriding the generated price history from the price
// period that holds the simulator's now on (prices change per SpotPricePeriod).
func (s *Sim) SetSpotPrice(region, az, instanceType string, price float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg := s.regions[region]
	if rg == nil {
		return
	}
	if rg.spotOverride == nil {
		rg.spotOverride = map[string]spotOverride{}
	}
	zones := rg.azs
	if az != "" {
		zones = []string{az}
	}
	for _, z := range zones {
		rg.spotOverride[z+"/"+instanceType] = spotOverride{price: price, window: spotWindow(s.Now())}
	}
}

// spotOverride is a price a test set, in force from a price period on.
type spotOverride struct {
	price  float64
	window int64
}

// spotPriceInWindowOf is the spot price of typ in az during price period w: an override
// in force then, else the generated one (od is the on-demand price).
func (rg *region) spotPriceInWindowOf(az, typ string, od float64, w int64) float64 {
	if o, ok := rg.spotOverride[az+"/"+typ]; ok && w >= o.window {
		return o.price
	}
	return spotPriceInWindow(az, typ, od, w)
}

// spotPriceAt is the spot price in force at t.
func (rg *region) spotPriceAt(az, typ string, t time.Time) (float64, bool) {
	od, ok := OnDemandPrice(rg.name, typ)
	if !ok {
		return 0, false
	}
	return rg.spotPriceInWindowOf(az, typ, od, spotWindow(t)), true
}

// InterruptSpot reclaims the spot instance id as EC2 does when it needs the capacity:
// it goes shutting-down and then terminated, with the state reason
// Server.SpotInstanceTermination.
func (s *Sim) InterruptSpot(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.byID[id]
	now := s.Now()
	if in == nil || !in.visible(now) {
		return fmt.Errorf("awssim: no instance %s", id)
	}
	if !in.spot {
		return fmt.Errorf("awssim: %s is not a spot instance", id)
	}
	switch in.stateAt(now) {
	case StateShuttingDown, StateTerminated:
		return fmt.Errorf("awssim: %s is already terminating", id)
	}
	in.transition(now, StateShuttingDown, ShuttingDownDuration, StateTerminated)
	in.reason = "Service initiated (" + userInitiated(now)[len("User initiated ("):]
	in.stateReasonCode = "Server.SpotInstanceTermination"
	in.stateReasonMsg = "Server.SpotInstanceTermination: Spot instance termination"
	return nil
}

// CapacityFault makes RunInstances fail with InsufficientInstanceCapacity for a type
// (and zone, and market) in a region; empty fields match everything.
type CapacityFault struct {
	Region string `json:"region"`
	AZ     string `json:"az,omitempty"`
	Type   string `json:"type,omitempty"`
	Market string `json:"market,omitempty"` // spot | on-demand | "" (both)
}

// capacityRefusal is the error of a matching capacity fault, or nil.
func (s *Sim) capacityRefusal(region, az, typ string, spot bool) *apiError {
	market := "on-demand"
	if spot {
		market = "spot"
	}
	for _, f := range s.faults.InsufficientCapacity {
		if (f.Region == "" || f.Region == region) && (f.AZ == "" || f.AZ == az) &&
			(f.Type == "" || f.Type == typ) && (f.Market == "" || f.Market == market) {
			return errf(500, "InsufficientInstanceCapacity",
				"We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity. You can currently get %s capacity by not specifying an Availability Zone in your request or choosing another Availability Zone.",
				typ, az, typ)
		}
	}
	return nil
}
