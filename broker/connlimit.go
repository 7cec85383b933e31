package broker

import (
	"net"
	"sync"
	"time"
)

// Connection limits: every open connection costs the daemon a descriptor, a goroutine
// and buffers, so one local user must not be able to hold them all.
const (
	DefaultMaxConnsPerUID = 32
	DefaultMaxConns       = 1024
)

// Server timeouts. Bodies are at most about 100 KiB, so 30 s to read one is generous;
// handlers that legitimately run longer (a launch waiting on IAM, an admin collect)
// extend their own write deadline to longWriteTimeout.
const (
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 60 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	longWriteTimeout    = 3 * time.Minute
)

// connLimiter counts open connections per peer uid and in all. Root is exempt from the
// per-uid cap (but not from the global one): an admin must be able to reach a daemon
// that some user is flooding.
type connLimiter struct {
	perUID, total int

	// refusals aggregates the log lines of refused connections: any local user can
	// open connections in a loop.
	refusals *logThrottle

	mu    sync.Mutex
	open  int
	byUID map[uint32]int
}

func newConnLimiter(perUID, total int) *connLimiter {
	return &connLimiter{perUID: perUID, total: total, byUID: map[uint32]int{}, refusals: newLogThrottle(time.Now)}
}

// acquire counts a new connection of uid, or reports false if it is over a cap.
func (l *connLimiter) acquire(uid uint32) bool {
	_, ok := l.tryAcquire(uid)
	return ok
}

// tryAcquire is acquire that also says which cap refused the connection.
func (l *connLimiter) tryAcquire(uid uint32) (refusalKind, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.total {
		return refusedGlobal, false
	}
	if uid != 0 && l.byUID[uid] >= l.perUID {
		return refusedPerUID, false
	}
	l.open++
	l.byUID[uid]++
	return refusalKind{}, true
}

// release uncounts a connection acquire admitted.
func (l *connLimiter) release(uid uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byUID[uid]--; l.byUID[uid] <= 0 {
		delete(l.byUID, uid)
	}
}

// limitedConn releases its slot once, on the first Close.
type limitedConn struct {
	*peerConn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.peerConn.Close()
}

// credOf returns the peer credentials of a connection the listener accepted.
func credOf(c net.Conn) (*peerConn, bool) {
	switch c := c.(type) {
	case *peerConn:
		return c, true
	case *limitedConn:
		return c.peerConn, true
	}
	return nil, false
}
