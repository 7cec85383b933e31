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

const (
	spotProduct   = "Linux/UNIX" // the only product tollgate launches
	maxVolumePage = 500          // DescribeVolumes MaxResults ceiling
)

// DefaultImageOwners are the image owners DescribeImages searches: the account's own
// images and Amazon's. Anyone can publish a public image under any name, so a lookup by
// name without an owner filter would find look-alikes (the "whoAMI" attack).
var DefaultImageOwners = []string{"self", "amazon"}

// DescribeImages is DescribeImagesOwned with DefaultImageOwners.
func (c *Client) DescribeImages(ctx context.Context, region string, ids, namePatterns []string) ([]Image, error) {
	return c.DescribeImagesOwned(ctx, region, DefaultImageOwners, ids, namePatterns)
}

// DescribeImagesOwned returns the images in region owned by one of owners (account ids,
// or the aliases self, amazon, aws-marketplace; empty means DefaultImageOwners) whose id
// is in ids OR whose name matches one of namePatterns (EC2 wildcards * and ?), each once,
// sorted by id. Policy lists both kinds side by side, and EC2 would AND them in one
// call, so they are two calls. Unknown ids and images of other owners are simply absent.
// With neither ids nor patterns, it returns nothing rather than every image in the region.
func (c *Client) DescribeImagesOwned(ctx context.Context, region string, owners, ids, namePatterns []string) ([]Image, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("describe images: %w", err)
	}
	if len(owners) == 0 {
		owners = DefaultImageOwners
	}
	seen := map[string]Image{}
	query := func(f types.Filter) error {
		p := ec2.NewDescribeImagesPaginator(cl, &ec2.DescribeImagesInput{
			Owners:     owners,
			Filters:    []types.Filter{f},
			MaxResults: aws.Int32(maxPageSize),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, im := range page.Images {
				img := fromSDKImage(region, im)
				seen[img.ID] = img
			}
		}
		return nil
	}
	for _, chunk := range idChunks(ids) {
		if chunk == nil {
			break
		}
		if err := query(filter("image-id", chunk...)); err != nil {
			return nil, fmt.Errorf("describe images by id in %s: %w", region, err)
		}
	}
	if len(namePatterns) > 0 {
		if err := query(filter("name", namePatterns...)); err != nil {
			return nil, fmt.Errorf("describe images by name in %s: %w", region, err)
		}
	}
	out := make([]Image, 0, len(seen))
	for _, im := range seen {
		out = append(out, im)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DescribeSpotPriceHistory returns Linux/UNIX spot prices for types in region between
// start and end (all pages). A zero end means now.
func (c *Client) DescribeSpotPriceHistory(ctx context.Context, region string, instTypes []string, start, end time.Time) ([]SpotPrice, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("describe spot prices: %w", err)
	}
	if end.IsZero() {
		end = c.now()
	}
	in := &ec2.DescribeSpotPriceHistoryInput{
		ProductDescriptions: []string{spotProduct},
		StartTime:           aws.Time(start),
		EndTime:             aws.Time(end),
		MaxResults:          aws.Int32(maxPageSize),
	}
	for _, t := range instTypes {
		in.InstanceTypes = append(in.InstanceTypes, types.InstanceType(t))
	}
	var out []SpotPrice
	p := ec2.NewDescribeSpotPriceHistoryPaginator(cl, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe spot prices in %s: %w", region, err)
		}
		for _, sp := range page.SpotPriceHistory {
			if v, ok := fromSDKSpotPrice(sp); ok {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// DescribeVolumes returns the EBS volumes attached to instanceIDs, or every volume in
// the region when instanceIDs is empty (all pages).
func (c *Client) DescribeVolumes(ctx context.Context, region string, instanceIDs []string) ([]Volume, error) {
	cl, err := c.ec2Client(region)
	if err != nil {
		return nil, fmt.Errorf("describe volumes: %w", err)
	}
	var out []Volume
	for _, chunk := range idChunks(instanceIDs) {
		in := &ec2.DescribeVolumesInput{MaxResults: aws.Int32(maxVolumePage)}
		if chunk != nil {
			in.Filters = []types.Filter{filter("attachment.instance-id", chunk...)}
		}
		p := ec2.NewDescribeVolumesPaginator(cl, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe volumes in %s: %w", region, err)
			}
			for _, v := range page.Volumes {
				out = append(out, fromSDKVolume(region, v))
			}
		}
	}
	return out, nil
}

// parseAWSTime parses EC2's ISO 8601 strings ("2024-05-01T12:00:00.000Z"); the zero
// time when absent or malformed.
func parseAWSTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
