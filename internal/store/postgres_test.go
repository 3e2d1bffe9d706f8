package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/nymwatch/nymwatch/internal/store/pgtest"
)

// pg is this package's private PostgreSQL, started by the first test that
// needs it.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// openPG opens a fresh shared database.
func openPG(t *testing.T) (*DB, string) {
	t.Helper()
	srv := pg.Get(t)
	dsn := srv.NewDatabase(t)
	db, err := OpenPostgres(t.Context(), dsn, srv.Password())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dsn
}

// TestDollarPlaceholders: queries are written once with $N placeholders
// and bound by both drivers, in any order and repeated.
func TestDollarPlaceholders(t *testing.T) {
	sqlite, err := Open(t.Context(), filepath.Join(t.TempDir(), "nymwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlite.Close() })
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) *DB
	}{
		{"sqlite", func(*testing.T) *DB { return sqlite }},
		{"postgres", func(t *testing.T) *DB { db, _ := openPG(t); return db }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			ctx := t.Context()
			if _, err := db.W.ExecContext(ctx, `CREATE TABLE placeholders (k TEXT PRIMARY KEY, v TEXT NOT NULL, n BIGINT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			// $2 before $1, $3 used twice: bound by number, not by position.
			for range 2 {
				if _, err := db.W.ExecContext(ctx, `INSERT INTO placeholders (k, v, n) VALUES ($2, $1, $3)
					ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = excluded.n + $3`,
					"v1", "k?", int64(21)); err != nil {
					t.Fatal(err)
				}
			}
			var v string
			var ms int64
			if err := db.R.QueryRowContext(ctx, `SELECT v, n FROM placeholders WHERE k = $1 AND n = $2 AND '?' = '?'`,
				"k?", int64(42)).Scan(&v, &ms); err != nil {
				t.Fatal(err)
			}
			if string(v) != "v1" || ms != 42 {
				t.Fatalf("got %q %d, want v1 42", v, ms)
			}
		})
	}
}

func TestPostgresOpenMigrates(t *testing.T) {
	db, dsn := openPG(t)
	ctx := t.Context()
	if db.Dialect() != DialectPostgres || db.W != db.R {
		t.Fatalf("dialect %v, one pool %v", db.Dialect(), db.W == db.R)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != LatestPostgresVersion() || v < 2 {
		t.Fatalf("schema version %d %v, want %d", v, err, LatestPostgresVersion())
	}
	// Only the shared tables: detector state and the directory stay local.
	rows, err := db.R.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	want := "incident_anomalies incident_audit incident_channels incident_followups incident_id_counters incident_publications incident_reporters incident_status_updates incidents maintenance_audit maintenance_windows page_outbox schema_migrations"
	if got := strings.Join(tables, " "); got != want {
		t.Fatalf("tables %q, want %q", got, want)
	}
	// Reopening applies nothing twice.
	db2, err := OpenPostgres(ctx, dsn, pg.Get(t).Password())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db2.Close()
	var n int
	if err := db2.R.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != LatestPostgresVersion() {
		t.Fatalf("%d migration rows %v, want %d", n, err, LatestPostgresVersion())
	}
}

// TestPostgresConcurrentOpensMigrateOnce: instances starting together each
// apply a migration once (a second CREATE TABLE would fail their open).
func TestPostgresConcurrentOpensMigrateOnce(t *testing.T) {
	srv := pg.Get(t)
	dsn := srv.NewDatabase(t)
	const instances = 6
	var wg sync.WaitGroup
	errs := make([]error, instances)
	dbs := make([]*DB, instances)
	start := make(chan struct{})
	for i := range instances {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = OpenPostgres(t.Context(), dsn, srv.Password())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	rows, err := dbs[0].R.QueryContext(t.Context(), "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("version %d recorded %d times", v, n)
		}
		versions = append(versions, v)
	}
	if len(versions) != LatestPostgresVersion() {
		t.Fatalf("versions %v, want 1..%d", versions, LatestPostgresVersion())
	}
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	db, dsn := openPG(t)
	if _, err := db.W.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, 'future.sql', 0)",
		LatestPostgresVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err := OpenPostgres(t.Context(), dsn, pg.Get(t).Password())
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

func TestPostgresMigrationFailureRollsBackAll(t *testing.T) {
	srv := pg.Get(t)
	cfg, err := pgx.ParseConfig(srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = srv.Password()
	raw := stdlib.OpenDB(*cfg) // not migrated
	defer raw.Close()
	fsys := fstest.MapFS{
		"mig/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"mig/0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER); THIS IS NOT SQL;")},
	}
	err = migratePostgres(t.Context(), raw, fsys, "mig")
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("got %v, want error naming 0002_b.sql", err)
	}
	var tables []string
	rows, err := raw.QueryContext(t.Context(), "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if len(tables) != 0 {
		t.Fatalf("tables %v after a failed migration: want none (one transaction)", tables)
	}
	// The good prefix alone applies, and is recorded.
	delete(fsys, "mig/0002_b.sql")
	if err := migratePostgres(t.Context(), raw, fsys, "mig"); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := raw.QueryRowContext(t.Context(), "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil || v != 1 {
		t.Fatalf("version %d %v", v, err)
	}
}

func TestPostgresBadPasswordIsNotEchoed(t *testing.T) {
	srv := pg.Get(t)
	dsn := srv.NewDatabase(t)
	const secret = "not-the-password-s3cr3t"
	_, err := OpenPostgres(t.Context(), dsn, secret)
	if err == nil {
		t.Fatal("open with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error echoes the password: %v", err)
	}
	if _, err := OpenPostgres(t.Context(), "host=/nonexistent password="+secret+" user=x dbname=y", ""); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("unreachable server: %v", err)
	}
}

// TestPostgresLockTxSerialises: read-modify-write under LockTx from two
// instances loses no update (READ COMMITTED alone would).
func TestPostgresLockTxSerialises(t *testing.T) {
	a, dsn := openPG(t)
	b, err := OpenPostgres(t.Context(), dsn, pg.Get(t).Password())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.W.ExecContext(t.Context(), "CREATE TABLE ctr (v BIGINT NOT NULL); INSERT INTO ctr VALUES (0)"); err != nil {
		t.Fatal(err)
	}
	const per = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4*per)
	for _, db := range []*DB{a, b, a, b} {
		wg.Go(func() {
			for range per {
				errs <- db.Tx(t.Context(), func(tx *sql.Tx) error {
					if err := db.LockTx(t.Context(), tx, "ctr"); err != nil {
						return err
					}
					var v int64
					if err := tx.QueryRowContext(t.Context(), "SELECT v FROM ctr").Scan(&v); err != nil {
						return err
					}
					_, err := tx.ExecContext(t.Context(), "UPDATE ctr SET v = $1", v+1)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var v int64
	if err := a.R.QueryRowContext(t.Context(), "SELECT v FROM ctr").Scan(&v); err != nil || v != 4*per {
		t.Fatalf("counter %d %v, want %d", v, err, 4*per)
	}
}

// TestPostgresTxRetriesLostRace: two transactions both find a key absent
// and insert it; the loser's unique violation makes Tx run it again, and
// the re-run sees the winner's row.
func TestPostgresTxRetriesLostRace(t *testing.T) {
	a, dsn := openPG(t)
	b, err := OpenPostgres(t.Context(), dsn, pg.Get(t).Password())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.W.ExecContext(t.Context(), "CREATE TABLE k (id TEXT PRIMARY KEY, by TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	var checked sync.WaitGroup
	checked.Add(2)
	var runs atomic.Int32
	insertOnce := func(db *DB, who string) error {
		first := true
		return db.Tx(t.Context(), func(tx *sql.Tx) error {
			runs.Add(1)
			var n int
			if err := tx.QueryRowContext(t.Context(), "SELECT count(*) FROM k WHERE id = 'x'").Scan(&n); err != nil {
				return err
			}
			if first {
				// Both have looked before either inserts: a real race.
				first = false
				checked.Done()
				checked.Wait()
			}
			if n > 0 {
				return nil
			}
			_, err := tx.ExecContext(t.Context(), "INSERT INTO k VALUES ('x', $1)", who)
			return err
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = insertOnce(a, "a") })
	wg.Go(func() { errs[1] = insertOnce(b, "b") })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("a transaction that lost the race failed instead of re-running: %v", err)
	}
	if r := runs.Load(); r != 3 {
		t.Fatalf("%d runs, want 3 (the loser ran twice)", r)
	}
	var n int
	if err := a.R.QueryRowContext(t.Context(), "SELECT count(*) FROM k").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows %v", n, err)
	}
}

// lockHolder is the backend pid holding the session lock name, or 0.
func lockHolder(t *testing.T, db *DB, name string) int {
	t.Helper()
	k := uint64(LockKey("session/" + name))
	var pid int
	err := db.R.QueryRowContext(t.Context(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1`,
		int64(k>>32), int64(k&0xffffffff)).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestSessionLock(t *testing.T) {
	ctx := t.Context()
	a, dsn := openPG(t)
	b, err := OpenPostgres(ctx, dsn, pg.Get(t).Password())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	la, lb := a.SessionLock("duty"), b.SessionLock("duty")
	if a.SessionLock("duty") != la {
		t.Fatal("SessionLock must return the same lock for a name")
	}
	hold := func(l *SessionLock, want bool, who string) {
		t.Helper()
		got, err := l.TryHold(ctx)
		if err != nil {
			t.Fatalf("%s: TryHold: %v", who, err)
		}
		if got != want {
			t.Fatalf("%s: held = %v, want %v", who, got, want)
		}
	}
	hold(la, true, "a")
	hold(la, true, "a again") // still held, not stacked
	hold(lb, false, "b")
	hold(lb, false, "b again")

	// a "crashes": the server ends its session, and with it the lock.
	pid := lockHolder(t, a, "duty")
	if pid == 0 {
		t.Fatal("no holder in pg_locks")
	}
	var done bool
	if err := b.R.QueryRowContext(ctx, "SELECT pg_terminate_backend($1, 30000)", pid).Scan(&done); err != nil || !done {
		t.Fatalf("terminate %d: %v %v", pid, done, err)
	}
	hold(lb, true, "b after a's session died")
	hold(la, false, "a reconnected") // a notices, reconnects, finds b holding it

	// A released lock (or a closed DB) frees it for the other instance.
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	hold(la, true, "a after b released")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := la.TryHold(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryHold after Close: %v, want ErrClosed", err)
	}
	hold(lb, true, "b after a closed")
}

func TestSessionLockSQLiteAlwaysHeld(t *testing.T) {
	db, err := Open(t.Context(), t.TempDir()+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ok, err := db.SessionLock("duty").TryHold(t.Context())
	if err != nil || !ok {
		t.Fatalf("sqlite session lock: %v %v", ok, err)
	}
	// LockTx is a no-op there, inside a real transaction.
	if err := db.Tx(t.Context(), func(tx *sql.Tx) error { return db.LockTx(t.Context(), tx, "x") }); err != nil {
		t.Fatal(err)
	}
}
