package quota

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Day is 24 hours. Leases and budgets work in UTC, where every day has 24 hours.
const Day = 24 * time.Hour

// durationHint tells a user what ParseDuration accepts.
const durationHint = "use whole numbers with d, h or m, e.g. 4h, 90m, 1h30m, 2d"

// ParseDuration parses a lease duration such as "4h", "90m", "1h30m" or "2d". Units are
// d (24h), h, m and s; seconds are accepted only when the total is whole minutes, so
// "4h0m0s" (what time.Duration prints) round-trips. "0" is zero. Fractions, negative
// values and sub-minute precision are refused with a message saying what is allowed.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration (%s)", durationHint)
	}
	if s == "0" {
		return 0, nil
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("%q is negative (%s)", orig, durationHint)
	}
	if s[0] == '+' {
		s = s[1:]
	}
	var total time.Duration
	seen := false
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("%q is not a duration (%s)", orig, durationHint)
		}
		digits := s[:i]
		s = s[i:]
		j := 0
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		unitName := s[:j]
		s = s[j:]
		var unit time.Duration
		switch unitName {
		case "d":
			unit = Day
		case "h":
			unit = time.Hour
		case "m":
			unit = time.Minute
		case "s":
			unit = time.Second
		case "ms", "us", "µs", "ns":
			return 0, fmt.Errorf("%q is finer than a minute (%s)", orig, durationHint)
		case "":
			return 0, fmt.Errorf("%q has a number without a unit (%s)", orig, durationHint)
		default:
			if strings.HasPrefix(unitName, ".") || strings.HasPrefix(unitName, ",") {
				return 0, fmt.Errorf("%q has a fraction (%s)", orig, durationHint)
			}
			return 0, fmt.Errorf("%q is not a duration (%s)", orig, durationHint)
		}
		var n int64
		for _, c := range digits {
			if n > (math.MaxInt64-9)/10 {
				return 0, fmt.Errorf("%q is too long", orig)
			}
			n = n*10 + int64(c-'0')
		}
		if n > int64(math.MaxInt64/unit) {
			return 0, fmt.Errorf("%q is too long", orig)
		}
		v := time.Duration(n) * unit
		if total > math.MaxInt64-v {
			return 0, fmt.Errorf("%q is too long", orig)
		}
		total += v
		seen = true
	}
	if !seen {
		return 0, fmt.Errorf("%q is not a duration (%s)", orig, durationHint)
	}
	if total%time.Minute != 0 {
		return 0, fmt.Errorf("%q is finer than a minute (%s)", orig, durationHint)
	}
	return total, nil
}

// FormatDuration prints d the way ParseDuration reads it: "4h", "1h30m", "36h", "2d4h"
// (days only from two days up).
// Sub-minute remainders (which policy never holds) print as seconds, e.g. "1m30s".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0m"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		if d == math.MinInt64 {
			return time.Duration(d).String()
		}
		d = -d
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if u.unit == Day && d < 2*Day {
			continue // "36h" reads better than "1d12h"
		}
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	if d > 0 {
		fmt.Fprintf(&b, "%dns", int64(d))
	}
	return b.String()
}
