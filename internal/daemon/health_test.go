package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/store/storetest"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// readOnly makes the store's single writer connection refuse every write,
// as a read-only or full disk does. Tests run as root, where chmod does not
// stop writes; PRAGMA query_only does, on the one connection the writer
// pool keeps.
func readOnly(t *testing.T, db *store.DB, on bool) {
	t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	if _, err := db.W.ExecContext(t.Context(), "PRAGMA query_only = "+v); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestReadOnlyStoreIsNotReady: with a store that refuses writes, /-/ready
// and /-/healthy answer 503 and the watchdog check fails; once writes work
// again (and the cached answer expires) they recover.
func TestReadOnlyStoreIsNotReady(t *testing.T) {
	db := storetest.Open(t)
	clk := testutil.NewClock(time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	fails := newFailureLog(slog.New(slog.NewTextHandler(&logs, nil)), time.Minute, clk.Now)
	d := &daemon{db: db, write: newWriteCheck(db, clk.Now, fails)}
	d.ready.write = d.write
	d.ready.storeOpen.Store(true)
	d.ready.directoryDone.Store(true)
	mux := newMux(prometheus.NewRegistry(), &d.ready)

	for _, p := range []string{"/-/ready", "/-/healthy"} {
		if code, body := get(t, mux, p); code != http.StatusOK {
			t.Fatalf("%s with a writable store: %d %s", p, code, body)
		}
	}
	readOnly(t, db, true)
	// Still within the cache: the last proof stands.
	if code, _ := get(t, mux, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready within the cache: %d", code)
	}
	clk.Advance(writeCheckTTL)
	for _, p := range []string{"/-/ready", "/-/healthy"} {
		code, body := get(t, mux, p)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "refuses writes") || !strings.Contains(body, "readonly") {
			t.Errorf("%s with a read-only store: %d %q", p, code, body)
		}
	}
	if err := d.healthy(t.Context()); err == nil || !strings.Contains(err.Error(), "refuses writes") {
		t.Errorf("watchdog check with a read-only store: %v", err)
	}
	if n := strings.Count(logs.String(), "store write failed"); n != 1 {
		t.Errorf("%d failure lines, want 1:\n%s", n, logs.String())
	}
	readOnly(t, db, false)
	clk.Advance(writeCheckTTL)
	if code, body := get(t, mux, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready after recovery: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "store writes succeed again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

type countingProber struct {
	mu    sync.Mutex
	calls int
	err   error
	block bool
}

func (p *countingProber) ProbeWrite(ctx context.Context, _ time.Time) error {
	p.mu.Lock()
	p.calls++
	block, err := p.block, p.err
	p.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func TestWriteCheckCachesAndTimesOut(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC))
	p := &countingProber{}
	c := newWriteCheck(p, clk.Now, nil)
	for range 50 {
		if err := c.check(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if p.calls != 1 {
		t.Errorf("%d heartbeat writes for 50 checks within the TTL, want 1", p.calls)
	}
	clk.Advance(writeCheckTTL)
	p.err = errors.New("disk full")
	if err := c.check(t.Context()); err == nil || p.calls != 2 {
		t.Errorf("after the TTL: err %v, %d writes", err, p.calls)
	}
	// A write that hangs (a stuck disk) is bounded by the timeout and
	// counts as a failure.
	clk.Advance(writeCheckTTL)
	p.err, p.block = nil, true
	c.timeout = time.Millisecond
	if err := c.check(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging write: %v", err)
	}
	// A caller that gave up is not cached as a store failure.
	clk.Advance(writeCheckTTL)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_ = c.check(ctx)
	p.block = false
	if err := c.check(t.Context()); err != nil {
		t.Errorf("a cancelled caller's result was cached: %v", err)
	}
}

// TestFailureLogIsRateLimited: a full disk fails every write; the log gets
// one line when it starts, one per interval with the count, and one when
// writes work again.
func TestFailureLogIsRateLimited(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	f := newFailureLog(slog.New(slog.NewTextHandler(&logs, nil)), time.Minute, clk.Now)
	errFull := errors.New("database or disk is full")
	for i := range 1250 {
		f.fail("record anomaly", errFull, "anomaly", "exit-gateways@x")
		f.fail("save detector state", errFull)
		if i%25 == 0 {
			clk.Advance(time.Second) // 1,250 failures over 50 s
		}
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Fatalf("%d lines for 2,500 failures within one interval, want 2 (one per operation):\n%s", n, logs.String())
	}
	clk.Advance(10 * time.Second)
	f.fail("record anomaly", errFull)
	out := logs.String()
	if !strings.Contains(out, "store writes still failing") || !strings.Contains(out, "failures=1250") {
		t.Errorf("interval line missing or miscounted:\n%s", out)
	}
	f.ok("record anomaly")
	f.ok("record anomaly")
	if n := strings.Count(logs.String(), "store writes succeed again"); n != 1 {
		t.Errorf("recovery logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "failures=1251") {
		t.Errorf("recovery line should count every failure:\n%s", logs.String())
	}
}
