package awssim_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
)

// env is one simulator plus SDK clients for it. Retries are disabled so a test sees
// exactly the error the simulator produced.
type env struct {
	t   *testing.T
	sim *awssim.Sim
	url string
	ctx context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim, url := simtest.Start(t, awssim.Options{})
	return &env{t: t, sim: sim, url: url, ctx: context.Background()}
}

func (e *env) cfg(region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(e.url),
		Retryer:      transportRetryer,
	}
}

// transportRetryer retries only a connection lost in transport, as the SDK's default
// retryer does in production (over loopback the SDK's own body-close race loses a
// response now and then: see sdkRaceDelay in ec2.go). Every API error reaches the test
// unretried.
func transportRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		o.RateLimiter = ratelimit.None
	})
}

func (e *env) ec2(region string) *ec2.Client { return ec2.NewFromConfig(e.cfg(region)) }

// west is the client most tests use.
func (e *env) west() *ec2.Client { return e.ec2("us-west-2") }

func (e *env) advance(d time.Duration) { e.sim.Advance(d) }

type runOpt func(*ec2.RunInstancesInput)

func count(n int32) runOpt {
	return func(in *ec2.RunInstancesInput) { in.MinCount, in.MaxCount = aws.Int32(n), aws.Int32(n) }
}

func itype(t string) runOpt {
	return func(in *ec2.RunInstancesInput) { in.InstanceType = types.InstanceType(t) }
}

func tags(kv ...string) runOpt {
	return func(in *ec2.RunInstancesInput) {
		var ts []types.Tag
		for i := 0; i+1 < len(kv); i += 2 {
			ts = append(ts, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		in.TagSpecifications = append(in.TagSpecifications, types.TagSpecification{ResourceType: types.ResourceTypeInstance, Tags: ts})
	}
}

func token(tok string) runOpt {
	return func(in *ec2.RunInstancesInput) { in.ClientToken = aws.String(tok) }
}

func spot(maxPrice string) runOpt {
	return func(in *ec2.RunInstancesInput) {
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot, SpotOptions: &types.SpotMarketOptions{}}
		if maxPrice != "" {
			in.InstanceMarketOptions.SpotOptions.MaxPrice = aws.String(maxPrice)
		}
	}
}

func runInput(opts ...runOpt) *ec2.RunInstancesInput {
	in := &ec2.RunInstancesInput{
		ImageId: aws.String(awssim.FixedImageID), InstanceType: types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	}
	for _, o := range opts {
		o(in)
	}
	return in
}

// run launches instances in us-west-2 and returns their ids.
func (e *env) run(opts ...runOpt) []string {
	e.t.Helper()
	return e.runIn(e.west(), opts...)
}

func (e *env) runIn(c *ec2.Client, opts ...runOpt) []string {
	e.t.Helper()
	out, err := c.RunInstances(e.ctx, runInput(opts...))
	if err != nil {
		e.t.Fatalf("RunInstances: %v", err)
	}
	var ids []string
	for _, in := range out.Instances {
		ids = append(ids, *in.InstanceId)
	}
	return ids
}

// describe returns the instance with id as the SDK sees it.
func (e *env) describe(id string) types.Instance {
	e.t.Helper()
	out, err := e.west().DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		e.t.Fatalf("DescribeInstances %s: %v", id, err)
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		e.t.Fatalf("DescribeInstances %s: got %d reservations", id, len(out.Reservations))
	}
	return out.Reservations[0].Instances[0]
}

func (e *env) state(id string) string { return string(e.describe(id).State.Name) }

// listIDs pages through DescribeInstances with the given input and returns all ids.
func (e *env) listIDs(c *ec2.Client, in *ec2.DescribeInstancesInput) []string {
	e.t.Helper()
	var ids []string
	p := ec2.NewDescribeInstancesPaginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			e.t.Fatalf("DescribeInstances page: %v", err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, *i.InstanceId)
			}
		}
	}
	return ids
}

// apiCode returns the AWS error code and HTTP status of err.
func apiCode(err error) (string, int) {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s (%d), got success", code, status)
	}
	got, st := apiCode(err)
	if got != code || (status != 0 && st != status) {
		t.Fatalf("want %s (%d), got %s (%d): %v", code, status, got, st, err)
	}
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d < 1e-9
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
