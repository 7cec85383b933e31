package broker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/iamusers"
	"github.com/tollgate/tollgate/quota"
)

// The real cloud client satisfies the broker's interface.
var _ Cloud = (*cloud.Client)(nil)

const (
	region     = "us-west-2"
	adminGroup = "tg-admin"
	enrolGroup = "students"
)

// fakeUsers is an in-memory name service. Tests run as one OS user, so the harness's
// Hooks.PeerUID maps the kernel's peer uid (recorded in realUID) to the uid of whichever
// user the test is acting as.
type fakeUsers struct {
	mu      sync.Mutex
	byUID   map[int]UserInfo
	cur     int
	realUID int
	// passthrough serves requests as the real peer uid.
	passthrough bool
}

func newFakeUsers() *fakeUsers {
	u := &fakeUsers{byUID: map[int]UserInfo{}, realUID: -1}
	for _, info := range []UserInfo{
		{Name: "root", UID: 0, Groups: []string{"root"}},
		{Name: "alice", UID: 2001, Groups: []string{"alice"}},
		{Name: "bob", UID: 2002, Groups: []string{"bob"}},
		{Name: "carol", UID: 2003, Groups: []string{"carol", enrolGroup}},
		{Name: "ops", UID: 2004, Groups: []string{"ops", adminGroup}},
		{Name: "dave", UID: 2005, Groups: []string{"dave"}},
	} {
		u.byUID[info.UID] = info
	}
	return u
}

// as makes the following requests come from name.
func (f *fakeUsers) as(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for uid, info := range f.byUID {
		if info.Name == name {
			f.cur = uid
			return
		}
	}
	panic("fakeUsers: no user " + name)
}

// current is the name of the user requests come from.
func (f *fakeUsers) current() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byUID[f.cur].Name
}

// peerUID is the harness's Hooks.PeerUID.
func (f *fakeUsers) peerUID(real int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.realUID = real
	if f.passthrough {
		return real
	}
	return f.cur
}

func (f *fakeUsers) LookupUID(uid int) (UserInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if info, ok := f.byUID[uid]; ok {
		return info, nil
	}
	return UserInfo{}, ErrNoSuchUser
}

func (f *fakeUsers) LookupName(name string) (UserInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, info := range f.byUID {
		if info.Name == name {
			return info, nil
		}
	}
	return UserInfo{}, ErrNoSuchUser
}

// fakeAccounting stands in for the accounting engine: spend is what the test says.
type fakeAccounting struct {
	mu       sync.Mutex
	spent    map[string]float64
	unread   map[string]int
	notified map[string][]string // user → "kind ref"
}

func (f *fakeAccounting) Usage(ctx context.Context, user string) (accounting.Usage, error) {
	return accounting.Usage{User: user}, nil
}
func (f *fakeAccounting) SpentUSD(ctx context.Context, user string, since time.Time) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spent[user], nil
}
func (f *fakeAccounting) InstanceCosts(ctx context.Context, ids []string) (map[string]float64, error) {
	return map[string]float64{}, nil
}
func (f *fakeAccounting) PeriodFor(pol quota.Policy, user string, now time.Time) (time.Time, time.Time) {
	start, err := quota.PeriodStart(pol.BudgetPeriod, now, time.Time{})
	if err != nil {
		start, _ = quota.PeriodStart(quota.PeriodMonth, now, time.Time{})
	}
	return start, time.Time{}
}
func (f *fakeAccounting) Collect(ctx context.Context) (accounting.CollectResult, error) {
	return accounting.CollectResult{}, nil
}
func (f *fakeAccounting) Report(ctx context.Context, req accounting.ReportRequest) (accounting.Report, error) {
	return accounting.Report{}, nil
}
func (f *fakeAccounting) Notices(ctx context.Context, user string, all bool) ([]accounting.Notice, error) {
	return nil, nil
}
func (f *fakeAccounting) UnreadNotices(ctx context.Context, user string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unread[user], nil
}
func (f *fakeAccounting) Notify(ctx context.Context, user, kind, ref, message string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notified == nil {
		f.notified = map[string][]string{}
	}
	f.notified[user] = append(f.notified[user], kind+" "+ref)
	return true, nil
}

// fakePrices is a fixed price table.
type fakePrices struct{}

func (fakePrices) OnDemand(region, typ string) (float64, error) {
	switch typ {
	case "t3.micro":
		return 0.0104, nil
	case "t3.small":
		return 0.0208, nil
	case "m5.large":
		return 0.096, nil
	}
	return 0, errors.New("no price for " + typ)
}

func (fakePrices) VCPUs(typ string) (int, error) {
	switch typ {
	case "t3.micro", "t3.small", "m5.large":
		return 2, nil
	}
	return 0, errors.New("unknown type " + typ)
}

