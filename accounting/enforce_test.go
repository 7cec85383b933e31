package accounting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/enforce"
	"github.com/tollgate/tollgate/quota"
)

// simState is the simulator's ground-truth state of id.
func (e *testEnv) simState(id string) string {
	e.t.Helper()
	for _, in := range e.sim.Instances("") {
		if in.ID == id {
			return in.State
		}
	}
	e.t.Fatalf("instance %s not in the simulator", id)
	return ""
}

func (e *testEnv) tick() {
	e.t.Helper()
	if err := e.svc.Tick(context.Background()); err != nil {
		e.t.Fatalf("collector tick: %v", err)
	}
	if err := e.enf.Tick(context.Background()); err != nil {
		e.t.Fatalf("enforcement tick: %v", err)
	}
}

func TestLeaseReaper(t *testing.T) {
	tests := []struct {
		name      string
		action    string
		warning   time.Duration
		wantState []string
	}{
		{"stop after the default warning", quota.ActionStop, 0, []string{"stopping", "stopped"}},
		{"terminate after a 30m warning", quota.ActionTerminate, 30 * time.Minute, []string{"shutting-down", "terminated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			ctx := context.Background()
			e.setPolicy("alice", quota.Policy{ExpireAction: tt.action, ExpireWarning: tt.warning, BudgetPeriod: quota.PeriodMonth})
			lease := 90 * time.Minute
			in := e.launch(region, "alice", "t3.micro", 1, false, lease)[0]
			expiry := e.sim.Now().Add(lease)
			warnAt := expiry.Add(-max(tt.warning, enforce.DefaultExpireWarning))
			var warned, acted time.Time
			for e.sim.Now().Before(expiry.Add(10 * time.Minute)) {
				e.tick()
				now := e.sim.Now()
				if warned.IsZero() {
					if n, err := e.notices.UnreadNotices(ctx, "alice"); err != nil {
						t.Fatal(err)
					} else if n > 0 {
						warned = now
					}
				}
				if acted.IsZero() && !isRunning(e.simState(in.ID)) {
					acted = now
				}
				e.sim.Advance(time.Minute)
			}
			if warned.IsZero() || warned.Before(warnAt) || warned.After(warnAt.Add(time.Minute)) {
				t.Errorf("warning at %v, want within a minute after %v", warned, warnAt)
			}
			if acted.IsZero() || acted.Before(expiry) || acted.After(expiry.Add(2*time.Minute)) {
				t.Errorf("acted at %v, want within 2 minutes after expiry %v", acted, expiry)
			}
			if st := e.simState(in.ID); st != tt.wantState[0] && st != tt.wantState[1] {
				t.Errorf("state: got %s, want %s", st, strings.Join(tt.wantState, " or "))
			}
			notices, err := e.notices.Notices(ctx, "alice", false)
			if err != nil {
				t.Fatal(err)
			}
			if len(notices) != 2 || notices[0].Kind != enforce.KindLeaseWarning || notices[1].Kind != enforce.KindLeaseExpired ||
				notices[0].At.After(notices[1].At) {
				t.Fatalf("notices: got %+v, want a lease warning, then lease expired", notices)
			}
			if n, _ := e.notices.UnreadNotices(ctx, "alice"); n != 0 {
				t.Errorf("unread after reading: got %d, want 0", n)
			}
			audit, err := e.db.ListAudit(ctx, db.AuditFilter{Action: "reap."})
			if err != nil {
				t.Fatal(err)
			}
			if len(audit) != 1 || audit[0].Actor != "tollgated" || audit[0].UID != -1 || audit[0].Decision != db.Done ||
				audit[0].Target != in.ID || audit[0].Action != "reap."+tt.action {
				t.Errorf("audit: got %+v, want one reap.%s of %s by tollgated (uid -1), done", audit, tt.action, in.ID)
			}
			if len(e.mails) != 2 {
				t.Errorf("mails: got %q, want 2", e.mails)
			}
		})
	}
}

