package balancer

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// SlaveState is where a slave is in its life, as the decision sees it.
type SlaveState string

// Slave states.
const (
	StateRequested SlaveState = "requested" // launch recorded, no instance seen yet
	StateBooting   SlaveState = "booting"   // pending, or running but not answering yet
	StateReady     SlaveState = "ready"     // has answered its readiness check
	StateDraining  SlaveState = "draining"  // on its way out (replaced); not counted
	StateGone      SlaveState = "gone"      // interrupted, stopped, terminated, vanished
)

// Slave is the decision's view of one pool instance.
type Slave struct {
	ID         string
	State      SlaveState
	LaunchedAt time.Time
	Market     string // spot | on-demand
	// Healthy is whether the latest readiness check answered (booting slaves: whether
	// they are ready yet); a ready slave is unhealthy after repeated failed checks.
	Healthy bool
}

// Observation is one poll of the load source.
type Observation struct {
	At   time.Time
	Load float64
	OK   bool   // false: the source failed (Err says why) or gave no rate yet
	Err  string //
}

// Policy is how a pool decides.
type Policy struct {
	Table Table
	// Smoothing is the time constant of the exponential smoothing of the load (0: none).
	Smoothing time.Duration
	// Stabilization: slaves are terminated for low load only when the load has wanted
	// fewer of them for this long.
	Stabilization time.Duration
	// Warmup: a slave younger than this counts toward the pool but is not replaced for
	// not answering yet.
	Warmup time.Duration
	// MaxInstances caps the live slaves (0: only the table's band).
	MaxInstances int
	// Override, while Now is before its Until, replaces the table's band.
	Override *Override
	// Paused: no action at all. Draining: every slave goes, none is launched.
	Paused, Draining bool
}

// Override is a manual band with an expiry.
type Override struct {
	Min, Max int
	Until    time.Time
}

// Input is everything a decision depends on.
type Input struct {
	Now     time.Time
	History []Observation // oldest first
	Policy  Policy
	Slaves  []Slave
}

// Decision is what to do now, and why.
type Decision struct {
	Raw, Smoothed float64 // the latest measured load, and the smoothed one
	Min, Max      int     // the band wanted now
	Launch        int
	Terminate     []string
	Why           []string
	// Hold is true when the load is unknown: the pool is kept as it is.
	Hold bool
}

// counted reports whether a slave counts toward the pool's size.
func counted(s SlaveState) bool {
	return s == StateRequested || s == StateBooting || s == StateReady
}

// band is the wanted band for a smoothed load at t.
func (p Policy) band(load float64, t time.Time) (lo, hi int) {
	if o := p.Override; o != nil && t.Before(o.Until) {
		lo, hi = o.Min, o.Max
	} else {
		lo, hi = p.Table.Lookup(load)
	}
	if p.MaxInstances > 0 {
		lo, hi = min(lo, p.MaxInstances), min(hi, p.MaxInstances)
	}
	return lo, hi
}

// smoothed is the exponentially smoothed load after each OK observation (NaN for the
// others), with irregular intervals taken into account.
func smoothed(h []Observation, tau time.Duration) []float64 {
	out := make([]float64, len(h))
	s, have := 0.0, false
	var last time.Time
	for i, o := range h {
		if !o.OK {
			out[i] = math.NaN()
			continue
		}
		switch {
		case !have || tau <= 0:
			s = o.Load
		default:
			dt := o.At.Sub(last).Seconds()
			s += (1 - math.Exp(-dt/tau.Seconds())) * (o.Load - s)
		}
		have, last, out[i] = true, o.At, s
	}
	return out
}

// Smooth is the smoothed load after the whole history; ok is false with no reading.
func Smooth(history []Observation, tau time.Duration) (float64, bool) {
	sm := smoothed(history, tau)
	for i := len(sm) - 1; i >= 0; i-- {
		if !math.IsNaN(sm[i]) {
			return sm[i], true
		}
	}
	return 0, false
}

