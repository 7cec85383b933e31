package balancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
)

// TagPool names the pool a balancer instance (and its security group) belongs to.
const TagPool = "tollgate:pool"

// Owner is the owner recorded (and tagged) for a pool's instances: reports show the
// pool's spend under it, with purpose balancer.
func Owner(pool string) string { return "balancer:" + pool }

// Audit actions of the balancer (besides the launches and terminations fleet records).
const (
	ActionPause    = "balancer.pause"
	ActionResume   = "balancer.resume"
	ActionDrain    = "balancer.drain"
	ActionSet      = "balancer.set"
	ActionFallback = "balancer.fallback" // new slaves moved between spot and on-demand
	ActionGroup    = "balancer.group"    // the managed security group created or changed
	ActionBudget   = "balancer.budget"   // the pool's budget stopped it
	actionPrefix   = "balancer"          // terminations: balancer.terminate
)

// Notice kinds for the admins' inbox.
const (
	KindLoadFailing = "balancer_load" // the load source failed N polls in a row
	KindBudget      = "balancer_budget"
)

// Cloud is what the balancer needs of EC2 besides fleet; *cloud.Client satisfies it.
type Cloud interface {
	DescribeInstances(ctx context.Context, region string, f cloud.Filter) ([]cloud.Instance, error)
	CurrentSpotPrices(ctx context.Context, region string, types, zones []string) (map[string]map[string]float64, error)
	CreateSecurityGroup(ctx context.Context, region, name, description, vpcID string, tags map[string]string) (string, error)
	DescribeSecurityGroups(ctx context.Context, region string, f cloud.SecurityGroupFilter) ([]cloud.SecurityGroup, error)
	AuthorizeIngress(ctx context.Context, region, groupID string, perms []cloud.Permission) error
	RevokeIngress(ctx context.Context, region, groupID string, perms []cloud.Permission) error
	DeleteSecurityGroup(ctx context.Context, region, id string) error
	DescribeSnapshots(ctx context.Context, region string, ids []string) ([]cloud.Snapshot, error)
	DescribeImages(ctx context.Context, region string, ids, namePatterns []string) ([]cloud.Image, error)
}

var _ Cloud = (*cloud.Client)(nil)

// Fleet is the launch and instance-action path; *fleet.Fleet satisfies it.
type Fleet interface {
	Launch(ctx context.Context, s fleet.Spec) (db.Launch, []db.Instance, error)
	Act(ctx context.Context, req fleet.ActionRequest) ([]fleet.ActionResult, error)
}

var _ Fleet = (*fleet.Fleet)(nil)

// Spend is what the balancer needs of accounting.
type Spend interface {
	SpentUSD(ctx context.Context, owner string, since time.Time) (float64, error)
	InstanceCosts(ctx context.Context, ids []string) (map[string]float64, error)
}

// Notifier tells the admins (enforce.AdminInbox) what needs their attention.
type Notifier interface {
	Notify(ctx context.Context, user, kind, ref, message string) (bool, error)
}

// Options wires a Service.
type Options struct {
	Pools   []Pool // resolved (Pool.Resolve) and validated
	DB      *db.DB
	Cloud   Cloud
	Fleet   Fleet
	Audit   *audit.Writer
	Spend   Spend    // may be nil (no budgets, no costs shown)
	Notices Notifier // may be nil
	// Admins is the inbox admins read (enforce.AdminInbox).
	Admins string
	// OnDemand is the on-demand price of a type in a region (accounting's table).
	OnDemand func(region, typ string) (float64, error)
	Log      *slog.Logger
	Now      func() time.Time
	// HTTPClient probes slaves and fetches server-status pages (default: 5 s timeout).
	HTTPClient *http.Client
	// ProbeAddr maps a slave's IP and port to the address probed (tests point it at a
	// local server); default IP:port.
	ProbeAddr func(ip string, port int) string
	// Exec runs the reload command (default: exec with a minimal environment).
	Exec func(ctx context.Context, argv []string) ([]byte, error)
}

// Service runs every configured pool: one decision per poll interval each. It is the
// daemon's "balancer" runner, and answers the admin requests.
type Service struct {
	o     Options
	log   *slog.Logger
	pools map[string]*poolRun
	order []string

	tickMu sync.Mutex // one Tick at a time (the runner and tests)
}

// New builds the service and a runner state for each pool.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Cloud == nil || o.Fleet == nil || o.Audit == nil {
		return nil, errors.New("balancer: DB, Cloud, Fleet and Audit are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.ProbeAddr == nil {
		o.ProbeAddr = defaultProbeAddr
	}
	if o.Exec == nil {
		o.Exec = execMinimal
	}
	s := &Service{o: o, log: o.Log, pools: map[string]*poolRun{}}
	for _, p := range o.Pools {
		pr, err := newPoolRun(s, p)
		if err != nil {
			return nil, fmt.Errorf("balancer pool %s: %w", p.Name, err)
		}
		s.pools[p.Name] = pr
		s.order = append(s.order, p.Name)
	}
	return s, nil
}

