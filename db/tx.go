package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// Tx is an open transaction of [DB.Immediate] or [DB.Read]: the one calling convention of
// every read-then-write in tollgate. It is a [Querier] whose statements use ? placeholders
// on both engines.
type Tx struct {
	tx  *sql.Tx
	d   *DB
	imm bool // opened by Immediate (SQLite: on the immediate pool)
}

// DB is the database the transaction belongs to.
func (t *Tx) DB() *DB { return t.d }

// ExecContext runs a statement that returns no rows.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, args = t.d.rewrite(query, args)
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = t.d.rewrite(query, args)
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	query, args = t.d.rewrite(query, args)
	return t.tx.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement that returns no rows, outside any transaction.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, args = d.rewrite(query, args)
	return d.sql.ExecContext(ctx, query, args...)
}

// QueryContext runs a query outside any transaction.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = d.rewrite(query, args)
	return d.sql.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query for one row outside any transaction.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	query, args = d.rewrite(query, args)
	return d.sql.QueryRowContext(ctx, query, args...)
}

// rewrite makes query and args what the engine takes: on SQLite they are as written; on
// PostgreSQL the placeholders are numbered and bool arguments become the 0/1 integers
// both schemas store (pgx would refuse a bool for an integer column).
func (d *DB) rewrite(query string, args []any) (string, []any) {
	if d.engine != Postgres {
		return query, args
	}
	copied := false
	for i, a := range args {
		if b, ok := a.(bool); ok {
			if !copied { // never change the caller's slice
				args, copied = append([]any(nil), args...), true
			}
			args[i] = int64(0)
			if b {
				args[i] = int64(1)
			}
		}
	}
	if query == "" {
		return "", args
	}
	return rebind(query), args
}

// rebound caches rebind's results by query text: the statements are a fixed set.
var rebound sync.Map // string → string

// rebind rewrites a statement written for both engines into PostgreSQL's form: each ?
// becomes $1, $2, … in order, and the column name user, which PostgreSQL reserves
// (a bare user is CURRENT_USER there), is quoted. String literals, quoted identifiers
// and comments are left as they are.
func rebind(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) {
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // doubled quote inside
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteString(query[i:min(j+1, len(query))])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case isIdentStart(c):
			j := i
			for j < len(query) && isIdentPart(query[j]) {
				j++
			}
			word := query[i:j]
			if strings.EqualFold(word, "user") {
				b.WriteString(`"user"`)
			} else {
				b.WriteString(word)
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

// Stmt is a statement prepared inside a transaction, for a statement run many times.
type Stmt struct {
	st *sql.Stmt
	d  *DB
}

// PrepareContext prepares query (? placeholders) for this transaction.
func (t *Tx) PrepareContext(ctx context.Context, query string) (*Stmt, error) {
	query, _ = t.d.rewrite(query, nil)
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &Stmt{st: st, d: t.d}, nil
}

// ExecContext runs the statement with args.
func (s *Stmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	_, args = s.d.rewrite("", args)
	return s.st.ExecContext(ctx, args...)
}

// Close closes the statement.
func (s *Stmt) Close() error { return s.st.Close() }
