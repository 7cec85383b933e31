package accounting

import (
	"context"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/quota"
)

// testEnv is a simulated cloud, the real cloud client pointed at it, a fresh database
// and a Service whose clock is the simulator's.
type testEnv struct {
	t       testing.TB
	sim     *awssim.Sim
	cl      *cloud.Client
	db      *db.DB
	svc     *Service
	notices *enforce.Notifier
	enf     *enforce.Enforcer
	regions []string

	mu       sync.Mutex
	policies map[string]quota.Policy
	mails    []string
}

// envOptions tune newEnv.
type envOptions struct {
	regions []string
	cfg     config.Accounting
	adopt   func(ctx context.Context, insts []cloud.Instance) error
	// engine is the database's engine ("" = the run's, dbtest.Engine).
	engine db.Engine
}

// simPrices overrides every priced type with the simulator's own on-demand prices, so
// cost is comparable with its ledger (the shipped table holds AWS list prices).
func simPrices(regions []string) map[string]float64 {
	m := map[string]float64{}
	for _, r := range regions {
		for _, it := range awssim.InstanceTypes() {
			if p, ok := awssim.OnDemandPrice(r, it.Name); ok {
				m[it.Name+"/"+r] = p
			}
		}
	}
	return m
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	if len(o.regions) == 0 {
		o.regions = []string{"us-west-2"}
	}
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual", Regions: o.regions})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_REGION", o.regions[0])
	ctx := context.Background()
	cl, err := cloud.New(ctx, cloud.Config{Regions: o.regions, EndpointURL: url, RunPerSecond: 1e6, RunBurst: 1e6,
		MaxAttempts: 2, MaxBackoff: time.Millisecond, Now: sim.Now}, nil)
	if err != nil {
		t.Fatalf("cloud client: %v", err)
	}
	var d *db.DB
	if o.engine == "" {
		d = dbtest.OpenRun(t, fastTempDir(t))
	} else {
		var err error
		if d, err = db.Open(ctx, dbtest.Target(t, o.engine)); err != nil {
			t.Fatalf("open %s database: %v", o.engine, err)
		}
		t.Cleanup(func() { d.Close() })
	}
	d.Now = sim.Now
	e := &testEnv{t: t, sim: sim, cl: cl, db: d, regions: o.regions, policies: map[string]quota.Policy{}}
	if o.cfg.Prices == nil {
		o.cfg.Prices = simPrices(o.regions)
	}
	if o.cfg.CollectInterval == 0 {
		o.cfg.CollectInterval = 5 * time.Minute
	}
	policy := func(ctx context.Context, user string) (quota.Policy, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if p, ok := e.policies[user]; ok {
			return p, nil
		}
		return quota.Policy{BudgetPeriod: quota.PeriodMonth, ExpireAction: quota.ActionStop}, nil
	}
	svc, err := New(Options{DB: d, Cloud: cl, Config: o.cfg, Regions: o.regions, Now: sim.Now,
		Adopt: o.adopt, Policy: policy})
	if err != nil {
		t.Fatalf("accounting.New: %v", err)
	}
	e.svc = svc
	// Enforcement, as the daemon wires it, acting through the fleet's action path.
	e.notices = enforce.NewNotifier(enforce.NotifierOptions{DB: d, Now: sim.Now,
		Mail: func(ctx context.Context, to, subject, body string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.mails = append(e.mails, to+": "+subject)
			return nil
		}})
	fl, err := fleet.New(fleet.Options{DB: d, Cloud: cl, Audit: &audit.Writer{DB: d, Now: sim.Now}, Now: sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	if e.enf, err = enforce.New(enforce.Options{DB: d, Fleet: fl, Spend: svc, Notices: e.notices, Policy: policy,
		Now: sim.Now}); err != nil {
		t.Fatal(err)
	}
	return e
}

// fastTempDir is a temporary directory in memory when /dev/shm exists: the tests commit
// thousands of snapshot transactions, and synchronous=FULL on a disk makes each one wait
// for an fsync that proves nothing here.
func fastTempDir(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "tollgate-accounting-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (e *testEnv) setPolicy(user string, p quota.Policy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policies[user] = p
}

// launch runs n instances for owner as the broker would: tag-on-create, then a tracked
// instances row with the launch facts. A zero lease means none.
func (e *testEnv) launch(region, owner, typ string, n int, spot bool, lease time.Duration) []cloud.Instance {
	e.t.Helper()
	ctx := context.Background()
	now := e.sim.Now()
	tags := map[string]string{cloud.TagPurpose: "user"}
	expires := ""
	if owner != "" {
		tags[cloud.TagOwner] = owner
		tags[cloud.TagUID] = "1000"
		if lease > 0 {
			expires = db.Time(now.Add(lease))
			tags[cloud.TagExpires] = expires
		}
	}
	insts, err := e.cl.RunInstances(ctx, cloud.RunInput{Region: region, ImageID: awssim.FixedImageID, Type: typ,
		Count: n, Spot: spot, Tags: tags, Owner: owner, VolumeSizeGB: 8})
	if err != nil {
		e.t.Fatalf("run instances: %v", err)
	}
	if owner == "" {
		return insts
	}
	e.ensureUser(owner)
	for _, in := range insts {
		_, err := e.db.ExecContext(ctx, `INSERT INTO instances(id, owner, uid, region, type, image, purpose, spot,
			tracked, state, launched_at, expires_at, last_seen) VALUES (?, ?, 1000, ?, ?, ?, 'user', ?, 1, 'pending', ?, ?, ?)`,
			in.ID, owner, region, typ, awssim.FixedImageID, spot, db.Time(in.LaunchTime), expires, db.Time(now))
		if err != nil {
			e.t.Fatalf("record instance: %v", err)
		}
	}
	return insts
}

func (e *testEnv) ensureUser(name string) {
	e.t.Helper()
	grp := "section-" + string(name[len(name)-1])
	_, err := e.db.ExecContext(context.Background(), `INSERT INTO users(name, uid, source, grp, created_at, updated_at)
		VALUES (?, 1000, 'admin', ?, ?, ?) ON CONFLICT(name) DO NOTHING`, name, grp, db.Time(e.sim.Now()), db.Time(e.sim.Now()))
	if err != nil {
		e.t.Fatalf("enrol %s: %v", name, err)
	}
}

func (e *testEnv) collect() CollectResult {
	e.t.Helper()
	res, err := e.svc.Collect(context.Background())
	if err != nil {
		e.t.Fatalf("collect: %v", err)
	}
	for _, r := range res.Regions {
		if !r.OK {
			e.t.Fatalf("collect %s: %s", r.Region, r.Error)
		}
	}
	return res
}

// advance moves the clock by d, collecting every 5 minutes as the daemon would.
func (e *testEnv) advance(d time.Duration) {
	e.t.Helper()
	for d > 0 {
		step := min(d, 5*time.Minute)
		e.sim.Advance(step)
		d -= step
		if step == 5*time.Minute {
			e.collect()
		}
	}
}

func (e *testEnv) stop(region string, ids ...string) {
	e.t.Helper()
	if _, err := e.cl.StopInstances(context.Background(), region, ids); err != nil {
		e.t.Fatalf("stop: %v", err)
	}
}

func (e *testEnv) start(region string, ids ...string) {
	e.t.Helper()
	if _, err := e.cl.StartInstances(context.Background(), region, ids); err != nil {
		e.t.Fatalf("start: %v", err)
	}
}

func (e *testEnv) terminate(region string, ids ...string) {
	e.t.Helper()
	if _, err := e.cl.TerminateInstances(context.Background(), region, ids); err != nil {
		e.t.Fatalf("terminate: %v", err)
	}
}

// ledgerByID is the simulator's ground truth per instance.
func (e *testEnv) ledgerByID() (map[string]awssim.LedgerEntry, float64) {
	l := e.sim.Ledger()
	m := map[string]awssim.LedgerEntry{}
	for _, le := range l.Instances {
		m[le.ID] = le
	}
	return m, l.TotalUSD
}

// allCosts is every instance's cost from the start of the simulation to now.
func (e *testEnv) allCosts() (map[string]InstanceCost, float64) {
	e.t.Helper()
	r, err := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart.Add(-24 * time.Hour), By: ByUser})
	if err != nil {
		e.t.Fatalf("report: %v", err)
	}
	m := map[string]InstanceCost{}
	for _, ic := range append(append([]InstanceCost{}, r.Instances...), r.Untracked...) {
		m[ic.ID] = ic
	}
	return m, r.TotalUSD
}

func ids(insts []cloud.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
