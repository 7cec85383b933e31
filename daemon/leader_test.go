package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/quota"
)

// waitFor polls cond (wall time, up to 20 s) and fails the test if it never holds. The
// things waited for are driven by the simulated clock; only the loops' ticks are wall
// time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// host is one login host's daemon in a multi-host test.
type host struct {
	name   string
	d      *Daemon
	c      *api.Client
	cancel context.CancelFunc
	done   chan error
}

// startHost starts a daemon on the shared database and cloud, as `tollgated serve` builds
// it, with the background loops ticking every few milliseconds of wall time.
func startHost(t *testing.T, name string, cfg config.Config, cl *cloud.Client, sim *awssim.Sim, u *users) *host {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "tg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg.Broker.Socket = filepath.Join(sockDir, "run", "tollgate.sock")
	d, err := New(context.Background(), Options{Config: &cfg, Cloud: cl, Now: sim.Now, AllowRoot: true,
		Users: u, PeerUID: u.peerUID, LeadPoll: 20 * time.Millisecond, Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("New %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &host{name: name, d: d, c: api.NewClient(d.Broker.Socket()), cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		if h.cancel != nil {
			h.cancel()
			<-h.done
		}
	})
	return h
}

// kill ends h as kill -9 would for the database server: every session of h's ends at
// once (the server sees the connections close), and h does nothing more.
func (h *host) kill(t *testing.T, admin *db.DB, appName string) {
	t.Helper()
	if _, err := admin.ExecContext(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?`, appName); err != nil {
		t.Fatal(err)
	}
	h.cancel()
	<-h.done
	h.cancel = nil
}

// TestLeaderTakeover: two hosts share a PostgreSQL database; exactly one runs the
// collector and the reaper. When it is killed, the other takes both over within the
// next collect interval; no snapshot is taken twice for one interval and no instance is
// reaped twice.
func TestLeaderTakeover(t *testing.T) {
	sim, url := startSim(t)
	target := dbtest.Target(t, db.Postgres)
	def := config.DefaultPolicy()
	def.MaxInstances, def.MaxVCPUs = 4, 16
	def.InstanceTypes = []string{"t3.micro"}
	def.Images = []string{awssim.FixedImageID}
	def.Regions = []string{region}
	def.ExpireAction = quota.ActionStop
	def.ExpireWarning = time.Minute
	const every = 10 * time.Minute
	base := config.Config{
		Broker:     config.Broker{AdminGroup: adminGroup},
		AWS:        config.AWS{Regions: []string{region}, EndpointURL: url},
		Policy:     config.Policies{Default: def},
		Accounting: config.Accounting{CollectInterval: every},
	}
	cl, u := simClient(t, sim, url), testUsers()
	// Each host names its sessions, so the test can end one host's sessions alone.
	cfgA, cfgB := base, base
	cfgA.Broker.Database = target + "&application_name=host-a"
	cfgB.Broker.Database = target + "&application_name=host-b"
	a := startHost(t, "a", cfgA, cl, sim, u)
	waitFor(t, "host a to lead", a.d.Leading)
	b := startHost(t, "b", cfgB, cl, sim, u)
	ctx := context.Background()
	watch, err := db.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	snapshots := func() int {
		var n int
		if err := watch.QueryRowContext(ctx, `SELECT coalesce(sum(runs), 0) FROM acct_region_runs`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	reaps := func(id string) int {
		entries, err := watch.ListAudit(ctx, db.AuditFilter{Action: "reap", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Target == id && e.Decision != db.Refused {
				n += max(e.Count, 1)
			}
		}
		return n
	}
	// settled lets both hosts' loops tick many times over.
	settled := func() { time.Sleep(100 * time.Millisecond) }

	u.as("ops")
	if _, err := a.c.AddUsers(ctx, api.UsersAddRequest{Users: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	u.as("alice")
	if _, err := b.c.UploadSSHKey(ctx, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnOlH4Q8m3c9WwmEWp8mVVfdC2G0m1fLCvXcYbaBxrH alice@test"); err != nil {
		t.Fatal(err)
	}
	launch := func(h *host, lifetime string) string {
		t.Helper()
		res, err := h.c.Launch(ctx, api.LaunchRequest{Lifetime: lifetime})
		if err != nil {
			t.Fatalf("launch on %s: %v", h.name, err)
		}
		return res.Instances[0].ID
	}
	first := launch(b, "1h")
	second := launch(a, "3h")

	// One interval: the leader takes one snapshot, the follower none.
	waitFor(t, "the first snapshot", func() bool { return snapshots() == 1 })
	sim.Advance(every)
	waitFor(t, "the second snapshot", func() bool { return snapshots() == 2 })
	settled()
	if n := snapshots(); n != 2 {
		t.Fatalf("got %d snapshots after one interval, want 2 (one at start, one after the interval)", n)
	}
	if b.d.Leading() {
		t.Fatalf("both hosts lead")
	}
	// The first lease ends: reaped once.
	sim.Advance(time.Hour)
	waitFor(t, "the first instance reaped", func() bool { return reaps(first) == 1 })

	a.kill(t, watch, "host-a")
	waitFor(t, "host b to take the lead", b.d.Leading)
	before := snapshots()
	sim.Advance(every)
	waitFor(t, "host b's snapshot", func() bool { return snapshots() == before+1 })
	// The second lease ends: reaped once, by b; the first is not reaped again.
	sim.Advance(2 * time.Hour)
	waitFor(t, "the second instance reaped", func() bool { return reaps(second) == 1 })
	settled()
	if n := reaps(first); n != 1 {
		t.Errorf("the first instance was reaped %d times, want 1", n)
	}
	if n := reaps(second); n != 1 {
		entries, _ := watch.ListAudit(ctx, db.AuditFilter{Action: "reap", Limit: 1000})
		t.Errorf("the second instance was reaped %d times, want 1: %+v", n, entries)
	}
	// Each advance of the clock past collect_interval gave one snapshot: the 2-hour one
	// too, not one per interval it crossed.
	if n := snapshots(); n != before+2 {
		t.Errorf("got %d snapshots, want %d: one per due interval", n, before+2)
	}
}
