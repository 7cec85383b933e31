package regions

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/fleet"
)

// Bounds of a run's steps.
const (
	bootWithin  = 10 * time.Minute // start → running
	agentWithin = 5 * time.Minute  // running → SSM agent online
	stopWithin  = 2 * time.Minute  // the final stop's own bound (a fresh context)
	runGrace    = 2 * time.Minute  // past the job's timeout before the run is given up
	// pollCap bounds the wait between two reads of the command's outcome: every second
	// of it may be billed after the job ended (NAVO polled every 30 s).
	pollCap = 10 * time.Second
	// bootEstimate is the boot and agent time a run's cost projection assumes.
	bootEstimate = 2 * time.Minute
)

// Run runs the service's job in region now: the instance is started, the command sent
// (through SSM once the agent is online, or over SSH), its outcome kept, and the instance
// stopped whatever happened. The run is recorded before the start, so a daemon killed
// mid-run leaves a record Recover settles. A run whose worst-case cost would cross the
// service's monthly budget is refused (and audited).
func (s *Manager) Run(ctx context.Context, by tollgate.Actor, name, region string) (result db.ServiceRun, _ error) {
	svc, err := s.service(name)
	if err != nil {
		return db.ServiceRun{}, err
	}
	rec, ok, err := s.o.DB.GetServiceRegion(ctx, name, region)
	if err != nil {
		return db.ServiceRun{}, err
	}
	if !ok || rec.InstanceID == "" || rec.Step != "stopped" && rec.Step != "ran" {
		return db.ServiceRun{}, tollgate.Errorf(tollgate.CodeConflict, "%s is not set up in %s", name, region).
			WithHint(fmt.Sprintf("run `tollgate admin regions setup %s %s` first", name, region))
	}
	key := name + "/" + region
	s.mu.Lock()
	busy := s.running[key]
	if !busy {
		s.running[key] = true
	}
	s.mu.Unlock()
	if busy {
		return db.ServiceRun{}, tollgate.Errorf(tollgate.CodeConflict, "a run of %s in %s is in progress", name, region)
	}
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}()
	now := s.o.Now()
	run := db.ServiceRun{Service: name, Region: region, InstanceID: rec.InstanceID, StartedAt: now, Status: db.RunRunning, ExitCode: -1}
	if why := s.overBudget(ctx, svc, region, now); why != "" {
		run.Status, run.Reason, run.EndedAt = db.RunRefused, why, now
		if run.ID, err = s.o.DB.StartServiceRun(ctx, run); err != nil {
			return run, err
		}
		_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: ActionRun, Target: key, Decision: audit.Refused, Reason: why})
		return run, tollgate.Errorf(tollgate.CodeBudgetExhausted, "%s", why)
	}
	if run.ID, err = s.o.DB.StartServiceRun(ctx, run); err != nil {
		return run, err
	}
	_ = s.o.Audit.Record(ctx, nil, by, audit.Entry{Action: ActionRun, Target: key, Decision: audit.Allowed,
		Detail: map[string]any{"run": run.ID, "instance": rec.InstanceID}})
	started := time.Time{}
	defer func() {
		// Stop always, with a context of its own: a cancelled or failed run must not
		// leave the instance running (NAVO's scripts exited before their stop).
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopWithin+bootWithin)
		defer cancel()
		if err := s.stopInstance(sctx, svc, region, rec.InstanceID, fmt.Sprintf("run %d ended", run.ID)); err != nil {
			s.o.Log.Error("stopping a service instance after its run failed", "service", name, "region", region,
				"instance", rec.InstanceID, "err", err)
			run.Reason = joinReason(run.Reason, "stop failed: "+err.Error())
		}
		run.EndedAt = s.o.Now()
		if !started.IsZero() {
			run.InstanceSeconds = run.EndedAt.Sub(started).Seconds()
		}
		if err := s.o.DB.FinishServiceRun(sctx, run); err != nil {
			s.o.Log.Error("record the end of a run", "run", run.ID, "err", err)
		}
		decision := audit.Done
		if run.Status != db.RunSucceeded {
			decision = audit.Failed
		}
		_ = s.o.Audit.Record(sctx, nil, tollgate.SystemActor(tollgate.SysRegions), audit.Entry{Action: ActionRun + ".end",
			Target: key, Decision: decision, Reason: run.Reason,
			Detail: map[string]any{"run": run.ID, "status": run.Status, "exit_code": run.ExitCode, "instance_seconds": run.InstanceSeconds}})
		result = run // as settled, with its end and billed seconds
	}()
	fail := func(status, reason string) (db.ServiceRun, error) {
		run.Status, run.Reason = status, reason
		return run, nil
	}
	// Start.
	st, err := s.waitState(ctx, region, rec.InstanceID, bootWithin, "stopped", "running")
	if err != nil {
		return fail(db.RunFailed, "before the start: "+err.Error())
	}
	started = s.o.Now()
	if st == "stopped" {
		if err := s.act(ctx, region, rec.InstanceID, fleet.Start, st, fmt.Sprintf("run %d", run.ID)); err != nil {
			return fail(db.RunFailed, "start: "+err.Error())
		}
	}
	if _, err := s.waitState(ctx, region, rec.InstanceID, bootWithin, "running"); err != nil {
		return fail(db.RunFailed, "start: "+err.Error())
	}
	var o outcome
	if svc.Runner == "ssh" {
		o = s.runSSH(ctx, by, svc, region, rec.InstanceID)
	} else {
		o = s.runSSM(ctx, svc, region, rec.InstanceID, run.ID)
	}
	run.CommandID, run.ExitCode, run.Stdout, run.Stderr = o.commandID, o.exitCode, o.stdout, o.stderr
	return fail(o.status, o.reason)
}

