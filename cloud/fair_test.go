package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/cloud"
)

// fakeClock is a manual clock whose timers fire only when the test advances it, so the
// limiter's pacing is tested without sleeping.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	c := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.cond.Broadcast()
	return ch
}

// waitTimer blocks until someone waits on the clock.
func (c *fakeClock) waitTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) == 0 {
		c.cond.Wait()
	}
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = kept
}

// drive enqueues owners in order on a 1 token/s, burst-1 limiter, advances the clock
// one token at a time until every ticket is granted, and returns the owners in grant
// order.
func drive(t *testing.T, owners []string) []string {
	t.Helper()
	clk := newFakeClock()
	l := cloud.NewFairLimiter(1, 1, clk.Now, clk.After)
	tickets := make([]*cloud.Ticket, len(owners))
	for i, o := range owners {
		tickets[i] = l.Enqueue(o)
	}
	// The first ticket takes the burst token at once; each other needs one second.
	for range len(owners) - 1 {
		clk.waitTimer()
		clk.Advance(time.Second)
	}
	order := make([]string, len(owners))
	for i, tk := range tickets {
		if err := tk.Wait(context.Background()); err != nil {
			t.Fatalf("ticket %d (%s): Wait = %v, want nil", i, tk.Owner(), err)
		}
		seq := tk.Seq()
		if seq < 1 || seq > len(owners) || order[seq-1] != "" {
			t.Fatalf("ticket %d (%s): grant number %d is out of range or taken", i, tk.Owner(), seq)
		}
		order[seq-1] = tk.Owner()
	}
	if q := l.Queued(); len(q) != 0 {
		t.Errorf("after all grants Queued() = %v, want empty", q)
	}
	return order
}

func repeat(owner string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = owner
	}
	return out
}

func TestFairLimiterRoundRobin(t *testing.T) {
	tests := []struct {
		name   string
		owners []string // arrival order
		want   string   // grant order
	}{
		{"one owner keeps arrival order", []string{"a", "a", "a"}, "a a a"},
		{"two owners alternate", []string{"a", "a", "a", "b", "b"}, "a a b a b"},
		{"late single request is served next", []string{"a", "a", "a", "a", "a", "c"}, "a a c a a a"},
		{"three owners share turns", []string{"a", "a", "a", "b", "b", "b", "c"}, "a a b c a b b"},
		{"owner leaving and coming back queues at the end", []string{"a", "b", "a", "b", "c"}, "a b a c b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(drive(t, tt.owners), " ")
			if got != tt.want {
				t.Errorf("grant order = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFairLimiterNoStarvation is the brief's scenario: owner A bursts 50 launches, then B
// asks for one; B must not wait behind all of A's.
func TestFairLimiterNoStarvation(t *testing.T) {
	owners := append(repeat("A", 50), "B")
	order := drive(t, owners)
	posB, lastA := -1, -1
	for i, o := range order {
		switch o {
		case "B":
			posB = i
		case "A":
			lastA = i
		}
	}
	if posB < 0 || lastA < 0 {
		t.Fatalf("grant order %v lacks A or B", order)
	}
	if posB >= lastA {
		t.Errorf("B granted at position %d, after A's 50th (position %d)", posB, lastA)
	}
	// A's first took the burst token before B arrived; A's second was already at the
	// head of the queue; B is next.
	if posB != 2 {
		t.Errorf("B granted at position %d, want 2", posB)
	}
}

func TestFairLimiterCancelLeavesQueue(t *testing.T) {
	clk := newFakeClock()
	l := cloud.NewFairLimiter(1, 1, clk.Now, clk.After)
	if err := l.Enqueue("a").Wait(context.Background()); err != nil {
		t.Fatalf("first Wait = %v, want nil (burst token)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := l.Enqueue("a")
	done := make(chan error, 1)
	go func() { done <- waiting.Wait(ctx) }()
	clk.waitTimer() // the dispatcher waits for the next token
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait = %v, want context.Canceled", err)
	}
	if got := l.Queued(); len(got) != 0 {
		t.Errorf("after cancel Queued() = %v, want empty", got)
	}
	if got := waiting.Seq(); got != 0 {
		t.Errorf("cancelled ticket grant number = %d, want 0 (never granted)", got)
	}

	// The token the cancelled waiter would have had goes to the next one.
	next := l.Enqueue("b")
	clk.Advance(time.Second)
	if err := next.Wait(context.Background()); err != nil {
		t.Fatalf("next Wait = %v, want nil", err)
	}
	if got, want := next.Seq(), 2; got != want {
		t.Errorf("next ticket grant number = %d, want %d", got, want)
	}
}

// TestFairLimiterCancelAfterGrant checks that a token granted to a waiter whose context
// ended at the same time is not lost: the next caller gets it without waiting.
func TestFairLimiterCancelAfterGrant(t *testing.T) {
	clk := newFakeClock()
	l := cloud.NewFairLimiter(1, 1, clk.Now, clk.After)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tk := l.Enqueue("a") // granted at once from the burst
	if err := tk.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a done context = %v, want context.Canceled", err)
	}
	next := l.Enqueue("b")
	select {
	case <-next.Ready():
	default:
		t.Fatalf("next ticket not granted at once; the returned token was lost")
	}
}

// TestFairLimiterConcurrent hammers a fast limiter from many goroutines, some giving
// up, under the race detector: every Wait must return and the queues must drain.
func TestFairLimiterConcurrent(t *testing.T) {
	l := cloud.NewFairLimiter(5000, 3, nil, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var granted, cancelled int
	for o := range 5 {
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				if i%4 == 0 {
					c, cancel := context.WithCancel(ctx)
					cancel()
					ctx = c
				}
				err := l.Wait(ctx, fmt.Sprintf("owner%d", o))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					granted++
				case errors.Is(err, context.Canceled):
					cancelled++
				default:
					t.Errorf("Wait = %v", err)
				}
			}()
		}
	}
	wg.Wait()
	if got, want := granted+cancelled, 200; got != want {
		t.Errorf("granted+cancelled = %d, want %d", got, want)
	}
	if got, want := granted, 150; got != want {
		t.Errorf("granted = %d, want %d (every live context)", got, want)
	}
	if q := l.Queued(); len(q) != 0 {
		t.Errorf("Queued() = %v, want empty", q)
	}
}