// fakeIAM records revocations.
type fakeIAM struct {
	mu        sync.Mutex
	revoked   []string
	revokeAll iamusers.RevokeResult // what RevokeAll returns
}

func (f *fakeIAM) Issue(ctx context.Context, user string, rotate bool) (iamusers.Credentials, error) {
	return iamusers.Credentials{User: user, IAMUser: "tollgate-" + user, AccessKeyID: "AKIAFAKE"}, nil
}
func (f *fakeIAM) List(ctx context.Context) ([]iamusers.Identity, error) { return nil, nil }
func (f *fakeIAM) Revoke(ctx context.Context, user string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, user)
	return nil
}
func (f *fakeIAM) RevokeAll(ctx context.Context) (iamusers.RevokeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revokeAll, nil
}

// harness is a real daemon on a real socket and database (an SQLite file, or a
// PostgreSQL database when the run's engine is postgres), in front of awssim through the
// real SDK client.
type harness struct {
	t          testing.TB
	ctx        context.Context
	sim        *awssim.Sim
	cloud      *cloud.Client
	cfg        *config.Config
	users      *fakeUsers
	acct       *fakeAccounting
	iam        *fakeIAM
	hooks      *Hooks
	fleetHooks *fleet.Hooks
	crash      atomic.Value // string: the launch step at which the daemon "dies"
	// readOnly starts the daemon on a read-only database (every write fails).
	readOnly bool
	// diskFull makes writing an action's settlement fail as a full disk would.
	diskFull atomic.Bool
	d        *Daemon
	db       *db.DB
	fleet    *fleet.Fleet
	c        *api.Client
	stop     context.CancelFunc
	done     chan error
	logger   *slog.Logger
	opt      func(*Options)
}

func testPolicy() quota.Policy {
	return quota.Policy{
		MaxInstances: 2, MaxVCPUs: 8, InstanceTypes: []string{"t3.micro", "t3.small"},
		Images: []string{awssim.FixedImageID, "ubuntu/images/*"}, Regions: []string{region},
		DefaultLifetime: 4 * time.Hour, MaxLifetime: 12 * time.Hour, ExpireAction: quota.ActionStop,
		BudgetUSD: 50, BudgetPeriod: quota.PeriodMonth, BudgetAction: quota.ActionStop, Spot: quota.SpotAllowed,
	}
}

// newHarness starts awssim and a daemon; mod adjusts the configuration first.
func newHarness(t testing.TB, mod ...func(*config.Config)) *harness {
	t.Helper()
	return newHarnessOpts(t, nil, mod...)
}

