package cloud

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// fairLimiter paces RunInstances calls with a token bucket and hands the tokens out
// round-robin across owners. A plain rate.Limiter serves waiters in arrival order, so a
// user who bursts 200 launches would make everyone queued behind them wait for all 200;
// here each owner with someone waiting gets one token per turn, so a single request from
// another owner is served after at most one token per busy owner.
//
// Tokens are taken from the bucket by one dispatcher goroutine, which exists only while
// someone waits, and then given to whoever's turn it is at that moment. A waiter that
// gives up (context done) leaves its queue; a token granted to it in the same instant
// is kept for the next waiter rather than lost.
type fairLimiter struct {
	lim   *rate.Limiter
	now   func() time.Time
	after func(time.Duration) <-chan time.Time

	mu      sync.Mutex
	queues  map[string][]*ticket // per owner, FIFO
	order   []string             // owners with waiters, in round-robin order
	next    int                  // index into order of the owner served next
	held    int                  // tokens taken from the bucket but not yet handed out
	running bool                 // a dispatcher goroutine is active
	grants  int                  // tokens handed out so far, to number grants
}

// ticket is one place in a fairLimiter queue. ready is closed when the token is granted.
type ticket struct {
	l       *fairLimiter
	owner   string
	ready   chan struct{}
	granted bool // guarded by l.mu
	seq     int  // guarded by l.mu: 1 for the first token the limiter handed out, ...
}

// newFairLimiter returns a limiter allowing perSecond tokens a second with the given
// burst. now and after are the clock; nil means the wall clock.
func newFairLimiter(perSecond float64, burst int, now func() time.Time, after func(time.Duration) <-chan time.Time) *fairLimiter {
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	if burst < 1 {
		burst = 1
	}
	return &fairLimiter{
		lim:    rate.NewLimiter(rate.Limit(perSecond), burst),
		now:    now,
		after:  after,
		queues: map[string][]*ticket{},
	}
}

// Wait blocks until owner may make one call or ctx is done.
func (l *fairLimiter) Wait(ctx context.Context, owner string) error {
	return l.enqueue(owner).wait(ctx)
}

// enqueue takes a place in owner's queue (or a token at once when nobody waits and the
// bucket has one). Separate from wait so tests can fix the arrival order.
func (l *fairLimiter) enqueue(owner string) *ticket {
	t := &ticket{l: l, owner: owner, ready: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.order) == 0 {
		// Nobody is queued, so nobody can be overtaken.
		if l.held > 0 {
			l.held--
			t.grant()
			return t
		}
		if l.lim.AllowN(l.now(), 1) {
			t.grant()
			return t
		}
	}
	if len(l.queues[owner]) == 0 {
		l.order = append(l.order, owner)
	}
	l.queues[owner] = append(l.queues[owner], t)
	if !l.running {
		l.running = true
		go l.dispatch()
	}
	return t
}

// wait blocks until the ticket is granted or ctx is done; in the latter case the ticket
// leaves its queue, and a token granted in the meantime goes back to the limiter.
func (t *ticket) wait(ctx context.Context) error {
	if ctx.Err() == nil {
		select {
		case <-t.ready:
			return nil
		case <-ctx.Done():
		}
	}
	l := t.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.granted {
		// Granted and cancelled at once: keep the token for someone else.
		l.held++
		if !l.running && len(l.order) > 0 {
			l.running = true
			go l.dispatch()
		}
		return ctx.Err()
	}
	l.remove(t)
	return ctx.Err()
}

// grant hands the token to the ticket. Callers hold l.mu.
func (t *ticket) grant() {
	t.l.grants++
	t.seq = t.l.grants
	t.granted = true
	close(t.ready)
}

// remove takes a ticket out of its owner's queue. Callers hold l.mu.
func (l *fairLimiter) remove(t *ticket) {
	q := l.queues[t.owner]
	for i, x := range q {
		if x == t {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) > 0 {
		l.queues[t.owner] = q
		return
	}
	delete(l.queues, t.owner)
	for i, o := range l.order {
		if o == t.owner {
			l.order = append(l.order[:i:i], l.order[i+1:]...)
			if i < l.next {
				l.next--
			}
			break
		}
	}
	if l.next >= len(l.order) {
		l.next = 0
	}
}

// dispatch takes tokens from the bucket while anyone waits and grants each to the next
// owner in turn. It exits when the queues are empty.
func (l *fairLimiter) dispatch() {
	for {
		l.mu.Lock()
		if len(l.order) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		if l.held == 0 {
			l.mu.Unlock()
			now := l.now()
			r := l.lim.ReserveN(now, 1)
			if d := r.DelayFrom(now); d > 0 {
				<-l.after(d)
			}
			l.mu.Lock()
			l.held++
		}
		if len(l.order) > 0 {
			l.held--
			l.pop().grant()
		}
		l.mu.Unlock()
	}
}

// pop removes and returns the head of the queue of the owner whose turn it is, and
// moves the turn on. Callers hold l.mu and have checked that someone waits.
func (l *fairLimiter) pop() *ticket {
	if l.next >= len(l.order) {
		l.next = 0
	}
	owner := l.order[l.next]
	q := l.queues[owner]
	t := q[0]
	if len(q) == 1 {
		delete(l.queues, owner)
		l.order = append(l.order[:l.next:l.next], l.order[l.next+1:]...)
		// The next owner slid into this index: the turn stays here.
	} else {
		l.queues[owner] = q[1:]
		l.next++
	}
	if l.next >= len(l.order) {
		l.next = 0
	}
	return t
}

// queued reports how many waiters each owner has; for tests and metrics.
func (l *fairLimiter) queued() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.queues))
	for o, q := range l.queues {
		m[o] = len(q)
	}
	return m
}
