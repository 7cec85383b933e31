package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/quota"
)

// imageTTL bounds how long an image lookup is reused: launches in a burst share one
// DescribeImages call instead of each spending the account's API rate.
const imageTTL = 5 * time.Minute

// maxImages bounds the image cache.
const maxImages = 1024

// resolveImage finds an image by ami id or exact name in region among the images of
// owners (policy image_owners), so name patterns in policy can be checked against the
// image's real name and a look-alike published by anyone else is never found.
func (d *Daemon) resolveImage(ctx context.Context, region, image string, owners []string) (cloud.Image, error) {
	k := region + "\x00" + image + "\x00" + strings.Join(owners, ",")
	now := d.now()
	if img, ok := d.images.get(k, now); ok {
		return img, nil
	}
	var ids, names []string
	if strings.HasPrefix(image, "ami-") {
		if !quota.IsAMIID(image) {
			return cloud.Image{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest,
				Message: fmt.Sprintf("image %s is not an ami id (ami- and 8 or 17 hex digits)", quoteInput(image))}
		}
		ids = []string{image}
	} else {
		if strings.ContainsAny(image, "*?[") {
			return cloud.Image{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest,
				Message: fmt.Sprintf("image %s is a pattern: give an ami id or an exact image name", quoteInput(image))}
		}
		names = []string{image}
	}
	imgs, err := d.cloud.DescribeImagesOwned(ctx, region, owners, ids, names)
	if err != nil && !isNotFound(err) {
		return cloud.Image{}, &tollgate.Error{Code: tollgate.CodeCloudError, Message: fmt.Sprintf("look up image %s in %s: %v", image, region, err)}
	}
	var found []cloud.Image
	for _, im := range imgs {
		if im.ID == image || im.Name == image {
			found = append(found, im)
		}
	}
	switch len(found) {
	case 0:
		return cloud.Image{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest,
			Message: fmt.Sprintf("image %s does not exist in %s among the images of %s (image_owners)", quoteInput(image), region, strings.Join(owners, ", "))}
	case 1:
	default:
		return cloud.Image{}, &tollgate.Error{Code: tollgate.CodeInvalidRequest,
			Message: fmt.Sprintf("image name %s is ambiguous in %s (%d images): give its ami id", quoteInput(image), region, len(found))}
	}
	d.images.put(k, found[0], now)
	return found[0], nil
}
