package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

func TestOpenAppliesMigrationsAndPragmas(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "nymwatch.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != LatestVersion() || v < 1 {
		t.Fatalf("schema version %d, want %d", v, LatestVersion())
	}
	var mode string
	if err := db.W.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	for _, pool := range []*sql.DB{db.W, db.R} {
		var fk, busy int
		if err := pool.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Fatalf("foreign_keys %d %v", fk, err)
		}
		if err := pool.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != busyTimeoutMS {
			t.Fatalf("busy_timeout %d %v", busy, err)
		}
	}
	// The read pool must refuse writes.
	if _, err := db.R.ExecContext(ctx, "INSERT INTO kv(key,value,updated_ms) VALUES('a',x'00',1)"); err == nil {
		t.Fatal("write through read-only pool succeeded")
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nymwatch.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	db.Close()
	db2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	db2.Close()
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nymwatch.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(fmt.Sprintf("PRAGMA user_version = %d", LatestVersion()+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(t.Context(), path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrationFailureRollsBack(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "m.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a(x INTEGER);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b(x INTEGER); THIS IS NOT SQL;")},
	}
	if err := migrate(ctx, db, fsys); err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("got %v, want error naming 0002_b.sql", err)
	}
	var v int
	_ = db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != 1 {
		t.Fatalf("user_version %d, want 1 (failed migration rolled back)", v)
	}
	var n int
	_ = db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name='b'").Scan(&n)
	if n != 0 {
		t.Fatal("table b exists after failed migration")
	}
}

func TestMigrationNamesMustBeConsecutive(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":     {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"badname": {"migrations/first.sql": {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := migrations(fsys); err == nil {
				t.Fatal("expected error")
			}
		})
	}
}

func TestTimesRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 22, 3, 4, 567_891_000, time.FixedZone("CET", 3600))
	got := unixms.Time(unixms.From(at))
	if !got.Equal(at.Truncate(time.Millisecond)) || got.Location() != time.UTC {
		t.Fatalf("got %v", got)
	}
	if NullMillis(time.Time{}) != nil {
		t.Fatal("zero time must be NULL")
	}
	if !FromNullMillis(sql.NullInt64{}).IsZero() {
		t.Fatal("NULL must be zero time")
	}
}

// TestKillDuringWritesLosesNothing runs a child process that commits rows as
// fast as it can and reports each commit; the parent SIGKILLs it mid-stream,
// reopens the file and checks every reported row is there.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	if os.Getenv("NYMWATCH_STORE_WRITER") != "" {
		t.Skip("child")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), "NYMWATCH_STORE_WRITER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "committed "); ok {
			i, _ := strconv.Atoi(n)
			committed = append(committed, i)
			if len(committed) == 200 {
				_ = cmd.Process.Kill() // SIGKILL, mid-stream
				break
			}
		}
	}
	_ = cmd.Wait()
	if len(committed) < 200 {
		t.Fatalf("child committed only %d rows before exiting", len(committed))
	}
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer db.Close()
	var ok string
	if err := db.R.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check %q %v", ok, err)
	}
	for _, i := range committed {
		var n int
		if err := db.R.QueryRow("SELECT count(*) FROM kv WHERE key = ?", "k"+strconv.Itoa(i)).Scan(&n); err != nil || n != 1 {
			t.Fatalf("committed row %d missing after SIGKILL (n=%d err=%v)", i, n, err)
		}
	}
}

func TestHelperWriter(t *testing.T) {
	path := os.Getenv("NYMWATCH_STORE_WRITER")
	if path == "" {
		t.Skip("helper process for TestKillDuringWritesLosesNothing")
	}
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO kv(key,value,updated_ms) VALUES(?,?,?)", "k"+strconv.Itoa(i), []byte("v"), i)
			return err
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("committed", i)
	}
}
