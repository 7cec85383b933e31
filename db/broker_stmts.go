package db

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds prepared statements per pool and query text. SQLite spends more time
// parsing a short query than running it, and the driver caches nothing, so the hot reads
// of every request (the caller's users row, their instances and launches) are prepared
// once per pool; database/sql re-prepares them lazily on each pooled connection.
var stmtCache sync.Map // stmtKey → *sql.Stmt

type stmtKey struct {
	pool  *sql.DB
	query string
}

// queryContext runs query through q, with a cached prepared statement when q is a pool.
// Inside a transaction it runs the query directly.
func queryContext(ctx context.Context, q Querier, query string, args ...any) (*sql.Rows, error) {
	if pool, ok := q.(*sql.DB); ok {
		st, err := prepared(ctx, pool, query)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, query, args...)
}

// queryRowContext is queryContext for one row.
func queryRowContext(ctx context.Context, q Querier, query string, args ...any) *sql.Row {
	if pool, ok := q.(*sql.DB); ok {
		if st, err := prepared(ctx, pool, query); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return q.QueryRowContext(ctx, query, args...)
}

func prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{pool, query}
	if st, ok := stmtCache.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := stmtCache.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}
