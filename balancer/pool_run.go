package balancer

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
)

// maxDecisions is how many past decisions a pool's status keeps.
const maxDecisions = 20

// unhealthyAfter is how many failed readiness checks in a row make a ready slave
// unhealthy (replaced); one failed check already takes it out of the renderfarm.
const unhealthyAfter = 2

// poolRun is one configured pool's runtime state: the load history, what the last
// readiness checks said, offers found without capacity. All of it is rebuilt after a
// restart; what must survive one is in the database (db.BalancerPool) and the cloud.
type poolRun struct {
	s        *Service
	cfg      Pool
	src      Source
	meter    *Meter
	userData []byte
	keyPair  *fleet.KeyPair

	mu          sync.Mutex // guards everything below
	next        time.Time
	history     []Observation
	fails       int
	failStart   time.Time
	health      map[string]*health
	unavailable map[offer]time.Time
	replacing   map[string]string // spot slave id → the on-demand slave it replaces
	goneSeen    map[string]bool
	market      string
	spotPrice   float64
	decisions   []tollgate.PoolDecision
	renderfarm  []string
	slaves      []tollgate.PoolSlave
	last        Decision
	lastPoll    time.Time
	lastErr     string
	volumes     []cloud.DataVolume
	image       string // image_id resolved from a name
}

// health is what the readiness checks have said of one slave.
type health struct {
	everReady bool
	failures  int  // consecutive failed checks since it was first ready
	answered  bool // the latest check answered
	ip        string
}

func newPoolRun(s *Service, p Pool) (*poolRun, error) {
	src, err := NewSource(p.LoadSource, p.LoadMetric, SourceOptions{HTTPClient: s.o.HTTPClient, Now: s.o.Now})
	if err != nil {
		return nil, fmt.Errorf("load_source: %w", err)
	}
	ud, err := p.UserData()
	if err != nil {
		return nil, fmt.Errorf("user_data_template: %w", err)
	}
	pr := &poolRun{s: s, cfg: p, src: src, meter: NewMeter(p.LoadMetric), userData: ud,
		health: map[string]*health{}, unavailable: map[offer]time.Time{}, replacing: map[string]string{},
		goneSeen: map[string]bool{}, market: MarketOnDemand}
	if p.Bid() > 0 {
		pr.market = MarketSpot
	}
	if p.SSHKey != "" {
		kp, err := readKeyPair(p.SSHKey, "tollgate-balancer-"+p.Name)
		if err != nil {
			return nil, fmt.Errorf("ssh_key: %w", err)
		}
		pr.keyPair = kp
	}
	return pr, nil
}

// readKeyPair reads an SSH public key file as the keypair name.
func readKeyPair(path, name string) (*fleet.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not an SSH public key: %w", path, err)
	}
	return &fleet.KeyPair{Name: name, PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		Fingerprint: ssh.FingerprintSHA256(pub)}, nil
}

func (pr *poolRun) due(now time.Time) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return !now.Before(pr.next)
}

func (pr *poolRun) forceNext() {
	pr.mu.Lock()
	pr.next = time.Time{}
	pr.mu.Unlock()
}

