package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/quota"
)

// settle advances the simulated clock past every transition and reconciles, so the
// database holds the cloud's states.
func (h *harness) settle() {
	h.t.Helper()
	h.sim.Advance(time.Minute)
	as := h.users.current()
	h.users.as("ops")
	defer h.users.as(as)
	if _, err := h.c.Reconcile(h.ctx); err != nil {
		h.t.Fatalf("Reconcile: %v", err)
	}
}

func (h *harness) launchIDs(req api.LaunchRequest) []string {
	h.t.Helper()
	res, err := h.c.Launch(h.ctx, req)
	if err != nil {
		h.t.Fatalf("Launch(%+v): %v", req, err)
	}
	var ids []string
	for _, in := range res.Instances {
		ids = append(ids, in.ID)
	}
	return ids
}

// TestStartIsAdmitted is the review's finding #1: stop → launch → start must not run
// more vCPUs than max_vcpus, nor restart an expired lease, nor cross the budget.
func TestStartIsAdmitted(t *testing.T) {
	t.Run("max_vcpus", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.Policy.Default.MaxInstances = 4; c.Policy.Default.MaxVCPUs = 4 })
		h.enrol("alice", "alice")
		first := h.launchIDs(api.LaunchRequest{Count: 2})
		h.settle()
		if _, err := h.c.Stop(h.ctx, first); err != nil {
			t.Fatal(err)
		}
		h.settle()
		h.launchIDs(api.LaunchRequest{Count: 2})
		_, err := h.c.Start(h.ctx, first)
		e := wantCode(t, err, api.CodeQuotaExceeded)
		if !strings.Contains(e.Message, "max_vcpus is 4") {
			t.Errorf("got %q, want max_vcpus named", e.Message)
		}
		for _, id := range first {
			if st := h.cloudInstances()[id].State; st != "stopped" {
				t.Errorf("%s: got cloud state %s, want stopped", id, st)
			}
		}
		entries, err := h.d.DB().ListAudit(h.ctx, db.AuditFilter{Action: "start"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Decision != db.Refused || entries[0].Detail["limit"] != "max_vcpus" {
			t.Errorf("got audit %+v, want one refused start naming max_vcpus", entries)
		}
	})
	t.Run("admitted start marks pending", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.Policy.Default.MaxInstances = 4; c.Policy.Default.MaxVCPUs = 4 })
		h.enrol("alice", "alice")
		ids := h.launchIDs(api.LaunchRequest{Count: 2})
		h.settle()
		if _, err := h.c.Stop(h.ctx, ids); err != nil {
			t.Fatal(err)
		}
		h.settle()
		res, err := h.c.Start(h.ctx, ids)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		for _, r := range res.Results {
			if r.Error != nil || r.State != "pending" {
				t.Errorf("got %+v, want pending", r)
			}
		}
		// The started vCPUs now count: a launch is refused.
		_, err = h.c.Launch(h.ctx, api.LaunchRequest{})
		wantCode(t, err, api.CodeQuotaExceeded)
	})
	t.Run("expired lease", func(t *testing.T) {
		h := newHarness(t)
		h.enrol("alice", "alice")
		ids := h.launchIDs(api.LaunchRequest{Lifetime: "1h"})
		h.settle()
		if _, err := h.c.Stop(h.ctx, ids); err != nil {
			t.Fatal(err)
		}
		h.sim.Advance(2 * time.Hour)
		h.settle()
		_, err := h.c.Start(h.ctx, ids)
		e := wantCode(t, err, api.CodeQuotaExceeded)
		if !strings.Contains(e.Message, "expired at") || !strings.Contains(e.Message, "extend it first") {
			t.Errorf("got %q, want the expiry named and extend suggested", e.Message)
		}
		if _, err := h.c.Extend(h.ctx, ids[0], "3h"); err != nil {
			t.Fatalf("Extend: %v", err)
		}
		if _, err := h.c.Start(h.ctx, ids); err != nil {
			t.Errorf("Start after extend: %v", err)
		}
	})
	t.Run("budget", func(t *testing.T) {
		// t3.micro costs $0.0104/h: a 4h lease commits $0.0416.
		h := newHarness(t, func(c *config.Config) { c.Policy.Default.BudgetUSD = 0.06 })
		h.enrol("alice", "alice")
		first := h.launchIDs(api.LaunchRequest{Lifetime: "4h"})
		h.settle()
		if _, err := h.c.Stop(h.ctx, first); err != nil {
			t.Fatal(err)
		}
		h.settle()
		// The stopped lease stays committed: a second 4h lease would cross $0.06.
		_, err := h.c.Launch(h.ctx, api.LaunchRequest{Lifetime: "4h"})
		wantCode(t, err, api.CodeBudgetExhausted)
		h.launchIDs(api.LaunchRequest{Lifetime: "1h"})
		h.acct.mu.Lock()
		h.acct.spent["alice"] = 0.01
		h.acct.mu.Unlock()
		_, err = h.c.Start(h.ctx, first)
		e := wantCode(t, err, api.CodeBudgetExhausted)
		if !strings.Contains(e.Message, "budget_usd is $0.06") {
			t.Errorf("got %q, want the budget named", e.Message)
		}
	})
	t.Run("budget spent with notify", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.Policy.Default.BudgetAction = "notify" })
		h.enrol("alice", "alice")
		ids := h.launchIDs(api.LaunchRequest{})
		h.settle()
		if _, err := h.c.Stop(h.ctx, ids); err != nil {
			t.Fatal(err)
		}
		h.settle()
		h.acct.mu.Lock()
		h.acct.spent["alice"] = 50
		h.acct.mu.Unlock()
		_, err := h.c.Start(h.ctx, ids)
		wantCode(t, err, api.CodeBudgetExhausted)
	})
}

