package balancer

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)

// steady is a history of load every 30 s for d, ending at now.
func steady(now time.Time, d time.Duration, load float64) []Observation {
	var h []Observation
	for t := now.Add(-d); !t.After(now); t = t.Add(30 * time.Second) {
		h = append(h, Observation{At: t, Load: load, OK: true})
	}
	return h
}

func ready(n int, since time.Time) []Slave {
	var out []Slave
	for i := range n {
		out = append(out, Slave{ID: fmt.Sprintf("i-%02d", i), State: StateReady, Healthy: true,
			LaunchedAt: since.Add(time.Duration(i) * time.Minute), Market: MarketSpot})
	}
	return out
}

func TestDecide(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	pol := Policy{Table: DefaultTable(), Smoothing: 0, Stabilization: 10 * time.Minute, Warmup: 5 * time.Minute}
	for _, tc := range []struct {
		name      string
		in        Input
		launch    int
		terminate []string
		hold      bool
	}{
		{name: "below min launches", in: Input{History: steady(now, time.Hour, 2.5), Slaves: ready(1, t0)}, launch: 1},
		{name: "inside band no change", in: Input{History: steady(now, time.Hour, 1.5), Slaves: ready(2, t0)}},
		{name: "above max after window trims to max", in: Input{History: steady(now, time.Hour, 0.3), Slaves: ready(3, t0)},
			terminate: []string{"i-02", "i-01"}},
		{name: "above max inside window keeps",
			in: Input{History: append(steady(now.Add(-5*time.Minute), time.Hour, 2.5), steady(now, 5*time.Minute, 0.3)...), Slaves: ready(3, t0)}},
		{name: "short history keeps", in: Input{History: steady(now, 5*time.Minute, 0), Slaves: ready(2, t0)}},
		{name: "failed poll holds", in: Input{History: append(steady(now.Add(-time.Minute), time.Hour, 0), Observation{At: now, Err: "refused"}), Slaves: ready(3, t0)}, hold: true},
		{name: "no history holds", in: Input{Slaves: ready(1, t0)}, hold: true},
		{name: "unhealthy ready replaced", in: Input{History: steady(now, time.Hour, 1.5), Slaves: append(ready(1, t0), Slave{ID: "i-bad", State: StateReady, LaunchedAt: t0})},
			terminate: []string{"i-bad"}, launch: 0},
		{name: "booting within warmup kept", in: Input{History: steady(now, time.Hour, 2.5), Slaves: append(ready(1, t0), Slave{ID: "i-new", State: StateBooting, LaunchedAt: now.Add(-time.Minute)})}},
		{name: "booting past warmup replaced", in: Input{History: steady(now, time.Hour, 2.5), Slaves: append(ready(1, t0), Slave{ID: "i-stuck", State: StateBooting, LaunchedAt: now.Add(-10 * time.Minute)})},
			terminate: []string{"i-stuck"}, launch: 1},
		{name: "requested counts", in: Input{History: steady(now, time.Hour, 2.5), Slaves: append(ready(1, t0), Slave{ID: "r-1", State: StateRequested, LaunchedAt: now})}},
		{name: "gone does not count", in: Input{History: steady(now, time.Hour, 2.5), Slaves: append(ready(1, t0), Slave{ID: "i-x", State: StateGone})}, launch: 1},
		{name: "draining terminates all", in: Input{History: steady(now, time.Hour, 2.5), Slaves: ready(2, t0), Policy: Policy{Draining: true}},
			terminate: []string{"i-00", "i-01"}},
		{name: "paused does nothing", in: Input{History: steady(now, time.Hour, 9), Slaves: nil, Policy: Policy{Paused: true}}},
		{name: "override", in: Input{History: steady(now, time.Hour, 0), Slaves: nil, Policy: Policy{Override: &Override{Min: 3, Max: 3, Until: now.Add(time.Hour)}}}, launch: 3},
		{name: "expired override", in: Input{History: steady(now, time.Hour, 0), Slaves: nil, Policy: Policy{Override: &Override{Min: 3, Max: 3, Until: now}}}},
		{name: "max instances caps launch", in: Input{History: steady(now, time.Hour, 2.5), Slaves: nil, Policy: Policy{MaxInstances: 1}}, launch: 1},
		{name: "max instances trims now", in: Input{History: steady(now, time.Hour, 2.5), Slaves: ready(3, t0), Policy: Policy{MaxInstances: 2}}, terminate: []string{"i-02"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Now = now
			p := pol
			p.Paused, p.Draining, p.Override, p.MaxInstances = in.Policy.Paused, in.Policy.Draining, in.Policy.Override, in.Policy.MaxInstances
			in.Policy = p
			d := Decide(in)
			if d.Launch != tc.launch || strings.Join(d.Terminate, ",") != strings.Join(tc.terminate, ",") || d.Hold != tc.hold {
				t.Errorf("launch %d terminate %v hold %v, want %d %v %v (why: %v)", d.Launch, d.Terminate, d.Hold,
					tc.launch, tc.terminate, tc.hold, d.Why)
			}
			if len(d.Why) == 0 {
				t.Error("a decision without a reason")
			}
		})
	}
}

