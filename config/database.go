package config

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
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
		if !filepath.IsAbs(b.Database) {
			// Not a URL this engine knows ("postgress://", "POSTGRES://"), but it may
			// still carry a password: the value is echoed without one.
			v.add(key, "%q is not an absolute path (an SQLite file) or a postgres:// URL", redactUserinfo(b.Database))
		}
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
	if strings.Trim(u.Path, "/") == "" && u.Query().Get("dbname") == "" {
		v.add(key, "names no database: postgres://host/DATABASE")
	}
	if f := b.DatabasePasswordFile; f != "" {
		v.absPath([]string{"broker", "database_password_file"}, f)
	}
}

// redactUserinfo replaces what stands between "://" and the last "@" in s with "xxxxx",
// as url.URL.Redacted does for a password, also where s does not parse. It may hide more
// than the user and password (an "@" in the path or the options), never less: a
// password may hold an unescaped "/" or "?".
func redactUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return s
	}
	return scheme + "://xxxxx" + rest[at:]
}

// maxPasswordFile bounds what DatabasePassword reads: a password is short, and the
// file should not be able to make the daemon read without end.
const maxPasswordFile = 4096

// DatabasePassword is the PostgreSQL role's password: the contents of
// database_password_file (one trailing newline dropped), which group and others may
// neither read nor write (mode 0600 or 0400), or else the environment variable
// TOLLGATE_DATABASE_PASSWORD, or "" for none (a unix socket with peer authentication, or
// a ~/.pgpass the driver reads). An SQLite database has no password: "". Errors name
// the file, never its contents.
func DatabasePassword(b Broker) (string, error) {
	if b.DatabaseEngine() != EnginePostgres {
		return "", nil
	}
	if b.DatabasePasswordFile == "" {
		return os.Getenv(EnvDatabasePassword), nil
	}
	path := b.DatabasePasswordFile
	// Open once and check what was opened: a stat of the name and a later read could
	// see two different files.
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("broker.database_password_file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("broker.database_password_file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("broker.database_password_file %s is not a regular file", path)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("broker.database_password_file %s has mode %#o: group or others may read or change the password; want 0600 or 0400 (chmod 600 %s)", path, m, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
	if err != nil {
		return "", fmt.Errorf("broker.database_password_file: read %s: %w", path, err)
	}
	if len(data) > maxPasswordFile {
		return "", fmt.Errorf("broker.database_password_file %s is larger than %d bytes: it should hold the password alone", path, maxPasswordFile)
	}
	pw := string(data)
	if strings.HasSuffix(pw, "\n") {
		pw = strings.TrimSuffix(strings.TrimSuffix(pw, "\n"), "\r")
	}
	if pw == "" {
		return "", fmt.Errorf("broker.database_password_file %s is empty", path)
	}
	return pw, nil
}
