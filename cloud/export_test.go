package cloud

import (
	"context"
	"time"
)

// FairLimiter exposes the RunInstances limiter to the external tests.
type FairLimiter = fairLimiter

// Ticket exposes a limiter queue place to the external tests.
type Ticket = ticket

// NewFairLimiter exposes newFairLimiter.
func NewFairLimiter(perSecond float64, burst int, now func() time.Time, after func(time.Duration) <-chan time.Time) *FairLimiter {
	return newFairLimiter(perSecond, burst, now, after)
}

// Enqueue exposes enqueue, so a test fixes the arrival order.
func (l *fairLimiter) Enqueue(owner string) *Ticket { return l.enqueue(owner) }

// Queued exposes queued.
func (l *fairLimiter) Queued() map[string]int { return l.queued() }

// Wait exposes ticket.wait.
func (t *ticket) Wait(ctx context.Context) error { return t.wait(ctx) }

// Ready is closed when the ticket is granted.
func (t *ticket) Ready() <-chan struct{} { return t.ready }

// Seq is the ticket's grant number (1 = first token handed out); 0 before the grant.
func (t *ticket) Seq() int {
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	return t.seq
}

// Owner is the owner the ticket queues for.
func (t *ticket) Owner() string { return t.owner }

// ListServiceCredentialsPaged exposes listServiceCredentials, so a test sees the
// hand-written pager follow several pages.
func (c *Client) ListServiceCredentialsPaged(ctx context.Context, user string, pageSize int32) ([]string, error) {
	return c.listServiceCredentials(ctx, user, pageSize)
}
