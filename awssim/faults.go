package awssim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Faults are the simulator's failure knobs. The zero value injects nothing. They can be
// changed at any time (SetFaults or POST /_sim/faults); setting them resets the random
// generator from Seed and refills every throttling bucket, so a test that sets faults and
// then issues a fixed sequence of requests sees a reproducible sequence of failures.
type Faults struct {
	// Seed seeds the generator behind ErrorRate and FailAfterApply.
	Seed int64 `json:"seed"`
	// Throttle turns on EC2's token-bucket request throttling (RequestLimitExceeded, HTTP
	// 503). Buckets refill by the simulator clock, so under a manual clock they refill
	// only when the clock is advanced.
	Throttle bool `json:"throttle"`
	// Buckets overrides the documented bucket sizes and refill rates; nil or zero fields
	// mean DefaultThrottleBuckets.
	Buckets *ThrottleBuckets `json:"buckets,omitempty"`
	// ErrorRate maps an EC2 action name (or "*" for every action) to the probability that
	// a request fails with InternalError (500) or Unavailable (503) before it is applied.
	ErrorRate map[string]float64 `json:"error_rate,omitempty"`
	// FailAfterApply maps an action (or "*") to the probability that the action is applied
	// and then answered with a 500 InternalError, as if the response were lost: a client
	// that retries without a ClientToken would launch twice.
	FailAfterApply map[string]float64 `json:"fail_after_apply,omitempty"`
	// Latency is slept (in real time) before every request is served.
	Latency time.Duration `json:"latency"`
	// NotFoundWindow models EC2's eventual consistency: for this long after launch,
	// DescribeInstances naming the instance by id answers InvalidInstanceID.NotFound.
	NotFoundWindow time.Duration `json:"not_found_window"`
	// InsufficientCapacity makes matching RunInstances calls fail with
	// InsufficientInstanceCapacity (HTTP 500, as EC2 answers).
	InsufficientCapacity []CapacityFault `json:"insufficient_capacity,omitempty"`
}

// Bucket is one token bucket: it holds at most Size tokens and gains RefillPerSecond
// tokens each second.
type Bucket struct {
	Size            float64 `json:"size"`
	RefillPerSecond float64 `json:"refill_per_second"`
}

// ThrottleBuckets are the bucket parameters by API category, after EC2's documented
// request-rate and resource-rate limits. Each action has its own bucket of its
// category's size in each region; resource buckets count instances, not requests.
type ThrottleBuckets struct {
	NonMutating                Bucket `json:"non_mutating"`
	UnfilteredNonMutating      Bucket `json:"unfiltered_non_mutating"`
	Mutating                   Bucket `json:"mutating"`
	ResourceIntensive          Bucket `json:"resource_intensive"`
	RunInstancesResource       Bucket `json:"run_instances_resource"`
	StartInstancesResource     Bucket `json:"start_instances_resource"`
	StopInstancesResource      Bucket `json:"stop_instances_resource"`
	TerminateInstancesResource Bucket `json:"terminate_instances_resource"`
}

// DefaultThrottleBuckets are EC2's documented default limits.
func DefaultThrottleBuckets() ThrottleBuckets {
	return ThrottleBuckets{
		NonMutating:                Bucket{100, 20},
		UnfilteredNonMutating:      Bucket{50, 10},
		Mutating:                   Bucket{200, 5},
		ResourceIntensive:          Bucket{50, 5},
		RunInstancesResource:       Bucket{1000, 2},
		StartInstancesResource:     Bucket{1000, 2},
		StopInstancesResource:      Bucket{1000, 20},
		TerminateInstancesResource: Bucket{1000, 20},
	}
}

func (b ThrottleBuckets) withDefaults() ThrottleBuckets {
	d := DefaultThrottleBuckets()
	pick := func(v *Bucket, def Bucket) {
		if v.Size <= 0 {
			v.Size = def.Size
		}
		if v.RefillPerSecond <= 0 {
			v.RefillPerSecond = def.RefillPerSecond
		}
	}
	pick(&b.NonMutating, d.NonMutating)
	pick(&b.UnfilteredNonMutating, d.UnfilteredNonMutating)
	pick(&b.Mutating, d.Mutating)
	pick(&b.ResourceIntensive, d.ResourceIntensive)
	pick(&b.RunInstancesResource, d.RunInstancesResource)
	pick(&b.StartInstancesResource, d.StartInstancesResource)
	pick(&b.StopInstancesResource, d.StopInstancesResource)
	pick(&b.TerminateInstancesResource, d.TerminateInstancesResource)
	return b
}

// MarshalJSON writes durations as Go duration strings ("250ms") for readability.
func (f Faults) MarshalJSON() ([]byte, error) {
	type plain Faults
	return json.Marshal(struct {
		plain
		Latency        string `json:"latency"`
		NotFoundWindow string `json:"not_found_window"`
	}{plain(f), f.Latency.String(), f.NotFoundWindow.String()})
}

