package broker

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/smithy-go"

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
	ImportKeyPair(ctx context.Context, region, name string, publicKey []byte) (cloud.KeyPair, error)
	DescribeKeyPair(ctx context.Context, region, name string) (cloud.KeyPair, bool, error)
	DeleteKeyPair(ctx context.Context, region, name string) error
	DescribeImages(ctx context.Context, region string, ids, namePatterns []string) ([]cloud.Image, error)
}

// throttleCodes are AWS error codes that say "not now": the call was not carried out,
// but retrying later may succeed, so they are never a definite refusal of a launch.
var throttleCodes = []string{
	"RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled",
	"RequestThrottledException", "TooManyRequestsException", "ServiceUnavailable",
	"Unavailable", "InternalError", "InternalFailure", "InsufficientInstanceCapacity",
}

// cloudCode is the AWS error code of err, or "" if err carries none (a network error, a
// lost response, a cancelled context).
func cloudCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// definiteRefusal reports whether err proves that a mutating call was NOT carried out:
// an HTTP 4xx answer with an error code that is not throttling. Anything else (5xx,
// timeouts, lost responses) is ambiguous: the cloud may have acted.
func definiteRefusal(err error) bool {
	if err == nil {
		return false
	}
	code := cloudCode(err)
	if code == "" || slices.Contains(throttleCodes, code) {
		return false
	}
	var st interface{ HTTPStatusCode() int }
	if errors.As(err, &st) {
		s := st.HTTPStatusCode()
		return s >= 400 && s < 500
	}
	return false
}

// isNotFound reports whether err says the named resource does not exist.
func isNotFound(err error) bool {
	switch cloudCode(err) {
	case "InvalidInstanceID.NotFound", "InvalidKeyPair.NotFound", "InvalidAMIID.NotFound", "NoSuchEntity":
		return true
	}
	return false
}
