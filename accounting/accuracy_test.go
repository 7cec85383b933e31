package accounting

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/tollgate/tollgate/awssim"
	"github.com/tollgate/tollgate/db/dbtest"
	"github.com/tollgate/tollgate/db/pgtest"
)

// termEvent is one thing that happens to a simulated instance.
type termEvent struct {
	at   time.Time
	kind string // launch | stop | start | terminate | forget
	inst *termInstance
}

type termInstance struct {
	owner, region, typ string
	spot               bool
	id                 string
	gone               bool
	running            bool
}

type eventQueue []*termEvent

func (q eventQueue) Len() int           { return len(q) }
func (q eventQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q eventQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)        { *q = append(*q, x.(*termEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	ev := old[len(old)-1]
	*q = old[:len(old)-1]
	return ev
}

// termScale sizes the simulated term.
type termScale struct {
	users, instances int
	regions          []string
	length           time.Duration
	interval         time.Duration
	seed             uint64
}

// runTerm plays a random term against the simulator: users launch instances (some spot)
// at random times, stop, restart and terminate them at random seconds, and some
// instances vanish between snapshots; the collector runs every interval throughout.
func runTerm(t testing.TB, e *testEnv, sc termScale) (launched, vanished int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(sc.seed, 61))
	types := []string{"t3.micro", "t3.small", "t3.medium", "m5.large", "c5.large", "r5.large", "m6i.xlarge", "t3a.small"}
	start := e.sim.Now()
	randDur := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
	q := &eventQueue{}
	for i := range sc.instances {
		in := &termInstance{
			owner:  fmt.Sprintf("u%03d", i%sc.users),
			region: sc.regions[rng.IntN(len(sc.regions))],
			typ:    types[rng.IntN(len(types))],
			spot:   rng.IntN(10) == 0,
		}
		at := start.Add(randDur(0, sc.length*3/4))
		heap.Push(q, &termEvent{at: at, kind: "launch", inst: in})
	}
	// plan schedules what an instance does after it starts running at at.
	plan := func(in *termInstance, at time.Time) {
		run := randDur(3*time.Minute, 3*time.Hour)
		switch r := rng.IntN(100); {
		case r < 4:
			heap.Push(q, &termEvent{at: at.Add(run), kind: "forget", inst: in})
		case r < 40 || in.spot:
			heap.Push(q, &termEvent{at: at.Add(run), kind: "terminate", inst: in})
		case r < 90:
			heap.Push(q, &termEvent{at: at.Add(run), kind: "stop", inst: in})
		default:
			// left running to the end of the term
		}
	}
	nextCollect := start.Add(sc.interval)
	end := start.Add(sc.length)
	for e.sim.Now().Before(end) {
		for q.Len() > 0 && (*q)[0].at.Before(nextCollect) {
			ev := heap.Pop(q).(*termEvent)
			if ev.inst.gone {
				continue
			}
			e.sim.Advance(ev.at.Sub(e.sim.Now()))
			in := ev.inst
			switch ev.kind {
			case "launch":
				in.id = e.launch(in.region, in.owner, in.typ, 1, in.spot, 0)[0].ID
				in.running = true
				launched++
				plan(in, ev.at)
			case "stop":
				e.stop(in.region, in.id)
				in.running = false
				if rng.IntN(3) > 0 {
					heap.Push(q, &termEvent{at: ev.at.Add(randDur(time.Minute, 2*time.Hour)), kind: "start", inst: in})
				} else {
					heap.Push(q, &termEvent{at: ev.at.Add(randDur(time.Minute, 2*time.Hour)), kind: "terminate", inst: in})
				}
			case "start":
				e.start(in.region, in.id)
				in.running = true
				plan(in, ev.at.Add(awssim.PendingDuration))
			case "terminate":
				e.terminate(in.region, in.id)
				in.gone = true
			case "forget":
				e.sim.Forget(in.id)
				in.gone = true
				vanished++
			}
		}
		e.sim.Advance(nextCollect.Sub(e.sim.Now()))
		e.collect()
		nextCollect = nextCollect.Add(sc.interval)
	}
	return launched, vanished
}

// TestAccuracyOverATerm is the accounting's acceptance test: a random term of 220 users
// and 2,000+ instances with the collector every 5 simulated minutes must come within
// 0.5% of the simulator's ledger in total, and within one collector interval's cost per
// instance.
func TestAccuracyOverATerm(t *testing.T) {
	sc := termScale{users: 220, instances: 2100, regions: []string{"us-west-2", "eu-west-1", "ap-northeast-1"},
		length: 3 * 24 * time.Hour, interval: 5 * time.Minute, seed: 2026}
	if raceEnabled {
		// Same users, instances and interval over one simulated day instead of three:
		// the race detector makes each of the 864 collector passes ten times slower.
		sc.length = 24 * time.Hour
	}
	e := newEnv(t, envOptions{regions: sc.regions})
	began := time.Now()
	launched, vanished := runTerm(t, e, sc)
	if launched < 2000 || vanished == 0 {
		t.Fatalf("term: launched %d, vanished %d; want ≥ 2000 and some vanished", launched, vanished)
	}
	ours, ourTotal := e.allCosts()
	ledger, ledgerTotal := e.ledgerByID()
	worst, worstID := 0.0, ""
	for id, le := range ledger {
		od, _ := awssim.OnDemandPrice(le.Region, le.Type)
		ebsHourly := 8 * awssim.EBSPricePerGBMonth["gp3"] / awssim.HoursPerMonth
		interval := (od + ebsHourly) * sc.interval.Hours()
		diff := ours[id].CostUSD - le.CostUSD
		if diff < 0 {
			diff = -diff
		}
		if diff/interval > worst {
			worst, worstID = diff/interval, id
		}
		if diff > interval+1e-9 {
			t.Errorf("instance %s (%s, spot %v, %s): ours $%.6f, ledger $%.6f: off by more than one interval ($%.6f)",
				id, le.Type, le.Spot, le.State, ours[id].CostUSD, le.CostUSD, interval)
		}
	}
	for _, in := range e.sim.Instances("") {
		if in.ID == worstID {
			t.Logf("worst instance: ours $%.6f (estimated %v), ledger $%.6f; timeline %v",
				ours[worstID].CostUSD, ours[worstID].Estimated, ledger[worstID].CostUSD, in.Transitions)
		}
	}
	checkPacks(t, e.db)
	var periods, runs, spots int
	_ = e.db.QueryRowContext(context.Background(), `SELECT (SELECT count(*) FROM acct_periods), (SELECT count(*) FROM acct_region_runs),
		(SELECT count(*) FROM acct_spot_prices)`).Scan(&periods, &runs, &spots)
	if _, err := e.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`); err == nil {
		if st, err := os.Stat(e.db.Path()); err == nil {
			t.Logf("database after the term: %.2f MiB (%d periods, %d region run records, %d spot prices)",
				float64(st.Size())/(1<<20), periods, runs, spots)
		}
	}
	rel := (ourTotal - ledgerTotal) / ledgerTotal
	t.Logf("term: %d users, %d instances (%d vanished), %d collector runs, %v wall time",
		sc.users, launched, vanished, int(sc.length/sc.interval), time.Since(began).Round(time.Second))
	t.Logf("estimated total $%.4f, ledger total $%.4f, difference %+.4f%%; worst instance %s off by %.2f intervals",
		ourTotal, ledgerTotal, 100*rel, worstID, worst)
	if rel > 0.005 || rel < -0.005 {
		t.Errorf("total $%.4f vs ledger $%.4f: %+.3f%%, want within 0.5%%", ourTotal, ledgerTotal, 100*rel)
	}
}

// TestSameTotalsOnBothEngines plays one random term twice, once on each engine, and
// wants the same report from both: the same total and the same cost for every instance,
// to the rounding of a float sum. (TestAccuracyOverATerm holds each engine to the
// simulator's ledger; `make test` runs it on both.)
func TestSameTotalsOnBothEngines(t *testing.T) {
	sc := termScale{users: 40, instances: 300, regions: []string{"us-west-2", "eu-west-1"},
		length: 12 * time.Hour, interval: 5 * time.Minute, seed: 7}
	type result struct {
		total  float64
		byUser map[string]float64
		n      int
	}
	var results []result
	engines := dbtest.Engines(t)
	if len(engines) < 2 {
		t.Fatalf("engines %v: this test compares SQLite with PostgreSQL (set %s)", engines, pgtest.Env)
	}
	for _, engine := range engines {
		e := newEnv(t, envOptions{regions: sc.regions, engine: engine})
		runTerm(t, e, sc)
		r, err := e.svc.Report(context.Background(), ReportRequest{Since: awssim.DefaultStart.Add(-24 * time.Hour), By: ByUser})
		if err != nil {
			t.Fatalf("%s: report: %v", engine, err)
		}
		res := result{total: r.TotalUSD, byUser: map[string]float64{}}
		for _, ic := range append(append([]InstanceCost{}, r.Instances...), r.Untracked...) {
			res.byUser[ic.Owner] += ic.CostUSD
			res.n++
		}
		t.Logf("%s: %d instances, total $%.6f", engine, res.n, res.total)
		results = append(results, res)
	}
	a, b := results[0], results[1]
	if a.n != b.n || a.n == 0 {
		t.Fatalf("instances reported: sqlite %d, postgres %d", a.n, b.n)
	}
	if d := a.total - b.total; d > 1e-6 || d < -1e-6 {
		t.Errorf("totals differ: sqlite $%.9f, postgres $%.9f", a.total, b.total)
	}
	for u, c := range a.byUser {
		if d := c - b.byUser[u]; d > 1e-6 || d < -1e-6 {
			t.Errorf("user %q: sqlite $%.9f, postgres $%.9f", u, c, b.byUser[u])
		}
	}
}
