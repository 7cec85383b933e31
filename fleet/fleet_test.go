package fleet

import (
	"context"
	"errors"
	"net/http"
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
)

const region = "us-west-2"

// env is awssim behind the real SDK client, a real SQLite file, and a fleet on them that
// can be "restarted" (a new Fleet on the same database and cloud, as after kill -9).
type env struct {
	t     *testing.T
	ctx   context.Context
	sim   *awssim.Sim
	cl    *cloud.Client
	db    *db.DB
	crash atomic.Value // string: the step at which the launch dies
	// lookups counts calls of the user purpose's DefaultLifetime (a policy lookup).
	lookups atomic.Int32
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTFLEET")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
	cl, err := cloud.New(context.Background(), cloud.Config{Regions: []string{region}, EndpointURL: url,
		MaxBackoff: time.Millisecond, RunPerSecond: 1e6, RunBurst: 1e6, Now: sim.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.OpenRun(t, "")
	d.Now = sim.Now
	e := &env{t: t, ctx: context.Background(), sim: sim, cl: cl, db: d}
	e.crash.Store("")
	return e
}

// fleet is a fresh Fleet on e's database and cloud.
func (e *env) fleet() *Fleet {
	e.t.Helper()
	die := func(step string) func() {
		return func() {
			if e.crash.Load().(string) == step {
				panic(http.ErrAbortHandler)
			}
		}
	}
	f, err := New(Options{DB: e.db, Cloud: e.cl, Audit: &audit.Writer{DB: e.db, Now: e.sim.Now}, Now: e.sim.Now,
		Regions: []string{region},
		Purposes: map[tollgate.Purpose]PurposeRules{tollgate.PurposeUser: {
			DefaultLifetime: func(ctx context.Context, owner string) (time.Duration, error) {
				e.lookups.Add(1)
				return time.Hour, nil
			},
		}},
		Hooks: &Hooks{AfterIntent: die("after-intent"), BeforeRun: die("before-run"), AfterRun: die("after-run"),
			BeforeRecord: die("before-record"), BeforeCall: die("before-call"),
			BeforeSettle: func() error { die("before-settle")(); return nil }},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// killed runs fn and reports whether it died at a crash hook.
func killed(fn func()) (died bool) {
	defer func() {
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler {
				panic(r)
			}
			died = true
		}
	}()
	fn()
	return false
}

func balancerSpec() Spec {
	return Spec{Purpose: tollgate.PurposeBalancer, Actor: tollgate.SystemActor(tollgate.SysBalancer),
		Owner: "balancer:gbrowse", UID: -1, Region: region, Type: "t3.micro", Image: awssim.FixedImageID,
		Count: 1, Name: "gbrowse-slave", Spot: true, Tags: map[string]string{"tollgate:pool": "gbrowse"}}
}

func (e *env) cloudInstances() []awssim.Instance {
	var out []awssim.Instance
	for _, in := range e.sim.Instances(region) {
		if in.Visible {
			out = append(out, in)
		}
	}
	return out
}

// TestBalancerLaunchSurvivesKills: a balancer launch killed at every step of the launch
// path ends, after a restart's reconcile, with every cloud instance recorded with the
// balancer purpose and its launch, nothing launched twice, no launch left requested, and
// no user policy looked up.
func TestBalancerLaunchSurvivesKills(t *testing.T) {
	tests := []struct {
		step      string
		lostReply bool
		wantCloud int
		wantState string
	}{
		{"none", false, 1, db.LaunchLaunched},
		{"after-intent", false, 0, db.LaunchFailed},
		{"before-run", false, 0, db.LaunchFailed},
		{"after-run", true, 1, db.LaunchLaunched},
		{"after-run", false, 1, db.LaunchLaunched},
		{"before-record", false, 1, db.LaunchLaunched},
	}
	for _, tt := range tests {
		name := tt.step
		if tt.lostReply {
			name += " with the response lost"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if tt.lostReply {
				e.sim.SetFaults(awssim.Faults{FailAfterApply: map[string]float64{"RunInstances": 1}})
			}
			e.crash.Store(tt.step)
			f := e.fleet()
			died := killed(func() {
				if _, _, err := f.Launch(e.ctx, balancerSpec()); err != nil && tt.step == "none" {
					t.Fatalf("Launch: %v", err)
				}
			})
			if died != (tt.step != "none") {
				t.Fatalf("died = %v at step %s", died, tt.step)
			}
			e.crash.Store("")
			e.sim.SetFaults(awssim.Faults{})
			if _, err := e.fleet().Reconcile(e.ctx, 0); err != nil {
				t.Fatalf("Reconcile after restart: %v", err)
			}
			inCloud := e.cloudInstances()
			if len(inCloud) != tt.wantCloud {
				t.Fatalf("got %d instances in the cloud, want %d", len(inCloud), tt.wantCloud)
			}
			for _, ci := range inCloud {
				if ci.Tags["tollgate:purpose"] != "balancer" || ci.Tags["tollgate:pool"] != "gbrowse" || ci.Tags["tollgate:expires"] != "" {
					t.Errorf("cloud instance %s tags %v: want purpose balancer, the pool tag, no expiry", ci.ID, ci.Tags)
				}
				rows, err := e.db.ListInstances(e.ctx, nil, db.InstanceFilter{IDs: []string{ci.ID}})
				if err != nil || len(rows) != 1 {
					t.Fatalf("instance %s: %d rows, %v", ci.ID, len(rows), err)
				}
				if r := rows[0]; r.Purpose != "balancer" || r.Owner != "balancer:gbrowse" || r.LaunchID == "" || !r.ExpiresAt.IsZero() {
					t.Errorf("row %+v: want purpose balancer, its owner, linked to its launch, no lease", r)
				}
			}
			if left, _ := e.db.LaunchesInState(e.ctx, db.LaunchRequested); len(left) != 0 {
				t.Errorf("%d launches still requested", len(left))
			}
			settled, _ := e.db.LaunchesInState(e.ctx, tt.wantState)
			if len(settled) != 1 || settled[0].Purpose != "balancer" {
				t.Errorf("got %+v %s launches, want one with purpose balancer", settled, tt.wantState)
			}
			if n := e.lookups.Load(); n != 0 {
				t.Errorf("a user policy was looked up %d times for a balancer launch", n)
			}
		})
	}
}

// TestAdoptionByPurpose: tagged instances the database lacks are adopted with their
// purpose; only a user instance without an expiry tag asks the user rules for a lease.
func TestAdoptionByPurpose(t *testing.T) {
	e := newEnv(t)
	run := func(purpose string) string {
		t.Helper()
		insts, err := e.cl.RunInstances(e.ctx, cloud.RunInput{Region: region, ClientToken: purpose + "-token",
			ImageID: awssim.FixedImageID, Type: "t3.micro", Count: 1,
			Tags: map[string]string{cloud.TagOwner: "someone", cloud.TagPurpose: purpose}})
		if err != nil {
			t.Fatal(err)
		}
		return insts[0].ID
	}
	bal, svc := run("balancer"), run("service")
	res, err := e.fleet().Reconcile(e.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Adopted) != 2 {
		t.Fatalf("adopted %d, want 2", len(res.Adopted))
	}
	if n := e.lookups.Load(); n != 0 {
		t.Errorf("user policy looked up %d times adopting balancer and service instances", n)
	}
	for id, want := range map[string]string{bal: "balancer", svc: "service"} {
		rows, _ := e.db.ListInstances(e.ctx, nil, db.InstanceFilter{IDs: []string{id}})
		if len(rows) != 1 || rows[0].Purpose != want || !rows[0].Adopted || !rows[0].ExpiresAt.IsZero() {
			t.Errorf("%s: got %+v, want an adopted %s instance without a lease", id, rows, want)
		}
	}
	user := run("user")
	if _, err := e.fleet().Reconcile(e.ctx, 0); err != nil {
		t.Fatal(err)
	}
	rows, _ := e.db.ListInstances(e.ctx, nil, db.InstanceFilter{IDs: []string{user}})
	if e.lookups.Load() != 1 || len(rows) != 1 || rows[0].ExpiresAt.IsZero() {
		t.Errorf("user instance: %d lookups, rows %+v; want one lookup and a lease", e.lookups.Load(), rows)
	}
}

// TestActionSettledAfterKill: a stop or terminate killed after its intent (before or
// after the cloud call), or whose settlement write fails as on a full disk, ends after a
// restart's reconcile with the database agreeing with the cloud, the intent's audit
// entry present and the settlement audited.
func TestActionSettledAfterKill(t *testing.T) {
	tests := []struct {
		kind, step string
		full       bool   // the settlement's write fails
		want       string // the cloud's state after
		outcome    string
	}{
		{Terminate, "before-settle", false, "shutting-down", db.ActionDone},
		{Stop, "before-settle", false, "stopping", db.ActionDone},
		{Terminate, "", true, "shutting-down", db.ActionDone},
		{Stop, "", true, "stopping", db.ActionDone},
		{Terminate, "before-call", false, "running", db.ActionFailed},
	}
	for _, tt := range tests {
		name := tt.kind + " " + tt.step
		if tt.full {
			name = tt.kind + " with the disk full"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			f := e.fleet()
			spec := balancerSpec()
			spec.Spot = false // a one-time spot instance cannot be stopped
			_, rows, err := f.Launch(e.ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			e.sim.Advance(time.Minute) // running
			if _, err := f.Reconcile(e.ctx, 0); err != nil {
				t.Fatal(err)
			}
			rows, _ = e.db.ListInstances(e.ctx, nil, db.InstanceFilter{IDs: []string{rows[0].ID}})
			id := rows[0].ID
			if rows[0].State != "running" {
				t.Fatalf("state %s, want running before the action", rows[0].State)
			}
			if tt.full {
				f.hooks.BeforeSettle = func() error { return errors.New("database or disk is full (13)") }
			}
			e.crash.Store(tt.step)
			req := ActionRequest{Kind: tt.kind, Actor: tollgate.SystemActor(tollgate.SysBalancer), Prefix: "balancer",
				Instances: rows}
			died := killed(func() { f.Act(e.ctx, req) })
			if died != (tt.step != "") {
				t.Fatalf("died = %v, want %v", died, tt.step != "")
			}
			e.crash.Store("")
			// Before any reconcile, the database must not say running for an instance
			// the cloud is stopping or terminating.
			mid, _ := e.db.ListInstances(e.ctx, nil, db.InstanceFilter{IDs: []string{id}})
			if tt.want != "running" && mid[0].State == "running" {
				t.Errorf("before reconcile: database says running while the cloud is %s", tt.want)
			}
			if _, err := e.fleet().Reconcile(e.ctx, 0); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			var cloudState string
			for _, ci := range e.sim.Instances(region) {
				if ci.ID == id {
					cloudState = ci.State
				}
			}
			after, _ := e.db.ListInstances(e.ctx, nil, db.InstanceFilter{IDs: []string{id}})
			if cloudState != tt.want || after[0].State != cloudState {
				t.Errorf("cloud %s, database %s; want both %s", cloudState, after[0].State, tt.want)
			}
			acts, _ := e.db.ListActions(e.ctx, id)
			if len(acts) != 1 || acts[0].State != tt.outcome {
				t.Errorf("action records %+v, want one %s", acts, tt.outcome)
			}
			intent, _ := e.db.ListAudit(e.ctx, db.AuditFilter{Action: "balancer." + tt.kind})
			settled, _ := e.db.ListAudit(e.ctx, db.AuditFilter{Action: audit.ReconcileAction})
			if len(intent) != 1 || intent[0].Target != id || intent[0].Detail["subsystem"] != tollgate.SysBalancer {
				t.Errorf("intent audit entries %+v, want one for %s by the balancer", intent, id)
			}
			if len(settled) != 1 || settled[0].Target != id {
				t.Errorf("settlement audit entries %+v, want one for %s", settled, id)
			}
		})
	}
}

// TestActionRefusedLeavesNothing: an action whose intent cannot be written does not
// reach the cloud.
func TestActionRefusedLeavesNothing(t *testing.T) {
	e := newEnv(t)
	f := e.fleet()
	_, rows, err := f.Launch(e.ctx, balancerSpec())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	cancel() // the intent's transaction cannot begin
	if _, err := f.Act(ctx, ActionRequest{Kind: Terminate, Actor: tollgate.SystemActor(tollgate.SysBalancer), Instances: rows}); err == nil {
		t.Fatal("Act with no intent written: got nil error")
	}
	for _, ci := range e.sim.Instances(region) {
		if ci.State == "shutting-down" || ci.State == "terminated" {
			t.Errorf("instance %s is %s: the cloud was called without an intent", ci.ID, ci.State)
		}
	}
}
