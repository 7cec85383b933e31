package cloud

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Limits of the EC2 API that shape our requests.
const (
	maxFilterValues = 200  // values per filter
	maxPageSize     = 1000 // DescribeInstances MaxResults
	defaultVolType  = "gp3"
)

// RunInstances launches in.Count instances (at least one) tagged at creation with
// in.Tags. It waits its turn in the region's fair limiter first. The call is idempotent
// by in.ClientToken: the SDK's own retries resend the same token, and a caller that
// retries after an ambiguous failure must do the same, so a launch that did happen is
// returned instead of repeated. An empty token is replaced by a random one.
func (c *Client) RunInstances(ctx context.Context, in RunInput) ([]Instance, error) {
	cl, err := c.ec2Client(in.Region)
	if err != nil {
		return nil, fmt.Errorf("run instances: %w", err)
	}
	if in.ClientToken == "" {
		in.ClientToken = newClientToken()
	}
	input := runInput(in)
	bdm, err := c.rootBlockDevices(ctx, cl, in)
	if err != nil {
		// Nothing was launched: a definite failure the caller may simply repeat.
		return nil, fmt.Errorf("run instances in %s: root device of %s: %w", in.Region, in.ImageID, err)
	}
	input.BlockDeviceMappings = append(bdm, dataMappings(in.DataVolumes)...)
	if err := c.runLimiter(in.Region).Wait(ctx, in.Owner); err != nil {
		return nil, fmt.Errorf("run instances in %s: waiting for the rate limiter: %w", in.Region, err)
	}
	start := time.Now() // latency is wall time, whatever clock drives decisions
	out, err := cl.RunInstances(ctx, input)
	if err != nil {
		c.logger.Warn("run instances failed", slog.String(logKeyRegion, in.Region),
			slog.String(logKeyOwner, in.Owner), slog.String(logKeyToken, in.ClientToken),
			slog.String(logKeyError, err.Error()))
		return nil, fmt.Errorf("run instances in %s: %w", in.Region, err)
	}
	insts := make([]Instance, 0, len(out.Instances))
	ids := make([]string, 0, len(out.Instances))
	for _, i := range out.Instances {
		inst := fromSDKInstance(in.Region, i)
		insts = append(insts, inst)
		ids = append(ids, inst.ID)
	}
	c.logger.Info("instances launched", slog.String(logKeyRegion, in.Region),
		slog.String(logKeyOwner, in.Owner), slog.String(logKeyToken, in.ClientToken),
		slog.Any(logKeyInstances, ids), slog.Duration(logKeyElapsed, time.Since(start)))
	return insts, nil
}

// runInput builds the RunInstances request, except the block device mapping, which
// needs the image's root volume (rootBlockDevices).
func runInput(in RunInput) *ec2.RunInstancesInput {
	count := int32(max(in.Count, 1))
	input := &ec2.RunInstancesInput{
		ClientToken:  aws.String(in.ClientToken),
		ImageId:      aws.String(in.ImageID),
		InstanceType: types.InstanceType(in.Type),
		MinCount:     aws.Int32(count),
		MaxCount:     aws.Int32(count),
		// IMDSv2 only: a session token defeats SSRF through a workload reaching the
		// instance role's credentials; one hop keeps them inside the instance.
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpTokens:              types.HttpTokensStateRequired,
			HttpEndpoint:            types.InstanceMetadataEndpointStateEnabled,
			HttpPutResponseHopLimit: aws.Int32(1),
		},
	}
	if in.KeyName != "" {
		input.KeyName = aws.String(in.KeyName)
	}
	if len(in.SecurityGroups) > 0 {
		input.SecurityGroupIds = append([]string(nil), in.SecurityGroups...)
	}
	if in.Subnet != "" {
		input.SubnetId = aws.String(in.Subnet)
	}
	if in.AvailabilityZone != "" {
		input.Placement = &types.Placement{AvailabilityZone: aws.String(in.AvailabilityZone)}
	}
	if in.InstanceProfile != "" {
		if strings.HasPrefix(in.InstanceProfile, "arn:") {
			input.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String(in.InstanceProfile)}
		} else {
			input.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: aws.String(in.InstanceProfile)}
		}
	}
	if len(in.UserData) > 0 {
		input.UserData = aws.String(base64.StdEncoding.EncodeToString(in.UserData))
	}
	if in.Spot {
		opts := &types.SpotMarketOptions{SpotInstanceType: types.SpotInstanceTypeOneTime}
		if in.SpotMaxPrice != "" {
			opts.MaxPrice = aws.String(in.SpotMaxPrice)
		}
		input.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{
			MarketType:  types.MarketTypeSpot,
			SpotOptions: opts,
		}
	}
	if len(in.Tags) > 0 {
		tags := sdkTags(in.Tags)
		input.TagSpecifications = []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		}
	}
	return input
}

