package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// EnvDatabasePassword is the environment variable the PostgreSQL role's password may
// come from when database_password_file is not set.
const EnvDatabasePassword = "TOLLGATE_DATABASE_PASSWORD"

// Database engines, as DatabaseEngine names them.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// DatabaseEngine is the engine [broker] database names: "postgres" for a postgres:// or
// postgresql:// URL, "sqlite" for a file path.
func (b Broker) DatabaseEngine() string {
	if strings.HasPrefix(b.Database, "postgres://") || strings.HasPrefix(b.Database, "postgresql://") {
		return EnginePostgres
	}
	return EngineSQLite
}

// checkDatabase validates [broker] database and database_password_file. A URL is never
// echoed whole in an error: it might carry a password.
func (v *validator) checkDatabase(b Broker) {
	key := []string{"broker", "database"}
	if b.DatabaseEngine() == EngineSQLite {
		v.absPath(key, b.Database)
		if b.DatabasePasswordFile != "" {
			v.add([]string{"broker", "database_password_file"}, "is only for a PostgreSQL database (database = \"postgres://…\"); an SQLite file has no password")
		}
		return
	}
	u, err := url.Parse(b.Database)
	if err != nil {
		v.add(key, "is not a valid URL: want postgres://[user@]host[:port]/database[?options]")
		return
	}
	if _, has := u.User.Password(); has || u.Query().Has("password") {
		v.add(key, "carries a password: put it in database_password_file (mode 0600) or the environment variable %s, never in the configuration", EnvDatabasePassword)
	}
	if u.Hostname() == "" && u.Query().Get("host") == "" {
		v.add(key, "names no server: give a host (postgres://host/database) or a unix socket directory (postgres:///database?host=/run/postgresql)")
	}
	if strings.Trim(u.Path, "/") == "" {
		v.add(key, "names no database: postgres://host/DATABASE")
	}
	if f := b.DatabasePasswordFile; f != "" {
		v.absPath([]string{"broker", "database_password_file"}, f)
	}
}

// DatabasePassword is the PostgreSQL role's password: the contents of
// database_password_file (one trailing newline dropped), which only its owner may read,
// or else the environment variable TOLLGATE_DATABASE_PASSWORD, or "" for none (a unix
// socket with peer authentication, or a ~/.pgpass the driver reads).
func DatabasePassword(b Broker) (string, error) {
	if b.DatabasePasswordFile == "" {
		return os.Getenv(EnvDatabasePassword), nil
	}
	f := b.DatabasePasswordFile
	st, err := os.Stat(f)
	if err != nil {
		return "", fmt.Errorf("database_password_file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("database_password_file %s is not a regular file", f)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("database_password_file %s has mode %#o: others may read the password; want 0600 or 0400 (chmod 600 %s)", f, m, f)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return "", fmt.Errorf("database_password_file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if pw == "" {
		return "", errors.New("database_password_file " + f + " is empty")
	}
	return pw, nil
}