func TestSmooth(t *testing.T) {
	h := steady(t0.Add(time.Hour), time.Hour, 0)
	h = append(h, Observation{At: t0.Add(time.Hour + 30*time.Second), Load: 10, OK: true})
	s, ok := Smooth(h, 2*time.Minute)
	want := 10 * (1 - math.Exp(-30.0/120))
	if !ok || math.Abs(s-want) > 1e-9 {
		t.Errorf("Smooth = %g, %v; want %g", s, ok, want)
	}
	if s, _ := Smooth(h, 0); s != 10 {
		t.Errorf("no smoothing: %g, want 10", s)
	}
}

// sim drives a decision policy over a load series with slaves that are ready warm after
// launch, and counts what a user of the pool would check.
type replayResult struct {
	slaveSeconds, belowMinSeconds float64
	launches, shortLived          int
}

type replaySlave struct {
	id            string
	launched, end time.Time
}

// replay runs decide over loads (one per step) and returns the outcome; decide sees the
// slaves and returns what to launch and which to terminate.
func replay(loads []float64, step, boot time.Duration, decide func(now time.Time, i int, slaves []Slave) (int, []string)) replayResult {
	var r replayResult
	var all []*replaySlave
	n := 0
	for i, load := range loads {
		now := t0.Add(time.Duration(i) * step)
		var slaves []Slave
		readyN := 0
		for _, s := range all {
			if !s.end.IsZero() {
				continue
			}
			st := StateBooting
			if now.Sub(s.launched) >= boot {
				st = StateReady
				readyN++
			}
			slaves = append(slaves, Slave{ID: s.id, State: st, LaunchedAt: s.launched, Healthy: st == StateReady})
		}
		if lo, _ := DefaultTable().Lookup(load); readyN < lo {
			r.belowMinSeconds += step.Seconds()
		}
		launch, term := decide(now, i, slaves)
		for _, id := range term {
			for _, s := range all {
				if s.id == id && s.end.IsZero() {
					s.end = now
					if now.Sub(s.launched) < 10*time.Minute {
						r.shortLived++
					}
				}
			}
		}
		for range launch {
			n++
			all = append(all, &replaySlave{id: "i-" + strconv.Itoa(n), launched: now})
			r.launches++
		}
	}
	end := t0.Add(time.Duration(len(loads)) * step)
	for _, s := range all {
		e := s.end
		if e.IsZero() {
			e = end
		}
		r.slaveSeconds += e.Sub(s.launched).Seconds()
	}
	return r
}

// gbrowseDecide is GBrowse's own algorithm, the baseline: the load is Apache's lifetime
// average (requests since start / uptime), no smoothing, no stabilisation; below min
// launch to min, above max terminate to max at once (requested and booting first).
func gbrowseDecide(loads []float64, step time.Duration) func(now time.Time, i int, slaves []Slave) (int, []string) {
	total := 0.0
	return func(now time.Time, i int, slaves []Slave) (int, []string) {
		total += loads[i] * step.Seconds()
		avg := total / (float64(i+1) * step.Seconds())
		lo, hi := DefaultTable().Lookup(avg)
		switch {
		case len(slaves) < lo:
			return lo - len(slaves), nil
		case len(slaves) > hi:
			return 0, scaleDownOrder(slaves)[:len(slaves)-hi]
		}
		return 0, nil
	}
}

// instantDecide is GBrowse's algorithm fed the current rate instead of the lifetime
// average (what GBrowse would do had it measured the load right): no smoothing, no
// stabilisation, the band as its only hysteresis.
func instantDecide(loads []float64) func(now time.Time, i int, slaves []Slave) (int, []string) {
	return func(now time.Time, i int, slaves []Slave) (int, []string) {
		lo, hi := DefaultTable().Lookup(loads[i])
		switch {
		case len(slaves) < lo:
			return lo - len(slaves), nil
		case len(slaves) > hi:
			return 0, scaleDownOrder(slaves)[:len(slaves)-hi]
		}
		return 0, nil
	}
}

// ourDecide is Decide with the default policy on the measured rate.
func ourDecide(loads []float64, step time.Duration) func(now time.Time, i int, slaves []Slave) (int, []string) {
	pol := Policy{Table: DefaultTable(), Smoothing: DefaultSmoothing, Stabilization: DefaultStabilization, Warmup: DefaultWarmup}
	var h []Observation
	return func(now time.Time, i int, slaves []Slave) (int, []string) {
		h = append(h, Observation{At: now, Load: loads[i], OK: true})
		if len(h) > 60 {
			h = h[len(h)-60:]
		}
		d := Decide(Input{Now: now, History: h, Policy: pol, Slaves: slaves})
		return d.Launch, d.Terminate
	}
}

