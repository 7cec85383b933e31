package accounting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// DefaultExpireWarning is how long before a lease ends its owner is warned when the
// policy's expire_warning is 0.
const DefaultExpireWarning = 15 * time.Minute

// daemonActor is the audit actor of everything the daemon does by itself.
const daemonActor = "tollgated"

// Run runs the collector schedule, the reaper and budget enforcement until ctx ends.
// Its loop wakes every Options.Tick (a minute) of wall time; every decision reads the
// injected clock.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Tick)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("accounting tick", slog.String(logKeyError, err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick is one step of Run: a collector pass when collect_interval has passed since the
// last snapshot (by this process or a cron collector), then the reaper and the budgets.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	if due, err := s.collectDue(ctx); err != nil {
		errs = append(errs, err)
	} else if due {
		if _, err := s.Collect(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := s.Reap(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.EnforceBudgets(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Service) collectDue(ctx context.Context) (bool, error) {
	every := s.opts.Config.CollectInterval
	if every <= 0 {
		return false, nil
	}
	var last int64
	if err := s.opts.DB.SQL().QueryRowContext(ctx, `SELECT coalesce(max(last_s), 0) FROM acct_region_runs`).Scan(&last); err != nil {
		return false, fmt.Errorf("collector schedule: %w", err)
	}
	s.mu.Lock()
	last = max(last, s.lastCollect.Unix())
	s.mu.Unlock()
	return s.now().Unix()-last >= int64(every/time.Second), nil
}

// liveInstance is an instance the reaper or budgets may act on: a user's, launched through
// the gate (the balancer's and the regions' service instances follow their own rules).
type liveInstance struct {
	ID, Owner, Region, State, Name string
	UID                            int
	ExpiresAt                      string
}

func (s *Service) liveInstances(ctx context.Context, where string, args ...any) ([]liveInstance, error) {
	rows, err := s.opts.DB.SQL().QueryContext(ctx, `SELECT id, owner, coalesce(uid, -1), region, state, name, expires_at
		FROM instances WHERE owner IS NOT NULL AND tracked = 1 AND gone_at = '' AND purpose IN ('', 'user')
		AND state IN ('pending', 'running', 'stopping', 'stopped') AND `+where+` ORDER BY owner, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("live instances: %w", err)
	}
	defer rows.Close()
	var out []liveInstance
	for rows.Next() {
		var li liveInstance
		if err := rows.Scan(&li.ID, &li.Owner, &li.UID, &li.Region, &li.State, &li.Name, &li.ExpiresAt); err != nil {
			return nil, fmt.Errorf("live instances: %w", err)
		}
		out = append(out, li)
	}
	return out, rows.Err()
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
func (s *Service) Reap(ctx context.Context) (int, error) {
	now := s.now()
	insts, err := s.liveInstances(ctx, `expires_at != ''`)
	if err != nil {
		return 0, fmt.Errorf("reap: %w", err)
	}
	pols := map[string]*quota.Policy{}
	type target struct {
		li     liveInstance
		action string
	}
	var due []target
	var errs []error
	for _, li := range insts {
		exp, err := db.ParseTime(li.ExpiresAt)
		if err != nil || exp.IsZero() {
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
		if _, err := s.Notify(ctx, li.Owner, KindLeaseWarning, ref, msg); err != nil {
			errs = append(errs, err)
			continue
		}
		if !now.Before(exp) {
			due = append(due, target{li, action})
		}
	}
	acted := 0
	for _, action := range []string{quota.ActionStop, quota.ActionTerminate} {
		var group []liveInstance
		for _, t := range due {
			if t.action == action {
				group = append(group, t.li)
			}
		}
		done, err := s.act(ctx, "reap."+action, action, group, func(li liveInstance) string {
			return "lease expired at " + li.ExpiresAt
		})
		acted += len(done)
		errs = append(errs, err)
		for _, li := range done {
			ref := li.ID + "@" + li.ExpiresAt
			msg := fmt.Sprintf("Instance %s%s in %s was %s: its lease ended at %s.", li.ID, nameSuffix(li.Name),
				li.Region, pastTense(action), li.ExpiresAt)
			if _, err := s.Notify(ctx, li.Owner, KindLeaseExpired, ref, msg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return acted, fmt.Errorf("reap: %w", err)
	}
	return acted, nil
}

// EnforceBudgets checks the spend of every user with a live instance against their
// budget: notices at 80% and 100% (once per budget period), and at 100% the policy's
// budget_action (stop | terminate | notify) on their instances, audited. It returns how
// many instances it acted on.
func (s *Service) EnforceBudgets(ctx context.Context) (int, error) {
	now := s.now()
	insts, err := s.liveInstances(ctx, `1 = 1`)
	if err != nil {
		return 0, fmt.Errorf("budgets: %w", err)
	}
	byOwner := map[string][]liveInstance{}
	for _, li := range insts {
		byOwner[li.Owner] = append(byOwner[li.Owner], li)
	}
	pols := map[string]*quota.Policy{}
	var errs []error
	acted := 0
	for _, owner := range sortedKeys(byOwner) {
		pol, err := s.cachedPolicy(ctx, pols, owner)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pol.BudgetUSD <= 0 {
			continue
		}
		start, _ := s.periodFor(*pol, owner, now)
		spent, err := s.SpentUSD(ctx, owner, start)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ref := start.Format(time.DateOnly)
		if spent >= 0.8*pol.BudgetUSD {
			msg := fmt.Sprintf("You have spent $%.2f of your $%.2f %s budget (%.0f%%).", spent, pol.BudgetUSD,
				periodWord(pol.BudgetPeriod), 100*spent/pol.BudgetUSD)
			if _, err := s.Notify(ctx, owner, KindBudget80, ref, msg); err != nil {
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
		if _, err := s.Notify(ctx, owner, KindBudget100, ref, msg); err != nil {
			errs = append(errs, err)
		}
		if action != quota.ActionStop && action != quota.ActionTerminate {
			continue
		}
		var group []liveInstance
		for _, li := range byOwner[owner] {
			if actionable(action, li.State) {
				group = append(group, li)
			}
		}
		reason := fmt.Sprintf("budget exhausted: spent $%.2f of $%.2f", spent, pol.BudgetUSD)
		done, err := s.act(ctx, "budget."+action, action, group, func(liveInstance) string { return reason })
		errs = append(errs, err)
		acted += len(done)
		if len(done) > 0 {
			ids := make([]string, len(done))
			for i, li := range done {
				ids[i] = li.ID
			}
			msg := fmt.Sprintf("Your budget is spent ($%.2f of $%.2f): %s %s.", spent, pol.BudgetUSD,
				pastTense(action), strings.Join(ids, ", "))
			if _, err := s.Notify(ctx, owner, KindBudgetAction, strings.Join(ids, ",")+"@"+db.Time(now), msg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return acted, fmt.Errorf("budgets: %w", err)
	}
	return acted, nil
}

func (s *Service) cachedPolicy(ctx context.Context, cache map[string]*quota.Policy, user string) (*quota.Policy, error) {
	if p, ok := cache[user]; ok {
		return p, nil
	}
	p, err := s.policy(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("policy of %s: %w", user, err)
	}
	cache[user] = &p
	return &p, nil
}

// act stops or terminates insts (per region), records their new state so the next pass
// does not repeat the call, and audits each instance: done on success, failed otherwise.
// It returns the instances acted on.
func (s *Service) act(ctx context.Context, auditAction, action string, insts []liveInstance, reason func(liveInstance) string) ([]liveInstance, error) {
	byRegion := map[string][]liveInstance{}
	for _, li := range insts {
		byRegion[li.Region] = append(byRegion[li.Region], li)
	}
	var done []liveInstance
	var errs []error
	for _, region := range sortedKeys(byRegion) {
		group := byRegion[region]
		ids := make([]string, len(group))
		for i, li := range group {
			ids[i] = li.ID
		}
		call := s.opts.Cloud.StopInstances
		if action == quota.ActionTerminate {
			call = s.opts.Cloud.TerminateInstances
		}
		changes, err := call(ctx, region, ids)
		current := map[string]string{}
		for _, c := range changes {
			current[c.ID] = c.Current
		}
		now := s.now()
		for _, li := range group {
			e := db.AuditEntry{At: now, Actor: daemonActor, UID: -1, Action: auditAction, Target: li.ID,
				Decision: db.Done, Reason: reason(li),
				Detail: map[string]any{"owner": li.Owner, "region": li.Region, "previous_state": li.State}}
			if err != nil {
				e.Decision, e.Reason = db.Failed, e.Reason+": "+firstLine(err.Error())
			} else {
				st := current[li.ID]
				if st == "" {
					st = map[string]string{quota.ActionStop: "stopping", quota.ActionTerminate: "shutting-down"}[action]
				}
				// The same row update as a user's stop or terminate through the broker.
				if uerr := db.UpdateInstanceState(ctx, s.opts.DB.SQL(), li.ID, st, "", "", now); uerr != nil {
					errs = append(errs, fmt.Errorf("record %s of %s: %w", action, li.ID, uerr))
				}
				done = append(done, li)
			}
			if aerr := s.opts.DB.AppendAudit(ctx, nil, e); aerr != nil {
				errs = append(errs, aerr)
			}
			s.log.Info("instance acted on", slog.String(logKeyAction, auditAction), slog.String(logKeyUser, li.Owner),
				slog.String(logKeyRegion, region), slog.String(logKeyInstances, li.ID), slog.Bool(logKeyOK, err == nil))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s in %s: %w", action, region, err))
		}
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
