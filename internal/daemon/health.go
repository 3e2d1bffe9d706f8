package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Write-check and failure-log settings. A heartbeat write is tiny, but
// /-/ready may be scraped every few seconds by several systems: one proof
// per writeCheckTTL is enough for all of them.
const (
	writeCheckTTL     = 5 * time.Second
	writeCheckTimeout = 2 * time.Second
	// storeErrorLogEvery: while store writes keep failing, one line per
	// operation per interval says how many failed (a full disk once made
	// 1,250 lines a second).
	storeErrorLogEvery = time.Minute
)

// writeProber is the store's heartbeat write (store.DB.ProbeWrite).
type writeProber interface {
	ProbeWrite(ctx context.Context, at time.Time) error
}

// writeCheck proves the store takes writes, caching the answer briefly.
// Readiness, /-/healthy and the systemd watchdog all ask it, so a
// read-only or full disk makes all three fail instead of looking healthy.
type writeCheck struct {
	db      writeProber
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	fails   *failureLog

	mu  sync.Mutex // held during a probe: concurrent callers share it
	at  time.Time
	err error
}

func newWriteCheck(db writeProber, now func() time.Time, fails *failureLog) *writeCheck {
	return &writeCheck{db: db, ttl: writeCheckTTL, timeout: writeCheckTimeout, now: now, fails: fails}
}

// check returns nil if a heartbeat write succeeded within the last ttl,
// else writes one now, bounded by timeout.
func (c *writeCheck) check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.at.IsZero() && now.Sub(c.at) < c.ttl {
		return c.err
	}
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.db.ProbeWrite(pctx, now)
	if err != nil && ctx.Err() != nil {
		// The caller gave up (a scrape timed out): that says nothing
		// about the store, so nothing is cached.
		return err
	}
	c.at, c.err = now, err
	if c.fails != nil {
		if err != nil {
			c.fails.fail("heartbeat write", err)
		} else {
			c.fails.ok("heartbeat write")
		}
	}
	return err
}

// failureLog rate-limits the logging of a failing store: the first
// failure of an operation is logged at once, then one line per interval
// with the number of failures since the last line, and one line when the
// operation succeeds again. Counting is per operation (a few fixed names),
// so memory is bounded.
type failureLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu  sync.Mutex
	ops map[string]*opFailures
}

type opFailures struct {
	failing  bool
	n        int // failures since the last line
	total    int // failures since the operation began failing
	lastLine time.Time
	since    time.Time // first failure of this run of failures
}

func newFailureLog(log *slog.Logger, every time.Duration, now func() time.Time) *failureLog {
	return &failureLog{log: log, every: every, now: now, ops: map[string]*opFailures{}}
}

// fail records a failed store operation; args are logged with it when a
// line is due (e.g. the anomaly that could not be recorded).
func (f *failureLog) fail(op string, err error, args ...any) {
	now := f.now()
	f.mu.Lock()
	st := f.ops[op]
	if st == nil {
		st = &opFailures{}
		f.ops[op] = st
	}
	st.n++
	st.total++
	var line []any
	var msg string
	switch {
	case !st.failing:
		st.failing, st.since = true, now
		msg = "store write failed; while it keeps failing, one line per interval counts the failures"
		line = []any{"op", op, "err", err, "interval", f.every}
	case now.Sub(st.lastLine) >= f.every:
		msg = "store writes still failing"
		line = []any{"op", op, "failures", st.n, "failing_since", st.since.UTC(), "err", err}
	}
	if line != nil {
		st.n = 0
		st.lastLine = now
	}
	f.mu.Unlock()
	if line != nil {
		f.log.Error(msg, append(line, args...)...)
	}
}

// ok records a successful store operation, logging the recovery of a
// failing one.
func (f *failureLog) ok(op string) {
	f.mu.Lock()
	st := f.ops[op]
	if st == nil || !st.failing {
		f.mu.Unlock()
		return
	}
	total, unlogged := st.total, st.n
	delete(f.ops, op)
	f.mu.Unlock()
	f.log.Info("store writes succeed again", "op", op, "failures", total, "failures_not_logged_before", unlogged)
}
