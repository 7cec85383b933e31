package broker

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Log throttling: a refusal that any local user can provoke at will (a connection over
// the cap, a request over the rate limit) must not cost a log line each, or one user
// fills the disk (513,675 lines in 10 s were seen). The first refusal of a kind from a
// uid in an interval is logged at once; further ones are counted and logged as one
// summary line per uid and kind when the interval ends.
const (
	DefaultLogThrottleInterval = time.Minute
	// maxThrottledUIDs bounds the uids tracked per throttle: beyond it, refusals of
	// further uids are aggregated into one "other uids" line per kind, so an attacker
	// with many uids cannot grow the map without bound.
	maxThrottledUIDs = 1024
)

// refusalKind is one kind of throttled refusal.
type refusalKind struct {
	name  string // slog "kind" attribute
	first string // the message of the line logged at once
	what  string // what is refused, plural: "connections"
	why   string // "over the per-uid cap"
}

// The throttled refusals.
var (
	refusedPerUID = refusalKind{"conn_per_uid", "connection refused: over the per-uid connection cap", "connections", "over the per-uid cap"}
	refusedGlobal = refusalKind{"conn_total", "connection refused: over the daemon's connection cap", "connections", "over the daemon's total cap"}
	refusedRate   = refusalKind{"rate", "request refused: over the per-user rate limit", "requests", "over the per-user rate limit"}
)

const logKind = "kind"

type throttleKey struct {
	kind  string
	uid   uint32
	other bool // the "other uids" bucket of kind
}

type throttleWindow struct {
	kind       refusalKind
	start      time.Time
	suppressed int
}

// logThrottle aggregates refusal log lines per uid and kind. Summaries are written by
// flush: at the next refusal after an interval ended, and by a timer (afterFunc) so
// the count of a flood that stopped is not lost.
type logThrottle struct {
	now       func() time.Time
	interval  time.Duration
	maxUIDs   int
	afterFunc func(time.Duration, func()) // time.AfterFunc; nil in tests that drive flush

	mu      sync.Mutex
	windows map[throttleKey]*throttleWindow
	uids    int  // windows of single uids (not "other")
	timer   bool // a flush is scheduled
	log     *slog.Logger
}

func newLogThrottle(now func() time.Time) *logThrottle {
	if now == nil {
		now = time.Now
	}
	return &logThrottle{now: now, interval: DefaultLogThrottleInterval, maxUIDs: maxThrottledUIDs,
		afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		windows:   map[throttleKey]*throttleWindow{}}
}

type logLine struct {
	msg   string
	attrs []any
}

// refuse records one refusal of kind from uid, logging it at once if it is the first
// of its interval.
func (t *logThrottle) refuse(log *slog.Logger, kind refusalKind, uid uint32) {
	if log == nil {
		return
	}
	t.mu.Lock()
	t.log = log
	now := t.now()
	lines := t.expireLocked(now)
	key := throttleKey{kind: kind.name, uid: uid}
	w, ok := t.windows[key]
	if !ok && t.uids >= t.maxUIDs {
		key = throttleKey{kind: kind.name, other: true}
		w, ok = t.windows[key]
	}
	switch {
	case ok:
		w.suppressed++
		if !t.timer && t.afterFunc != nil {
			t.timer = true
			t.afterFunc(w.start.Add(t.interval).Sub(now), t.flushTimer)
		}
	case key.other:
		t.windows[key] = &throttleWindow{kind: kind, start: now}
		lines = append(lines, logLine{kind.first + " (too many uids refused: further uids are counted together)", []any{logKind, kind.name, logUID, uid}})
	default:
		t.windows[key] = &throttleWindow{kind: kind, start: now}
		t.uids++
		lines = append(lines, logLine{kind.first, []any{logKind, kind.name, logUID, uid}})
	}
	t.mu.Unlock()
	for _, l := range lines {
		log.Warn(l.msg, l.attrs...)
	}
}

// flush writes the summaries of intervals that have ended.
func (t *logThrottle) flush() {
	t.mu.Lock()
	lines := t.expireLocked(t.now())
	log := t.log
	t.mu.Unlock()
	for _, l := range lines {
		log.Warn(l.msg, l.attrs...)
	}
}

func (t *logThrottle) flushTimer() {
	t.mu.Lock()
	t.timer = false
	pending := false
	for _, w := range t.windows {
		pending = pending || w.suppressed > 0
	}
	t.mu.Unlock()
	t.flush()
	t.mu.Lock()
	defer t.mu.Unlock()
	if pending && len(t.windows) > 0 && !t.timer && t.afterFunc != nil {
		// Some windows had not ended yet: look again one interval later.
		t.timer = true
		t.afterFunc(t.interval, t.flushTimer)
	}
}

// expireLocked ends the windows whose interval is over and returns their summaries.
func (t *logThrottle) expireLocked(now time.Time) []logLine {
	var lines []logLine
	for key, w := range t.windows {
		if now.Sub(w.start) < t.interval {
			continue
		}
		if w.suppressed > 0 {
			who, attrs := fmt.Sprintf("uid %d", key.uid), []any{logKind, key.kind, logUID, key.uid, logCount, w.suppressed}
			if key.other {
				who, attrs = "other uids", []any{logKind, key.kind, logCount, w.suppressed}
			}
			lines = append(lines, logLine{fmt.Sprintf("refused %d %s from %s %s in the last %s",
				w.suppressed, w.kind.what, who, w.kind.why, t.interval), attrs})
		}
		delete(t.windows, key)
		if !key.other {
			t.uids--
		}
	}
	return lines
}
