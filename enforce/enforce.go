// Package enforce holds the rules tollgate enforces on users' instances by itself: the
// lease reaper (a warning first, then expire_action when a lease ends), budget
// enforcement (notices at 80% and 100%, then budget_action) and the notices that tell
// users. It acts through the fleet's one instance-action path, on the purposes the user
// policy covers only: the balancer's and the regional services' instances follow their
// own rules. Spend comes from accounting, through the small interface below.
package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/quota"
)

// DefaultExpireWarning is how long before a lease ends its owner is warned when the
// policy's expire_warning is 0.
const DefaultExpireWarning = 15 * time.Minute

// Spend is what enforcement needs of accounting; *accounting.Service satisfies it.
type Spend interface {
	SpentUSD(ctx context.Context, user string, since time.Time) (float64, error)
	// PeriodFor is the budget period of pol at now (one computation for admission,
	// usage and enforcement).
	PeriodFor(pol quota.Policy, user string, now time.Time) (start, end time.Time)
}

// Actor is what enforcement needs of the fleet: its instance-action path.
type Actor interface {
	Act(ctx context.Context, req fleet.ActionRequest) ([]fleet.ActionResult, error)
}

// Options wires an Enforcer.
type Options struct {
	DB      *db.DB
	Fleet   Actor
	Spend   Spend
	Notices *Notifier
	// Policy returns an enrolled user's effective policy (budgets, expire_action, ...).
	Policy func(ctx context.Context, user string) (quota.Policy, error)
	Logger *slog.Logger
	Now    func() time.Time
	// Tick is the wall-clock period of Run's loop (default 1 minute: the reaper's and the
	// budget checks' resolution).
	Tick time.Duration
}

// covered are the purposes the user policy (leases, budgets) governs.
var covered = []string{string(tollgate.PurposeUser)}

// Enforcer runs the reaper and budget enforcement.
type Enforcer struct {
	opts Options
	log  *slog.Logger
}

