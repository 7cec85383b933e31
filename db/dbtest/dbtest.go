// Package dbtest gives tests a fresh tollgate database on each engine: an SQLite file
// in a temporary directory, and a PostgreSQL database created for the test (see
// package pgtest).
package dbtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/db"
	"github.com/tollgate/tollgate/db/pgtest"
)

// EnvEngine selects the engine of the tests that run on one engine per `go test` run
// (the packages' harnesses): "sqlite" (the default) or "postgres". `make test` runs the
// storage and broker packages once on each.
const EnvEngine = "TOLLGATE_TEST_ENGINE"

var warnOnce sync.Once

// Engines are the engines tests that compare engines run on here: SQLite always,
// PostgreSQL when a server is configured (always under CI; see pgtest.Available).
func Engines(t testing.TB) []db.Engine {
	t.Helper()
	if pgtest.Available(t) {
		return []db.Engine{db.SQLite, db.Postgres}
	}
	warnOnce.Do(func() {
		t.Logf("%s is not set: PostgreSQL is left out (`make test` runs it too)", pgtest.Env)
	})
	return []db.Engine{db.SQLite}
}

// Engine is the engine EnvEngine selects for this run.
func Engine(t testing.TB) db.Engine {
	t.Helper()
	switch e := os.Getenv(EnvEngine); e {
	case "", string(db.SQLite):
		return db.SQLite
	case string(db.Postgres):
		return db.Postgres
	default:
		t.Fatalf("%s=%q: want sqlite or postgres", EnvEngine, e)
		return ""
	}
}

// Target is a fresh, empty database for the test on engine, as [broker] database would
// name it: an SQLite file path in a new temporary directory, or the URL of a PostgreSQL
// database created now and dropped when the test ends.
func Target(t testing.TB, engine db.Engine) string {
	t.Helper()
	if engine == db.Postgres {
		return pgtest.Database(t)
	}
	return filepath.Join(t.TempDir(), "tollgate.db")
}

// RunTarget is a fresh database on the run's engine (see Engine and Target).
func RunTarget(t testing.TB) string {
	t.Helper()
	return Target(t, Engine(t))
}

// OpenRun opens a fresh database on the run's engine, closed when the test ends; dir is
// where an SQLite file goes ("" = a new temporary directory).
func OpenRun(t testing.TB, dir string) *db.DB {
	t.Helper()
	target := RunTarget(t)
	if Engine(t) == db.SQLite && dir != "" {
		target = filepath.Join(dir, "tollgate.db")
	}
	d, err := db.Open(context.Background(), target)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
