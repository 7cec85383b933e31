package broker

import (
	"context"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/fleet"
)

// Cloud is what the broker needs of EC2: the fleet's launch and action calls, plus
// tagging (extend) and image lookups (admission); *cloud.Client satisfies it. Tests point
// one at awssim, so the real SDK is exercised end to end.
type Cloud interface {
	fleet.Cloud
	CreateTags(ctx context.Context, region string, ids []string, tags map[string]string) error
	DescribeImagesOwned(ctx context.Context, region string, owners, ids, namePatterns []string) ([]cloud.Image, error)
}

// isNotFound reports whether err says the named resource does not exist.
func isNotFound(err error) bool { return cloud.IsNotFound(err) || cloud.Code(err) == "NoSuchEntity" }