// New returns an Enforcer; every field of Options but Logger, Now and Tick is required.
func New(o Options) (*Enforcer, error) {
	if o.DB == nil || o.Fleet == nil || o.Spend == nil || o.Notices == nil || o.Policy == nil {
		return nil, errors.New("enforce: DB, Fleet, Spend, Notices and Policy are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tick <= 0 {
		o.Tick = time.Minute
	}
	return &Enforcer{opts: o, log: o.Logger}, nil
}

func (s *Enforcer) now() time.Time { return s.opts.Now().UTC() }

// Run runs the reaper and budget enforcement every Options.Tick of wall time until ctx
// ends; every decision reads the injected clock.
func (s *Enforcer) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("enforcement tick", slog.String(logKeyError, err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick is one step of Run: the reaper, then the budgets.
func (s *Enforcer) Tick(ctx context.Context) error {
	var errs []error
	if _, err := s.Reap(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.EnforceBudgets(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// liveInstances are the instances the reaper or budgets may act on: tracked, not gone,
// pending to stopped, of the purposes the user policy covers.
func (s *Enforcer) liveInstances(ctx context.Context) ([]db.Instance, error) {
	rows, err := s.opts.DB.ListInstances(ctx, nil, db.InstanceFilter{OwnedOnly: true, LiveOnly: true, Purposes: covered})
	if err != nil {
		return nil, fmt.Errorf("live instances: %w", err)
	}
	out := rows
	sort.Slice(out, func(i, j int) bool {
		if out[i].Owner != out[j].Owner {
			return out[i].Owner < out[j].Owner
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// actionable says whether action would change an instance in state: stop acts on
// running ones; terminate on anything not yet terminated (a stopped one still pays EBS).
func actionable(action, state string) bool {
	if action == quota.ActionTerminate {
		return true
	}
	return isRunning(state)
}

// Reap warns the owners of leases that end within their policy's expire_warning and
// stops or terminates (expire_action) instances whose lease has ended: a warning notice
// always comes first, each action is audited. It returns how many instances it acted on.
func (s *Enforcer) Reap(ctx context.Context) (int, error) {
	now := s.now()
	insts, err := s.liveInstances(ctx)
	if err != nil {
		return 0, fmt.Errorf("reap: %w", err)
	}
	pols := map[string]*quota.Policy{}
	type target struct {
		li     db.Instance
		action string
	}
	var due []target
	var errs []error
	for _, li := range insts {
		exp := li.ExpiresAt
		if exp.IsZero() {
			continue
		}
		pol, err := s.cachedPolicy(ctx, pols, li.Owner)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		action := pol.ExpireAction
		if action != quota.ActionTerminate {
			action = quota.ActionStop
		}
		if !actionable(action, li.State) {
			continue
		}
		warn := pol.ExpireWarning
		if warn <= 0 {
			warn = DefaultExpireWarning
		}
		if now.Before(exp.Add(-warn)) {
			continue
		}
		ref := li.ID + "@" + db.Time(exp)
		msg := fmt.Sprintf("Instance %s%s in %s reaches the end of its lease at %s UTC and will be %s then; "+
			"run `tollgate extend %s DURATION` to keep it.", li.ID, nameSuffix(li.Name), li.Region,
			exp.UTC().Format("2006-01-02 15:04"), pastTense(action), li.ID)
		// Notify stores a (user, kind, ref) once: the warning is sent once per expiry.
		if _, err := s.opts.Notices.Notify(ctx, li.Owner, KindLeaseWarning, ref, msg); err != nil {
			errs = append(errs, err)
			continue
		}
		if !now.Before(exp) {
			reaped, err := s.reapedSince(ctx, li.ID, exp)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !reaped {
				due = append(due, target{li, action})
			}
		}
	}
	acted := 0
	for _, action := range []string{quota.ActionStop, quota.ActionTerminate} {
		var group []db.Instance
		for _, t := range due {
			if t.action == action {
				group = append(group, t.li)
			}
		}
		done, err := s.act(ctx, tollgate.SysReaper, "reap", action, group, func(li db.Instance) string {
			return "lease expired at " + db.Time(li.ExpiresAt)
		})
		acted += len(done)
		errs = append(errs, err)
		for _, li := range done {
			ref := li.ID + "@" + db.Time(li.ExpiresAt)
			msg := fmt.Sprintf("Instance %s%s in %s was %s: its lease ended at %s.", li.ID, nameSuffix(li.Name),
				li.Region, pastTense(action), db.Time(li.ExpiresAt))
			if _, err := s.opts.Notices.Notify(ctx, li.Owner, KindLeaseExpired, ref, msg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return acted, fmt.Errorf("reap: %w", err)
	}
	return acted, nil
}

// reapedSince reports whether the reaper already acted on instance id (not failed) since
// its lease ended at exp: a snapshot taken before that stop may still show it running,
// and it must not be reaped again for the same expiry.
func (s *Enforcer) reapedSince(ctx context.Context, id string, exp time.Time) (bool, error) {
	acts, err := s.opts.DB.ListActions(ctx, id)
	if err != nil {
		return false, err
	}
	for _, a := range acts {
		if strings.HasPrefix(a.AuditAction, "reap.") && !a.CreatedAt.Before(exp) && a.State != db.ActionFailed {
			return true, nil
		}
	}
	return false, nil
}

// EnforceBudgets checks the spend of every user with a live instance against their
// budget: notices at 80% and 100% (once per budget period), and at 100% the policy's
// budget_action (stop | terminate | notify) on their instances, audited. It returns how
// many instances it acted on.
func (s *Enforcer) EnforceBudgets(ctx context.Context) (int, error) {
	now := s.now()
	insts, err := s.liveInstances(ctx)
	if err != nil {
		return 0, fmt.Errorf("budgets: %w", err)
	}
	byOwner := map[string][]db.Instance{}
	for _, li := range insts {
		byOwner[li.Owner] = append(byOwner[li.Owner], li)
	}
	pols := map[string]*quota.Policy{}
	var errs []error
	acted := 0
	for _, owner := range slices.Sorted(maps.Keys(byOwner)) {
		pol, err := s.cachedPolicy(ctx, pols, owner)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pol.BudgetUSD <= 0 {
			continue
		}
		start, _ := s.opts.Spend.PeriodFor(*pol, owner, now)
		spent, err := s.opts.Spend.SpentUSD(ctx, owner, start)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ref := start.Format(time.DateOnly)
		if spent >= 0.8*pol.BudgetUSD {
			msg := fmt.Sprintf("You have spent $%.2f of your $%.2f %s budget (%.0f%%).", spent, pol.BudgetUSD,
				periodWord(pol.BudgetPeriod), 100*spent/pol.BudgetUSD)
			if _, err := s.opts.Notices.Notify(ctx, owner, KindBudget80, ref, msg); err != nil {
				errs = append(errs, err)
			}
		}
		if spent < pol.BudgetUSD {
			continue
		}
		action := pol.BudgetAction
		what := map[string]string{
			quota.ActionStop:      "your running instances are being stopped",
			quota.ActionTerminate: "your instances are being terminated",
		}[action]
		if what == "" {
			what = "new launches are refused until the next period"
		}
		msg := fmt.Sprintf("You have spent $%.2f, your whole $%.2f %s budget: %s.", spent, pol.BudgetUSD,
			periodWord(pol.BudgetPeriod), what)
		if _, err := s.opts.Notices.Notify(ctx, owner, KindBudget100, ref, msg); err != nil {
			errs = append(errs, err)
		}
		if action != quota.ActionStop && action != quota.ActionTerminate {
			continue
		}
		var group []db.Instance
		for _, li := range byOwner[owner] {
			if actionable(action, li.State) {
				group = append(group, li)
			}
		}
		reason := fmt.Sprintf("budget exhausted: spent $%.2f of $%.2f", spent, pol.BudgetUSD)
		done, err := s.act(ctx, tollgate.SysBudget, "budget", action, group, func(db.Instance) string { return reason })
		errs = append(errs, err)
		acted += len(done)
		if len(done) > 0 {
			ids := make([]string, len(done))
			for i, li := range done {
				ids[i] = li.ID
			}
			msg := fmt.Sprintf("Your budget is spent ($%.2f of $%.2f): %s %s.", spent, pol.BudgetUSD,
				pastTense(action), strings.Join(ids, ", "))
			if _, err := s.opts.Notices.Notify(ctx, owner, KindBudgetAction, strings.Join(ids, ",")+"@"+db.Time(now), msg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return acted, fmt.Errorf("budgets: %w", err)
	}
	return acted, nil
}

func (s *Enforcer) cachedPolicy(ctx context.Context, cache map[string]*quota.Policy, user string) (*quota.Policy, error) {
	if p, ok := cache[user]; ok {
		return p, nil
	}
	p, err := s.opts.Policy(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("policy of %s: %w", user, err)
	}
	cache[user] = &p
	return &p, nil
}

// act stops or terminates insts through the fleet's instance-action path (intent and
// audit entry before the cloud call, settled after) as subsystem sys, and returns the
// instances acted on.
func (s *Enforcer) act(ctx context.Context, sys, prefix, action string, insts []db.Instance, reason func(db.Instance) string) ([]db.Instance, error) {
	if len(insts) == 0 {
		return nil, nil
	}
	results, err := s.opts.Fleet.Act(ctx, fleet.ActionRequest{Kind: action, Actor: tollgate.SystemActor(sys),
		Prefix: prefix, Instances: insts, Reason: reason})
	if err != nil {
		return nil, err
	}
	var done []db.Instance
	var errs []error
	for i, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", action, r.ID, r.Err))
		} else {
			done = append(done, insts[i])
		}
		s.log.Info("instance acted on", slog.String(logKeyAction, audit.ActionOf(prefix, action)), slog.String(logKeyUser, insts[i].Owner),
			slog.String(logKeyRegion, insts[i].Region), slog.String(logKeyInstances, r.ID), slog.Bool(logKeyOK, r.Err == nil))
	}
	return done, errors.Join(errs...)
}

func pastTense(action string) string {
	if action == quota.ActionTerminate {
		return "terminated"
	}
	return "stopped"
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func periodWord(p string) string {
	switch p {
	case quota.PeriodMonth:
		return "monthly"
	case quota.PeriodWeek:
		return "weekly"
	default:
		return "term"
	}
}

func isRunning(state string) bool { return state == "pending" || state == "running" }

// Log attribute keys: constant, so logs can be queried by key.
const (
	logKeyRegion    = "region"
	logKeyError     = "error"
	logKeyInstances = "instances"
	logKeyUser      = "user"
	logKeyAction    = "action"
	logKeyKind      = "kind"
	logKeyOK        = "ok"
)
