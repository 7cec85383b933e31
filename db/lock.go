package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// localLocks are the named locks of one process, by name: the whole of [DB.Lock] on
// SQLite (one host), its first half on PostgreSQL (so a process's goroutines queue here
// rather than each holding a server connection while they wait).
type localLocks struct {
	mu sync.Mutex
	m  map[string]*localLock
}

type localLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; the entry goes when it drops to 0
}

// processLocks are the named locks of every database this process has open, by path:
// two handles on one SQLite file (tests run two daemons in one process) share them.
var processLocks sync.Map // path → *localLocks

func locksOf(path string) *localLocks {
	l, _ := processLocks.LoadOrStore(path, &localLocks{m: map[string]*localLock{}})
	return l.(*localLocks)
}

func (l *localLocks) lock(name string) func() {
	l.mu.Lock()
	e := l.m[name]
	if e == nil {
		e = &localLock{}
		l.m[name] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}

// lockKey is the PostgreSQL advisory lock key of a named lock.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("tollgate:" + name))
	return int64(h.Sum64())
}

// Lock takes the named lock and returns its release: a lock that guards what must not run
// twice at once anywhere (one import of a keypair, one IAM change of a user, one
// collector pass). On SQLite it is this process's (one host has the file); on PostgreSQL
// it is a session advisory lock every host's daemon sees, held on a connection of its own
// until the release. It waits for ctx.
func (d *DB) Lock(ctx context.Context, name string) (unlock func(), err error) {
	unlocal := d.locks.lock(name)
	if d.engine != Postgres {
		return unlocal, nil
	}
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		unlocal()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	key := lockKey(name)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		discard(conn)
		unlocal()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// The session may still hold the lock: it must not go back to the pool.
			discard(conn)
		} else {
			conn.Close()
		}
		unlocal()
	}, nil
}

// discard closes conn's session for good (database/sql drops a connection whose driver
// reports it bad), releasing every session lock it held.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// LeadOptions configures [DB.Lead].
type LeadOptions struct {
	// Poll is how often a follower tries to take the lead, and how often the leader
	// checks its session is alive (default 10 s): a dead leader is replaced within about
	// three Polls of its session ending (one to take the lock, two to let a leader cut
	// off from the database notice and stop before the new one starts).
	Poll time.Duration
	// OnChange, if set, is told when this process gains (true) or loses (false) the lead.
	OnChange func(leading bool)
}

// Lead runs fn while this process leads the background work of every daemon sharing the
// database, and returns when ctx ends or fn fails. On SQLite the process always leads
// (one host). On PostgreSQL the lead is the session advisory lock name, held on a
// connection of its own: a follower tries to take it every Poll; the leader checks its
// session every Poll and, when the session is gone (the server restarted, the network
// failed), cancels fn's context, waits for fn, and becomes a follower again. A leader
// that dies loses its session, and so the lock, with it.
func (d *DB) Lead(ctx context.Context, name string, o LeadOptions, fn func(ctx context.Context) error) error {
	if o.Poll <= 0 {
		o.Poll = 10 * time.Second
	}
	change := func(leading bool) {
		if o.OnChange != nil {
			o.OnChange(leading)
		}
	}
	if d.engine != Postgres {
		change(true)
		defer change(false)
		return fn(ctx)
	}
	key := lockKey("lead:" + name)
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for {
		conn, ok, err := d.tryLead(ctx, key)
		if err != nil && ctx.Err() == nil {
			// A database that cannot be reached now may be back at the next poll.
			ok = false
		}
		if ok && d.settleLead(ctx, conn, 2*o.Poll) {
			change(true)
			err := d.holdLead(ctx, conn, key, t.C, fn)
			change(false)
			if err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// settleLead waits wait with the lead lock held before the new leader starts: a leader
// whose session ended without its process dying (a network failure) goes on until its
// next check of the session, at most one Poll, and finishes the step in hand; only then
// may another host act. It reports false (the lock released) if the session ends
// meanwhile or ctx does.
func (d *DB) settleLead(ctx context.Context, conn *sql.Conn, wait time.Duration) bool {
	select {
	case <-ctx.Done():
		discard(conn)
		return false
	case <-time.After(wait):
	}
	if err := conn.PingContext(ctx); err != nil {
		discard(conn)
		return false
	}
	return true
}

// tryLead tries once to take the lead lock on a connection of its own, which it keeps on
// success.
func (d *DB) tryLead(ctx context.Context, key int64) (*sql.Conn, bool, error) {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		discard(conn)
		return nil, false, err
	}
	if !got {
		conn.Close()
		return nil, false, nil
	}
	return conn, true, nil
}

// holdLead runs fn while conn's session is alive; it returns fn's error, or nil when the
// lead was lost or ctx ended (fn's context is cancelled either way, and fn has returned).
func (d *DB) holdLead(ctx context.Context, conn *sql.Conn, key int64, tick <-chan time.Time, fn func(context.Context) error) error {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fn(lctx) }()
	unlock := func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if _, err := conn.ExecContext(rctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			discard(conn)
		} else {
			conn.Close()
		}
	}
	for {
		select {
		case <-ctx.Done():
			cancel()
			<-done
			unlock()
			return nil
		case err := <-done:
			cancel()
			unlock()
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		case <-tick:
			if err := conn.PingContext(ctx); err != nil {
				// The session, and the lock with it, may be gone: another host may lead
				// already, so stop at once.
				cancel()
				<-done
				discard(conn)
				return nil
			}
		}
	}
}