func loadDay(t testing.TB) []float64 {
	f, err := os.Open(filepath.Join("testdata", "load-day.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		_, v, _ := strings.Cut(sc.Text(), ",")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func TestOscillationNoShortLived(t *testing.T) {
	for _, tc := range []struct {
		name string
		load func(i int) float64
	}{
		// Around the 1.0 boundary every poll, with noise.
		{"boundary", func(i int) float64 { return 0.9 + 0.2*float64(i%2) + 0.05*math.Sin(float64(i)/7) }},
		// Across the table: idle with a burst to 2.5 req/s of 2 minutes every 9 minutes.
		{"bursts", func(i int) float64 {
			if i%18 < 4 {
				return 2.5
			}
			return 0.05
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var loads []float64
			for i := range 2880 { // a day of 30 s polls
				loads = append(loads, tc.load(i))
			}
			r := replay(loads, 30*time.Second, 2*time.Minute, ourDecide(loads, 30*time.Second))
			if r.shortLived != 0 {
				t.Errorf("%d launches terminated within 10 minutes (of %d launches)", r.shortLived, r.launches)
			}
			inst := replay(loads, 30*time.Second, 2*time.Minute, instantDecide(loads))
			t.Logf("ours %d launches, %d short-lived, %.1f slave-h; GBrowse on the current rate %d, %d, %.1f slave-h",
				r.launches, r.shortLived, r.slaveSeconds/3600, inst.launches, inst.shortLived, inst.slaveSeconds/3600)
		})
	}
}

func TestReplayDayMeetsTargets(t *testing.T) {
	loads := loadDay(t)
	ours := replay(loads, 30*time.Second, 2*time.Minute, ourDecide(loads, 30*time.Second))
	base := replay(loads, 30*time.Second, 2*time.Minute, gbrowseDecide(loads, 30*time.Second))
	inst := replay(loads, 30*time.Second, 2*time.Minute, instantDecide(loads))
	for _, r := range []struct {
		name string
		r    replayResult
	}{{"ours", ours}, {"GBrowse (lifetime average)", base}, {"GBrowse on the current rate", inst}} {
		t.Logf("%s: %.1f slave-h, %d launches, %d short-lived, %.0f s below min", r.name, r.r.slaveSeconds/3600,
			r.r.launches, r.r.shortLived, r.r.belowMinSeconds)
	}
	if ours.belowMinSeconds > base.belowMinSeconds || ours.belowMinSeconds > inst.belowMinSeconds {
		t.Errorf("seconds below min: ours %.0f > GBrowse's %.0f / %.0f", ours.belowMinSeconds, base.belowMinSeconds, inst.belowMinSeconds)
	}
	if ours.shortLived*10 > base.shortLived || ours.shortLived*10 > inst.shortLived {
		t.Errorf("short-lived launches: ours %d > a tenth of GBrowse's %d / %d", ours.shortLived, base.shortLived, inst.shortLived)
	}
}

func BenchmarkReplay(b *testing.B) {
	loads := loadDay(b)
	var ours, base, inst replayResult
	for b.Loop() {
		ours = replay(loads, 30*time.Second, 2*time.Minute, ourDecide(loads, 30*time.Second))
		base = replay(loads, 30*time.Second, 2*time.Minute, gbrowseDecide(loads, 30*time.Second))
		inst = replay(loads, 30*time.Second, 2*time.Minute, instantDecide(loads))
	}
	b.ReportMetric(inst.slaveSeconds/3600, "rate-slave-h")
	b.ReportMetric(float64(inst.shortLived), "rate-short-lived")
	b.ReportMetric(inst.belowMinSeconds, "rate-s-below-min")
	b.ReportMetric(ours.slaveSeconds/3600, "slave-h")
	b.ReportMetric(base.slaveSeconds/3600, "gbrowse-slave-h")
	b.ReportMetric(float64(ours.launches), "launches")
	b.ReportMetric(float64(base.launches), "gbrowse-launches")
	b.ReportMetric(float64(ours.shortLived), "short-lived")
	b.ReportMetric(float64(base.shortLived), "gbrowse-short-lived")
	b.ReportMetric(ours.belowMinSeconds, "s-below-min")
	b.ReportMetric(base.belowMinSeconds, "gbrowse-s-below-min")
	if base.slaveSeconds > 0 {
		b.ReportMetric(ours.slaveSeconds/base.slaveSeconds, "slave-h-ratio")
	}
}

func BenchmarkDecide500(b *testing.B) {
	now := t0.Add(24 * time.Hour)
	in := Input{Now: now, History: steady(now, 30*time.Minute, 2.5), Slaves: ready(500, t0),
		Policy: Policy{Table: DefaultTable(), Smoothing: DefaultSmoothing, Stabilization: DefaultStabilization, Warmup: DefaultWarmup}}
	for b.Loop() {
		Decide(in)
	}
}
