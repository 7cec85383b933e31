package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Each engine has its own migrations, in migrations/ENGINE, numbered alike: version N
// is the same schema on both. PostgreSQL starts at a baseline equal to SQLite's version
// 14; every later change comes as a pair of files, one per engine.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

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
	rows, err := d.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
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
	// Inside Immediate: two hosts' daemons starting at once must not both create it.
	err := d.Immediate(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
		return err
	})
	if err != nil {
		return err
	}
	dir := "migrations/" + string(d.engine)
	names, err := fs.Glob(migrationFS, dir+"/*.sql")
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
	if err := d.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&newest); err != nil {
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
		body, err := migrationFS.ReadFile(dir + "/" + m.name)
		if err != nil {
			return err
		}
		err = d.Immediate(ctx, func(tx *Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// Unrewritten, in one call: a migration is many statements (PostgreSQL runs
			// them through the simple protocol, as no arguments are given).
			if _, err := tx.tx.ExecContext(ctx, string(body)); err != nil {
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
