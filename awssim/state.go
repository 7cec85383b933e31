package awssim

import (
	"sort"
	"time"
)

// Lifecycle durations. States are computed lazily from an instance's timeline, so any
// clock advance, however large, lands every instance in the right state.
const (
	PendingDuration      = 15 * time.Second
	StoppingDuration     = 30 * time.Second
	ShuttingDownDuration = 30 * time.Second
	// TerminatedVisibility is how long a terminated instance still appears in Describe.
	TerminatedVisibility = time.Hour
)

// Instance state names as EC2 spells them.
const (
	StatePending      = "pending"
	StateRunning      = "running"
	StateShuttingDown = "shutting-down"
	StateTerminated   = "terminated"
	StateStopping     = "stopping"
	StateStopped      = "stopped"
)

var stateCodes = map[string]int{
	StatePending: 0, StateRunning: 16, StateShuttingDown: 32,
	StateTerminated: 48, StateStopping: 64, StateStopped: 80,
}

// region is one region's independent EC2 state.
type region struct {
	name     string
	azs      []string
	order    []*instance // launch order (ascending seq); never shrinks
	tokens   map[string]*tokenRecord
	keys     map[string]*keyPair
	keyOrder []*keyPair
	volumes  []*volume // creation order
	images   []*image
	imageIdx map[string]*image
	buckets  map[string]*bucket
	nextIP   uint32

	secGroups    map[string]*secGroup    // by id; see groups()
	snapshots    map[string]*ebsSnapshot // standalone snapshots by id
	spotOverride map[string]spotOverride // "az/type" → a price a test set
}

func newRegion(name string) *region {
	rg := &region{
		name: name, azs: availabilityZones(name),
		tokens: map[string]*tokenRecord{}, keys: map[string]*keyPair{},
		imageIdx: map[string]*image{}, buckets: map[string]*bucket{},
	}
	rg.images = seedImages(name)
	for _, im := range rg.images {
		rg.imageIdx[im.id] = im
	}
	return rg
}

// tokenRecord remembers a RunInstances ClientToken: the request's parameters and the
// reservation it produced, so a retry returns the same instances.
type tokenRecord struct {
	params      string
	reservation string
	instances   []*instance
}

type event struct {
	at    time.Time
	state string
}

type volume struct {
	id, az, volType, device, snapshotID string
	sizeGiB, iops, throughput           int
	deleteOnTermination                 bool
	created                             time.Time
	deleted                             time.Time // set by DeleteVolume
	inst                                *instance
	tags                                map[string]string
	seq                                 uint64
}

// end is when the volume stopped existing by now (its instance reached terminated and
// the volume was DeleteOnTermination, or it was deleted), or zero while it exists.
func (v *volume) end(now time.Time) time.Time {
	if v.deleteOnTermination {
		if t, ok := v.inst.terminatedAt(now); ok {
			return t
		}
	}
	if !v.deleted.IsZero() && !now.Before(v.deleted) {
		return v.deleted
	}
	return time.Time{}
}

type keyPair struct {
	id, name, fingerprint, keyType, publicKey string
	created                                   time.Time
	tags                                      map[string]string
}

type group struct{ id, name string }

type instance struct {
	seq                   uint64
	id, reservationID     string
	region, az            string
	typ, imageID, keyName string
	arch, rootDevice      string
	subnetID, vpcID       string
	groups                []group
	spot                  bool
	spotRequestID         string
	spotPersistent        bool
	clientToken           string
	userData              string
	profileArn, profileID string
	launchIndex           int
	tags                  map[string]string
	events                []event
	reason                string // StateTransitionReason
	stateReasonCode       string
	stateReasonMsg        string
	launchTime            time.Time // latest start
	firstLaunch           time.Time
	privateIP             string
	publicIP              string
	volumes               []*volume
	forgotten             bool
	metadata              metadataOptions
}

// metadataOptions is an instance's IMDS configuration as RunInstances set it.
type metadataOptions struct {
	httpTokens   string // optional | required (IMDSv2 only)
	httpEndpoint string // enabled | disabled
	hopLimit     int    // 1 to 64
}

// stateAt is the instance's state at t: the last timeline event not after t.
func (in *instance) stateAt(t time.Time) string {
	for i := len(in.events) - 1; i >= 0; i-- {
		if !in.events[i].at.After(t) {
			return in.events[i].state
		}
	}
	return StatePending
}

// terminatedAt reports when the instance entered terminated, if it has by now.
func (in *instance) terminatedAt(now time.Time) (time.Time, bool) {
	n := len(in.events)
	if n > 0 && in.events[n-1].state == StateTerminated && !in.events[n-1].at.After(now) {
		return in.events[n-1].at, true
	}
	return time.Time{}, false
}

// visible says whether Describe calls still return the instance.
func (in *instance) visible(now time.Time) bool {
	if in.forgotten {
		return false
	}
	if t, ok := in.terminatedAt(now); ok {
		return now.Before(t.Add(TerminatedVisibility))
	}
	return true
}

// transition records an action taken at now: future scheduled events are dropped, then
// the instance enters first immediately and second after d.
func (in *instance) transition(now time.Time, first string, d time.Duration, second string) {
	k := len(in.events)
	for k > 0 && in.events[k-1].at.After(now) {
		k--
	}
	in.events = append(in.events[:k], event{now, first})
	if second != "" {
		in.events = append(in.events, event{now.Add(d), second})
	}
}

// period is an interval the instance spent in one state; end is zero if ongoing at now.
type period struct {
	state      string
	start, end time.Time
}

// periods lists the timeline up to now.
func (in *instance) periods(now time.Time) []period {
	var out []period
	for i, e := range in.events {
		if e.at.After(now) {
			break
		}
		p := period{state: e.state, start: e.at}
		if i+1 < len(in.events) && !in.events[i+1].at.After(now) {
			p.end = in.events[i+1].at
		}
		out = append(out, p)
	}
	return out
}

// seqIndex returns the index of the first instance in order with seq >= seq.
func (rg *region) seqIndex(seq uint64) int {
	return sort.Search(len(rg.order), func(i int) bool { return rg.order[i].seq >= seq })
}
