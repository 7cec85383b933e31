package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/balancer"
	"github.com/tollgate/tollgate/broker"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/quota"
	"github.com/tollgate/tollgate/regions"
)

const (
	region     = "us-west-2"
	adminGroup = "tg-admin"
)

// users is an in-memory name service; PeerUID makes every request come from cur (the
// test runs as one OS user and acts as several).
type users struct {
	mu  sync.Mutex
	cur int
	all []broker.UserInfo
}

func (u *users) as(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, i := range u.all {
		if i.Name == name {
			u.cur = i.UID
			return
		}
	}
	panic("no user " + name)
}

func (u *users) peerUID(int) int { u.mu.Lock(); defer u.mu.Unlock(); return u.cur }

func (u *users) LookupUID(uid int) (broker.UserInfo, error) {
	for _, i := range u.all {
		if i.UID == uid {
			return i, nil
		}
	}
	return broker.UserInfo{}, broker.ErrNoSuchUser
}

func (u *users) LookupName(name string) (broker.UserInfo, error) {
	for _, i := range u.all {
		if i.Name == name {
			return i, nil
		}
	}
	return broker.UserInfo{}, broker.ErrNoSuchUser
}

// balancerHook points the balancer's readiness probes at a local server answering 403,
// as a GBrowse slave does (set by tests that declare pools).
var balancerHook func(*balancer.Options)

type env struct {
	ctx   context.Context
	cloud *cloud.Client
	sim   *awssim.Sim
	users *users
	c     *api.Client
	d     *Daemon
}

// startSim starts a manual-clock awssim with the daemon's test credentials in the
// environment.
func startSim(t *testing.T) (*awssim.Sim, string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTDAEMON")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	return sim, url
}

