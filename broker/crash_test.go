package broker

import (
	"testing"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/broker/api"
	"github.com/tollgate/tollgate/db"
)

// TestCrashSafeLaunch kills the daemon at each step of a launch, restarts it on the same
// database and cloud, and checks that every instance in the cloud is known with its
// owner, nothing was launched twice and no launch is left requested.
func TestCrashSafeLaunch(t *testing.T) {
	tests := []struct {
		name       string
		step       string
		lostReply  bool // RunInstances acts but its response is lost
		wantCloud  int
		wantLaunch string
	}{
		{"after intent is recorded", "after-intent", false, 0, db.LaunchFailed},
		{"before RunInstances", "before-run", false, 0, db.LaunchFailed},
		{"during RunInstances", "after-run", true, 1, db.LaunchLaunched},
		{"after RunInstances", "after-run", false, 1, db.LaunchLaunched},
		{"before the record is updated", "before-record", false, 1, db.LaunchLaunched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.enrol("alice", "alice")
			if tt.lostReply {
				h.sim.SetFaults(awssim.Faults{FailAfterApply: map[string]float64{"RunInstances": 1}})
			}
			h.crash.Store(tt.step)
			if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err == nil {
				t.Fatal("got a successful launch, want the daemon to die mid-launch")
			}
			h.kill()
			h.crash.Store("")
			h.sim.SetFaults(awssim.Faults{})
			h.start()

			inCloud := h.cloudInstances()
			if len(inCloud) != tt.wantCloud {
				t.Fatalf("got %d instances in the cloud, want %d", len(inCloud), tt.wantCloud)
			}
			rows, err := h.d.DB().ListInstances(h.ctx, nil, db.InstanceFilter{})
			if err != nil {
				t.Fatal(err)
			}
			known := map[string]db.Instance{}
			for _, r := range rows {
				known[r.ID] = r
			}
			for id := range inCloud {
				r, ok := known[id]
				if !ok || r.Owner != "alice" || r.LaunchID == "" {
					t.Errorf("cloud instance %s: got database row %+v (known %v), want alice's, linked to its launch", id, r, ok)
				}
			}
			if left, err := h.d.DB().LaunchesInState(h.ctx, db.LaunchRequested); err != nil || len(left) != 0 {
				t.Errorf("got %d launches still requested (%v), want none", len(left), err)
			}
			settled, err := h.d.DB().LaunchesInState(h.ctx, tt.wantLaunch)
			if err != nil || len(settled) != 1 {
				t.Errorf("got %d launches %s (%v), want 1", len(settled), tt.wantLaunch, err)
			}

			// The quota still holds across the crash: 2 allowed in all.
			room := 2 - tt.wantCloud
			for i := range room {
				if _, err := h.c.Launch(h.ctx, api.LaunchRequest{}); err != nil {
					t.Fatalf("launch %d after restart: %v", i+1, err)
				}
			}
			_, err = h.c.Launch(h.ctx, api.LaunchRequest{})
			wantCode(t, err, api.CodeQuotaExceeded)
			if got := len(h.cloudInstances()); got != 2 {
				t.Errorf("got %d instances in the cloud, want 2", got)
			}
		})
	}
}

// TestLostRunInstancesResponse: the cloud launched but every response was lost; the
// daemon finds the instance by its client token instead of launching again.
func TestLostRunInstancesResponse(t *testing.T) {
	h := newHarness(t)
	h.enrol("alice", "alice")
	h.sim.SetFaults(awssim.Faults{FailAfterApply: map[string]float64{"RunInstances": 1}})
	res, err := h.c.Launch(h.ctx, api.LaunchRequest{})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(res.Instances) != 1 || len(h.cloudInstances()) != 1 {
		t.Errorf("got %d instances reported and %d in the cloud, want 1 and 1", len(res.Instances), len(h.cloudInstances()))
	}
}
