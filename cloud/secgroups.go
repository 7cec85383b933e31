package cloud

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// SecurityGroup is an EC2 (VPC) security group.
type SecurityGroup struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	VpcID       string            `json:"vpc_id"`
	Tags        map[string]string `json:"tags"`
	Ingress     []Permission      `json:"ingress"`
}

// Permission is one ingress rule: a protocol and port range from CIDRs or groups.
type Permission struct {
	Protocol string   `json:"protocol"` // tcp, udp, icmp, or "-1" for all
	FromPort int      `json:"from_port"`
	ToPort   int      `json:"to_port"`
	CIDRs    []string `json:"cidrs,omitempty"`
	GroupIDs []string `json:"group_ids,omitempty"`
}

// SecurityGroupFilter selects groups; zero fields match everything.
type SecurityGroupFilter struct {
	IDs   []string
	Names []string
	Tags  map[string]string
}

// CreateSecurityGroup creates a group (in vpcID, or the default VPC) tagged at creation,
// and returns its id.
func (c *Client) CreateSecurityGroup(ctx context.Context, region, name, description, vpcID string, tags map[string]string) (string, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return "", fmt.Errorf("create security group: %w", err)
	}
	in := &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(description)}
	if vpcID != "" {
		in.VpcId = aws.String(vpcID)
	}
	if len(tags) > 0 {
		in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: sdkTags(tags)}}
	}
	out, err := cl.CreateSecurityGroup(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create security group %s in %s: %w", name, region, err)
	}
	return aws.ToString(out.GroupId), nil
}

// DescribeSecurityGroups lists the groups matching f (all pages), by id.
func (c *Client) DescribeSecurityGroups(ctx context.Context, region string, f SecurityGroupFilter) ([]SecurityGroup, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("describe security groups: %w", err)
	}
	in := &ec2.DescribeSecurityGroupsInput{GroupIds: f.IDs}
	if len(f.Names) > 0 {
		in.Filters = append(in.Filters, types.Filter{Name: aws.String("group-name"), Values: f.Names})
	}
	keys := make([]string, 0, len(f.Tags))
	for k := range f.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Filters = append(in.Filters, types.Filter{Name: aws.String("tag:" + k), Values: []string{f.Tags[k]}})
	}
	var out []SecurityGroup
	p := ec2.NewDescribeSecurityGroupsPaginator(cl, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe security groups in %s: %w", region, err)
		}
		for _, g := range page.SecurityGroups {
			sg := SecurityGroup{ID: aws.ToString(g.GroupId), Name: aws.ToString(g.GroupName),
				Description: aws.ToString(g.Description), VpcID: aws.ToString(g.VpcId), Tags: fromSDKTags(g.Tags)}
			for _, p := range g.IpPermissions {
				perm := Permission{Protocol: aws.ToString(p.IpProtocol), FromPort: int(aws.ToInt32(p.FromPort)), ToPort: int(aws.ToInt32(p.ToPort))}
				for _, r := range p.IpRanges {
					perm.CIDRs = append(perm.CIDRs, aws.ToString(r.CidrIp))
				}
				for _, u := range p.UserIdGroupPairs {
					perm.GroupIDs = append(perm.GroupIDs, aws.ToString(u.GroupId))
				}
				sg.Ingress = append(sg.Ingress, perm)
			}
			out = append(out, sg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func sdkPermissions(perms []Permission) []types.IpPermission {
	out := make([]types.IpPermission, 0, len(perms))
	for _, p := range perms {
		ip := types.IpPermission{IpProtocol: aws.String(p.Protocol), FromPort: aws.Int32(int32(p.FromPort)), ToPort: aws.Int32(int32(p.ToPort))}
		for _, c := range p.CIDRs {
			ip.IpRanges = append(ip.IpRanges, types.IpRange{CidrIp: aws.String(c)})
		}
		for _, g := range p.GroupIDs {
			ip.UserIdGroupPairs = append(ip.UserIdGroupPairs, types.UserIdGroupPair{GroupId: aws.String(g)})
		}
		out = append(out, ip)
	}
	return out
}

// AuthorizeIngress adds ingress rules; a rule that exists already is not an error.
func (c *Client) AuthorizeIngress(ctx context.Context, region, groupID string, perms []Permission) error {
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("authorize ingress: %w", err)
	}
	for _, p := range perms {
		_, err := cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID),
			IpPermissions: sdkPermissions([]Permission{p})})
		if err != nil && Code(err) != "InvalidPermission.Duplicate" {
			return fmt.Errorf("authorize ingress on %s in %s: %w", groupID, region, err)
		}
	}
	return nil
}

