package enforce

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/awssim/simtest"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
	"github.com/tollgate/tollgate/quota"
)

// spendAll is a Spend in which every user has spent everything.
type spendAll struct{}

func (spendAll) SpentUSD(context.Context, string, time.Time) (float64, error) { return 1e6, nil }
func (spendAll) PeriodFor(quota.Policy, string, time.Time) (time.Time, time.Time) {
	return time.Time{}, time.Time{}
}

// TestOnlyUserPurposeEnforced: an expired lease and a spent budget stop a user's
// instance, and never a balancer's or a service's, whatever their leases say.
func TestOnlyUserPurposeEnforced(t *testing.T) {
	for _, step := range []string{"reap", "budget"} {
		t.Run(step, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTENFORCE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-not-real")
			t.Setenv("AWS_PROFILE", "")
			t.Setenv("AWS_ENDPOINT_URL", "")
			ctx := context.Background()
			sim, url := simtest.Start(t, awssim.Options{Clock: "manual"})
			cl, err := cloud.New(ctx, cloud.Config{Regions: []string{"us-west-2"}, EndpointURL: url,
				MaxBackoff: time.Millisecond, Now: sim.Now}, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := openDB(t)
			d.Now = sim.Now
			fl, err := fleet.New(fleet.Options{DB: d, Cloud: cl, Audit: &audit.Writer{DB: d, Now: sim.Now}, Now: sim.Now,
				Regions: []string{"us-west-2"}})
			if err != nil {
				t.Fatal(err)
			}
			ids := map[tollgate.Purpose]string{}
			for _, p := range []tollgate.Purpose{tollgate.PurposeUser, tollgate.PurposeBalancer, tollgate.PurposeService} {
				_, rows, err := fl.Launch(ctx, fleet.Spec{Purpose: p, Actor: tollgate.SystemActor(tollgate.SysBalancer),
					Owner: "alice", UID: 2001, Region: "us-west-2", Type: "t3.micro", Image: awssim.FixedImageID,
					Count: 1, Lifetime: map[string]time.Duration{"reap": 30 * time.Minute, "budget": 4 * time.Hour}[step]})
				if err != nil {
					t.Fatalf("launch %s: %v", p, err)
				}
				ids[p] = rows[0].ID
			}
			sim.Advance(time.Hour)
			if _, err := fl.Reconcile(ctx, 0); err != nil {
				t.Fatal(err)
			}
			pol := quota.Policy{ExpireAction: quota.ActionStop, BudgetUSD: 1, BudgetAction: quota.ActionStop}
			if step == "reap" {
				pol.BudgetUSD = 0
			}
			enf, err := New(Options{DB: d, Fleet: fl, Spend: spendAll{}, Notices: NewNotifier(NotifierOptions{DB: d, Now: sim.Now}),
				Policy: func(context.Context, string) (quota.Policy, error) { return pol, nil }, Now: sim.Now})
			if err != nil {
				t.Fatal(err)
			}
			if err := enf.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			state := func(id string) string {
				for _, in := range sim.Instances("us-west-2") {
					if in.ID == id {
						return in.State
					}
				}
				return ""
			}
			if st := state(ids[tollgate.PurposeUser]); st != "stopping" && st != "stopped" {
				t.Errorf("the user's instance is %s, want it stopped", st)
			}
			for _, p := range []tollgate.Purpose{tollgate.PurposeBalancer, tollgate.PurposeService} {
				if st := state(ids[p]); st != "running" {
					t.Errorf("the %s instance is %s, want it left running", p, st)
				}
			}
			acts, _ := d.ListAudit(ctx, db.AuditFilter{Action: map[string]string{"reap": "reap.", "budget": "budget."}[step]})
			if len(acts) != 1 || acts[0].Target != ids[tollgate.PurposeUser] || acts[0].Detail["subsystem"] == nil {
				t.Errorf("audit %+v: want one entry, for the user's instance, naming the subsystem", acts)
			}
		})
	}
}
