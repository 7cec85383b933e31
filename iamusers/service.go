package iamusers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
)

// Options wires a Service.
type Options struct {
	DB     *db.DB
	Cloud  Cloud // nil: every cloud operation fails with ErrUnavailable
	Config config.IAM
	Region string // written to the user's ~/.aws/config
	Logger *slog.Logger
	Now    func() time.Time
	// Policy replaces the inline policy document (else Config.PolicyFile, else the
	// shipped student policy). "{user}" and "{iam_user}" in it are substituted.
	Policy []byte
	// Sleep waits between propagation checks; nil sleeps on the wall clock. Tests make it
	// advance the simulator's clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Hooks are test-only crash points; nil in production.
	Hooks Hooks
}

// Hooks simulate the daemon dying at the two moments that matter for crash safety. A hook
// returning an error makes the operation return that error at once with no clean-up, as
// kill -9 would; a fresh Service's Recover must then leave no orphan.
type Hooks struct {
	// AfterCreateUser runs once CreateUser succeeded, before the identity is recorded.
	AfterCreateUser func(iamUser string) error
	// AfterCreateAccessKey runs once CreateAccessKey returned, before the key id is
	// recorded and the key handed over.
	AfterCreateAccessKey func(iamUser, accessKeyID string) error
}

// Cloud is what iamusers needs of IAM and STS; *cloud.Client satisfies it. Deletions
// treat "no such entity" as success, so revocation can be repeated.
type Cloud interface {
	CreateIAMUser(ctx context.Context, name, path, boundary string, tags map[string]string) (cloud.IAMUser, error)
	PutIAMUserPermissionsBoundary(ctx context.Context, user, boundary string) error
	GetIAMUser(ctx context.Context, name string) (cloud.IAMUser, bool, error)
	ListIAMUsers(ctx context.Context, pathPrefix string) ([]cloud.IAMUser, error)
	DeleteIAMUser(ctx context.Context, name string) error
	PutIAMUserPolicy(ctx context.Context, user, policyName, document string) error
	ListIAMUserPolicies(ctx context.Context, user string) ([]string, error)
	DeleteIAMUserPolicy(ctx context.Context, user, policyName string) error
	ListAttachedIAMUserPolicies(ctx context.Context, user string) ([]string, error)
	DetachIAMUserPolicy(ctx context.Context, user, policyARN string) error
	ListIAMGroupsForUser(ctx context.Context, user string) ([]string, error)
	RemoveIAMUserFromGroup(ctx context.Context, user, group string) error
	DeleteIAMLoginProfile(ctx context.Context, user string) error
	ListIAMMFADevices(ctx context.Context, user string) ([]string, error)
	DeactivateIAMMFADevice(ctx context.Context, user, serial string) error
	DeleteIAMVirtualMFADevice(ctx context.Context, serial string) error
	ListIAMSSHPublicKeys(ctx context.Context, user string) ([]string, error)
	DeleteIAMSSHPublicKey(ctx context.Context, user, id string) error
	ListIAMSigningCertificates(ctx context.Context, user string) ([]string, error)
	DeleteIAMSigningCertificate(ctx context.Context, user, id string) error
	ListIAMServiceSpecificCredentials(ctx context.Context, user string) ([]string, error)
	DeleteIAMServiceSpecificCredential(ctx context.Context, user, id string) error
	CreateAccessKey(ctx context.Context, user string) (cloud.AccessKey, error)
	ListAccessKeys(ctx context.Context, user string) ([]cloud.AccessKey, error)
	SetAccessKeyActive(ctx context.Context, user, id string, active bool) error
	DeleteAccessKey(ctx context.Context, user, id string) error
	CallerIdentityOf(ctx context.Context, accessKeyID, secret string) (cloud.CallerIdentity, error)
}

var _ Cloud = (*cloud.Client)(nil)