func TestBudgetExhausted(t *testing.T) {
	tests := []struct {
		name   string
		action string
		acts   bool
	}{
		{"stop", quota.ActionStop, true},
		{"terminate", quota.ActionTerminate, true},
		{"notify", quota.ActionNotify, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			ctx := context.Background()
			pol := quota.Policy{BudgetUSD: 1, BudgetPeriod: quota.PeriodMonth, BudgetAction: tt.action,
				ExpireAction: quota.ActionStop, MaxInstances: 10, MaxVCPUs: 100, InstanceTypes: []string{"m5.large"},
				Images: []string{"ami-0123456789abcdef0"}, Regions: []string{region}, DefaultLifetime: time.Hour,
				MaxLifetime: 24 * time.Hour, Spot: quota.SpotAllowed}
			e.setPolicy("bob", pol)
			insts := e.launch(region, "bob", "m5.large", 2, false, 0)
			var crossed, stopped time.Time
			for i := 0; i < 8*60 && (stopped.IsZero() || !tt.acts); i++ {
				e.tick()
				led, _ := e.ledgerByID()
				spent := 0.0
				for _, in := range insts {
					spent += led[in.ID].CostUSD
				}
				if crossed.IsZero() && spent >= pol.BudgetUSD {
					crossed = e.sim.Now()
				}
				if stopped.IsZero() && !isRunning(e.simState(insts[0].ID)) && !isRunning(e.simState(insts[1].ID)) {
					stopped = e.sim.Now()
				}
				e.sim.Advance(time.Minute)
			}
			if crossed.IsZero() {
				t.Fatal("the ledger never reached the budget")
			}
			if tt.acts {
				if stopped.IsZero() || stopped.Sub(crossed) > 5*time.Minute {
					t.Errorf("instances acted on at %v, budget reached at %v: want within one collector interval (5m)", stopped, crossed)
				}
			} else if !stopped.IsZero() {
				t.Errorf("budget_action notify acted on instances at %v", stopped)
			}
			kinds := map[string]int{}
			notices, err := e.notices.Notices(ctx, "bob", true)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range notices {
				kinds[n.Kind]++
			}
			if kinds[enforce.KindBudget80] != 1 || kinds[enforce.KindBudget100] != 1 {
				t.Errorf("notices: got %v, want one budget_80 and one budget_100", kinds)
			}
			// Admission (the broker's, through quota.Admit) now refuses any launch.
			start, _, err := e.svc.BudgetPeriod(pol.BudgetPeriod, e.sim.Now())
			if err != nil {
				t.Fatal(err)
			}
			spent, err := e.svc.SpentUSD(ctx, "bob", start)
			if err != nil {
				t.Fatal(err)
			}
			price, _ := e.svc.Prices().OnDemand(region, "m5.large")
			_, ref := quota.Admit(pol, quota.Request{Type: "m5.large", Lifetime: time.Hour},
				quota.Usage{SpentUSD: spent}, quota.Price{HourlyUSD: price, VCPUs: 2})
			if ref == nil || ref.Code != tollgate.CodeBudgetExhausted {
				t.Errorf("admission with $%.4f spent of $%.2f: got %v, want budget_exhausted", spent, pol.BudgetUSD, ref)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.setPolicy("carol", quota.Policy{BudgetUSD: 10, BudgetPeriod: quota.PeriodWeek, ExpireAction: quota.ActionStop})
	in := e.launch(region, "carol", "m5.large", 1, false, 4*time.Hour)
	e.advance(time.Hour)
	u, err := e.svc.Usage(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	price, _ := e.svc.Prices().OnDemand(region, "m5.large")
	if len(u.Instances) != 1 || u.Instances[0].ID != in[0].ID {
		t.Fatalf("instances: got %+v, want %s", u.Instances, in[0].ID)
	}
	if !near(u.SpentUSD, price, price/60) {
		t.Errorf("spent: got %.4f, want about %.4f (one hour)", u.SpentUSD, price)
	}
	if want := 3 * price; !near(u.CommittedUSD, want, price/60) {
		t.Errorf("committed: got %.4f, want %.4f (3 hours of lease left)", u.CommittedUSD, want)
	}
	if !near(u.RemainingUSD, 10-u.SpentUSD, 1e-9) {
		t.Errorf("remaining: got %.4f, want %.4f", u.RemainingUSD, 10-u.SpentUSD)
	}
	if u.HourlyUSD < price {
		t.Errorf("hourly: got %.4f, want at least %.4f", u.HourlyUSD, price)
	}
	if wd := u.PeriodStart.Weekday(); wd != time.Monday || u.PeriodEnd.Sub(u.PeriodStart) != 7*24*time.Hour {
		t.Errorf("period: %v to %v, want a Monday-based week", u.PeriodStart, u.PeriodEnd)
	}
	if u.AsOf.IsZero() {
		t.Error("as_of: zero, want the last snapshot")
	}
}
