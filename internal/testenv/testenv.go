// Package testenv builds the environment most HTTP-facing tests need: a
// migrated SQLite store, the disclosure service on it, a fake clock, a
// captured debug log, a metrics registry and the API tokens. The web
// console, the public status page and the daemon's tests use it instead of
// wiring their own. Test code only.
//
// disclosure's own tests cannot import it (it imports disclosure); they
// take their stores from internal/store/storetest and pgtest.
package testenv

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/store/storetest"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// Tokens the environment's API and console accept.
const (
	OperatorToken = "correct-horse-battery-staple-42"
	ViewerToken   = "viewer-token-for-read-only-tests-0123"
)

// Start is the clock's default start: milliseconds on purpose (the store
// must keep them), mid-morning UTC so a same-day deadline is hours away.
func Start() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 123_000_000, time.UTC) }

// Options change the environment; the zero value is a fresh SQLite store
// and a service with default options at Start().
type Options struct {
	// Start is the fake clock's first reading; zero means Start().
	Start time.Time
	// DB is the store to use (PostgreSQL, or one a test reopens); nil
	// opens a fresh SQLite store.
	DB *store.DB
	// Service, if set, changes the service's options before it is built
	// (Pages, Measured, GroupingWindow, …).
	Service func(*disclosure.ServiceOptions)
}

// Env is a migrated store with the disclosure service on it.
type Env struct {
	DB       *store.DB
	Service  *disclosure.Service
	Clock    *testutil.Clock
	Logs     *testutil.Buffer // everything logged, at debug level
	Logger   *slog.Logger
	Registry *prometheus.Registry // the service's metrics
}

// New builds the environment; everything is closed when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Start.IsZero() {
		o.Start = Start()
	}
	e := &Env{DB: o.DB, Clock: testutil.NewClock(o.Start), Logs: &testutil.Buffer{}, Registry: prometheus.NewRegistry()}
	if e.DB == nil {
		e.DB = storetest.Open(t)
	}
	e.Logger = slog.New(slog.NewTextHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	so := disclosure.ServiceOptions{DB: e.DB, Logger: e.Logger, Registerer: e.Registry, Now: e.Clock.Now}
	if o.Service != nil {
		o.Service(&so)
	}
	var err error
	e.Service, err = disclosure.NewService(t.Context(), so)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return e
}

// APIOptions are the incidents API's options over this environment, with
// its tokens and clock; change them before disclosure.NewAPI.
func (e *Env) APIOptions() disclosure.APIOptions {
	return disclosure.APIOptions{Service: e.Service, OperatorToken: []byte(OperatorToken), ViewerToken: []byte(ViewerToken),
		Logger: e.Logger, Now: e.Clock.Now}
}

// Apply records an anomaly as the detector reports it, failing the test
// if the service refuses it.
func (e *Env) Apply(t testing.TB, a detector.Anomaly, now time.Time) {
	t.Helper()
	if err := e.Service.ApplyAnomaly(t.Context(), a, now); err != nil {
		t.Fatalf("apply %s: %v", a.ID, err)
	}
}
