package accounting

import (
	"encoding/json"
	"regexp"
	"time"

	"github.com/tollgate/tollgate/cloud"
)

// minBilledSeconds is EC2's minimum charge per running period (per-second billing).
const minBilledSeconds = 60

// vanishGrace keeps a just-launched instance that Describe does not show yet (EC2's
// eventual consistency) from being closed as vanished.
const vanishGrace = 10 * time.Minute

// How a running period's end was found.
const (
	endReason   = "reason"   // the time in StateTransitionReason
	endObserved = "observed" // seen stopped with no time given: estimated between snapshots
	endRestart  = "restart"  // a newer LaunchTime: the stop was missed, estimated
	endVanished = "vanished" // the instance disappeared: estimated
)

// knownInstance is what the collector knows of one instance before a snapshot.
type knownInstance struct {
	ID         string
	Owner      string // "" for untracked
	Type       string
	State      string
	PublicIP   string
	PrivateIP  string
	Tags       string // JSON as stored
	LaunchedAt int64
	LastSeen   int64
	Gone       bool
	// Missing is when a snapshot first failed to return this live instance: it was last
	// seen at MissingLastSeen, not at the region's latest snapshot.
	Missing         bool
	MissingLastSeen int64
	// Open is the open running period, if any; Last is the latest period (maybe Open).
	Open *periodRow
	Last *periodRow
}

// lastSeen is when the instance was last returned by a snapshot: the region's latest
// successful one, unless a snapshot has missed it since.
func (k *knownInstance) lastSeen(st *regionState) int64 {
	if k.Missing {
		return k.MissingLastSeen
	}
	return max(k.LastSeen, st.LastOK)
}

// missMark records a live instance a snapshot did not return.
type missMark struct {
	ID       string
	LastSeen int64
}

// periodRow is a stored running period.
type periodRow struct {
	ID        int64
	Start     int64
	End       int64 // 0 while open
	How       string
	Estimated bool
}

// regionState is everything the planner reads: the region's live (and recently gone)
// instances, its last successful snapshot and the volumes already recorded.
type regionState struct {
	Region    string
	LastOK    int64 // last successful snapshot (Unix s); 0 = never
	LastRun   int64 // last snapshot applied, successful or not
	Instances map[string]*knownInstance
	Volumes   map[string]bool // open volume ids
}

// newPeriod is a period to insert (End 0 = open).
type newPeriod struct {
	InstanceID string
	AZ, Type   string
	Spot       bool
	Start, End int64
	How        string
	Estimated  bool
}

// periodEnd closes a stored period.
type periodEnd struct {
	ID        int64
	End       int64
	How       string
	Estimated bool
}

// instUpdate is a changed instance row: state, addresses, type or tags moved.
type instUpdate struct {
	ID                            string
	State, Type, PublicIP, PrivIP string
	Tags                          string
	Ungone                        bool // seen alive after being marked gone
}

// goneMark records an instance's end (terminated or vanished): gone_at and its volumes.
type goneMark struct {
	ID        string
	At        int64
	Estimated bool
}

// regionPlan is the set of writes one snapshot of one region causes. Unchanged instances
// cause none.
type regionPlan struct {
	Updates  []instUpdate
	Inserts  []cloud.Instance // untracked instances, first sighting
	Adopt    []cloud.Instance // tollgate-tagged instances the database does not know
	Periods  []newPeriod
	Ends     []periodEnd
	Reopen   []int64
	Gone     []goneMark
	Vanished int
	// Miss and Found start and end the tracking of instances a snapshot did not return.
	Miss  []missMark
	Found []string
	// NeedVolumes are instances with attached volumes not recorded yet.
	NeedVolumes []string
	// Spot maps a spot instance type to the earliest time a price is needed for.
	Spot map[string]int64
}

// reasonTime matches the time EC2 writes into StateTransitionReason, e.g.
// "User initiated (2026-01-05 13:04:05 GMT)".
var reasonTime = regexp.MustCompile(`\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)`)