// UnmarshalJSON accepts durations as strings ("2s") or as numbers of nanoseconds, so the
// control endpoint is convenient from curl and still round-trips time.Duration.
func (f *Faults) UnmarshalJSON(b []byte) error {
	type plain Faults
	var aux struct {
		plain
		Latency        json.RawMessage `json:"latency"`
		NotFoundWindow json.RawMessage `json:"not_found_window"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*f = Faults(aux.plain)
	var err error
	if f.Latency, err = parseJSONDuration(aux.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if f.NotFoundWindow, err = parseJSONDuration(aux.NotFoundWindow); err != nil {
		return fmt.Errorf("not_found_window: %w", err)
	}
	return nil
}

func parseJSONDuration(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return time.ParseDuration(s)
	}
	n, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("want a duration string or nanoseconds, got %s", raw)
	}
	return time.Duration(n), nil
}

// faultState is the live state behind the knobs: the generator and bucket levels.
type faultState struct {
	rng     *rand.Rand
	buckets ThrottleBuckets
}

func newFaultState(f Faults) *faultState {
	b := ThrottleBuckets{}
	if f.Buckets != nil {
		b = *f.Buckets
	}
	return &faultState{
		rng:     rand.New(rand.NewPCG(uint64(f.Seed), uint64(f.Seed)^0x9e3779b97f4a7c15)),
		buckets: b.withDefaults(),
	}
}

// SetFaults replaces the fault knobs, reseeding the generator and refilling buckets.
func (s *Sim) SetFaults(f Faults) {
	f.ErrorRate = copyRates(f.ErrorRate)
	f.FailAfterApply = copyRates(f.FailAfterApply)
	if f.Buckets != nil {
		b := *f.Buckets
		f.Buckets = &b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.faultState = newFaultState(f)
	for _, rg := range s.regions {
		rg.buckets = map[string]*bucket{}
	}
}

// CurrentFaults returns (a copy of) the knobs in force.
func (s *Sim) CurrentFaults() Faults { return s.currentFaults() }

func (s *Sim) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.ErrorRate = copyRates(f.ErrorRate)
	f.FailAfterApply = copyRates(f.FailAfterApply)
	if f.Buckets != nil {
		b := *f.Buckets
		f.Buckets = &b
	}
	return f
}

// latency is the Latency knob, read without copying the other knobs.
func (s *Sim) latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Latency
}

func copyRates(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// bucket is a token bucket's live level.
type bucket struct {
	tokens float64
	last   time.Time
}

// take removes n tokens if available, refilling first by the time elapsed since the last
// take.
func (b *bucket) take(cfg Bucket, now time.Time, n float64) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens += el * cfg.RefillPerSecond
		b.last = now
	}
	if b.tokens > cfg.Size {
		b.tokens = cfg.Size
	}
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// actionCategory classifies EC2 actions for throttling, as EC2's documentation does.
var actionCategory = map[string]string{
	"RunInstances":       "resource-intensive",
	"StartInstances":     "mutating",
	"StopInstances":      "mutating",
	"TerminateInstances": "mutating",
	"CreateTags":         "mutating",
	"DeleteTags":         "mutating",
	"ImportKeyPair":      "mutating",
	"DeleteKeyPair":      "mutating",
	"DeleteVolume":       "mutating",
}

// throttle charges one request token (and, for instance actions, one resource token per
// instance) and reports whether the request may proceed. Callers hold s.mu.
func (s *Sim) throttle(rg *region, action string, unfiltered bool, resources int, now time.Time) bool {
	cfg := s.faultState.buckets
	cat := actionCategory[action]
	var b Bucket
	switch {
	case cat == "resource-intensive":
		b = cfg.ResourceIntensive
	case cat == "mutating":
		b = cfg.Mutating
	case unfiltered:
		b = cfg.UnfilteredNonMutating
		cat = "unfiltered"
	default:
		b = cfg.NonMutating
	}
	get := func(key string, c Bucket) *bucket {
		bk := rg.buckets[key]
		if bk == nil {
			bk = &bucket{tokens: c.Size, last: now}
			rg.buckets[key] = bk
		}
		return bk
	}
	var rc Bucket
	switch action {
	case "RunInstances":
		rc = cfg.RunInstancesResource
	case "StartInstances":
		rc = cfg.StartInstancesResource
	case "StopInstances":
		rc = cfg.StopInstancesResource
	case "TerminateInstances":
		rc = cfg.TerminateInstancesResource
	}
	req := get(action+"/"+cat, b)
	if rc.Size > 0 && resources > 0 {
		res := get(action+"/resource", rc)
		// Check the resource bucket without charging the request bucket twice.
		probe := *res
		if !probe.take(rc, now, float64(resources)) {
			*res = probe
			return false
		}
		if !req.take(b, now, 1) {
			return false
		}
		*res = probe
		return true
	}
	return req.take(b, now, 1)
}

// roll draws from the seeded generator and reports whether an event of probability p
// happens. Callers hold s.mu.
func (s *Sim) roll(m map[string]float64, action string) bool {
	p, ok := m[action]
	if !ok {
		p, ok = m["*"]
	}
	if !ok || p <= 0 {
		return false
	}
	return s.faultState.rng.Float64() < p
}
