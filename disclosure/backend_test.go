package disclosure

import (
	"os"
	"testing"

	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/store/pgtest"
	"github.com/nymwatch/nymwatch/internal/store/storetest"
)

// pg is this package's private PostgreSQL server, started by the first
// test that needs it (tests skip without PostgreSQL unless
// NYMWATCH_REQUIRE_INTEGRATION is set).
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// testBackend is a database the incident store, service and outbox run on.
type testBackend struct {
	name string
	// fresh makes a new, empty database and returns how to open it; each
	// call of open is a new connection to the same data (a restart, or a
	// second instance).
	fresh func(t *testing.T) (open func(t *testing.T) *store.DB)
}

var (
	sqliteBackend = testBackend{name: "sqlite", fresh: func(t *testing.T) func(t *testing.T) *store.DB {
		path := storetest.Path(t)
		return func(t *testing.T) *store.DB {
			t.Helper()
			return storetest.OpenAt(t, path)
		}
	}}
	postgresBackend = testBackend{name: "postgres", fresh: func(t *testing.T) func(t *testing.T) *store.DB {
		srv := pg.Get(t)
		dsn := srv.NewDatabase(t)
		// The tests' fake Pages writes into kv, a table of the local SQLite
		// schema only.
		first := true
		return func(t *testing.T) *store.DB {
			t.Helper()
			db, err := store.OpenPostgres(t.Context(), dsn, srv.Password())
			if err != nil {
				t.Fatalf("open postgres: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if first {
				first = false
				if _, err := db.W.ExecContext(t.Context(),
					"CREATE TABLE kv (key TEXT PRIMARY KEY, value BYTEA NOT NULL, updated_ms BIGINT NOT NULL)"); err != nil {
					t.Fatal(err)
				}
			}
			return db
		}
	}}
)

// forEachBackend runs fn once per backend, as subtests named after it.
func forEachBackend(t *testing.T, fn func(t *testing.T, b testBackend)) {
	t.Helper()
	for _, b := range []testBackend{sqliteBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}
