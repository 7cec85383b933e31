// Package pgtest creates throw-away PostgreSQL databases for tests, in the server that
// TOLLGATE_TEST_POSTGRES names (scripts/with-postgres.sh starts one; `make test` runs
// every test through it). It depends on no tollgate package, so package db's own tests
// use it; others use package dbtest, built on it.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env names a superuser connection URL of a PostgreSQL server for tests.
const Env = "TOLLGATE_TEST_POSTGRES"

// Available reports whether Env names a server. Under CI (CI=true) it must: a CI run
// that does not reach PostgreSQL fails rather than pass on SQLite alone.
func Available(t testing.TB) bool {
	t.Helper()
	if os.Getenv(Env) != "" {
		return true
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: under CI every storage test must also run on PostgreSQL (run the tests through `make test`, which starts a throw-away server)", Env)
	}
	return false
}

// Database creates an empty database (UTF-8, C collation) for the test and returns its
// URL; it is dropped, with any session still on it, when the test ends. The test fails
// if Env is not set.
func Database(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(Env)
	if admin == "" {
		t.Fatalf("%s is not set: this test needs a PostgreSQL server (`make test` starts one)", Env)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tg_" + hex.EncodeToString(b[:])
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	if _, err := adb.ExecContext(context.Background(),
		`CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
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