// interval is the shortest poll interval of the pools (the runner's tick).
func (s *Service) interval() time.Duration {
	iv := time.Duration(0)
	for _, pr := range s.pools {
		if d := pr.cfg.PollInterval; d > 0 && (iv == 0 || d < iv) {
			iv = d
		}
	}
	if iv == 0 {
		iv = 30 * time.Second
	}
	return iv
}

// Run ticks until ctx ends; then, for pools with on_stop = "terminate", terminates their
// slaves (the default, "keep", leaves the pool serving across a restart).
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval())
	defer t.Stop()
	s.Tick(ctx)
	for {
		select {
		case <-ctx.Done():
			s.stop()
			return nil
		case <-t.C:
			s.Tick(ctx)
		}
	}
}

// Tick runs one poll of every pool whose interval has come, and winds down pools that
// are no longer configured. Errors are logged and shown in the pool's status: one pool's
// trouble never stops another.
func (s *Service) Tick(ctx context.Context) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	now := s.o.Now()
	for _, name := range s.order {
		pr := s.pools[name]
		if !pr.due(now) {
			continue
		}
		pr.tick(ctx, now)
	}
	s.windDown(ctx)
}

// stop carries out on_stop when the daemon stops.
func (s *Service) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range s.order {
		pr := s.pools[name]
		if pr.cfg.OnStop != "terminate" {
			continue
		}
		insts, err := pr.describe(ctx)
		if err != nil {
			s.log.Warn("on_stop terminate: describe failed", logPool, name, logErr, err)
			continue
		}
		var ids []string
		for _, in := range insts {
			if liveState(in.State) {
				ids = append(ids, in.ID)
			}
		}
		pr.terminate(ctx, ids, "the daemon stopped and the pool's on_stop is terminate")
	}
}

// pool returns the running pool called name, or a not-found error naming the pools.
func (s *Service) pool(name string) (*poolRun, error) {
	pr, ok := s.pools[name]
	if !ok {
		names := slices.Clone(s.order)
		if len(names) == 0 {
			return nil, tollgate.Errorf(tollgate.CodeNotFound, "no balancer pool %q: none is configured", name).
				WithHint("declare one under [[balancer.pool]] in the configuration")
		}
		return nil, tollgate.Errorf(tollgate.CodeNotFound, "no balancer pool %q: the pools are %v", name, names)
	}
	return pr, nil
}

