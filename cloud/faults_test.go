package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
)

// smallBuckets throttle after a handful of requests, so a test reaches throttling fast.
func smallBuckets() *awssim.ThrottleBuckets {
	b := awssim.ThrottleBuckets{
		NonMutating:       awssim.Bucket{Size: 3, RefillPerSecond: 1},
		Mutating:          awssim.Bucket{Size: 3, RefillPerSecond: 1},
		ResourceIntensive: awssim.Bucket{Size: 2, RefillPerSecond: 1},
	}
	return &b
}

// TestThrottlingRetried turns EC2 throttling on with tiny buckets. The client must ride
// out the throttling with backoff (time passes on the simulated clock while it backs
// off) and every call must succeed, however many times it was throttled: the SDK's
// retry quota would have run dry here.
func TestThrottlingRetried(t *testing.T) {
	f := setup(t)
	f.tr.advance = 300 * time.Millisecond
	f.sim.SetFaults(awssim.Faults{Throttle: true, Buckets: smallBuckets()})
	// 150 calls, most throttled several times: far more than the SDK's default retry
	// quota (500 tokens, 5 per failed retry) survives.
	for i := range 150 {
		if _, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{States: []string{"running"}}); err != nil {
			t.Fatalf("DescribeInstances #%d under throttling: %v", i, err)
		}
	}
	for i := range 6 {
		f.run(t, cloud.RunInput{ClientToken: fmt.Sprintf("tok-throttle-%d", i)})
	}
	if got := f.tr.count(func(s int) bool { return s == 503 }); got < 200 {
		t.Errorf("saw %d throttled responses, want at least 200 (is throttling on?)", got)
	}
	if got, want := len(f.sim.Instances(west)), 6; got != want {
		t.Errorf("awssim holds %d instances, want %d", got, want)
	}
}

func TestErrorRateRetried(t *testing.T) {
	f := setup(t)
	f.sim.SetFaults(awssim.Faults{Seed: 3, ErrorRate: map[string]float64{"*": 0.4}})
	for i := range 30 {
		if _, err := f.c.DescribeInstances(f.ctx, west, cloud.Filter{}); err != nil {
			t.Fatalf("DescribeInstances #%d with 40%% errors: %v", i, err)
		}
	}
	if got := f.tr.count(is5xx); got < 5 {
		t.Errorf("saw %d server errors, want at least 5 (is the knob on?)", got)
	}
}

func TestErrorClassification(t *testing.T) {
	f := setup(t)
	once := setupEnv(t, func(c *cloud.Config) { c.MaxAttempts = 1 })

	stopUnknown := func() error {
		_, err := f.c.StopInstances(f.ctx, west, []string{"i-0123456789abcdef0"})
		return err
	}
	throttled := func() error {
		once.sim.SetFaults(awssim.Faults{Throttle: true, Buckets: &awssim.ThrottleBuckets{
			NonMutating: awssim.Bucket{Size: 1, RefillPerSecond: 0.001}}})
		var err error
		for range 3 {
			_, err = once.c.DescribeInstances(once.ctx, west, cloud.Filter{States: []string{"running"}})
		}
		return err
	}
	serverError := func() error {
		once.sim.SetFaults(awssim.Faults{ErrorRate: map[string]float64{"*": 1}})
		_, err := once.c.DescribeVolumes(once.ctx, west, nil)
		return err
	}
	cancelled := func() error {
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		_, err := f.c.DescribeInstances(ctx, west, cloud.Filter{})
		return err
	}
	tests := []struct {
		name                          string
		err                           func() error
		code                          string // "*" = any non-empty code
		notFound, throttle, retryable bool
	}{
		{"instance not found", stopUnknown, "InvalidInstanceID.NotFound", true, false, false},
		{"throttled", throttled, "RequestLimitExceeded", false, true, true},
		{"server error", serverError, "*", false, false, true},
		{"cancelled", cancelled, "", false, false, false},
		{"plain error", func() error { return errors.New("boom") }, "", false, false, false},
		{"nil", func() error { return nil }, "", false, false, false},
		{"network failure", func() error { return &net.OpError{Op: "dial", Err: io.ErrUnexpectedEOF} }, "", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			code := cloud.Code(err)
			if tt.code == "*" {
				if code != "InternalError" && code != "Unavailable" {
					t.Errorf("Code(%v) = %q, want InternalError or Unavailable", err, code)
				}
			} else if code != tt.code {
				t.Errorf("Code(%v) = %q, want %q", err, code, tt.code)
			}
			if got := cloud.IsNotFound(err); got != tt.notFound {
				t.Errorf("IsNotFound(%v) = %v, want %v", err, got, tt.notFound)
			}
			if got := cloud.IsThrottle(err); got != tt.throttle {
				t.Errorf("IsThrottle(%v) = %v, want %v", err, got, tt.throttle)
			}
			if got := cloud.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tt.retryable)
			}
		})
	}
}

// TestNotImplementedNeverRetryable: an endpoint that does not implement an action says
// so in several ways, some with a 5xx; none of them is worth repeating.
func TestNotImplementedNeverRetryable(t *testing.T) {
	respErr := func(status int, code string) error {
		var apiErr error
		if code != "" {
			apiErr = &smithy.GenericAPIError{Code: code, Message: "injected"}
		} else {
			apiErr = errors.New("no body")
		}
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: apiErr}
	}
	tests := []struct {
		name                      string
		err                       error
		notImplemented, retryable bool
	}{
		{"501 without a code", respErr(501, ""), true, false},
		{"501 NotImplemented", respErr(501, "NotImplemented"), true, false},
		{"500 NotImplemented", respErr(500, "NotImplemented"), true, false},
		{"400 InvalidAction", respErr(400, "InvalidAction"), true, false},
		{"400 UnknownOperationException", respErr(400, "UnknownOperationException"), true, false},
		{"500 InternalError", respErr(500, "InternalError"), false, true},
		{"503 without a code", respErr(503, ""), false, true},
		{"403 AccessDenied", respErr(403, "AccessDenied"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cloud.IsNotImplemented(tt.err); got != tt.notImplemented {
				t.Errorf("IsNotImplemented = %v, want %v", got, tt.notImplemented)
			}
			if got := cloud.IsRetryable(tt.err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
		})
	}
	// Through the SDK: an action awssim does not simulate is asked once.
	f := setup(t)
	raw := ec2.NewFromConfig(f.c.AWSConfig(), func(o *ec2.Options) { o.Region = west })
	before := f.tr.sent("DescribeHosts")
	_, err := raw.DescribeHosts(f.ctx, &ec2.DescribeHostsInput{})
	if !cloud.IsNotImplemented(err) {
		t.Errorf("DescribeHosts against awssim = %v, want a not-implemented error", err)
	}
	if got := f.tr.sent("DescribeHosts") - before; got != 1 {
		t.Errorf("DescribeHosts sent %d times, want once", got)
	}
}
