package cloud_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
)

func TestSSMRunShellScript(t *testing.T) {
	f := setup(t)
	in := f.run(t, cloud.RunInput{})[0]
	// Before the agent is online: InvalidInstanceId, and not online.
	if _, err := f.c.SendCommand(f.ctx, west, in.ID, []string{"echo hi"}, time.Minute); !cloud.IsInvalidInstanceID(err) {
		t.Fatalf("SendCommand to a pending instance: %v, want InvalidInstanceId", err)
	}
	f.sim.Advance(awssim.PendingDuration + awssim.AgentDelay)
	if on, err := f.c.AgentOnline(f.ctx, west, in.ID); err != nil || !on {
		t.Fatalf("agent online = %v, %v after boot and the agent's delay", on, err)
	}
	long := strings.Repeat("x", 30000)
	f.sim.SetCommandOutcome(in.ID, awssim.CommandOutcome{ExitCode: 3, Duration: time.Minute, Stdout: long, Stderr: "boom"})
	id, err := f.c.SendCommand(f.ctx, west, in.ID, []string{"./aws.sh"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := f.c.GetCommandInvocation(f.ctx, west, id, in.ID)
	if err != nil || inv.Done() {
		t.Fatalf("just sent: %+v, %v; want still running", inv, err)
	}
	f.sim.Advance(2 * time.Minute)
	inv, err = f.c.GetCommandInvocation(f.ctx, west, id, in.ID)
	if err != nil || inv.Status != cloud.CommandFailed || inv.ExitCode != 3 || inv.Stderr != "boom" {
		t.Fatalf("after the run: %+v, %v; want Failed with exit 3", inv.Status, err)
	}
	if len(inv.Stdout) != cloud.MaxSSMOutput {
		t.Errorf("stdout is %d characters, want SSM's %d", len(inv.Stdout), cloud.MaxSSMOutput)
	}
	if inv.End.Sub(inv.Start) != time.Minute {
		t.Errorf("ran %s, want the outcome's minute", inv.End.Sub(inv.Start))
	}
	// A command longer than its executionTimeout ends TimedOut at the timeout.
	f.sim.SetCommandOutcome(in.ID, awssim.CommandOutcome{Duration: time.Hour})
	id, _ = f.c.SendCommand(f.ctx, west, in.ID, []string{"sleep 3600"}, 5*time.Minute)
	f.sim.Advance(6 * time.Minute)
	if inv, _ := f.c.GetCommandInvocation(f.ctx, west, id, in.ID); inv.Status != cloud.CommandTimedOut {
		t.Errorf("status = %s, want TimedOut", inv.Status)
	}
	// An agent that never comes online.
	other := f.run(t, cloud.RunInput{})[0]
	f.sim.SetAgentNeverOnline(other.ID, true)
	f.sim.Advance(time.Hour)
	if on, _ := f.c.AgentOnline(f.ctx, west, other.ID); on {
		t.Error("an agent set never to come online is online")
	}
}
