package balancer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/fleet"
)

const testRegion = "us-west-2"

// poolEnv is a balancer on awssim behind the real SDK client, a real SQLite file and the
// real fleet, with the slaves' readiness answered by a local HTTP server (403, as a
// GBrowse slave answers) and the load read from a file the test writes.
type poolEnv struct {
	t        *testing.T
	ctx      context.Context
	sim      *awssim.Sim
	cl       *cloud.Client
	db       *db.DB
	dir      string
	loadFile string
	farm     string
	slave    *httptest.Server
	crash    atomic.Value // string: the fleet step at which the process dies
	down     sync.Map     // ip → true: the slave does not answer
	reloads  atomic.Int32
	notices  *recordingNotifier
	pool     Pool
	running  *Service // the service a test breaks the load source of
}

type recordingNotifier struct {
	mu   sync.Mutex
	msgs []string
}

func (n *recordingNotifier) Notify(ctx context.Context, user, kind, ref, message string) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.msgs {
		if m == kind+"|"+ref {
			return false, nil
		}
	}
	n.msgs = append(n.msgs, kind+"|"+ref)
	return true, nil
}

func (n *recordingNotifier) count(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, m := range n.msgs {
		if strings.HasPrefix(m, kind+"|") {
			c++
		}
	}
	return c
}

func newPoolEnv(t *testing.T, edit func(*Pool)) *poolEnv {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTBALANCER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	cl, err := cloud.New(context.Background(), cloud.Config{Regions: []string{testRegion}, EndpointURL: url,
		MaxBackoff: time.Millisecond, RunPerSecond: 1e6, RunBurst: 1e6, Now: sim.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := dbtest.OpenRun(t, dir)
	d.Now = sim.Now
	slave := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // GBrowse's slave: "REQUEST DATASOURCE"
	}))
	t.Cleanup(slave.Close)
	e := &poolEnv{t: t, ctx: context.Background(), sim: sim, cl: cl, db: d, dir: dir,
		loadFile: filepath.Join(dir, "load"), farm: filepath.Join(dir, "renderfarm.conf"), slave: slave,
		notices: &recordingNotifier{}}
	e.crash.Store("")
	e.setLoad(0)
	p := Pool{Name: "gbrowse", LoadSource: "file:" + e.loadFile, Region: testRegion,
		InstanceTypes: []string{"m5.large"}, Image: awssim.FixedImageID, Ports: []int{8101},
		Master: "10.1.2.3", RenderfarmFile: e.farm, ReloadCommand: []string{"/bin/true"},
		LoadTable:    [][]float64{{0.1, 0, 1}, {0.5, 0, 2}, {1.0, 1, 3}, {2.0, 2, 4}},
		PollInterval: 30 * time.Second}
	if edit != nil {
		edit(&p)
	}
	rp, err := p.Resolve()
	if err != nil {
		t.Fatalf("resolve pool: %v", err)
	}
	if errs := (Config{Pools: []Pool{rp}}).Validate(); len(errs) > 0 {
		t.Fatalf("pool does not validate: %v", errs)
	}
	e.pool = rp
	return e
}

