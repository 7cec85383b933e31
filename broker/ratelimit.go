package broker

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tollgate/tollgate"
	"golang.org/x/time/rate"
)

// Default per-user limit on mutating requests: generous for people and scripts, but a
// loop of refused requests cannot flood the audit log or the cloud's API rate.
const (
	DefaultMutationRate  = 10 // requests per second, refilled continuously
	DefaultMutationBurst = 60
)

// userLimiter is a token bucket per peer uid, driven by the daemon's clock.
type userLimiter struct {
	now   func() time.Time
	limit rate.Limit
	burst int

	// refusals aggregates the log lines of refused requests (one line per uid per
	// interval, then a count).
	refusals *logThrottle

	mu      sync.Mutex
	buckets map[int]*rate.Limiter
}

func newUserLimiter(now func() time.Time, perSecond float64, burst int) *userLimiter {
	return &userLimiter{now: now, limit: rate.Limit(perSecond), burst: burst, buckets: map[int]*rate.Limiter{},
		refusals: newLogThrottle(now)}
}

// allow takes one token from uid's bucket, or returns the refusal to send; a refusal is
// logged to log through the throttle.
func (l *userLimiter) allow(log *slog.Logger, uid int) *tollgate.Error {
	l.mu.Lock()
	b, ok := l.buckets[uid]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[uid] = b
	}
	l.mu.Unlock()
	if b.AllowN(l.now(), 1) {
		return nil
	}
	l.refusals.refuse(log, refusedRate, uint32(uid))
	return &tollgate.Error{Code: tollgate.CodeUnavailable,
		Message: fmt.Sprintf("too many requests: at most %g changes per second (bursts of %d) per user", float64(l.limit), l.burst),
		Hint:    "wait a few seconds and retry; loop over ids in one request (stop ID…) rather than one request each"}
}
