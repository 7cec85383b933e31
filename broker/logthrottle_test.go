package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineLog is a logger whose lines a test can count.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

func newLineLog() (*lineLog, *slog.Logger) {
	l := &lineLog{}
	return l, slog.New(slog.NewTextHandler(l, nil))
}

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func countContaining(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// TestConnRefusalLogThrottled: 10,000 connections over the per-uid cap from one uid give
// one line at once and one summary with the right count; another uid gets its own.
func TestConnRefusalLogThrottled(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	out, log := newLineLog()
	l := newConnLimiter(1, 100)
	l.refusals = newLogThrottle(clk.now)
	l.refusals.afterFunc = nil // the test drives flush
	if !l.acquire(1001) {
		t.Fatal("first connection refused")
	}
	for i := 0; i < 10000; i++ {
		kind, ok := l.tryAcquire(1001)
		if ok {
			t.Fatal("connection over the cap admitted")
		}
		l.refusals.refuse(log, kind, 1001)
		if i%100 == 0 {
			clk.advance(time.Millisecond) // 10,000 over 100 ms
		}
	}
	l.acquire(1002)
	kind, _ := l.tryAcquire(1002)
	l.refusals.refuse(log, kind, 1002)
	clk.advance(time.Minute)
	l.refusals.flush()

	lines := out.lines()
	if len(lines) > 5 {
		t.Fatalf("%d log lines for 10,001 refusals, want at most a handful:\n%s", len(lines), strings.Join(lines[:10], "\n"))
	}
	if got := countContaining(lines, "refused 9999 connections from uid 1001 over the per-uid cap in the last 1m0s"); got != 1 {
		t.Errorf("summary of uid 1001: %d lines, want 1:\n%s", got, strings.Join(lines, "\n"))
	}
	if got := countContaining(lines, "uid=1002"); got != 1 {
		t.Errorf("uid 1002: %d lines, want its own one:\n%s", got, strings.Join(lines, "\n"))
	}
	if got := countContaining(lines, "connection refused: over the per-uid connection cap"); got != 2 {
		t.Errorf("first refusals logged at once: %d, want 2 (one per uid):\n%s", got, strings.Join(lines, "\n"))
	}
	// The next interval starts afresh: its first refusal is logged at once.
	l.refusals.refuse(log, refusedPerUID, 1001)
	if got := len(out.lines()); got != len(lines)+1 {
		t.Errorf("a refusal in a new interval: %d lines, want %d", got, len(lines)+1)
	}
}

// TestRefusalLogThrottleBounded: many uids cannot grow the throttle without bound;
// beyond the cap they share one "other uids" line.
func TestRefusalLogThrottleBounded(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	out, log := newLineLog()
	th := newLogThrottle(clk.now)
	th.afterFunc = nil
	th.maxUIDs = 10
	for uid := uint32(1); uid <= 5000; uid++ {
		th.refuse(log, refusedPerUID, uid)
		th.refuse(log, refusedPerUID, uid)
	}
	if n := len(th.windows); n > th.maxUIDs+3 {
		t.Errorf("throttle tracks %d windows, want at most %d", n, th.maxUIDs+3)
	}
	clk.advance(time.Minute)
	th.flush()
	lines := out.lines()
	if len(lines) > 2*th.maxUIDs+2 {
		t.Errorf("%d lines for 5000 uids, want at most %d", len(lines), 2*th.maxUIDs+2)
	}
	// 4990 uids beyond the cap refused twice each, the first of them logged at once.
	if got := countContaining(lines, "refused 9979 connections from other uids over the per-uid cap"); got != 1 {
		t.Errorf("no correct \"other uids\" summary:\n%s", strings.Join(lines, "\n"))
	}
	if len(th.windows) != 0 {
		t.Errorf("%d windows left after the interval, want 0", len(th.windows))
	}
}

// TestRateRefusalLogThrottled: the per-user rate limit's refusals go through the same
// throttle.
func TestRateRefusalLogThrottled(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	out, log := newLineLog()
	l := newUserLimiter(clk.now, 1, 1)
	l.refusals.afterFunc = nil
	refused := 0
	for i := 0; i < 10000; i++ {
		if l.allow(log, 1001) != nil {
			refused++
		}
	}
	clk.advance(time.Minute)
	l.refusals.flush()
	lines := out.lines()
	if len(lines) != 2 {
		t.Fatalf("%d lines for %d refused requests, want 2:\n%s", len(lines), refused, strings.Join(lines, "\n"))
	}
	if want := "refused 9998 requests from uid 1001 over the per-user rate limit in the last 1m0s"; !strings.Contains(lines[1], want) {
		t.Errorf("summary %q, want %q", lines[1], want)
	}
}

// TestRefusalLogThrottleTimer: the count of a flood that stopped is still logged, by
// the throttle's timer, without a further refusal.
func TestRefusalLogThrottleTimer(t *testing.T) {
	out, log := newLineLog()
	th := newLogThrottle(time.Now)
	th.interval = 20 * time.Millisecond
	for i := 0; i < 3; i++ {
		th.refuse(log, refusedPerUID, 7)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if lines := out.lines(); len(lines) == 2 {
			if !strings.Contains(lines[1], "refused 2 connections from uid 7") {
				t.Errorf("summary %q", lines[1])
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("no summary after the interval:\n%s", strings.Join(out.lines(), "\n"))
}