// tick is one poll: read the load, see the slaves, decide, act, tell the master.
func (pr *poolRun) tick(ctx context.Context, now time.Time) {
	pr.mu.Lock()
	pr.next = now.Add(pr.cfg.PollInterval)
	pr.mu.Unlock()
	rec, err := pr.record(ctx)
	if err != nil {
		pr.fail(now, "read the pool's state: "+err.Error())
		return
	}
	var why []string
	if err := pr.ensureGroup(ctx, &rec); err != nil {
		pr.fail(now, "security group: "+err.Error())
		return
	}
	obs := pr.poll(ctx, now)
	insts, err := pr.describe(ctx)
	if err != nil {
		pr.fail(now, "cannot list the pool's instances (holding): "+err.Error())
		return
	}
	launches, err := pr.s.o.DB.OpenLaunches(ctx, string(tollgate.PurposeBalancer), Owner(pr.cfg.Name))
	if err != nil {
		pr.fail(now, "cannot list the pool's open launches (holding): "+err.Error())
		return
	}
	slaves, stray, seen := pr.observe(ctx, now, insts, launches)
	why = append(why, seen...)

	pol := pr.cfg.Policy(now)
	pol.Paused, pol.Draining = rec.Paused, rec.Draining
	if rec.OverrideMin >= 0 && now.Before(rec.OverrideUntil) {
		pol.Override = &Override{Min: rec.OverrideMin, Max: rec.OverrideMax, Until: rec.OverrideUntil}
	}
	budgetWhy, noLaunch := pr.checkBudget(ctx, now, &pol)
	why = append(why, budgetWhy...)

	pr.mu.Lock()
	history := slices.Clone(pr.history)
	pr.mu.Unlock()
	d := Decide(Input{Now: now, History: history, Policy: pol, Slaves: slaves})
	why = append(why, d.Why...)
	if noLaunch && d.Launch > 0 {
		d.Launch = 0
	}

	var terminated, launched []string
	if !pol.Paused {
		// Stopped slaves are no use to the pool and still cost their volumes.
		ids := append(pr.instanceIDs(d.Terminate), stray...)
		terminated = pr.terminate(ctx, ids, "balancer: "+strings.Join(d.Why, "; "))
		var lw []string
		launched, lw = pr.launch(ctx, now, d.Launch, rec.SecurityGroup)
		why = append(why, lw...)
		if !pol.Draining && d.Launch == 0 && len(d.Terminate) == 0 {
			rl, rt, rw := pr.backToSpot(ctx, now, slaves, rec.SecurityGroup)
			launched, terminated = append(launched, rl...), append(terminated, rt...)
			why = append(why, rw...)
		}
	}
	why = append(why, pr.tellMaster(ctx, slaves)...)

	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.last, pr.lastPoll = d, now
	pr.lastErr = obs.Err
	pr.decisions = append([]tollgate.PoolDecision{{At: now, Load: d.Raw, Smoothed: d.Smoothed, Min: d.Min, Max: d.Max,
		Launched: launched, Terminated: terminated, Why: why}}, pr.decisions...)
	if len(pr.decisions) > maxDecisions {
		pr.decisions = pr.decisions[:maxDecisions]
	}
	pr.slaves = statusSlaves(slaves, insts, launches, pr.health)
	// What this tick did shows at once: new slaves as booting, ended ones as draining.
	for i := range pr.slaves {
		if slices.Contains(terminated, pr.slaves[i].ID) {
			pr.slaves[i].State, pr.slaves[i].Healthy = string(StateDraining), false
		}
	}
	for _, id := range launched {
		pr.slaves = append(pr.slaves, tollgate.PoolSlave{ID: id, State: string(StateBooting), Market: pr.market, LaunchedAt: now})
	}
	if len(launched)+len(terminated) > 0 {
		pr.s.log.Info("pool changed", logPool, pr.cfg.Name, "launched", launched, "terminated", terminated,
			"why", strings.Join(why, "; "))
	}
}

// fail records a tick that could not decide: the pool is held as it is.
func (pr *poolRun) fail(now time.Time, msg string) {
	pr.s.log.Warn("balancer tick held", logPool, pr.cfg.Name, logErr, msg)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.lastPoll = now
	pr.decisions = append([]tollgate.PoolDecision{{At: now, Why: []string{msg}}}, pr.decisions...)
	if len(pr.decisions) > maxDecisions {
		pr.decisions = pr.decisions[:maxDecisions]
	}
}