func (e *poolEnv) setLoad(v float64) {
	e.t.Helper()
	if err := os.WriteFile(e.loadFile, []byte(strconv.FormatFloat(v, 'f', -1, 64)+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// service builds a fresh fleet and balancer on e's database and cloud, as a restarted
// daemon would (after a reconcile, as daemon.New does).
func (e *poolEnv) service() *Service {
	e.t.Helper()
	die := func(step string) func() {
		return func() {
			if e.crash.Load().(string) == step {
				panic(http.ErrAbortHandler)
			}
		}
	}
	aud := &audit.Writer{DB: e.db, Now: e.sim.Now}
	f, err := fleet.New(fleet.Options{DB: e.db, Cloud: e.cl, Audit: aud, Now: e.sim.Now, Regions: []string{testRegion},
		Hooks: &fleet.Hooks{AfterIntent: die("after-intent"), BeforeRun: die("before-run"), AfterRun: die("after-run"),
			BeforeRecord: die("before-record")}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := f.Reconcile(e.ctx, 0); err != nil {
		e.t.Fatal(err)
	}
	addr := e.slave.Listener.Addr().String()
	s, err := New(Options{Pools: []Pool{e.pool}, DB: e.db, Cloud: e.cl, Fleet: f, Audit: aud, Notices: e.notices,
		Admins: "@admins", OnDemand: func(region, typ string) (float64, error) { return 0.096, nil },
		Now: e.sim.Now, HTTPClient: &http.Client{Timeout: time.Second},
		ProbeAddr: func(ip string, port int) string {
			if _, down := e.down.Load(ip); down {
				return "127.0.0.1:1" // refused
			}
			return addr
		},
		Exec: func(ctx context.Context, argv []string) ([]byte, error) {
			e.reloads.Add(1)
			return nil, nil
		}})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// tick advances the clock by d and runs one tick, recovering a simulated kill.
func (e *poolEnv) tick(s *Service, d time.Duration) (killed bool) {
	e.t.Helper()
	e.sim.Advance(d)
	defer func() {
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler {
				panic(r)
			}
			killed = true
		}
	}()
	s.Tick(e.ctx)
	return false
}

// live lists the pool's instances in the cloud that are pending or running.
func (e *poolEnv) live() []cloud.Instance {
	e.t.Helper()
	insts, err := e.cl.DescribeInstances(e.ctx, testRegion, poolFilter(e.pool.Name))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []cloud.Instance
	for _, in := range insts {
		if in.State == "pending" || in.State == "running" {
			out = append(out, in)
		}
	}
	return out
}

func (e *poolEnv) status(s *Service) tollgate.PoolStatus {
	e.t.Helper()
	st, err := s.Status(e.ctx, e.pool.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *poolEnv) renderers() []string {
	e.t.Helper()
	b, err := os.ReadFile(e.farm)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, " ") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func TestLoadStepScalesToMinThenTrimsAfterStabilization(t *testing.T) {
	e := newPoolEnv(t, nil)
	s := e.service()
	e.tick(s, 0)
	if n := len(e.live()); n != 0 {
		t.Fatalf("idle pool has %d slaves, want 0", n)
	}
	e.setLoad(2.5) // the table's 2.0 row: 2..4
	e.tick(s, 30*time.Second)
	if n := len(e.live()); n != 2 {
		t.Fatalf("after the load step: %d slaves, want the table's min 2 within one poll", n)
	}
	// The launch time: pending for awssim.PendingDuration, then the port answers.
	e.tick(s, 30*time.Second)
	st := e.status(s)
	if st.Counts["ready"] != 2 {
		t.Fatalf("one poll after boot: %d ready, want 2 (%+v)", st.Counts["ready"], st.Counts)
	}
	if got := e.renderers(); len(got) != 2 {
		t.Fatalf("renderfarm has %v, want the 2 ready slaves", got)
	}
	if e.reloads.Load() == 0 {
		t.Error("the master was not reloaded after the renderfarm changed")
	}
	reloads := e.reloads.Load()
	e.tick(s, 30*time.Second)
	if e.reloads.Load() != reloads {
		t.Error("the master was reloaded although the set of ready slaves did not change")
	}
	// The load falls to nothing: the pool stays for the stabilisation window, then goes.
	e.setLoad(0)
	stab := e.pool.Stabilization
	var gone time.Duration
	for el := 30 * time.Second; el <= stab+10*time.Minute; el += 30 * time.Second {
		e.tick(s, 30*time.Second)
		n := len(e.live())
		if el < stab && n != 2 {
			t.Fatalf("%s after the load fell (window %s): %d slaves, want 2 kept", el, stab, n)
		}
		if n == 0 && gone == 0 {
			gone = el
		}
	}
	if gone == 0 {
		t.Fatalf("the pool was never trimmed after the load fell")
	}
	t.Logf("trimmed %s after the load fell (stabilization %s)", gone, stab)
	e.tick(s, 30*time.Second)
	if got := e.renderers(); len(got) != 0 {
		t.Errorf("renderfarm still lists %v after the pool was trimmed", got)
	}
}

func TestSecurityGroupAdmitsOnlyTheMaster(t *testing.T) {
	e := newPoolEnv(t, func(p *Pool) { p.Ports = []int{8101, 8102} })
	s := e.service()
	e.tick(s, 0)
	gs, err := e.cl.DescribeSecurityGroups(e.ctx, testRegion, cloud.SecurityGroupFilter{Names: []string{GroupName("gbrowse")}})
	if err != nil || len(gs) != 1 {
		t.Fatalf("managed group: %v, %v", gs, err)
	}
	check := func(g cloud.SecurityGroup) {
		t.Helper()
		var got []string
		for _, r := range flatten(g.Ingress) {
			got = append(got, fmt.Sprintf("%s/%d-%d/%s%s", r.proto, r.from, r.to, r.cidr, r.source))
		}
		want := []string{"tcp/8101-8101/10.1.2.3/32", "tcp/8102-8102/10.1.2.3/32"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("ingress = %v, want only %v", got, want)
		}
	}
	check(gs[0])
	// A rule added by hand is revoked at the next poll.
	if err := e.cl.AuthorizeIngress(e.ctx, testRegion, gs[0].ID, []cloud.Permission{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRs: []string{"0.0.0.0/0"}}}); err != nil {
		t.Fatal(err)
	}
	e.tick(s, 30*time.Second)
	gs, _ = e.cl.DescribeSecurityGroups(e.ctx, testRegion, cloud.SecurityGroupFilter{IDs: []string{gs[0].ID}})
	check(gs[0])
	// A restarted daemon finds the same group (by its record, then its tag).
	if err := e.db.PutBalancerPool(e.ctx, nil, db.BalancerPool{Name: "gbrowse", Region: testRegion, OverrideMin: -1, OverrideMax: -1}); err != nil {
		t.Fatal(err)
	}
	s2 := e.service()
	e.tick(s2, 30*time.Second)
	all, _ := e.cl.DescribeSecurityGroups(e.ctx, testRegion, cloud.SecurityGroupFilter{Tags: map[string]string{TagPool: "gbrowse"}})
	if len(all) != 1 {
		t.Fatalf("%d managed groups after a restart that lost the record, want 1", len(all))
	}
	// The launched slaves are in that group.
	e.setLoad(1.5)
	e.tick(s2, 30*time.Second)
	e.tick(s2, 30*time.Second)
	for _, in := range e.live() {
		if len(in.SecurityGroups) != 1 || in.SecurityGroups[0] != all[0].ID {
			t.Errorf("slave %s in groups %v, want only %s", in.ID, in.SecurityGroups, all[0].ID)
		}
	}
}

func TestLoadSourceFailingHoldsThePool(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(e *poolEnv)
	}{
		{"missing", func(e *poolEnv) { os.Remove(e.loadFile) }},
		{"garbage", func(e *poolEnv) { os.WriteFile(e.loadFile, []byte("<html>busy</html>"), 0o600) }},
		{"connection refused", func(e *poolEnv) {
			src, err := NewSource("apache:http://127.0.0.1:1/server-status?auto", "", SourceOptions{Timeout: time.Second})
			if err != nil {
				e.t.Fatal(err)
			}
			for _, pr := range e.running.pools {
				pr.src = src
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPoolEnv(t, func(p *Pool) { p.FailureNotify = 3 })
			s := e.service()
			e.running = s
			e.setLoad(1.5) // 1..3
			e.tick(s, 0)
			e.tick(s, 30*time.Second)
			before := len(e.live())
			if before != 1 {
				t.Fatalf("%d slaves before the failure, want 1", before)
			}
			tc.break_(e)
			for i := range 10 {
				e.tick(s, 30*time.Second)
				if n := len(e.live()); n != before {
					t.Fatalf("poll %d of a failing source: %d slaves, want %d held", i+1, n, before)
				}
			}
			if st := e.status(s); st.LoadOK || st.State != "holding" || st.PollFails != 10 {
				t.Errorf("status = load_ok %v state %q failures %d, want false, holding, 10", st.LoadOK, st.State, st.PollFails)
			}
			if n := e.notices.count(KindLoadFailing); n != 1 {
				t.Errorf("%d admin notices for the failing source, want 1", n)
			}
		})
	}
}

func TestSpotAboveBid(t *testing.T) {
	t.Run("wait", func(t *testing.T) {
		e := newPoolEnv(t, func(p *Pool) { p.SpotBid = bid(0.05); p.Fallback = FallbackWait })
		e.sim.SetSpotPrice(testRegion, "", "m5.large", 0.09)
		s := e.service()
		e.setLoad(1.5)
		e.tick(s, 0)
		e.tick(s, 30*time.Second)
		if n := len(e.live()); n != 0 {
			t.Fatalf("%d slaves launched with the spot price above the bid and fallback wait", n)
		}
		if st := e.status(s); st.Market != marketWaiting {
			t.Errorf("market = %q, want %q", st.Market, marketWaiting)
		}
		e.sim.SetSpotPrice(testRegion, "", "m5.large", 0.03)
		e.tick(s, 30*time.Second)
		live := e.live()
		if len(live) != 1 || !live[0].Spot {
			t.Fatalf("after the price fell: %v, want one spot slave", live)
		}
	})
	t.Run("fallback on-demand and back", func(t *testing.T) {
		e := newPoolEnv(t, func(p *Pool) { p.SpotBid = bid(0.05); p.Fallback = FallbackOnDemand })
		e.sim.SetSpotPrice(testRegion, "", "m5.large", 0.09)
		s := e.service()
		e.setLoad(1.5)
		e.tick(s, 0)
		e.tick(s, 30*time.Second)
		live := e.live()
		if len(live) != 1 || live[0].Spot {
			t.Fatalf("with fallback on-demand: %v, want one on-demand slave", live)
		}
		od := live[0].ID
		e.tick(s, 30*time.Second) // ready
		e.sim.SetSpotPrice(testRegion, "", "m5.large", 0.03)
		e.tick(s, 30*time.Second) // a spot replacement is launched
		e.tick(s, 30*time.Second) // it is ready: the on-demand one goes
		e.tick(s, 30*time.Second)
		live = e.live()
		if len(live) != 1 || !live[0].Spot || live[0].ID == od {
			t.Fatalf("after the price fell: %v, want the on-demand %s replaced by one spot slave", live, od)
		}
		entries, err := e.db.ListAudit(e.ctx, db.AuditFilter{Action: ActionFallback})
		if err != nil || len(entries) < 2 {
			t.Errorf("fallback audit entries = %d (%v), want the move to on-demand and back", len(entries), err)
		}
	})
}

func TestSpotInterruptionReplacedWithinOnePoll(t *testing.T) {
	e := newPoolEnv(t, func(p *Pool) { p.SpotBid = bid(0.5) })
	s := e.service()
	e.setLoad(1.5)
	e.tick(s, 0)
	e.tick(s, 30*time.Second)
	e.tick(s, 30*time.Second)
	live := e.live()
	if len(live) != 1 {
		t.Fatalf("%d slaves, want 1", len(live))
	}
	if err := e.sim.InterruptSpot(live[0].ID); err != nil {
		t.Fatal(err)
	}
	e.tick(s, 30*time.Second)
	now := e.live()
	if len(now) != 1 || now[0].ID == live[0].ID {
		t.Fatalf("one poll after the interruption: %v, want a replacement for %s", now, live[0].ID)
	}
}

func TestCapacityErrorTriesTheNextType(t *testing.T) {
	e := newPoolEnv(t, func(p *Pool) { p.InstanceTypes = []string{"m5.large", "m6i.large"} })
	e.sim.SetFaults(awssim.Faults{InsufficientCapacity: []awssim.CapacityFault{{Region: testRegion, Type: "m5.large"}}})
	s := e.service()
	e.setLoad(1.5)
	e.tick(s, 0)
	e.tick(s, 30*time.Second)
	live := e.live()
	if len(live) != 1 || live[0].Type != "m6i.large" {
		t.Fatalf("with no m5.large capacity: %v, want one m6i.large", live)
	}
}

func TestKilledMidScaleUpLeavesNoOrphanOrDuplicate(t *testing.T) {
	for _, step := range []string{"after-intent", "before-run", "after-run", "before-record"} {
		t.Run(step, func(t *testing.T) {
			e := newPoolEnv(t, nil)
			s := e.service()
			e.tick(s, 0)
			e.setLoad(2.5) // wants 2
			e.crash.Store(step)
			if !e.tick(s, 30*time.Second) {
				t.Fatalf("the launch did not die at %s", step)
			}
			e.crash.Store("")
			// Restart: reconcile settles the interrupted launch, then the pool decides.
			s2 := e.service()
			for range 4 {
				e.tick(s2, 30*time.Second)
			}
			live := e.live()
			if len(live) != 2 {
				t.Fatalf("after a kill %s and a restart: %d slaves, want exactly 2", step, len(live))
			}
			rows, err := e.db.ListInstances(e.ctx, nil, db.InstanceFilter{LiveOnly: true, Purposes: []string{"balancer"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("the database records %d live balancer instances, want 2", len(rows))
			}
		})
	}
}

func TestPauseDrainSetOverride(t *testing.T) {
	e := newPoolEnv(t, nil)
	s := e.service()
	admin := tollgate.UserActor(0, "root")
	e.setLoad(1.5)
	if _, err := s.Pause(e.ctx, admin, "gbrowse"); err != nil {
		t.Fatal(err)
	}
	e.tick(s, 0)
	e.tick(s, 30*time.Second)
	if n := len(e.live()); n != 0 {
		t.Fatalf("a paused pool launched %d slaves", n)
	}
	if _, err := s.Set(e.ctx, admin, "gbrowse", 3, 3, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(e.ctx, admin, "gbrowse"); err != nil {
		t.Fatal(err)
	}
	e.tick(s, 30*time.Second)
	if n := len(e.live()); n != 3 {
		t.Fatalf("with an override 3..3: %d slaves, want 3", n)
	}
	if _, err := s.Set(e.ctx, admin, "gbrowse", 5, 2, time.Hour); err == nil {
		t.Error("an override with min > max was accepted")
	}
	if _, err := s.Drain(e.ctx, admin, "gbrowse"); err != nil {
		t.Fatal(err)
	}
	e.tick(s, 30*time.Second)
	if n := len(e.live()); n != 0 {
		t.Fatalf("a drained pool keeps %d slaves", n)
	}
	if st := e.status(s); st.State != "draining" {
		t.Errorf("state = %q, want draining", st.State)
	}
	if _, err := s.Status(e.ctx, "nope"); tollgate.ErrorCode(err) != tollgate.CodeNotFound {
		t.Errorf("status of an unknown pool: %v, want not_found", err)
	}
	entries, _ := e.db.ListAudit(e.ctx, db.AuditFilter{Actor: "root"})
	if len(entries) < 4 {
		t.Errorf("%d audit entries by the admin, want pause, set, resume, drain", len(entries))
	}
}

func TestUnhealthySlaveLeavesTheRenderfarmAndIsReplaced(t *testing.T) {
	e := newPoolEnv(t, nil)
	s := e.service()
	e.setLoad(1.5)
	e.tick(s, 0)
	e.tick(s, 30*time.Second)
	e.tick(s, 30*time.Second)
	live := e.live()
	if len(live) != 1 || len(e.renderers()) != 1 {
		t.Fatalf("%d slaves, renderers %v: want 1 and 1", len(live), e.renderers())
	}
	e.down.Store(live[0].PrivateIP, true)
	e.tick(s, 30*time.Second)
	if got := e.renderers(); len(got) != 0 {
		t.Fatalf("a slave that stopped answering is still in the renderfarm: %v", got)
	}
	e.tick(s, 30*time.Second)
	now := e.live()
	if len(now) != 1 || now[0].ID == live[0].ID {
		t.Fatalf("after two failed checks: %v, want %s replaced", now, live[0].ID)
	}
}

func TestRemovedPoolIsWoundDown(t *testing.T) {
	e := newPoolEnv(t, nil)
	s := e.service()
	e.setLoad(1.5)
	e.tick(s, 0)
	e.tick(s, 30*time.Second)
	if len(e.live()) != 1 {
		t.Fatal("no slave to wind down")
	}
	e.pool.Name = "other" // the configuration no longer has gbrowse
	e.pool.LoadSource = "file:" + e.loadFile
	s2 := e.service()
	for range 6 {
		e.tick(s2, 30*time.Second)
	}
	insts, _ := e.cl.DescribeInstances(e.ctx, testRegion, poolFilter("gbrowse"))
	for _, in := range insts {
		if in.State != "terminated" {
			t.Errorf("slave %s of the removed pool is %s", in.ID, in.State)
		}
	}
	gs, _ := e.cl.DescribeSecurityGroups(e.ctx, testRegion, cloud.SecurityGroupFilter{Names: []string{GroupName("gbrowse")}})
	if len(gs) != 0 {
		t.Errorf("the removed pool's group is still there: %v", gs)
	}
	if _, ok, _ := e.db.GetBalancerPool(e.ctx, "gbrowse"); ok {
		t.Error("the removed pool's record is still there")
	}
}

func TestDataSnapshotsAttached(t *testing.T) {
	var snap string
	e := newPoolEnv(t, nil)
	snap = e.sim.AddSnapshot(testRegion, 40, nil)
	e.pool.DataSnapshots = []string{snap}
	s := e.service()
	e.setLoad(1.5)
	e.tick(s, 0)
	e.tick(s, 30*time.Second)
	live := e.live()
	if len(live) != 1 {
		t.Fatalf("%d slaves, want 1", len(live))
	}
	vols, err := e.cl.DescribeVolumes(e.ctx, testRegion, []string{live[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range vols {
		if v.SnapshotID == snap {
			found = true
			if v.SizeGB != 40 || !v.DeleteOnTermination {
				t.Errorf("data volume %+v: want 40 GiB from %s, deleted on termination", v, snap)
			}
		}
	}
	if !found {
		t.Errorf("no volume from %s among %+v", snap, vols)
	}
}

var _ = net.JoinHostPort

func bid(v float64) *float64 { return &v }
