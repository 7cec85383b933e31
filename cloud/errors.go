package cloud

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// throttleCodes are the API error codes AWS uses to say "slow down".
var throttleCodes = map[string]bool{
	"RequestLimitExceeded":      true, // EC2
	"Throttling":                true, // IAM, STS
	"ThrottlingException":       true,
	"ThrottledException":        true,
	"RequestThrottled":          true,
	"RequestThrottledException": true,
	"TooManyRequestsException":  true,
	"EC2ThrottledException":     true,
	"BandwidthLimitExceeded":    true,
	"SlowDown":                  true,
	"PriorRequestNotComplete":   true,
}

// transientCodes are server-side failures worth repeating with the same request.
var transientCodes = map[string]bool{
	"InternalError":           true,
	"InternalFailure":         true,
	"ServiceUnavailable":      true,
	"Unavailable":             true,
	"RequestTimeout":          true,
	"RequestTimeoutException": true,
	"RequestExpired":          true, // clock skew or a slow send; re-signing fixes it
}

// notImplementedCodes are the codes an endpoint answers for an action it does not
// implement (IAM, EC2 and compatible services differ): repeating the call cannot help.
var notImplementedCodes = map[string]bool{
	"NotImplemented":            true,
	"InvalidAction":             true,
	"UnknownOperation":          true,
	"UnknownOperationException": true,
	"UnsupportedOperation":      true,
}

// IsNotImplemented reports whether the endpoint said it does not implement the action
// (an error code such as NotImplemented, InvalidAction or UnknownOperation, or HTTP 501):
// a simulator or an AWS-compatible service that lacks it, never a transient failure.
func IsNotImplemented(err error) bool {
	if err == nil {
		return false
	}
	if notImplementedCodes[Code(err)] {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented
}

// Code returns the AWS API error code in err's chain ("InvalidInstanceID.NotFound"), or
// "" when err carries none (network failure, cancellation, our own validation).
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether AWS said a named resource does not exist (any *.NotFound
// code, e.g. InvalidInstanceID.NotFound, InvalidKeyPair.NotFound, InvalidAMIID.NotFound).
// Just after a launch this can be eventual consistency rather than absence.
func IsNotFound(err error) bool {
	code := Code(err)
	return code == "NotFound" || strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFoundException")
}

// IsThrottle reports whether AWS refused the call for its request rate.
func IsThrottle(err error) bool {
	return throttleCodes[Code(err)]
}

// IsRetryable reports whether repeating the same call (with the same ClientToken for
// RunInstances) may succeed: throttling, 5xx and transient server errors, and network
// failures. Context cancellation and a not-implemented action (even answered with a 5xx)
// are never retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if IsNotImplemented(err) || IsCapacityError(err) {
		return false
	}
	code := Code(err)
	if throttleCodes[code] || transientCodes[code] {
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	if code != "" {
		return false
	}
	return retry.RetryableConnectionError{}.IsErrorRetryable(err).Bool()
}