// record reads (creating it on first sight) the pool's durable state.
func (pr *poolRun) record(ctx context.Context) (db.BalancerPool, error) {
	rec, ok, err := pr.s.o.DB.GetBalancerPool(ctx, pr.cfg.Name)
	if err != nil {
		return rec, err
	}
	if !ok || rec.Removed || rec.Region != pr.cfg.Region {
		if ok && rec.Region != pr.cfg.Region && rec.Region != "" {
			// The pool moved region: its old group is not usable here.
			rec.SecurityGroup = ""
		}
		rec.Region, rec.Removed, rec.UpdatedAt = pr.cfg.Region, false, pr.s.o.Now()
		if err := pr.s.o.DB.PutBalancerPool(ctx, nil, rec); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// poll reads the load source once and appends the observation to the history.
func (pr *poolRun) poll(ctx context.Context, now time.Time) Observation {
	obs := Observation{At: now}
	sample, err := pr.src.Poll(ctx)
	switch {
	case err != nil:
		obs.Err = err.Error()
	default:
		if load, ok := pr.meter.Observe(sample); ok {
			obs.OK, obs.Load = true, load
		} else {
			obs.Err = "first reading since start: a request rate needs two polls"
		}
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.history = append(pr.history, obs)
	keep := max(pr.cfg.Stabilization, 5*pr.cfg.Smoothing, 10*time.Minute) + 2*pr.cfg.PollInterval
	cut := 0
	for cut < len(pr.history)-1 && pr.history[cut].At.Before(now.Add(-keep)) {
		cut++
	}
	pr.history = pr.history[cut:]
	if err == nil {
		pr.fails = 0
		return obs
	}
	if pr.fails == 0 {
		pr.failStart = now
	}
	pr.fails++
	if n := max(pr.cfg.FailureNotify, 1); pr.fails == n && pr.s.o.Notices != nil {
		msg := fmt.Sprintf("balancer pool %s: its load source %s failed %d polls in a row (latest: %v); the pool is held at its current size until it answers",
			pr.cfg.Name, pr.cfg.LoadSource, pr.fails, err)
		ref := pr.cfg.Name + "@" + pr.failStart.UTC().Format(time.RFC3339)
		if _, nerr := pr.s.o.Notices.Notify(ctx, pr.s.o.Admins, KindLoadFailing, ref, msg); nerr != nil {
			pr.s.log.Warn("notify admins", logPool, pr.cfg.Name, logErr, nerr)
		}
	}
	return obs
}

// describe lists the pool's instances in the cloud (by tag).
func (pr *poolRun) describe(ctx context.Context) ([]cloud.Instance, error) {
	return pr.s.o.Cloud.DescribeInstances(ctx, pr.cfg.Region, poolFilter(pr.cfg.Name))
}

// observe turns the cloud's instances and the open launch records into the decision's
// slaves, checking the readiness of every running one. stray are stopped slaves (no
// use to the pool: terminated); seen are sentences about interrupted or vanished ones.
func (pr *poolRun) observe(ctx context.Context, now time.Time, insts []cloud.Instance, launches []db.Launch) (slaves []Slave, stray, seen []string) {
	requestsSeen := map[string]bool{}
	draining := map[string]bool{}
	pr.mu.Lock()
	// A replacement survives a restart through its tag.
	for _, in := range insts {
		if od := in.Tags[TagReplaces]; od != "" && liveState(in.State) && pr.replacing[in.ID] == "" {
			pr.replacing[in.ID] = od
		}
	}
	for _, od := range pr.replacing {
		draining[od] = true
	}
	pr.mu.Unlock()
	probed := pr.probeAll(ctx, insts)
	for _, in := range insts {
		requestsSeen[in.Tags[cloud.TagRequest]] = true
		sl := Slave{ID: in.ID, LaunchedAt: in.LaunchTime, Market: marketOf(in.Spot)}
		switch in.State {
		case "pending":
			sl.State = StateBooting
		case "running":
			ok := probed[in.ID]
			pr.mu.Lock()
			h := pr.health[in.ID]
			if h == nil {
				h = &health{}
				pr.health[in.ID] = h
			}
			h.ip, h.answered = slaveIP(in), ok
			switch {
			case ok:
				h.everReady, h.failures = true, 0
			case h.everReady:
				h.failures++
			}
			sl.State, sl.Healthy = StateBooting, ok
			if h.everReady {
				sl.State, sl.Healthy = StateReady, h.failures < unhealthyAfter
			}
			pr.mu.Unlock()
		case "stopping", "stopped":
			sl.State = StateGone
			if in.State == "stopped" {
				stray = append(stray, in.ID)
			}
		default: // shutting-down, terminated
			sl.State = StateGone
			pr.mu.Lock()
			first := !pr.goneSeen[in.ID]
			pr.goneSeen[in.ID] = true
			pr.mu.Unlock()
			if first && in.StateReasonCode == "Server.SpotInstanceTermination" {
				seen = append(seen, fmt.Sprintf("slave %s was interrupted by EC2 (spot capacity reclaimed): replacing it", in.ID))
				_ = pr.s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysBalancer), audit.Entry{Action: "balancer.interrupted",
					Target: in.ID, Decision: audit.Done, Reason: in.StateReasonCode, Detail: map[string]any{"pool": pr.cfg.Name}})
			}
		}
		if draining[in.ID] && sl.State != StateGone {
			sl.State = StateDraining
		}
		slaves = append(slaves, sl)
	}
	for _, l := range launches {
		if requestsSeen[l.ID] {
			continue
		}
		for i := range max(l.Count, 1) {
			id := l.ID
			if i > 0 {
				id += "#" + strconv.Itoa(i)
			}
			slaves = append(slaves, Slave{ID: id, State: StateRequested, LaunchedAt: l.CreatedAt, Market: marketOf(l.Spot)})
		}
	}
	pr.mu.Lock()
	for id := range pr.health {
		if !slices.ContainsFunc(insts, func(in cloud.Instance) bool { return in.ID == id }) {
			delete(pr.health, id)
		}
	}
	pr.mu.Unlock()
	return slaves, stray, seen
}

func marketOf(spot bool) string {
	if spot {
		return MarketSpot
	}
	return MarketOnDemand
}

// Markets.
const (
	MarketSpot     = "spot"
	MarketOnDemand = "on-demand"
	marketWaiting  = "waiting"
)

// instanceIDs drops the requested launches' ids from a termination list: they have no
// instance yet (the next poll sees it, or reconcile settles the launch).
func (pr *poolRun) instanceIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, "i-") {
			out = append(out, id)
		}
	}
	return out
}

// terminate ends the pool's instances ids through the instance-action path.
func (pr *poolRun) terminate(ctx context.Context, ids []string, reason string) []string {
	done := terminateRows(ctx, pr.s, pr.cfg.Name, ids, reason)
	pr.mu.Lock()
	for spot, od := range pr.replacing {
		if slices.Contains(done, spot) || slices.Contains(done, od) {
			delete(pr.replacing, spot)
		}
	}
	pr.mu.Unlock()
	return done
}

