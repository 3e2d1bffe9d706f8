package disclosure

import (
	"context"
	"database/sql"

	"github.com/nymwatch/nymwatch/internal/store"
)

// sqlRunner is what a query needs: a pool or a transaction.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// conn runs this package's queries, written once with $1, $2, …
// placeholders (PostgreSQL's, which modernc's SQLite binds too), on either
// backend (SQLite, or PostgreSQL for shared incident state).
type conn struct {
	sqlRunner
	d store.Dialect
	// write: inside a write transaction, where rows read to be changed are
	// locked (PostgreSQL; SQLite's single writer needs no row locks).
	write bool
	tx    *sql.Tx // the write transaction, for Pages
}

// dbConn runs outside a write transaction: on a pool, or in a read-only
// transaction.
func dbConn(db *store.DB, r sqlRunner) conn { return conn{sqlRunner: r, d: db.Dialect()} }

// writeConn runs inside a write transaction of db.
func writeConn(db *store.DB, tx *sql.Tx) conn {
	return conn{sqlRunner: tx, d: db.Dialect(), write: true, tx: tx}
}

// forUpdate is the suffix of a SELECT whose rows the transaction will
// change: on PostgreSQL a concurrent writer (another instance) waits for
// this transaction, and this one reads the latest committed row, so neither
// overwrites the other's change with a stale copy.
func (c conn) forUpdate() string {
	if c.write && c.d == store.DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}