// simClient is the real cloud client on sim, at url.
func simClient(t *testing.T, sim *awssim.Sim, url string) *cloud.Client {
	t.Helper()
	cl, err := cloud.New(context.Background(), cloud.Config{Regions: []string{region}, EndpointURL: url,
		MaxBackoff: time.Millisecond, Now: sim.Now}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// testUsers are alice and the admin ops.
func testUsers() *users {
	return &users{all: []broker.UserInfo{
		{Name: "alice", UID: 2001, Groups: []string{"alice"}},
		{Name: "ops", UID: 2004, Groups: []string{"ops", adminGroup}},
	}}
}

// start builds the daemon exactly as `tollgated serve` does, on awssim, and runs it
// until the test ends.
func start(t *testing.T, mod ...func(*config.Config)) *env {
	t.Helper()
	sim, url := startSim(t)
	sockDir, err := os.MkdirTemp("", "tgd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	def := config.DefaultPolicy()
	def.MaxInstances, def.MaxVCPUs = 2, 8
	def.InstanceTypes = []string{"t3.micro", "t3.small"}
	def.Images = []string{awssim.FixedImageID}
	def.Regions = []string{region}
	def.BudgetUSD, def.BudgetPeriod = 50, quota.PeriodMonth
	database := filepath.Join(t.TempDir(), "state", "tollgate.db")
	if dbtest.Engine(t) == db.Postgres {
		database = dbtest.Target(t, db.Postgres)
	}
	cfg := &config.Config{
		Broker: config.Broker{Socket: filepath.Join(sockDir, "run", "tollgate.sock"),
			Database: database, AdminGroup: adminGroup},
		AWS:    config.AWS{Regions: []string{region}, EndpointURL: url},
		Policy: config.Policies{Default: def},
	}
	for _, m := range mod {
		m(cfg)
	}
	cl, u := simClient(t, sim, url), testUsers()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := New(context.Background(), Options{Config: cfg, Cloud: cl, Now: sim.Now, AllowRoot: true, Logger: logger,
		Users: u, PeerUID: u.peerUID, Balancer: balancerHook, Regions: func(o *regions.Options) {
			o.Sleep = func(ctx context.Context, d time.Duration) error { sim.Advance(d); return ctx.Err() }
		}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &env{ctx: context.Background(), cloud: cl, sim: sim, users: u, c: api.NewClient(d.Broker.Socket()), d: d}
}

func (e *env) enrolAlice(t *testing.T) {
	t.Helper()
	e.users.as("ops")
	if _, err := e.c.AddUsers(e.ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	e.users.as("alice")
	if _, err := e.c.UploadSSHKey(e.ctx, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnOlH4Q8m3c9WwmEWp8mVVfdC2G0m1fLCvXcYbaBxrH alice@test"); err != nil {
		t.Fatal(err)
	}
}

// TestProductionWiring starts the daemon with the real services and walks a launch.
func TestProductionWiring(t *testing.T) {
	e := start(t)
	e.enrolAlice(t)
	res, err := e.c.Launch(e.ctx, api.LaunchRequest{})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	q, err := e.c.Quota(e.ctx)
	if err != nil || q.Usage.Instances != 1 {
		t.Errorf("got %+v, %v; want 1 instance held", q.Usage, err)
	}
	if _, err := e.c.Usage(e.ctx); err != nil {
		t.Errorf("Usage: %v", err)
	}
	if _, err := e.c.Terminate(e.ctx, []string{res.Instances[0].ID}); err != nil {
		t.Errorf("Terminate: %v", err)
	}
	var names, background []string
	for _, r := range e.d.Runners {
		names = append(names, r.Name)
	}
	for _, r := range e.d.Background {
		background = append(background, r.Name)
	}
	if got := strings.Join(names, " "); got != "socket reconcile leader" {
		t.Errorf("runners = %s, want the socket, reconcile, and the leader's", got)
	}
	if got := strings.Join(background, " "); got != "collector enforce balancer regions" {
		t.Errorf("background runners = %s, want the collector, enforcement, balancer and regions", got)
	}
	waitFor(t, "the only daemon to lead the background work", e.d.Leading)
}

// TestListingCost: an instance that ran an hour shows about an hour's price as cost_usd
// in the user's and the admin's listing, through the real accounting engine.
func TestListingCost(t *testing.T) {
	e := start(t)
	e.enrolAlice(t)
	res, err := e.c.Launch(e.ctx, api.LaunchRequest{Type: "t3.micro"})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	id := res.Instances[0].ID
	e.users.as("ops")
	collect := func() {
		t.Helper()
		if _, err := e.c.Collect(e.ctx); err != nil {
			t.Fatalf("Collect: %v", err)
		}
	}
	collect()
	e.sim.Advance(time.Hour)
	collect()

	prices, err := accounting.LoadPrices(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hourly, err := prices.OnDemand(region, "t3.micro")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, list []api.Instance) {
		t.Helper()
		if len(list) != 1 || list[0].ID != id {
			t.Fatalf("%s: got %+v, want only %s", name, list, id)
		}
		// An hour of compute (less the few simulated seconds to running) plus the root
		// volume's EBS, which is under a tenth of a t3.micro's hourly price.
		if got := list[0].CostUSD; got < hourly*0.98 || got > hourly*1.1 {
			t.Errorf("%s: cost_usd = %v, want about %v (an hour of t3.micro plus its root volume)", name, got, hourly)
		}
	}
	admin, err := e.c.AdminInstances(e.ctx, "", false)
	if err != nil {
		t.Fatalf("AdminInstances: %v", err)
	}
	check("admin instances ls", admin)
	e.users.as("alice")
	mine, err := e.c.Instances(e.ctx)
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	check("ls", mine)
}

// TestQuotaPeriodAgreesWithUsage: a term budget with no accounting.term_start (reachable
// through a per-user override) falls back to the calendar month in quota as in usage.
func TestQuotaPeriodAgreesWithUsage(t *testing.T) {
	e := start(t)
	e.users.as("ops")
	if _, err := e.c.AddUsers(e.ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	term := quota.PeriodTerm
	if _, err := e.c.SetUser(e.ctx, api.UserSetRequest{User: "alice", Set: quota.Override{BudgetPeriod: &term}}); err != nil {
		t.Fatalf("SetUser: %v", err)
	}
	e.users.as("alice")
	q, err := e.c.Quota(e.ctx)
	if err != nil {
		t.Fatalf("Quota: %v", err)
	}
	u, err := e.c.Usage(e.ctx)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	now := e.sim.Now().UTC()
	want := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !q.PeriodStart.Equal(want) || !u.PeriodStart.Equal(want) {
		t.Errorf("period start: quota %v, usage %v; want both %v", q.PeriodStart, u.PeriodStart, want)
	}
}

func TestCheckRoot(t *testing.T) {
	tests := []struct {
		name    string
		euid    int
		allow   bool
		wantErr bool
	}{
		{"user", 998, false, false},
		{"root refused", 0, false, true},
		{"root allowed", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRoot(tt.euid, tt.allow)
			if (err != nil) != tt.wantErr {
				t.Errorf("got %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "--allow-root") {
				t.Errorf("got %q, want the escape hatch named", err)
			}
		})
	}
}

// TestDatabaseDirectoryChecked: the daemon refuses a database directory others may
// write, and a database path that is a link.
func TestDatabaseDirectoryChecked(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "tollgate.db")
	d, err := OpenDB(ctx, config.Broker{Database: path})
	if err != nil {
		t.Fatalf("OpenDB on a fresh directory: %v", err)
	}
	d.Close()
	t.Run("group-writable", func(t *testing.T) {
		if err := os.Chmod(dir, 0o770); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o750)
		if _, err := OpenDB(ctx, config.Broker{Database: path}); err == nil || !strings.Contains(err.Error(), "database directory") {
			t.Errorf("got %v, want the database directory refused", err)
		}
	})
	t.Run("database is a link", func(t *testing.T) {
		real := path + ".real"
		if err := os.Rename(path, real); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, path); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenDB(ctx, config.Broker{Database: path}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v, want the link refused", err)
		}
	})
}

// TestAdoptedUnverified: an instance tagged as alice's but created outside tollgate is
// adopted, listed by `admin instances ls --adopted` as unverified, and both alice and the
// admins are told.
func TestAdoptedUnverified(t *testing.T) {
	e := start(t)
	e.enrolAlice(t)
	out, err := e.cloud.RunInstances(e.ctx, cloud.RunInput{Region: region, ClientToken: "outside", ImageID: awssim.FixedImageID,
		Type: "t3.micro", Count: 1, Tags: map[string]string{cloud.TagOwner: "alice", cloud.TagPurpose: "user"}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].ID
	e.users.as("ops")
	if _, err := e.c.Reconcile(e.ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	adopted, err := e.c.AdminInstancesWhere(e.ctx, api.AdminInstancesQuery{Adopted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(adopted) != 1 || adopted[0].ID != id || !adopted[0].Unverified || adopted[0].Owner != "alice" {
		t.Errorf("adopted listing %+v: want only %s, alice's, unverified", adopted, id)
	}
	admin, err := e.c.Notices(e.ctx, false)
	if err != nil || len(admin) != 1 || !strings.Contains(admin[0].Message, id) || !strings.Contains(admin[0].Message, "UNVERIFIED") {
		t.Errorf("admin notices %+v, %v: want the unverified adoption of %s", admin, err, id)
	}
	e.users.as("alice")
	own, err := e.c.Notices(e.ctx, false)
	if err != nil || len(own) != 1 || !strings.Contains(own[0].Message, "only its tag says it is yours") {
		t.Errorf("alice's notices %+v, %v: want the adoption, flagged", own, err)
	}
}

// TestRefusalRetentionRunner: with audit_refusal_retention set, the daemon runs the
// audit pruner (audit.TestRefusalRetention tests what it deletes); without, it does not.
func TestRefusalRetentionRunner(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Broker.AuditRefusalRetention = 24 * time.Hour })
	var names []string
	for _, r := range e.d.Background {
		names = append(names, r.Name)
	}
	if !slices.Contains(names, "audit-prune") {
		t.Fatalf("background runners %v: want audit-prune with a retention set", names)
	}
	for _, r := range start(t).d.Background {
		if r.Name == "audit-prune" {
			t.Error("audit-prune runs with no retention set")
		}
	}
}