// RevokeIngress removes ingress rules; a rule already gone is not an error.
func (c *Client) RevokeIngress(ctx context.Context, region, groupID string, perms []Permission) error {
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("revoke ingress: %w", err)
	}
	for _, p := range perms {
		_, err := cl.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(groupID),
			IpPermissions: sdkPermissions([]Permission{p})})
		if err != nil && Code(err) != "InvalidPermission.NotFound" {
			return fmt.Errorf("revoke ingress on %s in %s: %w", groupID, region, err)
		}
	}
	return nil
}

// DeleteSecurityGroup deletes a group; one already gone is not an error. While an
// instance still uses it EC2 answers DependencyViolation (IsDependencyViolation): retry
// once the instances are gone.
func (c *Client) DeleteSecurityGroup(ctx context.Context, region, id string) error {
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("delete security group: %w", err)
	}
	if _, err := cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete security group %s in %s: %w", id, region, err)
	}
	return nil
}

// Snapshot is an EBS snapshot.
type Snapshot struct {
	ID          string            `json:"id"`
	Description string            `json:"description,omitempty"`
	SizeGiB     int               `json:"size_gib"`
	State       string            `json:"state"`
	Tags        map[string]string `json:"tags"`
	StartTime   time.Time         `json:"start_time"`
}

// DescribeSnapshots returns the snapshots ids (all pages); an unknown id is an error
// (InvalidSnapshot.NotFound).
func (c *Client) DescribeSnapshots(ctx context.Context, region string, ids []string) ([]Snapshot, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("describe snapshots: %w", err)
	}
	in := &ec2.DescribeSnapshotsInput{SnapshotIds: ids}
	if len(ids) == 0 {
		in.OwnerIds = []string{"self"}
	}
	out, err := cl.DescribeSnapshots(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("describe snapshots in %s: %w", region, err)
	}
	var snaps []Snapshot
	for _, s := range out.Snapshots {
		snaps = append(snaps, Snapshot{ID: aws.ToString(s.SnapshotId), Description: aws.ToString(s.Description), SizeGiB: int(aws.ToInt32(s.VolumeSize)),
			State: string(s.State), Tags: fromSDKTags(s.Tags), StartTime: aws.ToTime(s.StartTime)})
	}
	return snaps, nil
}

// CurrentSpotPrices is the latest Linux/UNIX spot price of each type in each zone of
// region (type → zone → USD/h), from the price history since a little before now, as
// AWS recommends for the current price. zones, if set, keeps only those.
func (c *Client) CurrentSpotPrices(ctx context.Context, region string, types, zones []string) (map[string]map[string]float64, error) {
	now := c.now()
	hist, err := c.DescribeSpotPriceHistory(ctx, region, types, now.Add(-time.Minute), now)
	if err != nil {
		return nil, err
	}
	latest := map[string]map[string]SpotPrice{}
	for _, sp := range hist {
		if len(zones) > 0 && !containsString(zones, sp.AvailabilityZone) {
			continue
		}
		byZone := latest[sp.Type]
		if byZone == nil {
			byZone = map[string]SpotPrice{}
			latest[sp.Type] = byZone
		}
		if cur, ok := byZone[sp.AvailabilityZone]; !ok || sp.At.After(cur.At) {
			byZone[sp.AvailabilityZone] = sp
		}
	}
	out := map[string]map[string]float64{}
	for t, byZone := range latest {
		out[t] = map[string]float64{}
		for z, sp := range byZone {
			out[t][z] = sp.USDPerHour
		}
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// capacityCodes are the errors EC2 answers when there is no capacity for the asked
// type, zone or market right now (another type or zone, or later, may work).
var capacityCodes = map[string]bool{
	"InsufficientInstanceCapacity":         true,
	"InsufficientCapacity":                 true,
	"InsufficientHostCapacity":             true,
	"InsufficientReservedInstanceCapacity": true,
	"Unsupported":                          true, // the type is not offered in that zone
}

// IsCapacityError reports whether EC2 refused a launch for lack of capacity.
func IsCapacityError(err error) bool { return capacityCodes[Code(err)] }

// IsSpotPriceTooLow reports whether a spot launch was refused because its max price is
// below the current spot price.
func IsSpotPriceTooLow(err error) bool { return Code(err) == "SpotMaxPriceTooLow" }

// IsDependencyViolation reports whether a delete was refused because something still
// uses the resource (a security group's instances).
func IsDependencyViolation(err error) bool { return Code(err) == "DependencyViolation" }