// runSSM runs the job through Systems Manager on the running instance: wait for the
// agent, send the command (retried while SSM does not know the instance yet), poll its
// outcome.
func (s *Manager) runSSM(ctx context.Context, svc Service, region, id string, runID int64) outcome {
	if err := s.waitAgent(ctx, region, id); err != nil {
		return failed("%v", err)
	}
	var cmd string
	var err error
	for deadline := s.o.Now().Add(agentWithin); ; {
		cmd, err = s.o.Cloud.SendCommand(ctx, region, id, svc.Commands, svc.Timeout)
		if err == nil || !cloud.IsInvalidInstanceID(err) || s.o.Now().After(deadline) {
			break
		}
		if err := s.o.Sleep(ctx, 5*time.Second); err != nil {
			return failed("send command: %v", err)
		}
	}
	if err != nil {
		return failed("send command: %v", err)
	}
	_ = s.o.DB.SetRunCommand(ctx, runID, cmd)
	inv, err := s.poll(ctx, region, id, cmd, svc.Timeout)
	if err != nil {
		return outcome{status: db.RunTimedOut, reason: err.Error(), exitCode: -1, commandID: cmd}
	}
	o := outcome{commandID: cmd, exitCode: inv.ExitCode, stdout: inv.Stdout, stderr: inv.Stderr}
	switch inv.Status {
	case cloud.CommandSuccess:
		o.status = db.RunSucceeded
	case cloud.CommandTimedOut:
		o.status, o.reason = db.RunTimedOut, fmt.Sprintf("the command ran past its timeout of %s", svc.Timeout)
	default:
		o.status = db.RunFailed
		o.reason = fmt.Sprintf("the command ended %s (%s) with exit code %d", inv.Status, inv.StatusDetails, inv.ExitCode)
	}
	return o
}

// waitAgent waits until the instance's SSM agent is online.
func (s *Manager) waitAgent(ctx context.Context, region, id string) error {
	deadline := s.o.Now().Add(agentWithin)
	for {
		on, err := s.o.Cloud.AgentOnline(ctx, region, id)
		if err == nil && on {
			return nil
		}
		if s.o.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("the SSM agent of %s did not come online within %s: %v", id, agentWithin, err)
			}
			return fmt.Errorf("the SSM agent of %s did not come online within %s (is the instance profile set, and the agent installed?)", id, agentWithin)
		}
		if err := s.o.Sleep(ctx, 5*time.Second); err != nil {
			return err
		}
	}
}

// poll reads the command's invocation until it ends, backing off from 2 s to pollCap; past
// the timeout and a grace it gives up.
func (s *Manager) poll(ctx context.Context, region, id, cmd string, timeout time.Duration) (cloud.Invocation, error) {
	deadline := s.o.Now().Add(timeout + runGrace)
	wait := 2 * time.Second
	for {
		if err := s.o.Sleep(ctx, wait); err != nil {
			return cloud.Invocation{}, err
		}
		inv, err := s.o.Cloud.GetCommandInvocation(ctx, region, cmd, id)
		if err == nil && inv.Done() {
			return inv, nil
		}
		if s.o.Now().After(deadline) {
			return inv, fmt.Errorf("no outcome of command %s %s after its timeout of %s", cmd, runGrace, timeout)
		}
		wait = min(2*wait, pollCap)
	}
}

// overBudget says why a run would cross the service's budget, or "".
func (s *Manager) overBudget(ctx context.Context, svc Service, region string, now time.Time) string {
	if svc.BudgetUSD <= 0 || s.o.Spend == nil {
		return ""
	}
	t := now.UTC()
	month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	spent, err := s.o.Spend.SpentUSD(ctx, Owner(svc.Name), month)
	if err != nil {
		return "the service's spend cannot be read: " + err.Error()
	}
	price, _ := s.o.OnDemand(region, svc.InstanceType)
	worst := ProjectRun(price, svc.Timeout, bootEstimate, svc.VolumeGB, 0.08)
	if spent+worst > svc.BudgetUSD {
		return fmt.Sprintf("a run could cost up to $%.4f and $%.2f of the $%.2f monthly budget is spent", worst, spent, svc.BudgetUSD)
	}
	return ""
}