// TestExtendChecksBudget: extending a lease commits more, so it is admitted against the
// budget like a launch.
func TestExtendChecksBudget(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Policy.Default.BudgetUSD = 0.05 })
	h.enrol("alice", "alice")
	ids := h.launchIDs(api.LaunchRequest{Lifetime: "1h"})
	if _, err := h.c.Extend(h.ctx, ids[0], "2h"); err != nil {
		t.Fatalf("extend within the budget: %v", err)
	}
	_, err := h.c.Extend(h.ctx, ids[0], "9h")
	e := wantCode(t, err, api.CodeBudgetExhausted)
	if !strings.Contains(e.Message, "extending "+ids[0]+" by 9h") {
		t.Errorf("got %q, want the extension named", e.Message)
	}
	list, err := h.c.Instances(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := list[0].ExpiresAt.Sub(list[0].LaunchedAt), 3*time.Hour; got != want {
		t.Errorf("got lease %v after the refusal, want %v", got, want)
	}
	entries, err := h.d.DB().ListAudit(h.ctx, db.AuditFilter{Action: "extend"})
	if err != nil {
		t.Fatal(err)
	}
	var refused int
	for _, e := range entries {
		if e.Decision == db.Refused && e.Detail["code"] == api.CodeBudgetExhausted {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("got %d budget refusals of extend in the audit, want 1: %+v", refused, entries)
	}
}

// TestPolicyUsesConfigMerge: the broker's effective policy is config.EffectivePolicy's,
// so a group missing from GroupOrder (a configuration built in code) still applies,
// after the listed ones.
func TestPolicyUsesConfigMerge(t *testing.T) {
	three, seven := 3, 7
	h := newHarness(t, func(c *config.Config) {
		c.Policy.Group = map[string]quota.Override{
			"carol":    {MaxInstances: &three},
			enrolGroup: {MaxInstances: &seven},
		}
		c.Policy.GroupOrder = []string{enrolGroup}
	})
	h.users.as("carol")
	q, err := h.c.Quota(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := h.d.cfg.EffectivePolicy([]string{"carol", enrolGroup}, nil)
	if q.Policy.MaxInstances != 3 || q.Policy.MaxInstances != want.MaxInstances {
		t.Errorf("got max_instances %d, want 3 (config.EffectivePolicy says %d)", q.Policy.MaxInstances, want.MaxInstances)
	}
}
