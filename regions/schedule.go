// Package regions keeps a service instance in each of several regions — an image copied
// from a home region, a keypair, a security group and an instance stopped between runs —
// and runs a job on it through SSM on schedules (Manager: Setup, Run, Check, Clear,
// Update, Recover, RunLoop). Every launch, start and stop goes through fleet, purpose
// service.
package regions

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is one schedule of a service: a cron expression in an explicit IANA time
// zone, or a rotation through the regions (NAVO's six crontab lines, one region an hour,
// are one rotate schedule).
type Schedule struct {
	// Cron is a standard five-field expression ("30 2 * * *"), evaluated on the wall
	// clock of TimeZone.
	Cron string `toml:"cron"`
	// TimeZone is an IANA zone name ("America/New_York"); required with cron: no
	// implicit local time. Rotations default to UTC.
	TimeZone string `toml:"time_zone"`
	// Rotate runs one region per slot of this length, in order, slots aligned to the
	// wall clock of TimeZone (midnight, then every Rotate).
	Rotate time.Duration `toml:"rotate"`
	// Regions the schedule runs in (default: all the service's regions).
	Regions []string `toml:"regions"`
	// CatchUp: a slot missed while the daemon was down runs once at start-up (the
	// latest missed one per region); without it, missed slots are skipped.
	CatchUp bool `toml:"catch_up"`
}

// Slot is one run due: a region at an instant.
type Slot struct {
	At     time.Time
	Region string
}

// Plan is a schedule ready to give its slots.
type Plan struct {
	s       Schedule
	loc     *time.Location
	cron    cron.Schedule
	regions []string
}

// wallEpoch anchors the rotation's slot numbers on the wall clock.
var wallEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// NewPlan checks s and returns its plan over regions (those of s, or these).
func NewPlan(s Schedule, regions []string) (*Plan, error) {
	if len(s.Regions) > 0 {
		regions = s.Regions
	}
	if len(regions) == 0 {
		return nil, errors.New("a schedule needs regions")
	}
	p := &Plan{s: s, regions: regions}
	switch {
	case (s.Cron == "") == (s.Rotate == 0):
		return nil, errors.New("a schedule has exactly one of cron or rotate")
	case s.Cron != "" && s.TimeZone == "":
		return nil, fmt.Errorf("cron %q needs time_zone (an IANA name such as \"Europe/Berlin\" or \"UTC\"): tollgate never assumes the host's local time", s.Cron)
	case s.Rotate != 0 && (s.Rotate < time.Minute || s.Rotate%time.Minute != 0 || (24*time.Hour)%s.Rotate != 0):
		return nil, fmt.Errorf("rotate %s: want whole minutes from 1m that divide a day (1h, 2h, 30m, ...)", s.Rotate)
	}
	tz := s.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time_zone %q: %v", tz, err)
	}
	p.loc = loc
	if s.Cron != "" {
		// The expression is evaluated on the wall clock as if it were UTC (no DST), then
		// each wall time is mapped to an instant of the zone (toInstant): robfig/cron
		// evaluated in the zone itself skips a time that falls in a spring-forward gap
		// and fires twice in a fall-back hour.
		c, err := cron.ParseStandard(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %v", s.Cron, err)
		}
		p.cron = c
	}
	return p, nil
}

// wall is t's wall clock in loc, as a UTC time.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

// toInstant maps a wall time of loc to the instant it names: a time in a spring-forward
// gap (it does not exist) to the end of the gap, a repeated one (fall-back) to its first
// occurrence.
func toInstant(w time.Time, loc *time.Location) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	if got := wall(t, loc); !got.Equal(w) {
		// In a gap: the first instant whose wall clock is past w.
		lo, hi := t.Add(-3*time.Hour), t.Add(3*time.Hour)
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if wall(mid, loc).Before(w) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return hi.Truncate(time.Second)
	}
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		if e := t.Add(-d); wall(e, loc).Equal(w) {
			return e // the first occurrence of a repeated wall time
		}
	}
	return t
}

