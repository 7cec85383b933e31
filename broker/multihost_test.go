package broker

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
)

// peer starts a second daemon on h's database and cloud, with a socket of its own: a
// second login host of the same set. Requests are made as the same user on both.
func (h *harness) peer() *harness {
	h.t.Helper()
	sockDir, err := os.MkdirTemp("", "tg")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg := *h.cfg
	cfg.Broker.Socket = filepath.Join(sockDir, "run", "tollgate.sock")
	p := &harness{t: h.t, ctx: h.ctx, sim: h.sim, cloud: h.cloud, cfg: &cfg, users: h.users, acct: h.acct,
		iam: h.iam, hooks: h.hooks, fleetHooks: &fleet.Hooks{}, logger: h.logger, opt: h.opt}
	p.crash.Store("")
	p.start()
	h.t.Cleanup(p.shutdown)
	return p
}

// launchOnBoth sends n launches at once, alternately to a and b, and returns their errors.
func launchOnBoth(a, b *harness, n int, req api.LaunchRequest) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		c := a.c
		if i%2 == 1 {
			c = b.c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Launch(a.ctx, req)
		}()
	}
	wg.Wait()
	return errs
}

// countAdmitted counts the launches that succeeded, failing the test on any error other than
// a refusal with code that names limit.
func countAdmitted(t *testing.T, errs []error, code, limit string) int {
	t.Helper()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case api.ErrorCode(err) != code:
			t.Errorf("got %v, want success or %s", err, code)
		case !strings.Contains(err.Error(), limit):
			t.Errorf("got %q, want the refusal to name %s", err, limit)
		}
	}
	return ok
}

// wantHeld fails unless the cloud and the database (as both daemons read it) hold
// exactly n instances of alice.
func wantHeld(t *testing.T, a, b *harness, n int) {
	t.Helper()
	if got := len(a.cloudInstances()); got != n {
		t.Errorf("got %d instances in the cloud, want %d", got, n)
	}
	for name, h := range map[string]*harness{"first": a, "second": b} {
		rows, err := h.d.DB().ListInstances(h.ctx, nil, db.InstanceFilter{Owner: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != n {
			t.Errorf("the %s daemon's database holds %d instances, want %d", name, len(rows), n)
		}
	}
}

// TestTwoDaemonsAdmitExactly: two daemons (two login hosts) share one database; 200
// launches by one user at once, split across both, are admitted exactly as one daemon
// would: max_instances=2 gives 2 instances, and a budget that fits one 4-hour lease
// gives one. On PostgreSQL this is the advisory lock every admission takes; on SQLite,
// two processes on one file, BEGIN IMMEDIATE.
func TestTwoDaemonsAdmitExactly(t *testing.T) {
	burst := func(o *Options) { o.MutationBurst = 1000 }
	t.Run("max_instances", func(t *testing.T) {
		a := newHarnessOpts(t, burst)
		b := a.peer()
		a.enrol("alice", "alice")
		errs := launchOnBoth(a, b, 200, api.LaunchRequest{})
		if ok := countAdmitted(t, errs, api.CodeQuotaExceeded, "max_instances is 2"); ok != 2 {
			t.Errorf("got %d launches admitted, want 2", ok)
		}
		wantHeld(t, a, b, 2)
	})
	t.Run("budget", func(t *testing.T) {
		// t3.micro costs $0.0104/h: a 4h lease commits $0.0416 of the $0.05.
		a := newHarnessOpts(t, burst, func(c *config.Config) {
			c.Policy.Default.BudgetUSD = 0.05
			c.Policy.Default.MaxInstances = 1000
			c.Policy.Default.MaxVCPUs = 1000
		})
		b := a.peer()
		a.enrol("alice", "alice")
		errs := launchOnBoth(a, b, 200, api.LaunchRequest{Lifetime: "4h"})
		if ok := countAdmitted(t, errs, api.CodeBudgetExhausted, "budget_usd is $0.05"); ok != 1 {
			t.Errorf("got %d launches admitted, want 1", ok)
		}
		wantHeld(t, a, b, 1)
	})
}
