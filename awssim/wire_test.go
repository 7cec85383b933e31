package awssim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestFmtTime compares fmtTime with time.Format on random instants of every era, in
// random zones, to the nanosecond (the milliseconds are truncated, not rounded).
func TestFmtTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("x", -(9*3600 + 30*60)), time.FixedZone("y", 14*3600)}
	edges := []time.Time{{}, DefaultStart, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Unix(0, 999999)}
	for i := range 20000 {
		var tm time.Time
		if i < len(edges) {
			tm = edges[i]
		} else {
			tm = time.Unix(rng.Int64N(1<<39)-1<<38, rng.Int64N(1e9))
		}
		tm = tm.In(zones[rng.IntN(len(zones))])
		if got, want := fmtTime(tm), tm.UTC().Format(awsTime); got != want {
			t.Fatalf("fmtTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestFilterMatches checks the indexed filter against the definition: a resource
// matches when any of its values globs any of the filter's values.
func TestFilterMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "b", "ab", "*", "?", `\*`, `\`, "i-0", ""}
	word := func() string {
		var s string
		for range rng.IntN(4) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	list := func() []string {
		out := make([]string, rng.IntN(5))
		for i := range out {
			out[i] = word()
		}
		return out
	}
	for range 20000 {
		values, got := list(), list()
		want := false
		for _, v := range values {
			for _, g := range got {
				want = want || glob(v, g)
			}
		}
		f := newFilter("x", values)
		if f.matches(got) != want {
			t.Fatalf("filter %q on %q: matches = %v, want %v", values, got, !want, want)
		}
	}
}