// ProjectRun is the worst-case cost of one run: the instance for boot plus the job's
// timeout, and its volume for that long.
func ProjectRun(priceHourly float64, timeout, boot time.Duration, volumeGB int, volumePerGBMonth float64) float64 {
	h := (timeout + boot).Hours()
	return priceHourly*h + float64(volumeGB)*volumePerGBMonth*h/730
}

// Recover settles what a killed daemon left: every run still recorded as running is
// marked interrupted and its instance stopped; a service instance running with no run
// in progress is stopped.
func (s *Manager) Recover(ctx context.Context) error {
	runs, err := s.o.DB.ListServiceRuns(ctx, "", db.RunRunning, 1000)
	if err != nil {
		return err
	}
	for _, r := range runs {
		svc, err := s.service(r.Service)
		if err == nil && r.InstanceID != "" {
			if err := s.stopInstance(ctx, svc, r.Region, r.InstanceID, fmt.Sprintf("run %d was interrupted", r.ID)); err != nil {
				s.o.Log.Warn("stop after an interrupted run", "run", r.ID, "err", err)
			}
		}
		r.Status, r.EndedAt, r.Reason = db.RunInterrupted, s.o.Now(), "the daemon stopped during the run"
		r.InstanceSeconds = r.EndedAt.Sub(r.StartedAt).Seconds()
		if err := s.o.DB.FinishServiceRun(ctx, r); err != nil {
			return err
		}
		_ = s.o.Audit.Record(ctx, nil, tollgate.SystemActor(tollgate.SysRegions), audit.Entry{Action: ActionRun + ".end",
			Target: r.Service + "/" + r.Region, Decision: audit.Failed, Reason: r.Reason, Detail: map[string]any{"run": r.ID}})
	}
	for name := range s.services {
		recs, err := s.o.DB.ListServiceRegions(ctx, name)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec.InstanceID == "" || rec.Step != "stopped" {
				continue
			}
			insts, err := s.o.Cloud.DescribeInstances(ctx, rec.Region, cloud.Filter{IDs: []string{rec.InstanceID}})
			if err != nil || len(insts) != 1 || insts[0].State != "running" {
				continue
			}
			if err := s.act(ctx, rec.Region, rec.InstanceID, fleet.Stop, "running", "running with no run in progress"); err != nil {
				s.o.Log.Warn("stop an idle service instance", "service", name, "region", rec.Region, "err", err)
			}
		}
	}
	return nil
}

// Runs lists the service's runs, newest first, each with its instance cost (its
// instance-seconds at the on-demand price).
func (s *Manager) Runs(ctx context.Context, name string, limit int) ([]tollgate.ServiceRun, error) {
	svc, err := s.service(name)
	if err != nil {
		return nil, err
	}
	runs, err := s.o.DB.ListServiceRuns(ctx, name, "", limit)
	if err != nil {
		return nil, err
	}
	out := make([]tollgate.ServiceRun, 0, len(runs))
	for _, r := range runs {
		out = append(out, s.runView(svc, r))
	}
	return out, nil
}

func (s *Manager) runView(svc Service, r db.ServiceRun) tollgate.ServiceRun {
	price, _ := s.o.OnDemand(r.Region, svc.InstanceType)
	return tollgate.ServiceRun{ID: r.ID, Service: r.Service, Region: r.Region, InstanceID: r.InstanceID, Start: r.StartedAt,
		End: r.EndedAt, Status: r.Status, ExitCode: r.ExitCode, Reason: r.Reason, Stdout: r.Stdout, Stderr: r.Stderr,
		InstanceSeconds: r.InstanceSeconds, CostUSD: price * r.InstanceSeconds / 3600}
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// RunNow runs the service's job in its regions (or those named), in parallel, and
// returns the runs once they have all ended (refused and failed ones included).
func (s *Manager) RunNow(ctx context.Context, by tollgate.Actor, name string, regions []string) ([]tollgate.ServiceRun, error) {
	svc, err := s.service(name)
	if err != nil {
		return nil, err
	}
	if regions, err = svc.pick(regions); err != nil {
		return nil, err
	}
	out := make([]tollgate.ServiceRun, len(regions))
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := s.Run(ctx, by, name, r)
			out[i], errs[i] = s.runView(svc, run), err
			if err != nil && run.ID == 0 {
				out[i] = tollgate.ServiceRun{Service: name, Region: r, Status: "not_started", Reason: err.Error()}
			}
		}()
	}
	wg.Wait()
	if len(regions) == 1 && errs[0] != nil {
		return out, errs[0]
	}
	return out, nil
}