// Errors the broker maps to socket error codes.
var (
	// ErrNotFound: no identity for that user (code not_found).
	ErrNotFound = errors.New("no IAM identity")
	// ErrHasKey: the user already has a key whose secret cannot be shown again
	// (code conflict; hint: tollgate keys aws --rotate).
	ErrHasKey = errors.New("an access key already exists")
	// ErrNotOurs: an IAM user of that name exists outside the configured path, so
	// tollgate will neither adopt nor delete it (code conflict).
	ErrNotOurs = errors.New("IAM user exists but is not managed by tollgate")
	// ErrUnavailable: the daemon's cloud client offers no IAM (code unavailable).
	ErrUnavailable = errors.New("IAM is not available in this daemon")
	// ErrPropagation: IAM did not propagate a new key in time (code cloud_error); the
	// key was deleted, trying again is safe.
	ErrPropagation = errors.New("IAM did not make the new key usable in time")
	// ErrBadUserName: the pattern gives a name IAM refuses (code invalid_request).
	ErrBadUserName = errors.New("user name cannot be an IAM user name")
)

// Service manages identities. It is safe for concurrent use; operations on one identity
// are serialised.
type Service struct {
	db      *db.DB
	cloud   Cloud
	cfg     config.IAM
	region  string
	log     *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	hooks   Hooks
	policy  string // compacted JSON with {user}/{iam_user} placeholders
	timeout time.Duration
}

// New returns a Service. It reads and checks the inline policy now, so a bad policy file
// stops the daemon at start-up rather than at a student's first request.
func New(opts Options) (*Service, error) {
	if opts.DB == nil {
		return nil, errors.New("iamusers: no database")
	}
	cfg := opts.Config
	if cfg.UserNamePattern == "" {
		cfg.UserNamePattern = config.DefaultUserNamePattern
	}
	if cfg.Path == "" {
		cfg.Path = config.DefaultIAMPath
	}
	if !strings.HasPrefix(cfg.Path, "/") || !strings.HasSuffix(cfg.Path, "/") {
		return nil, fmt.Errorf("iam.path %q must begin and end with /", cfg.Path)
	}
	if !strings.Contains(cfg.UserNamePattern, "{user}") {
		return nil, fmt.Errorf("iam.user_name_pattern %q must contain {user}", cfg.UserNamePattern)
	}
	if cfg.PolicyName == "" {
		cfg.PolicyName = config.DefaultIAMPolicyName
	}
	if cfg.PropagationTimeout <= 0 {
		cfg.PropagationTimeout = config.DefaultPropagation
	}
	if b := cfg.PermissionsBoundary; b != "" && (!strings.HasPrefix(b, "arn:") || !strings.Contains(b, ":policy/")) {
		return nil, fmt.Errorf("iam.permissions_boundary %q is not an IAM policy ARN", b)
	}
	policy, err := loadPolicy(opts.Policy, cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	s := &Service{
		db: opts.DB, cloud: opts.Cloud, cfg: cfg, region: opts.Region,
		log: opts.Logger, now: opts.Now, sleep: opts.Sleep, hooks: opts.Hooks,
		policy: policy, timeout: cfg.PropagationTimeout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = sleepWall
	}
	return s, nil
}

func sleepWall(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// iamNameRE is what IAM accepts as a user name.
var iamNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// IAMUserName is the IAM user name of Unix user user under the configured pattern.
func (s *Service) IAMUserName(user string) (string, error) {
	name := strings.ReplaceAll(s.cfg.UserNamePattern, "{user}", user)
	if user == "" || !iamNameRE.MatchString(name) {
		return "", fmt.Errorf("%w: %q", ErrBadUserName, name)
	}
	return name, nil
}

// unixUser reverses the pattern: the Unix user an IAM user name belongs to, if it fits.
func (s *Service) unixUser(iamUser string) (string, bool) {
	pre, post, _ := strings.Cut(s.cfg.UserNamePattern, "{user}")
	if len(iamUser) <= len(pre)+len(post) || !strings.HasPrefix(iamUser, pre) || !strings.HasSuffix(iamUser, post) {
		return "", false
	}
	return iamUser[len(pre) : len(iamUser)-len(post)], true
}

// lock serialises operations on one IAM user, on every host sharing the database; it
// returns the unlock function.
func (s *Service) lock(ctx context.Context, iamUser string) (func(), error) {
	return s.db.Lock(ctx, "iam:"+strings.ToLower(iamUser))
}

// ours reports whether an IAM user lives under the configured path.
func (s *Service) ours(u cloud.IAMUser) bool { return strings.HasPrefix(u.Path, s.cfg.Path) }

func (s *Service) needCloud() error {
	if s.cloud == nil {
		return ErrUnavailable
	}
	return nil
}
