package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
)

// TestFaultyCloudConverges launches a batch with EC2 throttling on, a 10% error rate and
// some lost responses, then reconciles: the database must equal the cloud.
func TestFaultyCloudConverges(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Policy.Default.MaxInstances = 100
		c.Policy.Default.MaxVCPUs = 1000
		c.Policy.Default.BudgetUSD = 0
	})
	h.enrol("alice", "alice")
	small := awssim.Bucket{Size: 4, RefillPerSecond: 2}
	h.sim.SetFaults(awssim.Faults{
		Seed:           7,
		Throttle:       true,
		Buckets:        &awssim.ThrottleBuckets{Mutating: small, NonMutating: small, RunInstancesResource: small},
		ErrorRate:      map[string]float64{"*": 0.1},
		FailAfterApply: map[string]float64{"RunInstances": 0.1},
	})
	// Buckets refill by the simulated clock: keep it moving while the batch runs.
	var stop atomic.Bool
	ticker := make(chan struct{})
	go func() {
		defer close(ticker)
		for !stop.Load() {
			h.sim.Advance(50 * time.Millisecond)
			time.Sleep(time.Millisecond)
		}
	}()
	const n = 40
	var wg sync.WaitGroup
	var okCount, failCount atomic.Int32
	sem := make(chan struct{}, 8)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err != nil {
				failCount.Add(1)
				if code := api.ErrorCode(err); code != api.CodeCloudError {
					t.Errorf("got %v, want success or cloud_error", err)
				}
				return
			}
			okCount.Add(1)
		}()
	}
	wg.Wait()
	stop.Store(true)
	<-ticker
	t.Logf("%d launches succeeded, %d failed under faults", okCount.Load(), failCount.Load())

	h.sim.SetFaults(awssim.Faults{})
	h.sim.Advance(fleet.DefaultReconcileGrace + time.Minute)
	h.users.as("ops")
	if _, err := h.c.Reconcile(h.ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	assertDBEqualsCloud(t, h)
	if okCount.Load() == 0 {
		t.Error("no launch succeeded: the faults are too strong for the test to mean anything")
	}
}

// assertDBEqualsCloud checks that every tollgate instance in the cloud is in the database
// with the owner its tags name, and the reverse, and that no launch is left requested.
func assertDBEqualsCloud(t *testing.T, h *harness) {
	t.Helper()
	inCloud := map[string]string{}
	for _, in := range h.sim.Instances("") {
		if o := in.Tags[cloud.TagOwner]; o != "" {
			inCloud[in.ID] = o
		}
	}
	rows, err := h.d.DB().ListInstances(h.ctx, nil, db.InstanceFilter{OwnedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]string{}
	perLaunch := map[string]int{}
	for _, r := range rows {
		inDB[r.ID] = r.Owner
		perLaunch[r.LaunchID]++
	}
	for id, owner := range inCloud {
		if inDB[id] != owner {
			t.Errorf("cloud instance %s of %s: database says owner %q", id, owner, inDB[id])
		}
	}
	for id := range inDB {
		if _, ok := inCloud[id]; !ok {
			t.Errorf("database instance %s is not in the cloud", id)
		}
	}
	if left, _ := h.d.DB().LaunchesInState(h.ctx, db.LaunchRequested); len(left) != 0 {
		t.Errorf("got %d launches still requested, want none", len(left))
	}
	failed, _ := h.d.DB().LaunchesInState(h.ctx, db.LaunchFailed)
	for _, l := range failed {
		if perLaunch[l.ID] != 0 {
			t.Errorf("launch %s is failed but has %d instances", l.ID, perLaunch[l.ID])
		}
	}
	launched, _ := h.d.DB().LaunchesInState(h.ctx, db.LaunchLaunched)
	for _, l := range launched {
		if perLaunch[l.ID] != l.Count {
			t.Errorf("launch %s asked for %d and has %d instances", l.ID, l.Count, perLaunch[l.ID])
		}
	}
}

func TestTaggedInstanceIsAdopted(t *testing.T) {
	h := newHarness(t)
	expires := h.sim.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	made, err := h.cloud.RunInstances(context.Background(), cloud.RunInput{
		Region: region, ImageID: awssim.FixedImageID, Type: "t3.micro", Count: 1,
		Tags: map[string]string{cloud.TagOwner: "bob", cloud.TagUID: "2002", cloud.TagPurpose: "user",
			cloud.TagExpires: expires.Format(time.RFC3339), cloud.TagName: "outside"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := made[0].ID
	h.users.as("ops")
	res, err := h.c.Reconcile(h.ctx)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if len(res.Adopted) != 1 || res.Adopted[0].ID != id || res.Adopted[0].Owner != "bob" {
		t.Fatalf("got adopted %+v, want bob's %s", res.Adopted, id)
	}
	all, err := h.c.AdminInstances(h.ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var got *api.Instance
	for i := range all {
		if all[i].ID == id {
			got = &all[i]
		}
	}
	if got == nil || !got.Adopted || got.Owner != "bob" || !got.ExpiresAt.Equal(expires) || got.Name != "outside" {
		t.Fatalf("got %+v in admin instances ls, want bob's adopted instance expiring %v", got, expires)
	}
	entries, err := h.c.Audit(h.ctx, api.AuditQuery{Action: "reconcile.adopt"})
	if err != nil || len(entries) != 1 || entries[0].Target != id || entries[0].Actor != "tollgated" {
		t.Errorf("got audit %+v, %v; want one reconcile.adopt of %s by tollgated", entries, err, id)
	}
	h.acct.mu.Lock()
	notified := h.acct.notified["bob"]
	h.acct.mu.Unlock()
	if len(notified) != 1 || notified[0] != "adopted "+id {
		t.Errorf("bob's notices: got %q, want one adoption notice for %s", notified, id)
	}
	// A second pass adopts nothing more.
	res, err = h.c.Reconcile(h.ctx)
	if err != nil || len(res.Adopted) != 0 {
		t.Errorf("second reconcile: got %+v, %v; want nothing adopted", res, err)
	}
}

func TestReconcileGraceLeavesInFlightLaunches(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	h.crash.Store("before-run")
	if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err == nil {
		t.Fatal("got success, want the launch to die")
	}
	h.crash.Store("")
	h.users.as("ops")
	res, err := h.c.Reconcile(h.ctx)
	if err != nil || len(res.Resolved) != 0 {
		t.Fatalf("got %+v, %v; want the young launch left alone", res, err)
	}
	h.sim.Advance(fleet.DefaultReconcileGrace)
	res, err = h.c.Reconcile(h.ctx)
	if err != nil || len(res.Resolved) != 1 {
		t.Fatalf("got %+v, %v; want the launch settled after the grace period", res, err)
	}
	if left, _ := h.d.DB().LaunchesInState(h.ctx, db.LaunchRequested); len(left) != 0 {
		t.Errorf("got %d launches requested, want none", len(left))
	}
}
