package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDatabaseFilesAre0600: the database holds undisclosed security
// drafts; its file, WAL, shared memory and lock must be the daemon's only,
// also when an older version created them world-readable.
func TestDatabaseFilesAre0600(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "nymwatch.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s has mode %o, want 600", when, filepath.Base(p), m)
			}
		}
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: directory mode %v %v, want 700", when, fi.Mode().Perm(), err)
		}
	}
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ProbeWrite(t.Context(), time.Now()); err != nil { // makes the WAL and shm exist
		t.Fatal(err)
	}
	check("new database")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ProbeWrite(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	check("reopened 0644 database")
}

func TestWriterSynchronousFull(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "nymwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode int
	if err := db.W.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&mode); err != nil || mode != 2 {
		t.Errorf("writer synchronous = %d (%v), want 2 (FULL)", mode, err)
	}
}

// TestProbeWriteFailsWhenWritesFail: the heartbeat proves a write, so a
// store that refuses writes (simulated with query_only, since tests run as
// root and chmod does not stop root) fails it, while a ping still passes.
func TestProbeWriteFailsWhenWritesFail(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "nymwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	if err := db.ProbeWrite(ctx, at); err != nil {
		t.Fatal(err)
	}
	var ms int64
	if err := db.R.QueryRowContext(ctx, "SELECT updated_ms FROM kv WHERE key = ?", heartbeatKey).Scan(&ms); err != nil || ms != at.UnixMilli() {
		t.Errorf("heartbeat row %d %v", ms, err)
	}
	if _, err := db.W.ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := db.ProbeWrite(ctx, at.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("heartbeat on a read-only store: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.W.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	if err := db.ProbeWrite(cctx, at); err == nil {
		t.Error("heartbeat with a cancelled context succeeded")
	}
}

// BenchmarkCommit measures one small write transaction (an incident-sized
// row and an outbox-sized row) with the writer's synchronous setting.
// FULL fsyncs the WAL at every commit; NORMAL only at checkpoints.
func BenchmarkCommit(b *testing.B) {
	for _, mode := range []string{"NORMAL", "FULL"} {
		b.Run(mode, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.db")
			w, err := sql.Open("sqlite", dsnSync(path, false, mode))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			w.SetMaxOpenConns(1)
			if err := migrate(b.Context(), w, migrationsFS); err != nil {
				b.Fatal(err)
			}
			incident := []byte(strings.Repeat("x", 4096))
			page := []byte(strings.Repeat("y", 1024))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				tx, err := w.BeginTx(b.Context(), nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tx.Exec("INSERT OR REPLACE INTO kv (key, value, updated_ms) VALUES (?, ?, ?), (?, ?, ?)",
					"incident", incident, i, "page", page, i); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
