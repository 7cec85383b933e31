// Package fleet is the one path by which tollgate changes instances in the cloud, for
// every purpose (a user's launch, the balancer's workers, the regional services):
//
//   - Launch: intent (a launch record with a client token) → keypair → RunInstances with
//     that token and tag-on-create → the instances recorded.
//   - Act: stop, start, terminate — intent (an action record, the instance's
//     transitional state and the audit entry, in one transaction) → the cloud call →
//     settled from what the cloud answered.
//   - Reconcile: every record a crash left requested is settled from what the cloud
//     says, and tollgate-tagged instances the database lacks are adopted.
//
// Admission (quota, budget) is not here: it is a pure decision the caller makes first and
// commits in the same transaction as the intent (see Intend). fleet never looks up a
// user policy itself: what a purpose needs on adoption comes from Options.Purposes.
package fleet

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// DefaultReconcileGrace is how old a requested launch or action must be before a
// periodic reconcile may settle it: younger ones may still have a cloud call in flight.
const DefaultReconcileGrace = 2 * time.Minute

// Cloud is what fleet needs of EC2; *cloud.Client satisfies it.
type Cloud interface {
	RunInstances(ctx context.Context, in cloud.RunInput) ([]cloud.Instance, error)
	DescribeInstances(ctx context.Context, region string, f cloud.Filter) ([]cloud.Instance, error)
	StartInstances(ctx context.Context, region string, ids []string) ([]cloud.StateChange, error)
	StopInstances(ctx context.Context, region string, ids []string) ([]cloud.StateChange, error)
	TerminateInstances(ctx context.Context, region string, ids []string) ([]cloud.StateChange, error)
	ImportKeyPairTagged(ctx context.Context, region, name string, publicKey []byte, tags map[string]string) (cloud.KeyPair, error)
	DescribeKeyPairTagged(ctx context.Context, region, name string) (cloud.TaggedKeyPair, bool, error)
	DeleteKeyPair(ctx context.Context, region, name string) error
}

var _ Cloud = (*cloud.Client)(nil)

// PurposeRules is what fleet needs to know of a purpose when it adopts an instance of it
// (one found in the cloud with tollgate's tags but not in the database).
type PurposeRules struct {
	// DefaultLifetime is the lease of an adopted instance whose expiry tag is missing or
	// unreadable; nil means instances of this purpose have no lease.
	DefaultLifetime func(ctx context.Context, owner string) (time.Duration, error)
	// Adopted is told of each instance adopted (for a notice to its owner); may be nil.
	Adopted func(ctx context.Context, in db.Instance)
}

// Hooks are test-only crash points; nil in production. A hook that panics with
// http.ErrAbortHandler kills the request at that step as kill -9 would; one that returns
// an error makes the record's write fail as a full disk would.
type Hooks struct {
	AfterIntent  func() // the launch record is committed (state requested)
	BeforeRun    func() // the keypair is in place, RunInstances is next
	AfterRun     func() // RunInstances returned (with or without an error)
	BeforeRecord func() // the instances are about to be recorded
	// BeforeCall runs after an action's intent is committed, before the cloud call.
	BeforeCall func()
	// BeforeSettle runs after the action's cloud call, before its settlement is
	// written; an error it returns is what the settlement's write returns.
	BeforeSettle func() error
}

func (h *Hooks) call(f func(h *Hooks) func()) {
	if h == nil {
		return
	}
	if fn := f(h); fn != nil {
		fn()
	}
}

// Options wires a Fleet.
type Options struct {
	DB       *db.DB
	Cloud    Cloud
	Audit    *audit.Writer
	Log      *slog.Logger
	Now      func() time.Time
	Regions  []string // scanned by reconcile for tagged instances
	Purposes map[tollgate.Purpose]PurposeRules
	Hooks    *Hooks
	// Grace overrides DefaultReconcileGrace for the periodic reconcile (Run).
	Grace time.Duration
	// Interval is how often Run reconciles (default 5 minutes).
	Interval time.Duration
}

// Fleet launches, acts on and reconciles instances. It is safe for concurrent use.
type Fleet struct {
	db       *db.DB
	cloud    Cloud
	audit    *audit.Writer
	log      *slog.Logger
	now      func() time.Time
	regions  []string
	purposes map[tollgate.Purpose]PurposeRules
	hooks    *Hooks
	grace    time.Duration
	interval time.Duration
}

// New returns a Fleet; DB, Cloud and Audit are required.
func New(o Options) (*Fleet, error) {
	if o.DB == nil || o.Cloud == nil || o.Audit == nil {
		return nil, errors.New("fleet: DB, Cloud and Audit are required")
	}
	f := &Fleet{db: o.DB, cloud: o.Cloud, audit: o.Audit, log: o.Log, now: o.Now, regions: o.Regions,
		purposes: o.Purposes, hooks: o.Hooks, grace: o.Grace, interval: o.Interval}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.grace == 0 {
		f.grace = DefaultReconcileGrace
	}
	if f.interval <= 0 {
		f.interval = 5 * time.Minute
	}
	return f, nil
}

// Run reconciles every Options.Interval until ctx ends (a background runner).
func (f *Fleet) Run(ctx context.Context) error {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := f.Reconcile(ctx, f.grace); err != nil && ctx.Err() == nil {
				f.log.Warn("reconcile failed", logErr, err)
			}
		}
	}
}

// Grace is the grace period of the periodic reconcile.
func (f *Fleet) Grace() time.Duration { return f.grace }

// Slog attribute keys.
const (
	logUser     = "user"
	logRequest  = "request"
	logRegion   = "region"
	logInstance = "instance"
	logErr      = "err"
	logCount    = "count"
	logPurpose  = "purpose"
	logAction   = "action"
)

// definiteRefusal reports whether err proves that a mutating call was NOT carried out:
// AWS answered with an error code that repeating the call cannot change (a 4xx such as
// InvalidParameterValue). Throttling, 5xx, timeouts and lost responses are ambiguous:
// the cloud may have acted.
//
// A capacity error (InsufficientInstanceCapacity, a 5xx) is definite too: EC2 answers it
// when it launched nothing, and another type or zone is the remedy, not a retry.
func definiteRefusal(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return err != nil && cloud.Code(err) != "" && (!cloud.IsRetryable(err) || cloud.IsCapacityError(err))
}

// isNotFound reports whether err says the named resource does not exist.
func isNotFound(err error) bool { return cloud.IsNotFound(err) || cloud.Code(err) == "NoSuchEntity" }
