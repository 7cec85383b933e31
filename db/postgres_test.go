package db

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/db/pgtest"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`SELECT '?', "?" FROM t WHERE x = ?`, `SELECT '?', "?" FROM t WHERE x = $1`},
		{`SELECT 'it''s ?' WHERE y = ? -- what?` + "\n" + `AND z = ?`, `SELECT 'it''s ?' WHERE y = $1 -- what?` + "\n" + `AND z = $2`},
		// user is a column here; PostgreSQL reads a bare user as CURRENT_USER.
		{`SELECT user, users.name FROM ssh_keys JOIN users ON users.name = ssh_keys.user WHERE user = ?`,
			`SELECT "user", users.name FROM ssh_keys JOIN users ON users.name = ssh_keys."user" WHERE "user" = $1`},
		{`INSERT INTO notices(user, at) VALUES (?, ?) ON CONFLICT(user, kind) DO NOTHING`,
			`INSERT INTO notices("user", at) VALUES ($1, $2) ON CONFLICT("user", kind) DO NOTHING`},
		{`SELECT "user", username, user_id FROM x`, `SELECT "user", username, user_id FROM x`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// pgPair opens two handles on one fresh PostgreSQL database: two hosts' daemons.
func pgPair(t *testing.T) (*DB, *DB) {
	t.Helper()
	target := pgtest.Database(t)
	ctx := context.Background()
	a, err := Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// TestLockAcrossHosts: a named lock held through one handle makes the other wait, on
// PostgreSQL; other names do not wait.
func TestLockAcrossHosts(t *testing.T) {
	a, b := pgPair(t)
	ctx := context.Background()
	unlock, err := a.Lock(ctx, "keypair:alice")
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Lock(ctx, "keypair:bob")
	if err != nil {
		t.Fatal(err)
	}
	other()
	var got atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		u, err := b.Lock(ctx, "keypair:alice")
		if err != nil {
			t.Error(err)
			return
		}
		got.Store(true)
		u()
	}()
	time.Sleep(50 * time.Millisecond)
	if got.Load() {
		t.Fatal("the second host took a lock the first holds")
	}
	unlock()
	<-done
	if !got.Load() {
		t.Fatal("the second host never got the lock")
	}
	// A waiter gives up with its context.
	unlock, err = a.Lock(ctx, "collect")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "collect"); err == nil {
		t.Fatal("a lock held elsewhere was taken")
	}
}

// TestLeadOneAtATime: of two handles on one database only one leads; when the leader's
// session ends (the host died), the other takes over within a poll or two.
func TestLeadOneAtATime(t *testing.T) {
	a, b := pgPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var leading [2]atomic.Bool
	var started [2]atomic.Int32
	run := func(i int, d *DB) chan error {
		done := make(chan error, 1)
		go func() {
			done <- d.Lead(ctx, "test", LeadOptions{Poll: 20 * time.Millisecond}, func(ctx context.Context) error {
				started[i].Add(1)
				leading[i].Store(true)
				<-ctx.Done()
				leading[i].Store(false)
				return nil
			})
		}()
		return done
	}
	doneA := run(0, a)
	waitUntil(t, "a leads", func() bool { return leading[0].Load() })
	doneB := run(1, b)
	time.Sleep(100 * time.Millisecond)
	if leading[1].Load() {
		t.Fatal("both lead")
	}
	// End a's sessions from the server's side, as a dead host's would end.
	if _, err := b.ExecContext(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid IN
		(SELECT pid FROM pg_locks WHERE locktype = 'advisory')`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b takes the lead", func() bool { return leading[1].Load() })
	waitUntil(t, "a stops leading", func() bool { return !leading[0].Load() })
	if started[1].Load() != 1 {
		t.Errorf("b started leading %d times, want 1", started[1].Load())
	}
	cancel()
	for _, done := range []chan error{doneA, doneB} {
		if err := <-done; err != nil {
			t.Errorf("Lead: %v", err)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPostgresOpenErrorsHideThePassword: a failed connection names the database without
// the password, whatever the driver says.
func TestPostgresOpenErrorsHideThePassword(t *testing.T) {
	target := pgtest.Database(t)
	const secret = "s3cret-Passw0rd-xyzzy"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A port nothing listens on, and the password in the URL (refused by config) and
	// in the options.
	bad := strings.Replace(target, "postgres:///", "postgres://alice:"+secret+"@127.0.0.1:1/", 1)
	_, err := Open(ctx, bad, Options{Password: secret})
	if err == nil {
		t.Fatal("open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "xxxxx") && !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("the error does not name the server: %v", err)
	}
}
