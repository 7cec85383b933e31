package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/db/pgtest"
)

// OpenTest opens a fresh SQLite database in t's temporary directory.
func openTest(t *testing.T) *DB {
	t.Helper()
	return openOn(t, SQLite)
}

// testTarget is a fresh database on engine: an SQLite file in t's temporary directory,
// or a PostgreSQL database created for the test (package pgtest).
func testTarget(t *testing.T, engine Engine) string {
	t.Helper()
	if engine == Postgres {
		return pgtest.Database(t)
	}
	return filepath.Join(t.TempDir(), "tollgate.db")
}

// openOn opens a fresh database on engine, closed when the test ends.
func openOn(t *testing.T, engine Engine) *DB {
	t.Helper()
	d, err := Open(context.Background(), testTarget(t, engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// eachEngine runs fn as a subtest per engine: SQLite, and PostgreSQL when a server is
// configured (always under CI).
func eachEngine(t *testing.T, fn func(t *testing.T, engine Engine)) {
	t.Helper()
	engines := []Engine{SQLite}
	if pgtest.Available(t) {
		engines = append(engines, Postgres)
	}
	for _, e := range engines {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

func TestAuditIsAppendOnly(t *testing.T) { eachEngine(t, testAuditIsAppendOnly) }

func testAuditIsAppendOnly(t *testing.T, engine Engine) {
	ctx := context.Background()
	d := openOn(t, engine)
	if err := d.AppendAudit(ctx, nil, AuditEntry{Actor: "alice", UID: 1001, Action: "launch", Decision: Allowed}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"} {
		if _, err := d.ExecContext(ctx, q); err == nil || !IsConstraint(err) {
			t.Errorf("%s: got err %v, want a constraint error", q, err)
		}
	}
	got, err := d.ListAudit(ctx, AuditFilter{Action: "laun"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Actor != "alice" {
		t.Fatalf("got %+v, want alice's launch", got)
	}
}

func TestPragmas(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"synchronous", "2"}, {"busy_timeout", "10000"},
	} {
		var got string
		if err := d.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
}

func TestNetworkFilesystemRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		magic int64
		ok    bool
	}{
		{"nfs", 0x6969, false},
		{"cifs", 0xFF534D42, false},
		{"ext4", 0xEF53, true},
		{"tmpfs", 0x01021994, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkFSType("/srv/db", c.magic)
			if (err == nil) != c.ok {
				t.Fatalf("checkFSType(%#x) = %v, want ok=%v", c.magic, err, c.ok)
			}
		})
	}
	if err := CheckLocalFilesystem(t.TempDir()); err != nil {
		t.Fatalf("temp dir refused: %v", err)
	}
}

func TestTimeSortsLexically(t *testing.T) {
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(time.Second), base.Add(time.Second + time.Nanosecond)}
	for i := 1; i < len(times); i++ {
		a, b := Time(times[i-1]), Time(times[i])
		if !(a < b) {
			t.Errorf("Time(%v) = %q does not sort before Time(%v) = %q", times[i-1], a, times[i], b)
		}
		back, err := ParseTime(b)
		if err != nil || !back.Equal(times[i]) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", b, back, err, times[i])
		}
	}
}

// TestImmediateStatementsDoNotDeadlock runs more concurrent transactions than the
// immediate pool has connections, each needing a statement the cache does not hold yet.
// Preparing it on the pool from inside a transaction would wait for a connection that
// every other transaction holds.
func TestImmediateStatementsDoNotDeadlock(t *testing.T) {
	eachEngine(t, testImmediateStatementsDoNotDeadlock)
}

func testImmediateStatementsDoNotDeadlock(t *testing.T, engine Engine) {
	d := openOn(t, engine)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, 32)
	for i := 0; i < cap(errs); i++ {
		go func() {
			errs <- d.Immediate(ctx, func(tx *Tx) error {
				var n int
				if err := queryRowContext(ctx, tx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
					return err
				}
				_, err := execContext(ctx, tx, `INSERT INTO audit(at, actor, uid, action, decision) VALUES ('t', 'a', 1, 'x', 'done')`)
				return err
			})
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT count(*) FROM audit`).Scan(&n); err != nil || n != cap(errs) {
		t.Fatalf("audit rows = %d, %v; want %d", n, err, cap(errs))
	}
}

// TestDomainError: a case-insensitive IAM name clash reaches a user as a conflict they
// can act on, not as SQLite's text; other errors pass through unchanged.
func TestDomainError(t *testing.T) { eachEngine(t, testDomainError) }

func testDomainError(t *testing.T, engine Engine) {
	ctx := context.Background()
	d := openOn(t, engine)
	now := time.Now()
	if err := d.PutIAMIdentity(ctx, nil, IAMIdentity{User: "Alice", IAMUser: "tollgate-Alice", State: "active", UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	err := d.PutIAMIdentity(ctx, nil, IAMIdentity{User: "alice", IAMUser: "tollgate-alice", State: "active", UpdatedAt: now})
	if err == nil {
		t.Fatal("a case-insensitive IAM name clash was accepted")
	}
	var de *tollgate.Error
	if !errors.As(DomainError(err), &de) {
		t.Fatalf("DomainError(%v) is not a domain error", err)
	}
	if de.Code != tollgate.CodeConflict || !strings.Contains(de.Message, "case-insensitive") || strings.Contains(de.Message, "UNIQUE") {
		t.Errorf("got %+v, want a conflict naming the case-insensitive clash, without SQLite's text", de)
	}
	if !IsConstraint(DomainError(err)) {
		t.Error("the SQLite cause is no longer reachable (errors.As) for the log")
	}
	plain := errors.New("disk I/O error")
	if got := DomainError(plain); got != plain {
		t.Errorf("DomainError(%v) = %v, want it unchanged", plain, got)
	}
}

// TestExplainStorage: a full disk and a read-only database reach a user as what is wrong
// and where, not as SQLite's text or "internal error".
func TestExplainStorage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// A connection whose database may not grow: SQLite answers SQLITE_FULL, as on a full disk.
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pages int
	if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(ctx, `INSERT INTO notices(user, at, kind, ref, message) VALUES ('ann', '', 'k', 'r', ?)`,
		strings.Repeat("x", 1<<20))
	if err == nil {
		t.Fatal("a write past max_page_count succeeded")
	}
	var e *tollgate.Error
	if !errors.As(d.Explain(err), &e) || e.Code != tollgate.CodeUnavailable || !strings.Contains(e.Message, "disk holding "+filepath.Dir(path)+" is full") {
		t.Errorf("full disk: got %v (%+v), want unavailable naming the full disk at %s", d.Explain(err), e, filepath.Dir(path))
	}

	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.ExecContext(ctx, `INSERT INTO notices(user, at, kind, ref, message) VALUES ('ann', '', 'k', 'r', 'm')`)
	if err == nil {
		t.Fatal("a write to a read-only database succeeded")
	}
	e = nil
	if !errors.As(ro.Explain(err), &e) || !strings.Contains(e.Message, "not writable by") || strings.Contains(e.Message, "(8)") {
		t.Errorf("read-only: got %+v, want the database named not writable by the daemon's user", e)
	}
}
