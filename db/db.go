// Package db is tollgate's storage: one SQLite file (through modernc.org/sqlite) holding
// users, policy overrides, SSH keys, launch records, instances, the accounting ledger, IAM
// identity intents and the append-only audit log.
//
// Every pooled connection gets the same pragmas through the DSN (WAL, busy_timeout,
// foreign_keys, synchronous=FULL), schema changes are numbered migration files embedded
// in the binary, and every read-then-write goes through [DB.Immediate], which opens the
// transaction with BEGIN IMMEDIATE so concurrent admissions serialise instead of racing.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is an open tollgate database. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB // deferred transactions: reads and single-statement writes
	imm  *sql.DB // every BeginTx is BEGIN IMMEDIATE: read-then-write transactions
	path string
	// stmts caches prepared statements on sql; Close closes them.
	stmts    *stmtCache // prepared statements of the read pool
	immStmts *stmtCache // prepared statements of the immediate pool, used inside Immediate
	// Now is the clock for timestamps written by this package (audit entries, etc.).
	Now func() time.Time
}

// Querier is what both *sql.DB and *sql.Tx offer; store methods that can run inside or
// outside a transaction take one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open opens (creating if needed) the database file at path in an existing directory,
// refuses network filesystems, and applies pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	// The directory is the caller's to create, with the checks it needs (PrepareDir):
	// creating it here would skip them.
	dir := filepath.Dir(path)
	if err := CheckLocalFilesystem(dir); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
		"synchronous(FULL)",
		// Statement journals (a multi-row INSERT keeps one) in memory, not a temp file.
		"temp_store(MEMORY)",
	} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// Keep as many idle connections as open ones: reopening an SQLite connection (and
	// re-running the DSN pragmas) on every request costs more than the query itself.
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	// A second pool whose transactions all start with BEGIN IMMEDIATE: database/sql has
	// no way to ask for it per transaction.
	imm, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	imm.SetMaxOpenConns(4)
	imm.SetMaxIdleConns(4)
	d := &DB{sql: sdb, imm: imm, path: path, stmts: &stmtCache{}, immStmts: &stmtCache{}, Now: time.Now}
	pools.Store(sdb, d.stmts)
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, openError(path, "migrate database", err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.Close()
			return nil, fmt.Errorf("open database: restrict mode of %s: %w", f, err)
		}
	}
	return d, nil
}

// OpenReadOnly opens the existing database at path for reading only (no migrations; every
// write fails with SQLite's read-only error): for readers that must never change it.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	dsn := "file:" + path + "?mode=ro&" + q.Encode()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, openError(path, "open database", err)
	}
	imm, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		sdb.Close()
		return nil, openError(path, "open database", err)
	}
	d := &DB{sql: sdb, imm: imm, path: path, stmts: &stmtCache{}, immStmts: &stmtCache{}, Now: time.Now}
	pools.Store(sdb, d.stmts)
	if err := sdb.PingContext(ctx); err != nil {
		d.Close()
		return nil, openError(path, "open database", err)
	}
	return d, nil
}

// Close closes the database and its cached statements.
func (d *DB) Close() error {
	pools.Delete(d.sql)
	err0 := errors.Join(d.stmts.close(), d.immStmts.close())
	err1 := d.imm.Close()
	err2 := d.sql.Close()
	return errors.Join(err0, err1, err2)
}

// SQL returns the underlying handle for packages that run their own queries.
func (d *DB) SQL() *sql.DB { return d.sql }

// Path is the database file's path.
func (d *DB) Path() string { return d.path }

// Immediate runs fn in a transaction opened with BEGIN IMMEDIATE: the write lock is taken
// before the first read, so two admissions cannot both read "1 instance" and both insert.
// fn's error rolls the transaction back.
func (d *DB) Immediate(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.imm.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin immediate: %w", err)
	}
	// Statements run through tx reuse the immediate pool's prepared statements.
	txPools.Store(tx, txCache{pool: d.imm, cache: d.immStmts})
	defer txPools.Delete(tx)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Read runs fn in a read-only deferred transaction (a consistent snapshot).
func (d *DB) Read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// ErrSchemaTooNew is a database migrated by a newer release than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this release")

// Migration is one applied schema migration.
type Migration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// Migrations lists the applied migrations, oldest first.
func (d *DB) Migrations(ctx context.Context) ([]Migration, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	return scanAll("list migrations", rows, err, func(sc Scanner) (Migration, error) {
		var m Migration
		var at string
		if err := sc.Scan(&m.Version, &m.Name, &at); err != nil {
			return Migration{}, err
		}
		m.AppliedAt, _ = time.Parse(time.RFC3339, at)
		return m, nil
	})
}

// maxMigration caps the migrations Open applies: tests lower it to build a database as
// an older release left it, then reopen it to migrate the rest.
var maxMigration = int(^uint(0) >> 1)

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, n := range names {
		base := filepath.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and an underscore", base)
		}
		migs = append(migs, mig{v, base})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	// A database a newer tollgated migrated is refused, not used: this release does not
	// know what the newer schema means (an upgrade rolled back without its backup).
	var newest sql.NullInt64
	if err := d.sql.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return err
	}
	if known := migs[len(migs)-1].version; newest.Valid && int(newest.Int64) > known {
		return fmt.Errorf("%w: the database is at schema version %d, this tollgated knows up to %d: run the newer tollgated, or restore the backup taken before its upgrade",
			ErrSchemaTooNew, newest.Int64, known)
	}
	for _, m := range migs {
		if m.version > maxMigration {
			break
		}
		body, err := migrationFS.ReadFile("migrations/" + m.name)
		if err != nil {
			return err
		}
		err = d.Immediate(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// IsConstraint reports whether err is an SQLite constraint violation (unique, check,
// foreign key, or a trigger's RAISE(ABORT)).
func IsConstraint(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	return false
}

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction. Fixed width matters:
// RFC3339Nano drops trailing zeros, and "…:00Z" would sort after "…:00.5Z".
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Time formats t the way every timestamp column stores it: UTC, fixed width, so that
// string comparison in SQL is time order.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// ParseTime parses a column written by [Time]; the empty string is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// Scanner is what a row scan needs: *sql.Row and *sql.Rows both are one.
type Scanner interface{ Scan(dest ...any) error }

// scanAll reads every row of a query with scan and closes the rows. what names the
// listing in errors.
func scanAll[T any](what string, rows *sql.Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
