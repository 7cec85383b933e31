package broker

import (
	"context"
	"errors"

	"github.com/tollgate/tollgate/cloud"
)

// Cloud is what the broker needs of EC2; *cloud.Client satisfies it. Tests point one at
// awssim, so the real SDK is exercised end to end.
type Cloud interface {
	RunInstances(ctx context.Context, in cloud.RunInput) ([]cloud.Instance, error)
	DescribeInstances(ctx context.Context, region string, f cloud.Filter) ([]cloud.Instance, error)
	StartInstances(ctx context.Context, region string, ids []string) ([]cloud.StateChange, error)
	StopInstances(ctx context.Context, region string, ids []string) ([]cloud.StateChange, error)
	TerminateInstances(ctx context.Context, region string, ids []string) ([]cloud.StateChange, error)
	CreateTags(ctx context.Context, region string, ids []string, tags map[string]string) error
	ImportKeyPairTagged(ctx context.Context, region, name string, publicKey []byte, tags map[string]string) (cloud.KeyPair, error)
	DescribeKeyPairTagged(ctx context.Context, region, name string) (cloud.TaggedKeyPair, bool, error)
	DeleteKeyPair(ctx context.Context, region, name string) error
	DescribeImagesOwned(ctx context.Context, region string, owners, ids, namePatterns []string) ([]cloud.Image, error)
}

// definiteRefusal reports whether err proves that a mutating call was NOT carried out:
// AWS answered with an error code that repeating the call cannot change (a 4xx such as
// InvalidParameterValue). Throttling, 5xx, timeouts and lost responses are ambiguous:
// the cloud may have acted.
func definiteRefusal(err error) bool {
	return err != nil && cloud.Code(err) != "" && !cloud.IsRetryable(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// isNotFound reports whether err says the named resource does not exist.
func isNotFound(err error) bool { return cloud.IsNotFound(err) || cloud.Code(err) == "NoSuchEntity" }
