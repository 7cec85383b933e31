package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultRunPerSecond = 2.0
	DefaultRunBurst     = 5
	DefaultMaxAttempts  = 8
	DefaultMaxBackoff   = 20 * time.Second
)

// Config says where the cloud is and how hard to push it. Credentials are deliberately
// absent: they come only from the SDK's standard loading or EC2_ACCESS_KEY/EC2_SECRET_KEY,
// so no secret ever passes through a flag, a config file of ours, or a log line.
type Config struct {
	// Regions tollgate operates in; the first is the default for global services.
	// Empty means the SDK's configured region (AWS_REGION, profile).
	Regions []string
	// EndpointURL points every service (EC2, IAM, STS) at one URL, e.g. awssim.
	// "" leaves the SDK's own resolution, which also honours AWS_ENDPOINT_URL.
	EndpointURL string
	// Profile is a shared-config profile; "" means AWS_PROFILE or the default chain.
	Profile string
	// RunPerSecond and RunBurst shape the client-side RunInstances limiter (per region),
	// which keeps a launch storm below EC2's own request bucket.
	RunPerSecond float64
	RunBurst     int
	// MaxAttempts is the SDK's attempt count per call, with jittered exponential
	// backoff on throttling, 5xx and connection errors.
	MaxAttempts int
	// MaxBackoff caps the delay between attempts (tests shorten it).
	MaxBackoff time.Duration
	// HTTPClient replaces the SDK's HTTP client when set. The SDK cannot add an
	// AWS_CA_BUNDLE to a plain *http.Client, so with one set New fails: put the CA roots
	// into this client's transport instead, or leave it nil.
	HTTPClient *http.Client
	// Now is the clock for time-dependent defaults; nil means time.Now. The RunInstances
	// limiter paces real requests and so always runs on the wall clock.
	Now func() time.Time
}

// Client is tollgate's EC2 client: one SDK client per region, shared retry policy, and a
// fair client-side RunInstances limiter. It is safe for concurrent use.
type Client struct {
	cfg    Config
	aws    aws.Config
	logger *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	ec2      map[string]*ec2.Client
	ssm      map[string]*ssm.Client
	limiters map[string]*fairLimiter
	roots    *rootCache // region/image -> the image's root volume
}

// New loads credentials and configuration the way every AWS tool does and returns a
// Client. It does not call AWS: a daemon must start even while the network is down.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RunPerSecond <= 0 {
		cfg.RunPerSecond = DefaultRunPerSecond
	}
	if cfg.RunBurst <= 0 {
		cfg.RunBurst = DefaultRunBurst
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Regions = append([]string(nil), cfg.Regions...)

	creds, err := chooseCredentials(os.Getenv, cfg.Profile)
	if err != nil {
		return nil, fmt.Errorf("cloud credentials: %w", err)
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(func() aws.Retryer { return newRetryer(cfg) }),
		awsconfig.WithLogger(sdkLogger(logger)),
		// Retries only: request/response logging would print signed headers and,
		// with session credentials, the security token.
		awsconfig.WithClientLogMode(aws.LogRetries),
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if creds.provider != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(creds.provider))
	}
	if cfg.EndpointURL != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(cfg.EndpointURL))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(cfg.HTTPClient))
	}
	if len(cfg.Regions) > 0 {
		opts = append(opts, awsconfig.WithDefaultRegion(cfg.Regions[0]))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if len(cfg.Regions) == 0 {
		if ac.Region == "" {
			return nil, errors.New("cloud: no region configured (aws.regions or AWS_REGION)")
		}
		cfg.Regions = []string{ac.Region}
	}
	if ac.Region == "" {
		ac.Region = cfg.Regions[0]
	}
	attrs := []any{slog.String(logKeySource, creds.source), slog.Any(logKeyRegions, cfg.Regions)}
	if creds.keyID != "" {
		attrs = append(attrs, slog.String(logKeyAccessKeyID, creds.keyID))
	}
	if ac.BaseEndpoint != nil {
		attrs = append(attrs, slog.String(logKeyEndpoint, *ac.BaseEndpoint))
	}
	logger.Info("cloud client configured", attrs...)

	return &Client{
		cfg:      cfg,
		aws:      ac,
		logger:   logger,
		now:      cfg.Now,
		ec2:      map[string]*ec2.Client{},
		limiters: map[string]*fairLimiter{},
		roots:    newRootCache(maxCachedRoots),
	}, nil
}

// newRetryer is the SDK's standard retryer (exponential backoff with jitter on throttling,
// 5xx and connection errors, but never on a not-implemented action) without its retry quota: the default 500-token bucket runs
// dry in a long throttling burst and then fails calls that a pause would have saved.
func newRetryer(cfg Config) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = cfg.MaxAttempts
		o.MaxBackoff = cfg.MaxBackoff
		o.Backoff = retry.NewExponentialJitterBackoff(cfg.MaxBackoff)
		o.RateLimiter = ratelimit.None
		// First: an endpoint that does not implement the action answers the same
		// however often it is asked, even when it says so with a 5xx.
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(notImplementedNoRetry)}, o.Retryables...)
	})
}

// notImplementedNoRetry vetoes retrying a not-implemented action or a lack of capacity
// (EC2 answers InsufficientInstanceCapacity with a 500, which the SDK would repeat with
// backoff; another type or zone is the remedy, and the caller picks it) and leaves every
// other error to the standard classification.
func notImplementedNoRetry(err error) aws.Ternary {
	if IsNotImplemented(err) || IsCapacityError(err) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// sdkLogger routes the SDK's own messages (retries, warnings) into slog at debug level.
func sdkLogger(logger *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		logger.Log(context.Background(), level, fmt.Sprintf(format, v...), slog.String(logKeyComponent, "aws-sdk"))
	})
}

// AWSConfig returns the loaded SDK configuration (credentials, retryer, endpoint), so the
// IAM and STS clients in this package share one configuration with EC2.
func (c *Client) AWSConfig() aws.Config { return c.aws.Copy() }

// Regions returns the regions tollgate operates in.
func (c *Client) Regions() []string { return append([]string(nil), c.cfg.Regions...) }

// errNoRegion is returned when a call names no region.
var errNoRegion = errors.New("no region given")

// ec2Client returns the cached EC2 client for region.
func (c *Client) ec2Client(region string) (*ec2.Client, error) {
	if region == "" {
		return nil, errNoRegion
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.ec2[region]; ok {
		return cl, nil
	}
	cl := ec2.NewFromConfig(c.aws, func(o *ec2.Options) { o.Region = region })
	c.ec2[region] = cl
	return cl, nil
}

// runLimiter returns region's RunInstances limiter: EC2 buckets requests per region.
func (c *Client) runLimiter(region string) *fairLimiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[region]
	if !ok {
		l = newFairLimiter(c.cfg.RunPerSecond, c.cfg.RunBurst, nil, nil)
		c.limiters[region] = l
	}
	return l
}
