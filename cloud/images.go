package cloud

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// CopyImage copies srcImage from srcRegion into dstRegion, tagged at creation, and
// returns the copy's id. The call is idempotent by clientToken: repeated after a crash
// or a lost answer, it returns the same copy instead of a second one.
func (c *Client) CopyImage(ctx context.Context, dstRegion, srcRegion, srcImage, name, description, clientToken string, tags map[string]string) (string, error) {
	cl, err := c.ec2Client(dstRegion)
	if err != nil {
		return "", fmt.Errorf("copy image: %w", err)
	}
	in := &ec2.CopyImageInput{SourceRegion: aws.String(srcRegion), SourceImageId: aws.String(srcImage),
		Name: aws.String(name), ClientToken: aws.String(clientToken)}
	if description != "" {
		in.Description = aws.String(description)
	}
	if len(tags) > 0 {
		in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: sdkTags(tags)}}
	}
	out, err := cl.CopyImage(ctx, in)
	if err != nil {
		return "", fmt.Errorf("copy image %s from %s to %s: %w", srcImage, srcRegion, dstRegion, err)
	}
	return aws.ToString(out.ImageId), nil
}

// DeregisterImage deregisters an image; one already gone is not an error.
func (c *Client) DeregisterImage(ctx context.Context, region, id string) error {
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("deregister image: %w", err)
	}
	if _, err := cl.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("deregister image %s in %s: %w", id, region, err)
	}
	return nil
}

// DeleteSnapshot deletes a snapshot; one already gone is not an error. A snapshot an
// image still uses is refused (InvalidSnapshot.InUse).
func (c *Client) DeleteSnapshot(ctx context.Context, region, id string) error {
	cl, err := c.ec2Client(region)
	if err != nil {
		return fmt.Errorf("delete snapshot: %w", err)
	}
	if _, err := cl.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(id)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("delete snapshot %s in %s: %w", id, region, err)
	}
	return nil
}
