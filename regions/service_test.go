package regions

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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

const home = "us-west-2"

var allRegions = []string{home, "us-east-1", "eu-west-3"}

// env is the regions manager on awssim behind the real SDK client, a real SQLite file
// and the real fleet; waiting advances the simulated clock.
type env struct {
	t     testing.TB
	ctx   context.Context
	sim   *awssim.Sim
	cl    *cloud.Client
	db    *db.DB
	svc   Service
	crash struct {
		sync.Mutex
		region, step string
	}
}

func newEnv(t testing.TB) *env {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTREGIONS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual", Regions: allRegions})
	cl, err := cloud.New(context.Background(), cloud.Config{Regions: allRegions, EndpointURL: url,
		MaxBackoff: time.Millisecond, RunPerSecond: 1e6, RunBurst: 1e6, Now: sim.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := dbtest.OpenRun(t, dir)
	d.Now = sim.Now
	key := filepath.Join(dir, "navo.pub")
	os.WriteFile(key, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnOlH4Q8m3c9WwmEWp8mVVfdC2G0m1fLCvXcYbaBxrH navo\n"), 0o644)
	sim.AddImage(home, "NAVO")
	sim.AddInstanceProfile("navo-ssm")
	e := &env{t: t, ctx: context.Background(), sim: sim, cl: cl, db: d}
	e.svc = Service{Name: "servicemon", HomeRegion: home, Image: "NAVO", Regions: allRegions, PublicKeyFile: key,
		Rules: []Rule{{FromPort: 22, CIDR: "203.0.113.0/24"}}, InstanceProfile: "navo-ssm",
		Commands: []string{"cd /home/ec2-user/ServiceMon", "./aws.sh"}, Timeout: 30 * time.Minute}
	return e
}

// die is a crash point: the goroutine ends there, as the process would under kill -9
// (only its deferred calls run; no further step is taken).
func (e *env) die(region, step string) {
	e.crash.Lock()
	hit := e.crash.step == step && (e.crash.region == "" || e.crash.region == region)
	if hit {
		e.crash.step = ""
	}
	e.crash.Unlock()
	if hit {
		runtime.Goexit()
	}
}

// manager builds a fresh fleet and manager on e's database and cloud, as a restarted
// daemon would (after its start-up reconcile and Recover).
func (e *env) manager(budget float64) *Manager {
	e.t.Helper()
	return e.managerFor(e.t, func(o *Options) {
		o.Services[0].BudgetUSD = budget
	}, 0)
}

// managerFor is manager with edit applied to the options and parallel regions (0: the
// default).
func (e *env) managerFor(tb testing.TB, edit func(*Options), parallel int) *Manager {
	tb.Helper()
	aud := &audit.Writer{DB: e.db, Now: e.sim.Now}
	hook := func(step string) func() { return func() { e.die("", step) } }
	f, err := fleet.New(fleet.Options{DB: e.db, Cloud: e.cl, Audit: aud, Now: e.sim.Now, Regions: allRegions,
		Hooks: &fleet.Hooks{AfterIntent: hook("after-intent"), BeforeRun: hook("before-run"), AfterRun: hook("after-run"),
			BeforeRecord: hook("before-record")}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := f.Reconcile(e.ctx, 0); err != nil {
		e.t.Fatal(err)
	}
	svc := e.svc
	svc.Parallel = parallel
	o := Options{Services: []Service{svc}, DB: e.db, Cloud: e.cl, Fleet: f, Audit: aud,
		Spend:     spendFunc(func(context.Context, string, time.Time) (float64, error) { return 0, nil }),
		OnDemand:  func(region, typ string) (float64, error) { return 0.0104, nil },
		Now:       e.sim.Now,
		Sleep:     func(ctx context.Context, d time.Duration) error { e.sim.Advance(d); return ctx.Err() },
		AfterStep: func(region, step string) { e.die(region, step) }}
	if edit != nil {
		edit(&o)
	}
	m, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Recover(e.ctx); err != nil {
		tb.Fatal(err)
	}
	return m
}

type spendFunc func(context.Context, string, time.Time) (float64, error)

func (f spendFunc) SpentUSD(ctx context.Context, owner string, since time.Time) (float64, error) {
	return f(ctx, owner, since)
}

// inventory is what of the service exists in region.
func (e *env) inventory(region string) (images, groups, instances int, states []string, untagged int) {
	e.t.Helper()
	imgs, err := e.cl.DescribeImagesOwned(e.ctx, region, []string{"self"}, nil, []string{"NAVO"})
	if err != nil {
		e.t.Fatal(err)
	}
	images = len(imgs)
	gs, err := e.cl.DescribeSecurityGroups(e.ctx, region, cloud.SecurityGroupFilter{Tags: map[string]string{TagService: "servicemon"}})
	if err != nil {
		e.t.Fatal(err)
	}
	groups = len(gs)
	insts, err := e.cl.DescribeInstances(e.ctx, region, cloud.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, in := range insts {
		if in.State == "terminated" {
			continue
		}
		if in.Tags[TagService] != "servicemon" || in.Tags[cloud.TagPurpose] != "service" {
			untagged++
			continue
		}
		instances++
		states = append(states, in.State)
	}
	return
}

func TestSetupKilledAtEveryStepLeavesOneOfEach(t *testing.T) {
	steps := []string{"image", "after-intent", "before-run", "after-run", "before-record", "group", "instance", "stopped"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			e.crash.region, e.crash.step = "", step
			if step == "image" || step == "group" || step == "instance" || step == "stopped" {
				e.crash.region = "eu-west-3"
			}
			if _, err := e.manager(0).Setup(e.ctx, tollgate.UserActor(0, "root"), "servicemon", nil); err != nil {
				t.Fatal(err)
			}
			if e.crash.step != "" {
				t.Fatalf("the setup never reached %s", step)
			}
			res, err := e.manager(0).Setup(e.ctx, tollgate.UserActor(0, "root"), "servicemon", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Error != "" {
					t.Errorf("rerun in %s: %s", r.Region, r.Error)
				}
			}
			for _, region := range allRegions {
				images, groups, instances, states, untagged := e.inventory(region)
				if images != 1 || groups != 1 || instances != 1 || untagged != 0 {
					t.Errorf("%s after a kill at %s and a rerun: %d images, %d groups, %d instances (%v), %d untagged; want one of each",
						region, step, images, groups, instances, states, untagged)
				}
				for _, st := range states {
					if st != "stopped" && st != "stopping" {
						t.Errorf("%s: the instance is %s, want stopped", region, st)
					}
				}
				kp, found, err := e.cl.DescribeKeyPairTagged(e.ctx, region, keyPairName("servicemon"))
				if err != nil || !found || kp.Tags[cloud.TagOwner] != Owner("servicemon") {
					t.Errorf("%s: keypair %+v found %v err %v", region, kp, found, err)
				}
			}
		})
	}
}

// setUp sets the service up in the home region only.
func (e *env) setUp(m *Manager) string {
	e.t.Helper()
	res, err := m.Setup(e.ctx, tollgate.UserActor(0, "root"), "servicemon", []string{home})
	if err != nil || res[0].Error != "" {
		e.t.Fatalf("setup: %+v, %v", res, err)
	}
	e.sim.Advance(time.Minute)
	return res[0].InstanceID
}

func (e *env) state(id string) string {
	e.t.Helper()
	insts, err := e.cl.DescribeInstances(e.ctx, home, cloud.Filter{IDs: []string{id}})
	if err != nil || len(insts) != 1 {
		e.t.Fatalf("describe %s: %v %v", id, insts, err)
	}
	return insts[0].State
}

func TestRunOutcomesAlwaysStop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(e *env, id string)
		status  string
		reason  string
		exit    int
	}{
		{"success", func(e *env, id string) {
			e.sim.SetCommandOutcome(id, awssim.CommandOutcome{Duration: 4 * time.Minute, Stdout: "all services answered\n"})
		}, db.RunSucceeded, "", 0},
		{"command fails", func(e *env, id string) {
			e.sim.SetCommandOutcome(id, awssim.CommandOutcome{ExitCode: 2, Duration: time.Minute, Stderr: "no such file"})
		}, db.RunFailed, "exit code 2", 2},
		{"command times out", func(e *env, id string) {
			e.sim.SetCommandOutcome(id, awssim.CommandOutcome{Duration: 5 * time.Hour})
		}, db.RunTimedOut, "timeout", -1},
		{"agent never online", func(e *env, id string) { e.sim.SetAgentNeverOnline(id, true) }, db.RunFailed, "did not come online", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.manager(0)
			id := e.setUp(m)
			tc.prepare(e, id)
			run, err := m.Run(e.ctx, tollgate.SystemActor(tollgate.SysRegions), "servicemon", home)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != tc.status || !strings.Contains(run.Reason, tc.reason) || run.ExitCode != tc.exit {
				t.Errorf("run = %s (%q) exit %d, want %s containing %q, exit %d", run.Status, run.Reason, run.ExitCode, tc.status, tc.reason, tc.exit)
			}
			if st := e.state(id); st != "stopped" && st != "stopping" {
				t.Errorf("after the run the instance is %s, want it stopped", st)
			}
			runs, _ := m.Runs(e.ctx, "servicemon", 0)
			if len(runs) != 1 || runs[0].Status != tc.status || runs[0].End.IsZero() {
				t.Fatalf("recorded runs = %+v", runs)
			}
			if tc.status == db.RunSucceeded {
				if runs[0].Stdout != "all services answered\n" {
					t.Errorf("stdout = %q", runs[0].Stdout)
				}
				// Billed: boot, the agent's delay, the job and the polling slack.
				job := 4 * time.Minute
				if bill := time.Duration(runs[0].InstanceSeconds * float64(time.Second)); bill > job+awssim.PendingDuration+awssim.AgentDelay+60*time.Second {
					t.Errorf("billed %s for a %s job, want at most job + boot + 60 s", bill, job)
				}
			}
		})
	}
}

func TestKilledMidRunIsStoppedAndRecordedInterrupted(t *testing.T) {
	e := newEnv(t)
	m := e.manager(0)
	id := e.setUp(m)
	// A daemon that died mid-run left a run recorded as running and the instance up.
	runID, err := e.db.StartServiceRun(e.ctx, db.ServiceRun{Service: "servicemon", Region: home, InstanceID: id,
		StartedAt: e.sim.Now(), Status: db.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.act(e.ctx, home, id, fleet.Start, "stopped", "test: the run that will be interrupted"); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	if st := e.state(id); st != "running" {
		t.Fatalf("instance is %s before the restart", st)
	}
	m2 := e.manager(0) // the restart runs Recover
	e.sim.Advance(time.Minute)
	if st := e.state(id); st != "stopped" {
		t.Errorf("after the restart the instance is %s, want stopped", st)
	}
	runs, _ := m2.Runs(e.ctx, "servicemon", 0)
	if len(runs) != 1 || runs[0].ID != runID || runs[0].Status != db.RunInterrupted {
		t.Errorf("runs = %+v, want run %d interrupted", runs, runID)
	}
}

func TestRunOverBudgetRefused(t *testing.T) {
	e := newEnv(t)
	m := e.manager(0.001)
	id := e.setUp(m)
	_, err := m.Run(e.ctx, tollgate.UserActor(0, "root"), "servicemon", home)
	if tollgate.ErrorCode(err) != tollgate.CodeBudgetExhausted {
		t.Fatalf("a run over the budget: %v, want budget_exhausted", err)
	}
	if st := e.state(id); st != "stopped" {
		t.Errorf("the refused run left the instance %s", st)
	}
	es, _ := e.db.ListAudit(e.ctx, db.AuditFilter{Action: ActionRun})
	if len(es) != 1 || es[0].Decision != audit.Refused {
		t.Errorf("audit = %+v, want one refusal", es)
	}
}

func TestCheckReportsDriftAndClearLeavesNothing(t *testing.T) {
	e := newEnv(t)
	m := e.manager(0)
	root := tollgate.UserActor(0, "root")
	if _, err := m.Setup(e.ctx, root, "servicemon", nil); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	checks, err := m.Check(e.ctx, "servicemon")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if len(c.Drift) != 0 || !c.SetUp || c.InstanceState != "stopped" || !c.KeyPair || c.GroupID == "" {
			t.Errorf("%s right after setup: %+v, want set up with no drift", c.Region, c)
		}
	}
	// By hand: the eu-west-3 image deregistered; in us-east-1 the instance terminated
	// and the group deleted.
	byRegion := map[string]tollgate.RegionCheck{}
	for _, c := range checks {
		byRegion[c.Region] = c
	}
	if err := e.cl.DeregisterImage(e.ctx, "eu-west-3", byRegion["eu-west-3"].ImageID); err != nil {
		t.Fatal(err)
	}
	east := byRegion["us-east-1"]
	if _, err := e.cl.TerminateInstances(e.ctx, "us-east-1", []string{east.InstanceID}); err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Minute)
	if err := e.cl.DeleteSecurityGroup(e.ctx, "us-east-1", east.GroupID); err != nil {
		t.Fatal(err)
	}
	checks, _ = m.Check(e.ctx, "servicemon")
	for _, c := range checks {
		drift := strings.Join(c.Drift, "; ")
		switch c.Region {
		case "eu-west-3":
			if !strings.Contains(drift, "image") || !strings.Contains(drift, "gone") {
				t.Errorf("eu-west-3 drift = %q, want the image gone", drift)
			}
		case "us-east-1":
			if !strings.Contains(drift, "security group") || !strings.Contains(drift, "instance") {
				t.Errorf("us-east-1 drift = %q, want the group missing and the instance gone", drift)
			}
		case home:
			if drift != "" {
				t.Errorf("home drift = %q", drift)
			}
		}
	}
	// Clear: the home region is refused; another leaves nothing.
	if err := m.Clear(e.ctx, root, "servicemon", home); tollgate.ErrorCode(err) != tollgate.CodeInvalidRequest {
		t.Errorf("clear of the home region: %v, want refused", err)
	}
	if err := m.Clear(e.ctx, root, "servicemon", "eu-west-3"); err != nil {
		t.Fatal(err)
	}
	images, groups, instances, _, untagged := e.inventory("eu-west-3")
	if images+groups+instances+untagged != 0 {
		t.Errorf("after clear: %d images, %d groups, %d instances, %d untagged in eu-west-3", images, groups, instances, untagged)
	}
	if _, found, _ := e.cl.DescribeKeyPairTagged(e.ctx, "eu-west-3", keyPairName("servicemon")); found {
		t.Error("the keypair survived clear")
	}
	snaps, _ := e.cl.DescribeSnapshots(e.ctx, "eu-west-3", nil)
	if len(snaps) != 0 {
		t.Errorf("snapshots left after clear: %+v", snaps)
	}
	// Set up again after a clear: one of each again.
	if res, err := m.Setup(e.ctx, root, "servicemon", []string{"eu-west-3"}); err != nil || res[0].Error != "" {
		t.Fatalf("setup after clear: %+v %v", res, err)
	}
	if images, groups, instances, _, _ := e.inventory("eu-west-3"); images != 1 || groups != 1 || instances != 1 {
		t.Errorf("after a new setup: %d images, %d groups, %d instances", images, groups, instances)
	}
}

func TestUpdateReplacesEachInstanceAfterTheNewOneIsStopped(t *testing.T) {
	e := newEnv(t)
	m := e.manager(0)
	root := tollgate.UserActor(0, "root")
	before, err := m.Setup(e.ctx, root, "servicemon", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Advance(time.Hour)
	newHome := e.sim.AddImage(home, "NAVO") // a newer image of the same name
	checks, _ := m.Check(e.ctx, "servicemon")
	stale := 0
	for _, c := range checks {
		if c.ImageStale {
			stale++
		}
	}
	if stale != 2 {
		t.Errorf("%d regions reported stale after the home image changed, want the 2 copies", stale)
	}
	res, err := m.Update(e.ctx, root, "servicemon")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Error != "" {
			t.Fatalf("update in %s: %s", r.Region, r.Error)
		}
		if r.InstanceID == before[i].InstanceID {
			t.Errorf("%s kept its old instance %s", r.Region, r.InstanceID)
		}
		if r.Region == home && r.ImageID != newHome {
			t.Errorf("home region runs %s, want the new image %s", r.ImageID, newHome)
		}
	}
	e.sim.Advance(time.Minute)
	for _, region := range allRegions {
		images, _, instances, states, _ := e.inventory(region)
		want := 1
		if region == home {
			want = 2 // both home images are the account's own; update leaves them
		}
		if images != want || instances != 1 || states[0] != "stopped" {
			t.Errorf("%s after update: %d images, %d instances %v; want %d, 1 stopped", region, images, instances, states, want)
		}
	}
	checks, _ = m.Check(e.ctx, "servicemon")
	for _, c := range checks {
		if len(c.Drift) != 0 {
			t.Errorf("%s drift after update: %v", c.Region, c.Drift)
		}
	}
}