// terminateRows terminates ids (instances of pool) that the database knows, audited as
// balancer.terminate with reason; it returns those the cloud accepted.
func terminateRows(ctx context.Context, s *Service, pool string, ids []string, reason string) []string {
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.o.DB.ListInstances(ctx, nil, db.InstanceFilter{IDs: ids})
	if err != nil {
		s.log.Warn("terminate: read instances", logPool, pool, logErr, err)
		return nil
	}
	if len(rows) < len(ids) {
		s.log.Warn("terminate: instances not yet recorded are left for the next poll", logPool, pool,
			logCount, len(ids)-len(rows))
	}
	if len(rows) == 0 {
		return nil
	}
	res, err := s.o.Fleet.Act(ctx, fleet.ActionRequest{Kind: fleet.Terminate, Actor: tollgate.SystemActor(tollgate.SysBalancer),
		Prefix: actionPrefix, Instances: rows, Reason: func(db.Instance) string { return reason }})
	if err != nil {
		s.log.Warn("terminate", logPool, pool, logErr, err)
		return nil
	}
	var done []string
	for _, r := range res {
		if r.Err == nil {
			done = append(done, r.ID)
		} else {
			s.log.Warn("terminate refused", logPool, pool, logInstance, r.ID, logErr, r.Err)
		}
	}
	return done
}

// checkBudget applies the pool's monthly budget: spent, the pool drains; when one more
// hour of a new slave would cross it, no launch.
func (pr *poolRun) checkBudget(ctx context.Context, now time.Time, pol *Policy) (why []string, noLaunch bool) {
	if pr.cfg.BudgetUSD <= 0 || pr.s.o.Spend == nil {
		return nil, false
	}
	start := monthStart(now)
	spent, err := pr.s.o.Spend.SpentUSD(ctx, Owner(pr.cfg.Name), start)
	if err != nil {
		return []string{"cannot read the pool's spend (no launch until it can be read): " + err.Error()}, true
	}
	if spent >= pr.cfg.BudgetUSD {
		pol.Draining = true
		msg := fmt.Sprintf("budget spent: $%.2f of $%.2f this month: terminating the pool's slaves", spent, pr.cfg.BudgetUSD)
		if pr.s.o.Notices != nil {
			ref := pr.cfg.Name + "@" + start.Format("2006-01")
			if added, _ := pr.s.o.Notices.Notify(ctx, pr.s.o.Admins, KindBudget, ref, "balancer pool "+pr.cfg.Name+": "+msg); added {
				_ = pr.s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysBalancer), audit.Entry{Action: ActionBudget,
					Target: pr.cfg.Name, Decision: audit.Done, Reason: msg,
					Detail: map[string]any{"spent_usd": spent, "budget_usd": pr.cfg.BudgetUSD}})
			}
		}
		return []string{msg}, true
	}
	hourly := pr.worstHourly()
	if spent+hourly > pr.cfg.BudgetUSD {
		return []string{fmt.Sprintf("no launch: $%.2f spent of $%.2f this month and a slave costs up to $%.4f/h", spent, pr.cfg.BudgetUSD, hourly)}, true
	}
	return nil, false
}

// worstHourly is the highest hourly price a new slave may cost: the bid, or the
// dearest on-demand price of the configured types when falling back.
func (pr *poolRun) worstHourly() float64 {
	worst := pr.cfg.Bid()
	if pr.cfg.Bid() <= 0 || pr.cfg.Fallback == FallbackOnDemand {
		for _, t := range pr.cfg.InstanceTypes {
			if p, err := pr.s.o.OnDemand(pr.cfg.Region, t); err == nil && p > worst {
				worst = p
			}
		}
	}
	return worst
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// statusSlaves is the status view of the slaves.
func statusSlaves(slaves []Slave, insts []cloud.Instance, launches []db.Launch, hs map[string]*health) []tollgate.PoolSlave {
	byID := map[string]cloud.Instance{}
	for _, in := range insts {
		byID[in.ID] = in
	}
	out := make([]tollgate.PoolSlave, 0, len(slaves))
	for _, sl := range slaves {
		ps := tollgate.PoolSlave{ID: sl.ID, State: string(sl.State), Market: sl.Market, LaunchedAt: sl.LaunchedAt, Healthy: sl.Healthy}
		if in, ok := byID[sl.ID]; ok {
			ps.Type, ps.Zone, ps.PrivateIP, ps.PublicIP = in.Type, in.AvailabilityZone, in.PrivateIP, in.PublicIP
		}
		if sl.State == StateGone {
			ps.Healthy = false
		}
		out = append(out, ps)
	}
	return out
}
