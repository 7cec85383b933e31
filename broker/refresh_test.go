package broker

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
)

// TestListingRefreshesTransitionalStates: `launch --wait` polls the listing, which must
// see pending → running without waiting for reconcile.
func TestListingRefreshesTransitionalStates(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	ids := h.launchIDs(api.LaunchRequest{})
	state := func(list []api.Instance) string {
		t.Helper()
		for _, in := range list {
			if in.ID == ids[0] {
				return in.State
			}
		}
		t.Fatalf("got %+v, want %s listed", list, ids[0])
		return ""
	}
	list, err := h.c.Instances(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(list); got != "pending" {
		t.Fatalf("got %s before the clock moves, want pending", got)
	}
	h.sim.Advance(awssim.PendingDuration + time.Second)

	t.Run("cloud failing: stored state served", func(t *testing.T) {
		h.sim.SetFaults(awssim.Faults{ErrorRate: map[string]float64{"DescribeInstances": 1}})
		defer h.sim.SetFaults(awssim.Faults{})
		list, err := h.c.Instances(h.ctx)
		if err != nil {
			t.Fatalf("got %v, want the listing served", err)
		}
		if got := state(list); got != "pending" {
			t.Errorf("got %s, want the stored pending", got)
		}
	})
	t.Run("user listing", func(t *testing.T) {
		list, err := h.c.Instances(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := state(list); got != "running" {
			t.Errorf("got %s, want running", got)
		}
		if list[0].PublicIP == "" {
			t.Errorf("got no public IP, want the running instance's")
		}
		rows, err := h.d.DB().ListInstances(h.ctx, nil, db.InstanceFilter{IDs: ids})
		if err != nil || len(rows) != 1 || rows[0].State != "running" {
			t.Errorf("got %+v, %v; want the database updated to running", rows, err)
		}
	})
	t.Run("admin listing", func(t *testing.T) {
		if _, err := h.c.Stop(h.ctx, ids); err != nil {
			t.Fatal(err)
		}
		h.sim.Advance(awssim.StoppingDuration + time.Second)
		h.users.as("ops")
		defer h.users.as("alice")
		list, err := h.c.AdminInstances(h.ctx, "alice", false)
		if err != nil {
			t.Fatal(err)
		}
		if got := state(list); got != "stopped" {
			t.Errorf("got %s, want stopped", got)
		}
	})
}
