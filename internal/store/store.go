// Package store opens nymwatch's databases.
//
// The embedded SQLite database (Open) has one writer connection (immediate
// transactions), a small read-only pool that never waits on the writer
// (WAL), embedded migrations versioned by PRAGMA user_version, and an
// exclusive lock file so two daemons cannot share one database file.
//
// The shared PostgreSQL database (OpenPostgres, storage.driver: postgres)
// holds only what several instances must agree on: incidents and the page
// outbox. It is migrated the same way (embedded files, versions in
// schema_migrations, applied in one transaction under an advisory lock).
// Both are a *DB, so callers keep one shape: queries are written once with
// $1, $2, … placeholders, which both drivers bind.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/nymwatch/nymwatch/internal/unixms"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// DB is the opened store. W is the single writer; R is for reads only. On
// PostgreSQL both are the same pool (the server isolates transactions).
type DB struct {
	W    *sql.DB
	R    *sql.DB
	Path string // the SQLite file; empty for PostgreSQL
	lock *os.File

	dialect Dialect
	pgcfg   *pgx.ConnConfig // PostgreSQL: for the session locks' own connections

	mu       sync.Mutex
	sessions map[string]*SessionLock
	closed   bool
}

// ErrLocked is returned when another process holds the database.
var ErrLocked = errors.New("database is in use by another nymwatch process")

// ErrSchemaTooNew is returned for a database written by a newer nymwatch.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

const busyTimeoutMS = 5000

// syncMode is the writer's PRAGMA synchronous. FULL fsyncs the WAL at
// every commit, so a committed incident, page or webhook alert survives a
// power loss, not only a crash of the process (NORMAL does not: the last
// commits before the loss may roll back). The cost is measured by
// BenchmarkCommit (docs/security-hardening.md).
const syncMode = "FULL"

func dsn(path string, readOnly bool) string { return dsnSync(path, readOnly, syncMode) }

func dsnSync(path string, readOnly bool, sync string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(busyTimeoutMS)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+sync+")")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies pending
// migrations. It fails with ErrLocked if another process has it open.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	lf, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open lock file: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	db := &DB{Path: path, lock: lf}
	if err := restrictFiles(path); err != nil {
		db.Close()
		return nil, err
	}
	if db.W, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open writer: %w", err)
	}
	// One writer: SQLite serialises writes anyway, and a single connection
	// avoids SQLITE_BUSY_SNAPSHOT on read-then-write transactions.
	db.W.SetMaxOpenConns(1)
	db.W.SetConnMaxIdleTime(0)
	if err := db.W.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := migrate(ctx, db.W, migrationsFS); err != nil {
		db.Close()
		return nil, err
	}
	if db.R, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open reader: %w", err)
	}
	db.R.SetMaxOpenConns(4)
	if err := db.R.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open reader: %w", err)
	}
	return db, nil
}

// Dialect says which SQL the database speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes both pools, ends the session locks' connections (releasing
// the locks) and releases the lock file.
func (db *DB) Close() error {
	var errs []error
	db.mu.Lock()
	db.closed = true
	sessions := db.sessions
	db.sessions = nil
	db.mu.Unlock()
	for _, l := range sessions {
		errs = append(errs, l.Release(context.Background()))
	}
	if db.R != nil && db.R != db.W {
		errs = append(errs, db.R.Close())
	}
	if db.W != nil {
		errs = append(errs, db.W.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close()) // closing releases the flock
	}
	return errors.Join(errs...)
}

// Tx runs fn in one write transaction and commits it if fn returns nil.
//
// On SQLite the transaction is immediate on the single writer, so write
// transactions never interleave. On PostgreSQL it is READ COMMITTED: fn
// serialises what must be serialised with LockTx and row locks, and a
// transaction that lost a race the server detected (serialization failure,
// deadlock, or a unique key a concurrent writer took first) is run again,
// so fn must have no effects outside tx.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if db.dialect == DialectPostgres {
		return db.pgTx(ctx, fn)
	}
	return db.tx(ctx, nil, fn)
}

func (db *DB) tx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Ping checks that the writer answers; used by readiness and the watchdog.
func (db *DB) Ping(ctx context.Context) error { return db.W.PingContext(ctx) }

// BeginRead starts a read-only transaction that sees one consistent
// snapshot (SQLite: a read transaction of the WAL; PostgreSQL: REPEATABLE
// READ). The caller rolls it back.
func (db *DB) BeginRead(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect == DialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return db.R.BeginTx(ctx, opts)
}

// SchemaVersion returns the applied schema version (SQLite: PRAGMA
// user_version; PostgreSQL: the highest version in schema_migrations).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	q := "PRAGMA user_version"
	if db.dialect == DialectPostgres {
		q = "SELECT coalesce(max(version), 0) FROM schema_migrations"
	}
	var v int
	err := db.R.QueryRowContext(ctx, q).Scan(&v)
	return v, err
}

type migration struct {
	version int
	name    string
}

func migrations(fsys fs.FS) ([]migration, error) { return migrationsIn(fsys, "migrations") }

// migrationsIn lists dir's NNNN_name.sql files in version order.
func migrationsIn(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: name must start with a positive number and '_'", e.Name())
		}
		ms = append(ms, migration{version: v, name: e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := range ms {
		if ms[i].version != i+1 {
			return nil, fmt.Errorf("store: migration %q: versions must be consecutive from 1", ms[i].name)
		}
	}
	return ms, nil
}

// LatestVersion is the schema version this binary migrates to.
func LatestVersion() int {
	ms, err := migrations(migrationsFS)
	if err != nil {
		return 0
	}
	return len(ms)
}

func migrate(ctx context.Context, w *sql.DB, fsys fs.FS) error {
	ms, err := migrations(fsys)
	if err != nil {
		return err
	}
	var cur int
	if err := w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("store: schema version %d, this binary knows up to %d: %w", cur, len(ms), ErrSchemaTooNew)
	}
	for _, m := range ms[cur:] {
		body, err := fs.ReadFile(fsys, "migrations/"+m.name)
		if err != nil {
			return fmt.Errorf("store: read %s: %w", m.name, err)
		}
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		// PRAGMA takes no bound parameters; the version is an int we made.
		if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: migration %s: set version: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %s: commit: %w", m.name, err)
		}
	}
	return nil
}

// NullMillis is unixms.From, or SQL NULL for the zero time. Every
// timestamp is stored as UTC unix milliseconds (internal/unixms): text
// times from the driver carry a monotonic suffix.
func NullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return unixms.From(t)
}

// FromNullMillis is the inverse of NullMillis: NULL gives the zero time.
func FromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return unixms.Time(n.Int64)
}
