package broker

import (
	"slices"
	"testing"
	"time"

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

// TestCrashSafeAction: a user's terminate or stop killed between the cloud call and its
// record, or refused the record's write by a full disk, ends after a restart with the
// database agreeing with the cloud and the user's audit entry present (written before the
// call, settled after).
func TestCrashSafeAction(t *testing.T) {
	tests := []struct {
		name, action string
		full         bool
		want         []string // the states the cloud may report by then
	}{
		{"terminate killed before its record", "terminate", false, []string{"shutting-down", "terminated"}},
		{"stop killed before its record", "stop", false, []string{"stopping", "stopped"}},
		{"terminate with the disk full", "terminate", true, []string{"shutting-down", "terminated"}},
		{"stop with the disk full", "stop", true, []string{"stopping", "stopped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.enrol("alice", "alice")
			res, err := h.c.Launch(h.ctx, api.LaunchRequest{})
			if err != nil {
				t.Fatal(err)
			}
			id := res.Instances[0].ID
			h.sim.Advance(time.Minute)
			call := h.c.Terminate
			if tt.action == "stop" {
				call = h.c.Stop
			}
			if tt.full {
				h.diskFull.Store(true)
			} else {
				h.crash.Store("before-settle")
			}
			_, err = call(h.ctx, []string{id})
			if !tt.full && err == nil {
				t.Fatal("got an answer, want the daemon to die before the record")
			}
			h.kill()
			h.crash.Store("")
			h.diskFull.Store(false)
			h.start()

			var cloudState string
			for _, in := range h.sim.Instances(region) {
				if in.ID == id {
					cloudState = in.State
				}
			}
			rows, err := h.d.DB().ListInstances(h.ctx, nil, db.InstanceFilter{IDs: []string{id}})
			if err != nil || len(rows) != 1 {
				t.Fatalf("rows %v, %v", rows, err)
			}
			if !slices.Contains(tt.want, cloudState) || rows[0].State != cloudState {
				t.Errorf("cloud %s, database %s; want them equal, one of %v", cloudState, rows[0].State, tt.want)
			}
			entries, err := h.d.DB().ListAudit(h.ctx, db.AuditFilter{Action: tt.action})
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, e := range entries {
				if e.Action == tt.action && e.Actor == "alice" && e.Target == id && e.Decision == db.Allowed {
					found = true
				}
			}
			if !found {
				t.Errorf("audit %+v: want alice's %s of %s", entries, tt.action, id)
			}
		})
	}
}