// List is every pool's status, by name.
func (s *Service) List(ctx context.Context) ([]tollgate.PoolStatus, error) {
	out := []tollgate.PoolStatus{}
	for _, name := range s.order {
		st, err := s.Status(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Status is one pool's status as of its last poll, with the state admins set.
func (s *Service) Status(ctx context.Context, name string) (tollgate.PoolStatus, error) {
	pr, err := s.pool(name)
	if err != nil {
		return tollgate.PoolStatus{}, err
	}
	return pr.status(ctx)
}

// Pause stops every action on the pool (no launch, no termination) until Resume.
func (s *Service) Pause(ctx context.Context, by tollgate.Actor, name string) (tollgate.PoolStatus, error) {
	return s.change(ctx, by, name, ActionPause, func(p *db.BalancerPool) { p.Paused = true })
}

// Resume undoes Pause and Drain.
func (s *Service) Resume(ctx context.Context, by tollgate.Actor, name string) (tollgate.PoolStatus, error) {
	return s.change(ctx, by, name, ActionResume, func(p *db.BalancerPool) { p.Paused, p.Draining = false, false })
}

// Drain terminates every slave of the pool at its next poll and launches none until
// Resume.
func (s *Service) Drain(ctx context.Context, by tollgate.Actor, name string) (tollgate.PoolStatus, error) {
	return s.change(ctx, by, name, ActionDrain, func(p *db.BalancerPool) { p.Draining, p.Paused = true, false })
}

// MaxOverride bounds how long a manual min/max stays in force.
const MaxOverride = 7 * 24 * time.Hour

// Set replaces the load table's band by min..max for d (at most MaxOverride); min = max
// = -1 clears an override.
func (s *Service) Set(ctx context.Context, by tollgate.Actor, name string, min, max int, d time.Duration) (tollgate.PoolStatus, error) {
	pr, err := s.pool(name)
	if err != nil {
		return tollgate.PoolStatus{}, err
	}
	clear := min == -1 && max == -1
	switch {
	case clear:
	case min < 0 || max < min:
		return tollgate.PoolStatus{}, tollgate.Errorf(tollgate.CodeInvalidRequest, "--min %d --max %d: want 0 <= min <= max", min, max)
	case pr.cfg.MaxInstances > 0 && max > pr.cfg.MaxInstances:
		return tollgate.PoolStatus{}, tollgate.Errorf(tollgate.CodeInvalidRequest, "--max %d is above the pool's max_instances (%d)", max, pr.cfg.MaxInstances)
	case d <= 0 || d > MaxOverride:
		return tollgate.PoolStatus{}, tollgate.Errorf(tollgate.CodeInvalidRequest, "--for %s: an override lasts from 1 minute to %s", d, MaxOverride)
	}
	until := s.o.Now().Add(d)
	return s.change(ctx, by, name, ActionSet, func(p *db.BalancerPool) {
		if clear {
			p.OverrideMin, p.OverrideMax, p.OverrideUntil = -1, -1, time.Time{}
			return
		}
		p.OverrideMin, p.OverrideMax, p.OverrideUntil = min, max, until
	})
}

// change applies an admin's change to the pool's durable state, audited.
func (s *Service) change(ctx context.Context, by tollgate.Actor, name, action string, fn func(*db.BalancerPool)) (tollgate.PoolStatus, error) {
	pr, err := s.pool(name)
	if err != nil {
		return tollgate.PoolStatus{}, err
	}
	p, _, err := s.o.DB.GetBalancerPool(ctx, name)
	if err != nil {
		return tollgate.PoolStatus{}, err
	}
	fn(&p)
	p.Region, p.UpdatedAt = pr.cfg.Region, s.o.Now()
	detail := map[string]any{"pool": name, "paused": p.Paused, "draining": p.Draining}
	if p.OverrideMin >= 0 {
		detail["min"], detail["max"], detail["until"] = p.OverrideMin, p.OverrideMax, p.OverrideUntil.UTC().Format(time.RFC3339)
	}
	if err := s.o.DB.Immediate(ctx, func(tx *db.Tx) error {
		if err := s.o.DB.PutBalancerPool(ctx, tx, p); err != nil {
			return err
		}
		return s.o.Audit.Record(ctx, tx, by, audit.Entry{Action: action, Target: name, Decision: audit.Allowed, Detail: detail})
	}); err != nil {
		return tollgate.PoolStatus{}, err
	}
	pr.forceNext() // the change takes effect at the next tick, not the next interval
	return pr.status(ctx)
}

// windDown terminates the slaves of pools recorded in the database but no longer
// configured, then deletes their security group (once no instance uses it) and their
// record.
func (s *Service) windDown(ctx context.Context) {
	recs, err := s.o.DB.ListBalancerPools(ctx)
	if err != nil {
		s.log.Warn("list balancer pools", logErr, err)
		return
	}
	for _, rec := range recs {
		if _, ok := s.pools[rec.Name]; ok || rec.Region == "" {
			continue
		}
		if err := s.windDownOne(ctx, rec); err != nil {
			s.log.Warn("winding down a removed pool", logPool, rec.Name, logErr, err)
		}
	}
}

func (s *Service) windDownOne(ctx context.Context, rec db.BalancerPool) error {
	if !rec.Removed {
		rec.Removed, rec.UpdatedAt = true, s.o.Now()
		if err := s.o.DB.PutBalancerPool(ctx, nil, rec); err != nil {
			return err
		}
		s.log.Info("pool no longer configured: winding it down", logPool, rec.Name)
	}
	insts, err := s.o.Cloud.DescribeInstances(ctx, rec.Region, poolFilter(rec.Name))
	if err != nil {
		return err
	}
	var live []string
	remaining := 0
	for _, in := range insts {
		if in.State != "terminated" {
			remaining++
		}
		if liveState(in.State) {
			live = append(live, in.ID)
		}
	}
	if len(live) > 0 {
		terminateRows(ctx, s, rec.Name, live, "the pool was removed from the configuration")
		return nil
	}
	if remaining > 0 {
		return nil // still shutting down: the group is in use
	}
	if rec.SecurityGroup != "" {
		if err := s.o.Cloud.DeleteSecurityGroup(ctx, rec.Region, rec.SecurityGroup); err != nil {
			if cloud.IsDependencyViolation(err) {
				return nil // the instances are not quite gone yet: next tick
			}
			return err
		}
		_ = s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysBalancer), audit.Entry{Action: ActionGroup,
			Target: rec.SecurityGroup, Decision: audit.Done, Reason: "pool removed: managed security group deleted",
			Detail: map[string]any{"pool": rec.Name, "region": rec.Region}})
	}
	s.log.Info("removed pool wound down", logPool, rec.Name)
	return s.o.DB.DeleteBalancerPool(ctx, rec.Name)
}

// poolFilter selects a pool's instances in the cloud.
func poolFilter(name string) cloud.Filter {
	return cloud.Filter{Tags: map[string]string{cloud.TagPurpose: string(tollgate.PurposeBalancer), TagPool: name}}
}

// liveState is an instance state that costs money and counts: not on its way out.
func liveState(state string) bool {
	return state == "pending" || state == "running" || state == "stopping" || state == "stopped"
}

// execMinimal runs argv with no shell, a minimal environment and a minute's bound.
func execMinimal(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// Slog attribute keys.
const (
	logPool     = "pool"
	logErr      = "err"
	logInstance = "instance"
	logCount    = "count"
)
