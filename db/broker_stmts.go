package db

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache holds one pool's prepared statements by query text. SQLite spends more time
// parsing a short query than running it, and the driver caches nothing, so the hot reads
// of every request (the caller's users row, their instances and launches) are prepared
// once per pool; database/sql re-prepares them lazily on each pooled connection.
// It belongs to a DB and is closed with it.
type stmtCache struct {
	stmts sync.Map // query text → *sql.Stmt
}

func (c *stmtCache) prepared(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	var errs []error
	c.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		c.stmts.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// cachedStmt is the prepared statement for query when q is an SQLite DB, or a
// transaction opened by Immediate on one (then bound to it with Tx.StmtContext, which
// reuses the statement already prepared on the transaction's connection). On
// PostgreSQL, pgx caches prepared statements per connection itself.
func cachedStmt(ctx context.Context, q Querier, query string) (*sql.Stmt, bool, error) {
	if tx, ok := q.(*Tx); ok {
		if tx.d.engine != SQLite || !tx.imm {
			return nil, false, nil
		}
		if st, ok := tx.d.immStmts.stmts.Load(query); ok {
			return tx.tx.StmtContext(ctx, st.(*sql.Stmt)), true, nil
		}
		// Preparing on the pool needs a second connection while this transaction holds
		// one: with every connection held by a waiting transaction that would deadlock.
		// So this time the query runs unprepared, and the statement is prepared in the
		// background for the next transaction.
		go func() { _, _ = tx.d.immStmts.prepared(context.Background(), tx.d.imm, query) }()
		return nil, false, nil
	}
	d, ok := q.(*DB)
	if !ok || d.engine != SQLite {
		return nil, false, nil
	}
	st, err := d.stmts.prepared(ctx, d.sql, query)
	return st, err == nil, err
}

// queryContext runs query through q, with a cached prepared statement when q is a DB's
// pool. Inside a transaction it runs the query directly.
func queryContext(ctx context.Context, q Querier, query string, args ...any) (*sql.Rows, error) {
	st, ok, err := cachedStmt(ctx, q, query)
	if err != nil {
		return nil, err
	}
	if ok {
		return st.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, query, args...)
}

// execContext is queryContext for statements that return no rows.
func execContext(ctx context.Context, q Querier, query string, args ...any) (sql.Result, error) {
	st, ok, err := cachedStmt(ctx, q, query)
	if err != nil {
		return nil, err
	}
	if ok {
		return st.ExecContext(ctx, args...)
	}
	return q.ExecContext(ctx, query, args...)
}

// queryRowContext is queryContext for one row.
func queryRowContext(ctx context.Context, q Querier, query string, args ...any) *sql.Row {
	if st, ok, _ := cachedStmt(ctx, q, query); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, query, args...)
}