// nextWall is the schedule's next wall time strictly after the wall time w.
func (p *Plan) nextWall(w time.Time) (time.Time, string) {
	if p.cron != nil {
		return p.cron.Next(w), ""
	}
	n := w.Sub(wallEpoch)/p.s.Rotate + 1
	if w.Before(wallEpoch) {
		n = 0
	}
	at := wallEpoch.Add(n * p.s.Rotate)
	return at, p.regions[int(n)%len(p.regions)]
}

// Next is the slots of the next firing strictly after after: every region at once for a
// cron schedule, one region for a rotation.
func (p *Plan) Next(after time.Time) []Slot {
	w := wall(after, p.loc)
	for range 4 { // a few wall times may map to instants not after `after` (a gap's end)
		nw, region := p.nextWall(w)
		at := toInstant(nw, p.loc)
		if at.After(after) {
			if region != "" {
				return []Slot{{At: at, Region: region}}
			}
			out := make([]Slot, len(p.regions))
			for i, r := range p.regions {
				out[i] = Slot{At: at, Region: r}
			}
			return out
		}
		w = nw
	}
	return nil
}

// Between lists every slot in (from, to], in time order.
func (p *Plan) Between(from, to time.Time) []Slot {
	var out []Slot
	for t := from; ; {
		next := p.Next(t)
		if len(next) == 0 || next[0].At.After(to) {
			return out
		}
		out = append(out, next...)
		t = next[0].At
	}
}

// Missed is what runs at start-up for slots missed in (lastRun, now]: with catch_up,
// the latest missed slot of each region, once; without, nothing.
func (p *Plan) Missed(lastRun, now time.Time) []Slot {
	if !p.s.CatchUp || !lastRun.Before(now) {
		return nil
	}
	// Look back at most a week: a longer outage still catches up once per region.
	if now.Sub(lastRun) > 7*24*time.Hour {
		lastRun = now.Add(-7 * 24 * time.Hour)
	}
	latest := map[string]Slot{}
	for _, s := range p.Between(lastRun, now) {
		latest[s.Region] = s
	}
	out := make([]Slot, 0, len(latest))
	for _, s := range latest {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Region < out[j].Region
	})
	return out
}

// Scheduler starts due slots: a region whose previous run is still going is not started
// again (the slot is skipped and said so). The daemon calls Tick on a ticker; tests
// drive it with their own clock.
type Scheduler struct {
	Plans   []*Plan
	Running func(region string) bool // whether a run is in progress in region
	last    time.Time
}

// Decision is what one tick did with a slot.
type Decision struct {
	Slot    Slot
	Started bool
	Why     string // why it was skipped
}

// Start begins the scheduler at now: with catch_up, what was missed since lastRun is
// returned as due (each region once).
func (s *Scheduler) Start(lastRun, now time.Time) []Decision {
	s.last = now
	var out []Decision
	for _, p := range s.Plans {
		for _, sl := range p.Missed(lastRun, now) {
			out = append(out, s.decide(sl, "missed while the daemon was down: caught up"))
		}
	}
	return out
}

// Tick returns the slots that came due in (last tick, now]; each is started unless its
// region is busy.
func (s *Scheduler) Tick(now time.Time) []Decision {
	if s.last.IsZero() {
		s.last = now
		return nil
	}
	var due []Slot
	for _, p := range s.Plans {
		due = append(due, p.Between(s.last, now)...)
	}
	s.last = now
	sort.SliceStable(due, func(i, j int) bool { return due[i].At.Before(due[j].At) })
	var out []Decision
	started := map[string]bool{}
	for _, sl := range due {
		if started[sl.Region] {
			out = append(out, Decision{Slot: sl, Why: "another slot of this region came due in the same tick: one run"})
			continue
		}
		d := s.decide(sl, "")
		started[sl.Region] = d.Started
		out = append(out, d)
	}
	return out
}

func (s *Scheduler) decide(sl Slot, why string) Decision {
	if s.Running != nil && s.Running(sl.Region) {
		return Decision{Slot: sl, Why: "the previous run in " + sl.Region + " is still going: skipped"}
	}
	return Decision{Slot: sl, Started: true, Why: why}
}
