// Package dbtest gives tests a fresh tollgate database on each engine: an SQLite file
// in a temporary directory, and a PostgreSQL database created for the test in the server
// that TOLLGATE_TEST_POSTGRES names (scripts/with-postgres.sh starts a throw-away one;
// `make test` runs every test through it).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/tollgate/tollgate/db"
)

// EnvPostgres names a superuser connection URL of a PostgreSQL server for tests.
const EnvPostgres = "TOLLGATE_TEST_POSTGRES"

var warnOnce sync.Once

// Engines are the engines tests run on here: SQLite always, PostgreSQL when EnvPostgres
// is set. Under CI (CI=true) PostgreSQL is required, so a CI run can never pass on
// SQLite alone.
func Engines(t testing.TB) []db.Engine {
	t.Helper()
	if os.Getenv(EnvPostgres) != "" {
		return []db.Engine{db.SQLite, db.Postgres}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: under CI every storage test must also run on PostgreSQL (run the tests through `make test`, which starts a throw-away server)", EnvPostgres)
	}
	warnOnce.Do(func() {
		t.Logf("%s is not set: tests run on SQLite only (`make test` runs them on PostgreSQL too)", EnvPostgres)
	})
	return []db.Engine{db.SQLite}
}

// Each runs fn as a subtest named after each engine of Engines.
func Each(t *testing.T, fn func(t *testing.T, engine db.Engine)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

// Target is a fresh, empty database for the test on engine, as [broker] database would
// name it: an SQLite file path in a new temporary directory, or the URL of a PostgreSQL
// database created now and dropped when the test ends.
func Target(t testing.TB, engine db.Engine) string {
	t.Helper()
	if engine == db.SQLite {
		return filepath.Join(t.TempDir(), "tollgate.db")
	}
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		t.Fatalf("%s is not set: no PostgreSQL server for this test", EnvPostgres)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tg_" + hex.EncodeToString(b[:])
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	ctx := context.Background()
	if _, err := adb.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		adb.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer adb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adb.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Open opens a fresh database on engine (see Target), closed when the test ends.
func Open(t testing.TB, engine db.Engine) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), Target(t, engine))
	if err != nil {
		t.Fatalf("open %s database: %v", engine, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
