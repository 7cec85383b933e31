package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// immediateLockKey is the PostgreSQL advisory lock every Immediate transaction takes
// (pg_advisory_xact_lock): the one writers' lock of all hosts, as SQLite's write lock is
// for one file. The number is arbitrary ("tollgate" in ASCII, 8 bytes); other lock keys
// come from lockKey and cannot collide with it in practice.
const immediateLockKey int64 = 0x746f6c6c67617465

// postgresMaxConns bounds each daemon's connections to PostgreSQL: requests, the
// background loops and the sessions of held locks share them.
const postgresMaxConns = 24

// openPostgres connects to the PostgreSQL database target (a postgres:// URL without a
// password; password is the role's, if it has one) and applies pending migrations.
func openPostgres(ctx context.Context, target, password string) (*DB, error) {
	d, err := connectPostgres(ctx, target, password, false)
	if err != nil {
		return nil, err
	}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("migrate database %s: %w", d.path, err)
	}
	return d, nil
}

// openPostgresReadOnly connects with every transaction read-only, and no migrations.
func openPostgresReadOnly(ctx context.Context, target, password string) (*DB, error) {
	return connectPostgres(ctx, target, password, true)
}

func connectPostgres(ctx context.Context, target, password string, readOnly bool) (*DB, error) {
	shown := redactURL(target)
	cfg, err := pgx.ParseConfig(target)
	if err != nil {
		// pgx's message may quote the URL, password and all: say only what it is.
		return nil, fmt.Errorf("open database %s: not a valid PostgreSQL URL (postgres://[user@]host[:port]/database?options)", shown)
	}
	if password != "" {
		cfg.Password = password
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		// What pg_stat_activity shows; a URL may name the host instead.
		cfg.RuntimeParams["application_name"] = "tollgated"
	}
	// Timestamps are fixed-width text and compared as bytes; nothing depends on the
	// server's time zone, but say UTC so what an admin reads in psql agrees.
	cfg.RuntimeParams["timezone"] = "UTC"
	if readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	sdb := stdlib.OpenDB(*cfg)
	sdb.SetMaxOpenConns(postgresMaxConns)
	sdb.SetMaxIdleConns(postgresMaxConns)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open database %s: %w", shown, scrubPassword(err, password))
	}
	return newDB(Postgres, sdb, sdb, shown), nil
}

// redactURL is target with any password in it replaced, for logs and errors.
func redactURL(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// scrubPassword keeps a password out of an error's text (a driver may quote what it
// was given).
func scrubPassword(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// pgError is err's PostgreSQL error, if it has one.
func pgError(err error) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

// pgConstraintKey names a PostgreSQL constraint violation the way SQLite's messages do
// (see constraintMessages): "table.column[, table.column]" for a unique key, "FOREIGN
// KEY" for a reference. Detail reads "Key (a, lower(b))=(…) already exists."
func pgConstraintKey(pe *pgconn.PgError) string {
	if pe.Code == "23503" {
		return "FOREIGN KEY"
	}
	cols, ok := strings.CutPrefix(pe.Detail, "Key (")
	if !ok {
		return pe.TableName + "." + pe.ColumnName
	}
	cols, _, _ = strings.Cut(cols, ")=(")
	var keys []string
	for _, c := range strings.Split(cols, ", ") {
		c = strings.TrimPrefix(c, "lower(")
		c = strings.Trim(c, `()"`)
		keys = append(keys, pe.TableName+"."+c)
	}
	return strings.Join(keys, ", ")
}

// pgStorageProblem says what a PostgreSQL error means for an admin when the database
// cannot be reached or cannot write (disk full, read-only, shutting down), or "".
func pgStorageProblem(err error) string {
	if pe, ok := pgError(err); ok {
		switch {
		case pe.Code == "53100":
			return "the PostgreSQL server's disk is full"
		case pe.Code == "25006":
			return "the PostgreSQL server is read-only (a standby, or default_transaction_read_only)"
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), strings.HasPrefix(pe.Code, "53"):
			return "the PostgreSQL server is unavailable (" + pe.Code + ")"
		}
		return ""
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.Is(err, sql.ErrConnDone) {
		return "the PostgreSQL server cannot be reached"
	}
	return ""
}
