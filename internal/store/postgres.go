package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations_pg/*.sql
var pgMigrationsFS embed.FS

const pgMigrationsDir = "migrations_pg"

// Pool bounds for the shared database: a few instances, each with a
// handful of concurrent writers (anomalies, API calls, the outbox).
const (
	pgMaxOpenConns    = 8
	pgMaxIdleConns    = 4
	pgConnMaxIdleTime = 5 * time.Minute
	pgConnMaxLifetime = 30 * time.Minute
)

// pgTxAttempts bounds the re-runs of a write transaction that lost a race.
const pgTxAttempts = 8

// OpenPostgres connects to the shared PostgreSQL database and applies
// pending migrations (in one transaction, under an advisory lock, so
// instances starting together apply each migration once). dsn is a pgx
// connection string (URL or key=value) without the password; password, if
// not empty, is used instead of any in dsn. Neither is ever logged.
//
// The returned DB has W == R (one pool) and Dialect() == DialectPostgres.
// It holds only the shared tables (incidents, their anomalies, report
// fields, audit, page outbox, id counters); detector state and the node
// directory stay in each instance's own SQLite database.
func OpenPostgres(ctx context.Context, dsn, password string) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("store: empty postgres dsn")
	}
	cfg, err := pgx.ParseConfig(dsn) // its errors redact any password
	if err != nil {
		return nil, fmt.Errorf("store: postgres dsn: %w", err)
	}
	if password != "" {
		cfg.Password = password
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "nymwatch"
	}
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(pgMaxOpenConns)
	pool.SetMaxIdleConns(pgMaxIdleConns)
	pool.SetConnMaxIdleTime(pgConnMaxIdleTime)
	pool.SetConnMaxLifetime(pgConnMaxLifetime)
	db := &DB{W: pool, R: pool, dialect: DialectPostgres, pgcfg: cfg}
	if err := pool.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to postgres %s: %w", pgWhere(cfg), err)
	}
	if err := migratePostgres(ctx, pool, pgMigrationsFS, pgMigrationsDir); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// pgWhere names the server for errors, without credentials.
func pgWhere(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
}

// LatestPostgresVersion is the shared schema version this binary migrates to.
func LatestPostgresVersion() int {
	ms, err := migrationsIn(pgMigrationsFS, pgMigrationsDir)
	if err != nil {
		return 0
	}
	return len(ms)
}

// migratePostgres applies dir's pending migrations in one transaction.
// PostgreSQL has no user_version: applied versions are rows of
// schema_migrations. The advisory lock is taken first, so a second
// instance waits, then (READ COMMITTED: each statement sees what committed
// before it) finds everything applied.
func migratePostgres(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) error {
	ms, err := migrationsIn(fsys, dir)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", LockKey("schema-migrations")); err != nil {
		return fmt.Errorf("store: migrate: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_ms BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("store: postgres schema version %d, this binary knows up to %d: %w", cur, len(ms), ErrSchemaTooNew)
	}
	if cur == len(ms) {
		return nil
	}
	for _, m := range ms[cur:] {
		body, err := fs.ReadFile(fsys, dir+"/"+m.name)
		if err != nil {
			return fmt.Errorf("store: read %s: %w", m.name, err)
		}
		// No arguments: pgx sends it with the simple protocol, which runs
		// a file of several statements.
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("store: migration %s: record version: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}

// pgTx is Tx on PostgreSQL: READ COMMITTED, re-run on a lost race.
func (db *DB) pgTx(ctx context.Context, fn func(*sql.Tx) error) error {
	opts := &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	for attempt := 1; ; attempt++ {
		err := db.tx(ctx, opts, fn)
		if err == nil || attempt == pgTxAttempts || !Retryable(err) {
			return err
		}
		// A short jittered pause lets the winner finish.
		d := time.Duration(rand.Int64N(int64(attempt)*int64(5*time.Millisecond))) + time.Millisecond //nolint:gosec // retry jitter, not a secret
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Retryable reports whether err is a PostgreSQL transaction that lost a
// race to a concurrent one and can simply be run again: a serialization
// failure, a deadlock, or a unique key taken by a concurrent writer.
func Retryable(err error) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	if !ok {
		return false
	}
	switch pe.Code {
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"23505": // unique_violation
		return true
	}
	return false
}

// LockKey maps a lock name to the 64-bit key of a PostgreSQL advisory lock,
// in nymwatch's own namespace.
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("nymwatch/" + name))
	return int64(h.Sum64()) //nolint:gosec // a hash: wrapping to negative is fine
}

// LockTx takes the transaction-scoped lock name inside tx: write
// transactions of every instance sharing the database that take the same
// name run one after the other, until commit or rollback. Take it first in
// the transaction: under READ COMMITTED every later statement then sees
// what the previous holder committed. On SQLite it is a no-op (its single
// immediate writer already serialises every write transaction).
func (db *DB) LockTx(ctx context.Context, tx *sql.Tx, name string) error {
	if db.dialect != DialectPostgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", LockKey(name)); err != nil {
		return fmt.Errorf("store: lock %s: %w", name, err)
	}
	return nil
}

// ErrClosed is returned by a SessionLock of a closed DB.
var ErrClosed = errors.New("store: database closed")

// SessionLock is a cluster-wide, long-held mutex for one duty (draining the
// page outbox). On PostgreSQL it is a session-level advisory lock held on a
// connection of its own, outside the pool: it is released when the holder
// releases it, closes the DB, crashes or loses its connection, and the
// server then lets another instance take it. On SQLite, where one process
// owns the database file, it is always held.
type SessionLock struct {
	db   *DB
	name string
	key  int64

	mu   sync.Mutex
	conn *pgx.Conn // the dedicated session; nil when not connected
	held bool
}

// SessionLock returns the lock called name; one per name and DB, so a
// component rebuilt over the same DB keeps the lock it held.
func (db *DB) SessionLock(name string) *SessionLock {
	db.mu.Lock()
	defer db.mu.Unlock()
	if l, ok := db.sessions[name]; ok {
		return l
	}
	l := &SessionLock{db: db, name: name, key: LockKey("session/" + name)}
	if db.sessions == nil {
		db.sessions = map[string]*SessionLock{}
	}
	if !db.closed {
		db.sessions[name] = l
	}
	return l
}

// TryHold reports whether this process holds the lock, taking it if it is
// free; it never waits for another holder. While held it checks that the
// session is still alive (the lock lives exactly as long as the session),
// and after a lost session it tries again on a new connection.
func (l *SessionLock) TryHold(ctx context.Context) (bool, error) {
	if l.db.dialect != DialectPostgres {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Checked under l.mu: Close marks the DB closed before it releases,
	// so no connection is opened after that release.
	l.db.mu.Lock()
	closed := l.db.closed
	l.db.mu.Unlock()
	if closed {
		return false, ErrClosed
	}
	if l.conn != nil && l.held {
		if err := l.conn.Ping(ctx); err == nil {
			return true, nil
		}
		l.drop() // the server released the lock with the session
	}
	if l.conn == nil {
		c, err := pgx.ConnectConfig(ctx, l.db.pgcfg.Copy())
		if err != nil {
			return false, fmt.Errorf("store: lock %s: connect: %w", l.name, err)
		}
		l.conn = c
	}
	var ok bool
	if err := l.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&ok); err != nil {
		l.drop()
		return false, fmt.Errorf("store: lock %s: %w", l.name, err)
	}
	l.held = ok
	return ok, nil
}

// Release gives the lock up by ending its session.
func (l *SessionLock) Release(ctx context.Context) error {
	if l.db.dialect != DialectPostgres {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var errs []error
	if l.held {
		// Unlock explicitly: the server ends a closed session
		// asynchronously, and the next holder should not have to wait.
		if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, l.conn.Close(ctx))
	l.conn, l.held = nil, false
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: release lock %s: %w", l.name, err)
	}
	return nil
}

// drop forgets a broken session; closing it tells the server, if it can
// still hear, to release the lock at once.
func (l *SessionLock) drop() {
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.conn.Close(ctx)
		cancel()
	}
	l.conn, l.held = nil, false
}
