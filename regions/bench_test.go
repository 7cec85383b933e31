package regions

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/cloud"
	"github.com/tollgate/tollgate/db"
)

// vclock runs concurrent waits on the simulated clock as a discrete-event simulation:
// when every worker that is still busy is asleep, the clock jumps to the earliest wake
// time. Concurrent regions then overlap in simulated time as they would in real time.
type vclock struct {
	mu       sync.Mutex
	sim      *awssim.Sim
	busy     int // workers not finished
	sleepers []*sleeper
}

type sleeper struct {
	at   time.Time
	wake chan struct{}
}

func (v *vclock) sleep(ctx context.Context, d time.Duration) error {
	v.mu.Lock()
	s := &sleeper{at: v.sim.Now().Add(d), wake: make(chan struct{})}
	v.sleepers = append(v.sleepers, s)
	v.step()
	v.mu.Unlock()
	<-s.wake
	return ctx.Err()
}

// done says one worker finished.
func (v *vclock) done() {
	v.mu.Lock()
	v.busy--
	v.step()
	v.mu.Unlock()
}

// step advances the clock when every busy worker sleeps (v.mu held).
func (v *vclock) step() {
	if len(v.sleepers) == 0 || len(v.sleepers) < v.busy {
		return
	}
	sort.Slice(v.sleepers, func(i, j int) bool { return v.sleepers[i].at.Before(v.sleepers[j].at) })
	first := v.sleepers[0].at
	if d := first.Sub(v.sim.Now()); d > 0 {
		v.sim.Advance(d)
	}
	n := 0
	for n < len(v.sleepers) && !v.sleepers[n].at.After(first) {
		close(v.sleepers[n].wake)
		n++
	}
	v.sleepers = v.sleepers[n:]
}

var sixRegions = []string{home, "us-east-1", "sa-east-1", "eu-west-3", "ap-northeast-1", "ap-southeast-2"}

// setupTime is the simulated time a setup of regions takes with the given parallelism.
func setupTime(b *testing.B, regions []string, parallel int) time.Duration {
	b.Helper()
	allRegions = sixRegions
	defer func() { allRegions = []string{home, "us-east-1", "eu-west-3"} }()
	e := newEnv(b)
	return e.timedSetup(b, regions, parallel)
}

func (e *env) timedSetup(b *testing.B, regions []string, parallel int) time.Duration {
	v := &vclock{sim: e.sim}
	m := e.managerFor(b, func(o *Options) {
		o.Sleep = v.sleep
		o.AfterStep = func(region, step string) {
			if step == "stopped" {
				v.done()
			}
		}
	}, parallel)
	v.busy = min(parallel, len(regions))
	// Workers beyond the first `parallel` start when one finishes; count them as they
	// would run: the semaphore keeps at most `parallel` busy.
	pending := len(regions) - v.busy
	inner := m.o.AfterStep
	m.o.AfterStep = func(region, step string) {
		if step == "stopped" && pending > 0 {
			v.mu.Lock()
			pending--
			v.busy++
			v.mu.Unlock()
		}
		inner(region, step)
	}
	start := e.sim.Now()
	res, err := m.Setup(e.ctx, tollgate.UserActor(0, "root"), "servicemon", regions)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Error != "" {
			b.Fatalf("%s: %s", r.Region, r.Error)
		}
	}
	return e.sim.Now().Sub(start)
}

// BenchmarkSetupParallel: six regions set up in parallel against one after another,
// in simulated time (the image copy stays pending awssim.CopyImageDuration; instances
// boot in awssim.PendingDuration). Target: parallel ≤ 1.3 × the slowest single region.
func BenchmarkSetupParallel(b *testing.B) {
	var par, seq, slowest time.Duration
	for b.Loop() {
		slowest = 0
		for _, r := range sixRegions {
			slowest = max(slowest, setupTime(b, []string{r}, 1))
		}
		par = setupTime(b, sixRegions, 6)
		seq = setupTime(b, sixRegions, 1)
	}
	b.ReportMetric(par.Seconds(), "parallel-s")
	b.ReportMetric(seq.Seconds(), "sequential-s")
	b.ReportMetric(slowest.Seconds(), "slowest-region-s")
	b.ReportMetric(par.Seconds()/slowest.Seconds(), "parallel/slowest")
	b.ReportMetric(par.Seconds()/seq.Seconds(), "parallel/sequential")
}

// BenchmarkBilledPerRun: the instance-seconds one run bills for a job of 4 minutes,
// against the job itself and against NAVO's sequence replayed on the same simulated
// cloud (start; waiter polling every 15 s; sleep 30; SendCommand; ListCommands every
// 30 s until done; stop).
func BenchmarkBilledPerRun(b *testing.B) {
	const job = 4 * time.Minute
	var ours, navo float64
	for b.Loop() {
		e := newEnv(b)
		m := e.manager(0)
		id := e.setUp(m)
		e.sim.SetCommandOutcome(id, awssim.CommandOutcome{Duration: job})
		run, err := m.Run(e.ctx, tollgate.UserActor(0, "root"), "servicemon", home)
		if err != nil || run.Status != db.RunSucceeded {
			b.Fatalf("run: %+v %v", run, err)
		}
		ours = run.InstanceSeconds
		e.sim.Advance(time.Minute)
		navo = navoRun(b, e, id).Seconds()
	}
	b.ReportMetric(ours, "billed-s")
	b.ReportMetric(navo, "navo-billed-s")
	b.ReportMetric(job.Seconds(), "job-s")
	b.ReportMetric(ours/navo, "ours/navo")
	b.ReportMetric(ours-job.Seconds(), "overhead-s")
}

// navoRun replays run_region.py's sequence and returns the time from its start call to
// its stop call.
func navoRun(b *testing.B, e *env, id string) time.Duration {
	ctx := e.ctx
	start := e.sim.Now()
	if _, err := e.cl.StartInstances(ctx, home, []string{id}); err != nil {
		b.Fatal(err)
	}
	for { // boto3's instance_running waiter: every 15 s
		e.sim.Advance(15 * time.Second)
		insts, _ := e.cl.DescribeInstances(ctx, home, cloud.Filter{IDs: []string{id}})
		if len(insts) == 1 && insts[0].State == "running" {
			break
		}
	}
	e.sim.Advance(30 * time.Second) // "to avoid race condition"
	cmd, err := e.cl.SendCommand(ctx, home, id, []string{"./aws.sh"}, 30*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	for { // ListCommands every 30 s on the command's status
		e.sim.Advance(30 * time.Second)
		inv, err := e.cl.GetCommandInvocation(ctx, home, cmd, id)
		if err != nil {
			b.Fatal(err)
		}
		if inv.Done() {
			break
		}
	}
	stopAt := e.sim.Now()
	if _, err := e.cl.StopInstances(ctx, home, []string{id}); err != nil {
		b.Fatal(err)
	}
	return stopAt.Sub(start)
}
