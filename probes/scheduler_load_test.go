package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Probes queued behind a busy worker start late against their slot, and
// the lateness histogram says by how much: two targets per slot, one
// worker, probes of 500 ms, so one probe per slot starts on time and one
// 500 ms late.
func TestSchedulerDispatchLateness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			time.Sleep(500 * time.Millisecond)
			return Result{Target: tg, OK: true}
		})
		reg := prometheus.NewRegistry()
		s := newTestScheduler(t, rec, reg, func(o *SchedulerOptions) { o.Concurrency = 1 })
		s.SetTargets(schedTargets(20, KindMixPort)) // 10 slices: 2 per slot
		s.Start()
		time.Sleep(20*time.Second - time.Millisecond) // two intervals
		synctest.Wait()
		want := `
# HELP nymwatch_probe_dispatch_lateness_seconds How late each probe started against the start of its slot in the interval.
# TYPE nymwatch_probe_dispatch_lateness_seconds histogram
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.001"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.0025"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.005"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.01"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.025"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.05"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.1"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.25"} 20
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.5"} 40
nymwatch_probe_dispatch_lateness_seconds_bucket{le="1"} 40
nymwatch_probe_dispatch_lateness_seconds_bucket{le="2.5"} 40
nymwatch_probe_dispatch_lateness_seconds_bucket{le="5"} 40
nymwatch_probe_dispatch_lateness_seconds_bucket{le="10"} 40
nymwatch_probe_dispatch_lateness_seconds_bucket{le="+Inf"} 40
nymwatch_probe_dispatch_lateness_seconds_sum 10
nymwatch_probe_dispatch_lateness_seconds_count 40
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nymwatch_probe_dispatch_lateness_seconds"); err != nil {
			t.Error(err)
		}
		shutdown(t, s)
	})
}

// syncBuffer is a log destination safe for the scheduler's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// warnings are the logged records with message prefix msg.
func (b *syncBuffer) warnings(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m, _ := rec["msg"].(string); strings.HasPrefix(m, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// Ten targets that hang for the 2 s timeout need 10 × 2 s = 20 worker-s per
// 10 s interval; one worker skips probes. The scheduler then warns once per
// interval with the needed concurrency, 1.5 × 10 × 1.0 × 2 s / 10 s = 3, and
// exports it; with 4 workers nothing is skipped, nothing is logged, and the
// gauge still says 3 (the early warning an alert rule compares with
// nymwatch_probe_workers).
func TestSchedulerSaturationWarning(t *testing.T) {
	for _, tc := range []struct {
		concurrency int
		warn        bool
	}{{1, true}, {4, false}} {
		synctest.Test(t, func(t *testing.T) {
			rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
				start := time.Now()
				<-ctx.Done()
				return Result{Target: tg, Reason: ReasonTimeout, Latency: time.Since(start)}
			})
			var logs syncBuffer
			reg := prometheus.NewRegistry()
			s := newTestScheduler(t, rec, reg, func(o *SchedulerOptions) {
				o.Concurrency = tc.concurrency
				o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			s.SetTargets(schedTargets(10, KindNodeHTTP))
			s.Start()
			time.Sleep(40*time.Second - time.Millisecond) // four intervals: three windows closed
			synctest.Wait()

			skipped := counterValue(t, s.m.skipped.WithLabelValues(string(KindNodeHTTP)))
			warns := logs.warnings(t, "probe workers saturated")
			if !tc.warn {
				if skipped != 0 || len(warns) != 0 {
					t.Errorf("concurrency %d: %v skipped, %d warnings, want none", tc.concurrency, skipped, len(warns))
				}
			} else {
				if skipped == 0 {
					t.Fatal("one worker for 20 worker-s per interval skipped nothing")
				}
				// Windows 1 and 2 are saturated for sure (window 0 starts
				// with an idle pool); never more than one line per window.
				if len(warns) < 2 || len(warns) > 3 {
					t.Errorf("%d warnings over three closed intervals, want one per saturated interval:\n%v", len(warns), warns)
				}
				for _, w := range warns {
					if w["level"] != "WARN" || w["needed_concurrency"] != 3.0 || w["concurrency"] != 1.0 || w["hanging_share"] != "1.000" || w["due"] != 10.0 {
						t.Errorf("warning %v: want WARN, needed_concurrency 3, concurrency 1, hanging_share 1.000, due 10", w)
					}
				}
			}
			if got := testutil.ToFloat64(s.m.workersNeeded); got != 3 {
				t.Errorf("nymwatch_probe_workers_needed = %v, want 3", got)
			}
			if got := testutil.ToFloat64(s.m.workers); got != float64(tc.concurrency) {
				t.Errorf("nymwatch_probe_workers = %v, want %d", got, tc.concurrency)
			}
			shutdown(t, s)
		})
	}
}