// Decide is the pool's decision: a pure function of the load history, the policy, the
// slaves and the clock.
func Decide(in Input) Decision {
	p := in.Policy
	var d Decision
	sm := smoothed(in.History, p.Smoothing)
	n := len(in.History)
	latestOK := n > 0 && in.History[n-1].OK
	if latestOK {
		d.Raw, d.Smoothed = in.History[n-1].Load, sm[n-1]
	}
	var live []Slave
	for _, s := range in.Slaves {
		if counted(s.State) {
			live = append(live, s)
		}
	}
	switch {
	case p.Paused:
		d.Min, d.Max = len(live), len(live)
		d.Why = append(d.Why, fmt.Sprintf("paused by an admin: holding %d slave(s), no launch, no termination", len(live)))
		return d
	case p.Draining:
		for _, s := range in.Slaves {
			if s.State != StateGone {
				d.Terminate = append(d.Terminate, s.ID)
			}
		}
		d.Why = append(d.Why, fmt.Sprintf("draining: terminating %d slave(s), launching none", len(d.Terminate)))
		return d
	case !latestOK:
		d.Hold = true
		d.Min, d.Max = len(live), len(live)
		reason := "no reading yet"
		if n > 0 && in.History[n-1].Err != "" {
			reason = in.History[n-1].Err
		}
		fails := 0
		for i := n - 1; i >= 0 && !in.History[i].OK; i-- {
			fails++
		}
		d.Why = append(d.Why, fmt.Sprintf("load unknown (%s; %d poll(s)): holding %d slave(s)", reason, fails, len(live)))
		return d
	}
	// Scale-up follows the load at once (the larger of the raw and the smoothed load);
	// scale-down needs the whole stabilisation window to agree.
	d.Min, d.Max = p.band(max(d.Raw, d.Smoothed), in.Now)
	loadWhy := fmt.Sprintf("load %.2f (smoothed %.2f) wants %d..%d", d.Raw, d.Smoothed, d.Min, d.Max)
	if o := p.Override; o != nil && in.Now.Before(o.Until) {
		loadWhy = fmt.Sprintf("override until %s wants %d..%d (load %.2f)", o.Until.UTC().Format(time.RFC3339), d.Min, d.Max, d.Smoothed)
	}

	// Slaves that should answer and do not are replaced: ready ones after repeated
	// failed checks, booting ones once warm.
	var keep []Slave
	for _, s := range live {
		bad := (s.State == StateReady && !s.Healthy) ||
			(s.State == StateBooting && !s.Healthy && in.Now.Sub(s.LaunchedAt) > p.Warmup)
		if bad {
			d.Terminate = append(d.Terminate, s.ID)
			d.Why = append(d.Why, fmt.Sprintf("%s does not answer: replacing it", s.ID))
			continue
		}
		keep = append(keep, s)
	}
	have := len(keep)
	switch {
	case have < d.Min:
		d.Launch = d.Min - have
		d.Why = append(d.Why, fmt.Sprintf("%s; have %d: launch %d", loadWhy, have, d.Launch))
	case p.MaxInstances > 0 && have > p.MaxInstances:
		gone := scaleDownOrder(keep)[:have-p.MaxInstances]
		d.Terminate = append(d.Terminate, gone...)
		d.Why = append(d.Why, fmt.Sprintf("%d slave(s) above max_instances %d: terminating %d", have, p.MaxInstances, len(gone)))
	case have > d.Max:
		highest, since, ok := stableMax(in, sm)
		if !ok || highest >= have {
			d.Why = append(d.Why, fmt.Sprintf("%s; have %d: keeping them until the load has wanted fewer for %s (low for %s so far)",
				loadWhy, have, p.Stabilization, since.Round(time.Second)))
			break
		}
		gone := scaleDownOrder(keep)[:have-highest]
		d.Terminate = append(d.Terminate, gone...)
		d.Why = append(d.Why, fmt.Sprintf("%s and has wanted at most %d for %s; have %d: terminate %d",
			loadWhy, highest, p.Stabilization, have, len(gone)))
	default:
		d.Why = append(d.Why, fmt.Sprintf("%s; have %d: no change", loadWhy, have))
	}
	return d
}

// stableMax is the highest band max over the stabilisation window, and whether the
// window is complete (the history reaches back that far and every poll in it
// succeeded); since is how long the band has been below the current count.
func stableMax(in Input, sm []float64) (highest int, since time.Duration, ok bool) {
	p := in.Policy
	start := in.Now.Add(-p.Stabilization)
	h := in.History
	live := 0
	for _, s := range in.Slaves {
		if counted(s.State) {
			live++
		}
	}
	ok = len(h) > 0 && !h[0].At.After(start)
	// How long the wanted max has been below live, looking back from now.
	for i := len(h) - 1; i >= 0; i-- {
		if !h[i].OK {
			break
		}
		if _, hi := p.band(sm[i], h[i].At); hi >= live {
			break
		}
		since = in.Now.Sub(h[i].At)
	}
	for i := len(h) - 1; i >= 0 && !h[i].At.Before(start); i-- {
		if !h[i].OK {
			return 0, since, false
		}
		_, hi := p.band(sm[i], h[i].At)
		highest = max(highest, hi)
	}
	return highest, since, ok
}

// scaleDownOrder lists slave ids in the order they should go: requested first, then
// booting, then the newest ready (the oldest, warm ones stay).
func scaleDownOrder(slaves []Slave) []string {
	rank := map[SlaveState]int{StateRequested: 0, StateBooting: 1, StateReady: 2}
	s := slices.Clone(slaves)
	sort.SliceStable(s, func(i, j int) bool {
		if rank[s[i].State] != rank[s[j].State] {
			return rank[s[i].State] < rank[s[j].State]
		}
		return s[i].LaunchedAt.After(s[j].LaunchedAt)
	})
	ids := make([]string, len(s))
	for i, x := range s {
		ids[i] = x.ID
	}
	return ids
}
