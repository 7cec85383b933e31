package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/accounting"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/quota"
)

// TestCloudWithoutIAM: a cloud client that cannot manage IAM identities is a start-up
// error, not a nil cloud handed to iamusers.
func TestCloudWithoutIAM(t *testing.T) {
	h := newHarness(t)
	h.shutdown()
	_, err := New(h.ctx, Options{Config: h.cfg, Cloud: struct{ Cloud }{h.cloud}, Users: h.users, Now: h.sim.Now,
		Accounting: h.acct, Prices: fakePrices{}, AllowRoot: true})
	if err == nil || !strings.Contains(err.Error(), "IAM identities") {
		t.Errorf("New = %v, want an error naming IAM identities", err)
	}
}

// startReal starts the daemon as cmd does: real accounting, IAM identities and price
// table built by New from the configuration. It returns a client and stops the daemon
// when the test ends.
func startReal(t *testing.T, h *harness) *api.Client {
	t.Helper()
	h.shutdown()
	d, err := New(h.ctx, Options{Config: h.cfg, Cloud: h.cloud, Users: h.users, Now: h.sim.Now, AllowRoot: true,
		Hooks: &Hooks{PeerUID: h.users.peerUID}})
	if err != nil {
		t.Fatalf("New with real services: %v", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return api.NewClient(d.Socket())
}

// TestProductionWiring starts the daemon with the real services and walks a launch.
func TestProductionWiring(t *testing.T) {
	h := newHarness(t)
	c := startReal(t, h)
	h.users.as("ops")
	if _, err := c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	h.users.as("alice")
	if _, err := c.UploadSSHKey(h.ctx, newPublicKey(t)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Launch(h.ctx, api.LaunchRequest{})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	q, err := c.Quota(h.ctx)
	if err != nil || q.Usage.Instances != 1 {
		t.Errorf("got %+v, %v; want 1 instance held", q.Usage, err)
	}
	if _, err := c.Usage(h.ctx); err != nil {
		t.Errorf("Usage: %v", err)
	}
	if _, err := c.Terminate(h.ctx, []string{res.Instances[0].ID}); err != nil {
		t.Errorf("Terminate: %v", err)
	}
}

// TestListingCost: an instance that ran an hour shows about an hour's price as cost_usd
// in the user's and the admin's listing, through the real accounting engine.
func TestListingCost(t *testing.T) {
	h := newHarness(t)
	c := startReal(t, h)
	h.users.as("ops")
	if _, err := c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	h.users.as("alice")
	if _, err := c.UploadSSHKey(h.ctx, newPublicKey(t)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Launch(h.ctx, api.LaunchRequest{Type: "t3.micro"})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	id := res.Instances[0].ID
	h.users.as("ops")
	collect := func() {
		t.Helper()
		if _, err := c.Collect(h.ctx); err != nil {
			t.Fatalf("Collect: %v", err)
		}
	}
	collect()
	h.sim.Advance(time.Hour)
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
	admin, err := c.AdminInstances(h.ctx, "", false)
	if err != nil {
		t.Fatalf("AdminInstances: %v", err)
	}
	check("admin instances ls", admin)
	h.users.as("alice")
	mine, err := c.Instances(h.ctx)
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	check("ls", mine)
}

// TestQuotaPeriodAgreesWithUsage: a term budget with no accounting.term_start (reachable
// through a per-user override) falls back to the calendar month in quota as in usage.
func TestQuotaPeriodAgreesWithUsage(t *testing.T) {
	h := newHarness(t)
	c := startReal(t, h)
	h.users.as("ops")
	if _, err := c.AddUsers(h.ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	term := quota.PeriodTerm
	if _, err := c.SetUser(h.ctx, api.UserSetRequest{User: "alice", Set: quota.Override{BudgetPeriod: &term}}); err != nil {
		t.Fatalf("SetUser: %v", err)
	}
	h.users.as("alice")
	q, err := c.Quota(h.ctx)
	if err != nil {
		t.Fatalf("Quota: %v", err)
	}
	u, err := c.Usage(h.ctx)
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	now := h.sim.Now().UTC()
	want := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !q.PeriodStart.Equal(want) || !u.PeriodStart.Equal(want) {
		t.Errorf("period start: quota %v, usage %v; want both %v", q.PeriodStart, u.PeriodStart, want)
	}
}
