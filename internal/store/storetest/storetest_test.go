package storetest

import (
	"errors"
	"testing"

	"github.com/nymwatch/nymwatch/internal/store"
)

// A store opened here is migrated and holds the file's lock until closed;
// OpenAt then reopens the same data, as a restart does.
func TestOpenAtReopensTheSameStore(t *testing.T) {
	path := Path(t)
	db := OpenAt(t, path)
	if v, err := db.SchemaVersion(t.Context()); err != nil || v == 0 {
		t.Fatalf("schema version %d, %v: not migrated", v, err)
	}
	if _, err := db.W.ExecContext(t.Context(), `INSERT INTO kv (key, value, updated_ms) VALUES ('k', x'01', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(t.Context(), path); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a second open while the first is held: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again := OpenAt(t, path)
	var n int
	if err := again.R.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM kv WHERE key = 'k'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after reopening: %d rows, %v; want the row written before", n, err)
	}
	if Open(t).Path == path {
		t.Error("Open reused the path of another store")
	}
}