// newHarnessOpts is newHarness with opt adjusting the daemon's Options at every start.
func newHarnessOpts(t testing.TB, opt func(*Options), mod ...func(*config.Config)) *harness {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTBROKER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	// Unix socket paths are limited to 108 bytes: t.TempDir() can be longer.
	sockDir, err := os.MkdirTemp("", "tg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg := &config.Config{
		Broker: config.Broker{
			Socket:       filepath.Join(sockDir, "run", "tollgate.sock"),
			Database:     dbtest.RunTarget(t),
			AdminGroup:   adminGroup,
			EnrollGroups: []string{enrolGroup},
		},
		AWS:    config.AWS{Regions: []string{region}, EndpointURL: url},
		Policy: config.Policies{Default: testPolicy()},
	}
	for _, m := range mod {
		m(cfg)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cl, err := cloud.New(context.Background(), cloud.Config{
		Regions: []string{region}, EndpointURL: url, MaxBackoff: time.Millisecond,
		RunPerSecond: 10000, RunBurst: 10000, Now: sim.Now,
	}, logger)
	if err != nil {
		t.Fatalf("cloud.New: %v", err)
	}
	h := &harness{t: t, ctx: context.Background(), sim: sim, cloud: cl, cfg: cfg, users: newFakeUsers(),
		acct: &fakeAccounting{spent: map[string]float64{}, unread: map[string]int{}}, iam: &fakeIAM{},
		logger: logger, opt: opt}
	h.users.as("alice")
	h.crash.Store("")
	h.hooks = &Hooks{PeerUID: h.users.peerUID}
	h.fleetHooks = &fleet.Hooks{
		AfterIntent:  h.crashAt("after-intent"),
		BeforeRun:    h.crashAt("before-run"),
		AfterRun:     h.crashAt("after-run"),
		BeforeRecord: h.crashAt("before-record"),
		BeforeCall:   h.crashAt("before-call"),
		BeforeSettle: func() error {
			h.crashAt("before-settle")()
			if h.diskFull.Load() {
				return errors.New("database or disk is full (13)")
			}
			return nil
		},
	}
	h.start()
	t.Cleanup(h.shutdown)
	return h
}

// crashAt returns a hook that kills the request at step when the test asks for it: the
// handler dies on the spot, as the whole daemon would under kill -9.
func (h *harness) crashAt(step string) func() {
	return func() {
		if h.crash.Load().(string) == step {
			panic(http.ErrAbortHandler)
		}
	}
}

// start starts a daemon on the harness's configuration, database and cloud, wired as
// package daemon wires the real one (with the harness's fakes for accounting, notices,
// IAM and prices): the socket claimed, the database opened, a fleet, the start-up
// reconcile, then the socket server and the fleet's reconcile loop.
func (h *harness) start() {
	h.t.Helper()
	ln, err := Listen(h.cfg.Broker)
	if err != nil {
		h.t.Fatalf("Listen: %v", err)
	}
	open := db.Open
	if h.readOnly {
		open = db.OpenReadOnly
	}
	store, err := open(h.ctx, h.cfg.Broker.Database)
	if err != nil {
		h.t.Fatalf("db.Open: %v", err)
	}
	store.Now = h.sim.Now
	aud := &audit.Writer{DB: store, Log: h.logger, Now: h.sim.Now}
	var d *Daemon
	fl, err := fleet.New(fleet.Options{DB: store, Cloud: h.cloud, Audit: aud, Log: h.logger, Now: h.sim.Now,
		Regions: h.cfg.AllRegions(), Hooks: h.fleetHooks,
		Purposes: map[tollgate.Purpose]fleet.PurposeRules{tollgate.PurposeUser: {
			DefaultLifetime: func(ctx context.Context, owner string) (time.Duration, error) {
				pol, err := d.PolicyOf(ctx, owner)
				return pol.DefaultLifetime, err
			},
			Adopted: func(ctx context.Context, row db.Instance) {
				h.acct.Notify(ctx, row.Owner, enforce.KindAdopted, row.ID, "adopted")
			},
		}}})
	if err != nil {
		h.t.Fatalf("fleet.New: %v", err)
	}
	opts := Options{
		Config: h.cfg, Logger: h.logger, Now: h.sim.Now, Listener: ln, DB: store, Cloud: h.cloud, Fleet: fl,
		Audit: aud, Users: h.users, Hooks: h.hooks, Accounting: h.acct, Notices: h.acct, IAM: h.iam,
		Prices: fakePrices{},
	}
	if h.opt != nil {
		h.opt(&opts)
	}
	if d, err = New(opts); err != nil {
		h.t.Fatalf("New: %v", err)
	}
	if _, err := fl.Reconcile(h.ctx, 0); err != nil {
		h.t.Logf("start-up reconcile: %v", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	h.d, h.db, h.fleet, h.stop, h.done = d, store, fl, cancel, make(chan error, 1)
	go func() {
		done := make(chan struct{})
		go func() { fl.Run(ctx); close(done) }()
		err := d.Serve(ctx)
		<-done
		h.done <- errors.Join(err, store.Close())
	}()
	h.c = api.NewClient(d.Socket())
}

// kill abandons the daemon as kill -9 would: nothing of the launch in flight is cleaned
// up; the socket and the database handle are simply gone.
func (h *harness) kill() {
	h.t.Helper()
	h.d.Close()
	h.db.Close()
	h.stop()
	<-h.done
	h.d = nil
}

func (h *harness) shutdown() {
	if h.d == nil {
		return
	}
	h.stop()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.d = nil
}

// enrol enrols users as an admin and gives each an SSH key, then becomes as.
func (h *harness) enrol(as string, users ...string) {
	h.t.Helper()
	h.users.as("ops")
	if _, err := h.c.AddUsers(h.ctx, api.UsersAddRequest{Users: users}); err != nil {
		h.t.Fatalf("AddUsers(%v): %v", users, err)
	}
	for _, u := range users {
		h.users.as(u)
		if _, err := h.c.UploadSSHKey(h.ctx, newPublicKey(h.t)); err != nil {
			h.t.Fatalf("UploadSSHKey as %s: %v", u, err)
		}
	}
	h.users.as(as)
}

// newPublicKey returns a fresh ed25519 public key in authorized_keys format.
func newPublicKey(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(sp))
}

// cloudInstances is every instance the simulator ever launched, by id.
func (h *harness) cloudInstances() map[string]awssim.Instance {
	out := map[string]awssim.Instance{}
	for _, in := range h.sim.Instances("") {
		out[in.ID] = in
	}
	return out
}

// wantCode fails unless err is a broker error with code.
func wantCode(t testing.TB, err error, code string) *api.Error {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want a %s error", err, code)
	}
	if e.Code != code {
		t.Fatalf("got %s error %q, want code %s", e.Code, e.Message, code)
	}
	return e
}