// dataMappings maps the extra volumes, each deleted with the instance.
func dataMappings(vols []DataVolume) []types.BlockDeviceMapping {
	var out []types.BlockDeviceMapping
	for _, v := range vols {
		vt := v.VolumeType
		if vt == "" {
			vt = defaultVolType
		}
		ebs := &types.EbsBlockDevice{VolumeType: types.VolumeType(vt), DeleteOnTermination: aws.Bool(true)}
		if v.SnapshotID != "" {
			ebs.SnapshotId = aws.String(v.SnapshotID)
		}
		if v.SizeGiB > 0 {
			ebs.VolumeSize = aws.Int32(int32(v.SizeGiB))
		}
		out = append(out, types.BlockDeviceMapping{DeviceName: aws.String(v.Device), Ebs: ebs})
	}
	return out
}

// newClientToken returns a random idempotency token (EC2 allows up to 64 ASCII chars).
func newClientToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "tg-" + hex.EncodeToString(b[:])
}

// DescribeInstances returns every instance in region matching f, across all pages.
// Instance ids are matched with the instance-id filter, so an unknown id is simply
// absent from the result instead of failing the whole call with NotFound.
func (c *Client) DescribeInstances(ctx context.Context, region string, f Filter) ([]Instance, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("describe instances: %w", err)
	}
	base := instanceFilters(f)
	var all []Instance
	for _, ids := range idChunks(f.IDs) {
		filters := base
		if ids != nil {
			filters = append(append([]types.Filter(nil), base...), filter("instance-id", ids...))
		}
		p := ec2.NewDescribeInstancesPaginator(cl, &ec2.DescribeInstancesInput{
			Filters:    filters,
			MaxResults: aws.Int32(maxPageSize),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe instances in %s: %w", region, err)
			}
			for _, r := range page.Reservations {
				for _, i := range r.Instances {
					all = append(all, fromSDKInstance(region, i))
				}
			}
		}
	}
	c.logger.Debug("instances described", slog.String(logKeyRegion, region), slog.Int(logKeyCount, len(all)))
	return all, nil
}

// instanceFilters turns f (except IDs) into EC2 filters, in a stable order.
func instanceFilters(f Filter) []types.Filter {
	var fs []types.Filter
	if len(f.States) > 0 {
		fs = append(fs, filter("instance-state-name", f.States...))
	}
	for _, k := range sortedKeys(f.Tags) {
		fs = append(fs, filter("tag:"+k, f.Tags[k]))
	}
	if len(f.TagKeys) > 0 {
		fs = append(fs, filter("tag-key", f.TagKeys...))
	}
	if f.ClientToken != "" {
		fs = append(fs, filter("client-token", f.ClientToken))
	}
	return fs
}

// idChunks splits ids into groups EC2 accepts in one filter; no ids gives one nil
// group, meaning "no id filter".
func idChunks(ids []string) [][]string {
	if len(ids) == 0 {
		return [][]string{nil}
	}
	var out [][]string
	for len(ids) > maxFilterValues {
		out = append(out, ids[:maxFilterValues])
		ids = ids[maxFilterValues:]
	}
	return append(out, ids)
}

// filter builds one EC2 filter.
func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: append([]string(nil), values...)}
}

// StartInstances starts stopped instances.
func (c *Client) StartInstances(ctx context.Context, region string, ids []string) ([]StateChange, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("start instances: %w", err)
	}
	out, err := cl.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids})
	if err != nil {
		return nil, fmt.Errorf("start instances %s in %s: %w", strings.Join(ids, ","), region, err)
	}
	c.logStateChange("start", region, ids)
	return fromSDKStateChanges(out.StartingInstances), nil
}

// StopInstances stops running instances (EBS-backed instances keep their volumes).
func (c *Client) StopInstances(ctx context.Context, region string, ids []string) ([]StateChange, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("stop instances: %w", err)
	}
	out, err := cl.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
	if err != nil {
		return nil, fmt.Errorf("stop instances %s in %s: %w", strings.Join(ids, ","), region, err)
	}
	c.logStateChange("stop", region, ids)
	return fromSDKStateChanges(out.StoppingInstances), nil
}

// TerminateInstances terminates instances; terminating a terminated one is not an error.
func (c *Client) TerminateInstances(ctx context.Context, region string, ids []string) ([]StateChange, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("terminate instances: %w", err)
	}
	out, err := cl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	if err != nil {
		return nil, fmt.Errorf("terminate instances %s in %s: %w", strings.Join(ids, ","), region, err)
	}
	c.logStateChange("terminate", region, ids)
	return fromSDKStateChanges(out.TerminatingInstances), nil
}

// logStateChange records a successful state-changing call.
func (c *Client) logStateChange(op, region string, ids []string) {
	c.logger.Info("instance state change requested", slog.String(logKeyOp, op),
		slog.String(logKeyRegion, region), slog.Any(logKeyInstances, ids))
}

// CreateTags sets tags on resources (instances, volumes, ...); existing keys are
// overwritten, as in EC2.
func (c *Client) CreateTags(ctx context.Context, region string, ids []string, tags map[string]string) error {
	if len(ids) == 0 || len(tags) == 0 {
		return nil
	}
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("create tags: %w", err)
	}
	if _, err := cl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: sdkTags(tags)}); err != nil {
		return fmt.Errorf("create tags on %s in %s: %w", strings.Join(ids, ","), region, err)
	}
	return nil
}

// sdkTags converts a tag map into EC2 tags, sorted by key so requests are reproducible.
func sdkTags(m map[string]string) []types.Tag {
	tags := make([]types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
