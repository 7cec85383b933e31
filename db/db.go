// Package db is tollgate's storage, on one of two engines: an SQLite file (through
// modernc.org/sqlite), the zero-setup default for one host, or a PostgreSQL database
// (through jackc/pgx) that several hosts' daemons share. It holds users, policy
// overrides, SSH keys, launch records, instances, the accounting ledger, IAM identity
// intents and the append-only audit log.
//
// Every statement is written once, in the SQL both engines run, with ? placeholders;
// [DB] and [Tx] rewrite them for PostgreSQL (see rebind). Schema changes are numbered
// migration files per engine, embedded in the binary, with the same version numbers on
// both. Every read-then-write goes through [DB.Immediate], which serialises writers: on
// SQLite with BEGIN IMMEDIATE, on PostgreSQL with a transaction-scoped advisory lock that
// every host's daemon takes, so two admissions on two hosts cannot both read
// "1 instance" and both insert.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names a storage engine.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// IsPostgres reports whether target (a [broker] database value) names a PostgreSQL
// database rather than an SQLite file.
func IsPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// DB is an open tollgate database. It is safe for concurrent use. It is itself a
// [Querier] (statements outside a transaction).
type DB struct {
	engine Engine
	sql    *sql.DB // deferred transactions: reads and single-statement writes
	imm    *sql.DB // SQLite: every BeginTx is BEGIN IMMEDIATE; PostgreSQL: sql itself
	path   string  // the SQLite file, or the PostgreSQL URL without its password
	// stmts caches prepared statements on sql; Close closes them (SQLite only: pgx
	// caches its own per connection).
	stmts    *stmtCache // prepared statements of the read pool
	immStmts *stmtCache // prepared statements of the immediate pool, used inside Immediate
	locks    *localLocks
	// Now is the clock for timestamps written by this package (audit entries, etc.).
	Now func() time.Time
}

// Querier is what [DB] and [Tx] offer; store methods that can run inside or outside a
// transaction take one. Queries use ? placeholders on both engines.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Options are the settings of Open beyond the target.
type Options struct {
	// Password is the PostgreSQL role's password (from database_password_file or the
	// environment), never part of the target.
	Password string
}

// Open opens the database target: a PostgreSQL URL (postgres://…) or the path of an
// SQLite file in an existing directory (created if needed; network filesystems are
// refused). It applies pending migrations and refuses a schema newer than this release.
func Open(ctx context.Context, target string, opts ...Options) (*DB, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if IsPostgres(target) {
		return openPostgres(ctx, target, o.Password)
	}
	return openSQLite(ctx, target)
}

// openSQLite opens (creating if needed) the SQLite file at path.
func openSQLite(ctx context.Context, path string) (*DB, error) {
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
	d := newDB(SQLite, sdb, imm, path)
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

func newDB(engine Engine, sdb, imm *sql.DB, path string) *DB {
	d := &DB{engine: engine, sql: sdb, imm: imm, path: path, stmts: &stmtCache{}, immStmts: &stmtCache{},
		locks: &localLocks{m: map[string]*localLock{}}, Now: time.Now}
	if engine == SQLite {
		// The file's locks are the process's: handles on one file share them.
		d.locks = locksOf(path)
	}
	return d
}

// OpenReadOnly opens the existing database target for reading only (no migrations; every
// write fails): for readers that must never change it.
func OpenReadOnly(ctx context.Context, target string, opts ...Options) (*DB, error) {
	if IsPostgres(target) {
		var o Options
		if len(opts) > 0 {
			o = opts[0]
		}
		return openPostgresReadOnly(ctx, target, o.Password)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	dsn := "file:" + target + "?mode=ro&" + q.Encode()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, openError(target, "open database", err)
	}
	imm, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		sdb.Close()
		return nil, openError(target, "open database", err)
	}
	d := newDB(SQLite, sdb, imm, target)
	if err := sdb.PingContext(ctx); err != nil {
		d.Close()
		return nil, openError(target, "open database", err)
	}
	return d, nil
}

// Close closes the database and its cached statements.
func (d *DB) Close() error {
	err0 := errors.Join(d.stmts.close(), d.immStmts.close())
	var err1 error
	if d.imm != d.sql {
		err1 = d.imm.Close()
	}
	err2 := d.sql.Close()
	return errors.Join(err0, err1, err2)
}

// Engine is the database's engine.
func (d *DB) Engine() Engine { return d.engine }

// SQL returns the underlying handle. Its statements are not rewritten for the engine:
// use the DB itself (a [Querier]) for queries with ? placeholders.
func (d *DB) SQL() *sql.DB { return d.sql }

// Path is the SQLite database file's path, or the PostgreSQL URL without a password.
func (d *DB) Path() string { return d.path }

// Immediate runs fn in a read-then-write transaction that no other writer interleaves
// with, on any host: SQLite's BEGIN IMMEDIATE takes the write lock before the first read;
// on PostgreSQL the transaction first takes the advisory lock every Immediate takes
// (released at commit or rollback). So two admissions cannot both read "1 instance" and
// both insert. fn's error rolls the transaction back.
func (d *DB) Immediate(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := d.imm.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin immediate: %w", err)
	}
	tx := &Tx{tx: sqlTx, d: d, imm: true}
	if d.engine == Postgres {
		if _, err := sqlTx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, immediateLockKey); err != nil {
			_ = sqlTx.Rollback()
			return fmt.Errorf("begin immediate: take the writers' lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	return sqlTx.Commit()
}

// Read runs fn in a read-only transaction that sees one consistent snapshot.
func (d *DB) Read(ctx context.Context, fn func(tx *Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if d.engine == Postgres {
		// READ COMMITTED would take a new snapshot per statement.
		opts.Isolation = sql.LevelRepeatableRead
	}
	sqlTx, err := d.sql.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer sqlTx.Rollback()
	return fn(&Tx{tx: sqlTx, d: d})
}

// IsConstraint reports whether err is a constraint violation on either engine (unique,
// check, foreign key, or a trigger's refusal: RAISE(ABORT) on SQLite, an exception of
// SQLSTATE class 23 on PostgreSQL).
func IsConstraint(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	if pe, ok := pgError(err); ok {
		return strings.HasPrefix(pe.Code, "23")
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