// parseReasonTime returns the time in an EC2 StateTransitionReason, if it holds one.
func parseReasonTime(reason string) (int64, bool) {
	m := reasonTime.FindStringSubmatch(reason)
	if m == nil {
		return 0, false
	}
	t, err := time.Parse(time.DateTime, m[1])
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

func isRunning(state string) bool { return state == "pending" || state == "running" }

// midpoint is the estimate for a transition that happened at an unknown time in (a, b]:
// the error is at most half the gap either way.
func midpoint(a, b int64) int64 {
	if b <= a {
		return a
	}
	return a + (b-a)/2
}

// tagsJSON is the stored form of an instance's tags (keys sorted by encoding/json).
func tagsJSON(tags map[string]string) string {
	if len(tags) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(tags)
	return string(b)
}

// planRegion decides the writes for one successful snapshot of st.Region taken at at:
// obs is every instance Describe returned (plus those found by id), gone the ids looked up
// and not found. adopting says unknown tollgate-tagged instances go to the broker's
// adoption instead of being recorded as untracked. It is pure: the same inputs give the
// same plan, so a snapshot applied twice writes nothing the second time.
func planRegion(st *regionState, obs []cloud.Instance, gone map[string]bool, at int64, adopting bool) *regionPlan {
	p := &regionPlan{Spot: map[string]int64{}}
	needSpot := func(typ string, from int64) {
		if cur, ok := p.Spot[typ]; !ok || from < cur {
			p.Spot[typ] = from
		}
	}
	seen := make(map[string]bool, len(obs))
	for i := range obs {
		o := &obs[i]
		seen[o.ID] = true
		k := st.Instances[o.ID]
		if k == nil {
			if o.State == "terminated" && o.Tags[cloud.TagOwner] != "" && adopting {
				continue // a terminated tollgate instance we never knew: nothing to adopt
			}
			if o.Tags[cloud.TagOwner] != "" && adopting {
				p.Adopt = append(p.Adopt, *o)
				continue
			}
			p.Inserts = append(p.Inserts, *o)
			k = &knownInstance{ID: o.ID, LastSeen: st.LastOK}
		} else {
			planUpdate(p, k, o)
			if k.Missing {
				p.Found = append(p.Found, k.ID)
			}
		}
		planPeriods(p, st, k, o, at)
		if o.Spot && (isRunning(o.State) || (k.Open != nil)) {
			start := o.LaunchTime.Unix()
			if k.Open != nil && k.Open.Start < start {
				start = k.Open.Start
			}
			needSpot(o.Type, start)
		}
		if o.State != "terminated" && o.State != "shutting-down" {
			for _, v := range o.Volumes {
				if !st.Volumes[v] {
					p.NeedVolumes = append(p.NeedVolumes, o.ID)
					break
				}
			}
		}
	}
	for _, id := range sortedKeys(st.Instances) {
		k := st.Instances[id]
		if seen[id] || k.Gone {
			continue
		}
		if !gone[id] {
			if !k.Missing {
				p.Miss = append(p.Miss, missMark{ID: id, LastSeen: k.lastSeen(st)})
			}
			continue
		}
		last := k.lastSeen(st)
		if k.Open != nil {
			last = max(last, k.Open.Start)
		}
		end := midpoint(last, at)
		if k.Open != nil {
			p.Ends = append(p.Ends, periodEnd{ID: k.Open.ID, End: end, How: endVanished, Estimated: true})
		}
		p.Gone = append(p.Gone, goneMark{ID: id, At: end, Estimated: true})
		p.Vanished++
	}
	return p
}

// planUpdate records a changed instance row; an unchanged one writes nothing.
func planUpdate(p *regionPlan, k *knownInstance, o *cloud.Instance) {
	tags := tagsJSON(o.Tags)
	if len(o.Tags) == 0 {
		tags = k.Tags // tags fade from terminated instances: keep what we knew
	}
	ungone := k.Gone && o.State != "terminated"
	if k.State == o.State && k.PublicIP == o.PublicIP && k.PrivateIP == o.PrivateIP &&
		k.Type == o.Type && k.Tags == tags && !ungone {
		return
	}
	p.Updates = append(p.Updates, instUpdate{ID: k.ID, State: o.State, Type: o.Type,
		PublicIP: o.PublicIP, PrivIP: o.PrivateIP, Tags: tags, Ungone: ungone})
}

// planPeriods turns one observation of a known (or just inserted) instance into period
// writes. Launch times mark starts; StateTransitionReason times mark ends; a missed
// transition is closed at the midpoint of the gap and flagged estimated.
func planPeriods(p *regionPlan, st *regionState, k *knownInstance, o *cloud.Instance, at int64) {
	lt := o.LaunchTime.Unix()
	if o.LaunchTime.IsZero() {
		return
	}
	lastSeen := k.lastSeen(st)
	latest := int64(-1)
	if k.Last != nil {
		latest = k.Last.Start
	}
	open := k.Open
	newP := func(end int64, how string, est bool) {
		p.Periods = append(p.Periods, newPeriod{InstanceID: o.ID, AZ: o.AvailabilityZone, Type: o.Type,
			Spot: o.Spot, Start: lt, End: end, How: how, Estimated: est})
	}
	// closeMissed closes the open period that a newer launch proves has ended.
	closeMissed := func() {
		end := midpoint(max(lastSeen, open.Start), lt)
		p.Ends = append(p.Ends, periodEnd{ID: open.ID, End: end, How: endRestart, Estimated: true})
	}
	if isRunning(o.State) {
		switch {
		case open != nil && lt == open.Start:
			// unchanged
		case open != nil && lt > open.Start:
			closeMissed()
			newP(0, "", false)
		case open == nil && lt > latest:
			newP(0, "", false)
		case open == nil && k.Last != nil && lt == k.Last.Start && k.Last.How == endVanished:
			p.Reopen = append(p.Reopen, k.Last.ID) // it had not vanished after all
		}
		return
	}
	// Not running: stopping, stopped, shutting-down or terminated.
	rt, hasReason := parseReasonTime(o.StateTransitionReason)
	endFor := func(start int64) (int64, string, bool) {
		if hasReason && rt >= start && rt <= at {
			return rt, endReason, false
		}
		return midpoint(max(lastSeen, start), at), endObserved, true
	}
	var goneAt int64
	goneEst := false
	switch {
	case open != nil && lt > open.Start:
		closeMissed()
		end, how, est := endFor(lt)
		newP(end, how, est)
		goneAt, goneEst = end, est
	case open != nil:
		end, how, est := endFor(open.Start)
		p.Ends = append(p.Ends, periodEnd{ID: open.ID, End: end, How: how, Estimated: est})
		goneAt, goneEst = end, est
	case lt > latest && (hasReason || (st.LastOK > 0 && lt > st.LastOK)):
		// A whole run between two snapshots (or before the first one, when its end is known).
		end, how, est := endFor(lt)
		newP(end, how, est)
		goneAt, goneEst = end, est
	default:
		// Not running before either: only a termination time may be news.
		goneAt, goneEst = midpoint(max(lastSeen, lt), at), true
		if hasReason && rt <= at {
			goneAt, goneEst = rt, false
		}
	}
	if o.State == "terminated" && !k.Gone {
		p.Gone = append(p.Gone, goneMark{ID: o.ID, At: goneAt, Estimated: goneEst})
	}
}
