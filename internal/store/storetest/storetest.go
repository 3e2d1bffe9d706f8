// Package storetest opens real, migrated SQLite stores for tests: one
// helper instead of each package's own store.Open in t.TempDir(). It
// imports only store, so the tests of every package above it (disclosure
// included) can use it; internal/testenv builds the service on top.
// PostgreSQL stores come from internal/store/pgtest.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/nymwatch/nymwatch/internal/store"
)

// Path returns where a new store for this test lives: a fresh file name
// in the test's temporary directory, removed when the test ends.
func Path(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "nymwatch.db")
}

// Open opens a new, migrated SQLite store, closed when the test ends.
func Open(t testing.TB) *store.DB {
	t.Helper()
	return OpenAt(t, Path(t))
}

// OpenAt opens (or reopens, for a restart) the SQLite store at path,
// migrating it, and closes it when the test ends unless the test closed it
// first.
func OpenAt(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open store %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
