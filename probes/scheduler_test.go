package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// schedRec is a fake Prober for scheduler tests: it records every start
// and runs an optional per-target behaviour. Time inside synctest bubbles is
// fake, so sleeping in a behaviour costs nothing, and the tests' own
// time.Sleep calls advance the bubble's clock (synctest.Wait then lets
// every goroutine settle): none is a real wait.
type schedRec struct {
	mu      sync.Mutex
	starts  map[string][]time.Time
	running int
	maxRun  int
	errs    map[string][]error // ctx.Err() seen by hanging behaviours
	act     func(ctx context.Context, t *Target) Result
	results []Result
}

func newSchedRec(act func(ctx context.Context, t *Target) Result) *schedRec {
	return &schedRec{starts: map[string][]time.Time{}, errs: map[string][]error{}, act: act}
}

func (r *schedRec) Probe(ctx context.Context, t *Target) Result {
	now := time.Now()
	r.mu.Lock()
	r.starts[t.ID] = append(r.starts[t.ID], now)
	r.running++
	r.maxRun = max(r.maxRun, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if r.act != nil {
		return r.act(ctx, t)
	}
	return Result{Target: t, OK: true, At: now.UTC()}
}

func (r *schedRec) sink(res Result) {
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
}

func (r *schedRec) resultsCopy() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.results)
}

func (r *schedRec) peak() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxRun
}

func (r *schedRec) startsOf(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts[id])
}

func schedTargets(n int, kind Kind) []*Target {
	ts := make([]*Target, n)
	for i := range ts {
		ts[i] = &Target{ID: fmt.Sprintf("node/%d/%s", i, kind), Kind: kind, Address: "x"}
	}
	return ts
}

func newTestScheduler(t *testing.T, rec *schedRec, reg prometheus.Registerer, mod func(*SchedulerOptions)) *Scheduler {
	t.Helper()
	opts := SchedulerOptions{
		Interval:    10 * time.Second,
		Timeout:     2 * time.Second,
		Concurrency: 64,
		Slice:       time.Second,
		Prober:      rec,
		Sink:        rec.sink,
		Registerer:  reg,
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := NewScheduler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shutdown(t *testing.T, s *Scheduler) {
	t.Helper()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// Every target is probed exactly once per interval, at the same offset each
// time, and no slice starts more than ceil(N/slices)+1 probes.
func TestSchedulerOncePerIntervalSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, slices, interval, cycles = 95, 10, 10 * time.Second, 4
		rec := newSchedRec(nil)
		reg := prometheus.NewRegistry()
		s := newTestScheduler(t, rec, reg, nil)
		targets := schedTargets(n, KindMixPort)
		s.SetTargets(targets)
		start := time.Now()
		s.Start()
		time.Sleep(cycles*interval - time.Millisecond)
		synctest.Wait()

		perInstant := map[time.Time]int{}
		for _, tg := range targets {
			st := rec.startsOf(tg.ID)
			if len(st) != cycles {
				t.Fatalf("%s probed %d times in %d intervals: %v", tg.ID, len(st), cycles, st)
			}
			off := st[0].Sub(start)
			if off < 0 || off >= interval {
				t.Errorf("%s first probe at +%s, outside the first interval", tg.ID, off)
			}
			for c, at := range st {
				if got := at.Sub(start); got != off+time.Duration(c)*interval {
					t.Errorf("%s cycle %d at +%s, want +%s", tg.ID, c, got, off+time.Duration(c)*interval)
				}
				perInstant[at]++
			}
		}
		limit := (n+slices-1)/slices + 1
		for at, c := range perInstant {
			if c > limit {
				t.Errorf("%d probes started at +%s, more than %d", c, at.Sub(start), limit)
			}
		}
		if len(perInstant) != slices*cycles {
			t.Errorf("probes started at %d distinct instants, want %d (every slice used)", len(perInstant), slices*cycles)
		}
		if got := len(rec.resultsCopy()); got != n*cycles {
			t.Errorf("sink got %d results, want %d", got, n*cycles)
		}
		if got := counterValue(t, s.m.probes.WithLabelValues(string(KindMixPort), "ok")); got != n*cycles {
			t.Errorf("probes_total ok = %v, want %d", got, n*cycles)
		}
		if got := counterValue(t, s.m.targets.WithLabelValues(string(KindMixPort))); got != n {
			t.Errorf("probe_targets = %v, want %d", got, n)
		}
		if lr := s.LastRun(); lr.IsZero() || time.Since(lr) > time.Second {
			t.Errorf("LastRun %v not recent (now %v)", lr, time.Now())
		}
		shutdown(t, s)
	})
}

func TestSchedulerConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			time.Sleep(300 * time.Millisecond)
			return Result{Target: tg, OK: true}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.Concurrency = 3 })
		targets := schedTargets(50, KindNodeHTTP)
		s.SetTargets(targets)
		s.Start()
		time.Sleep(20*time.Second - time.Millisecond)
		synctest.Wait()
		if rec.peak() != 3 {
			t.Errorf("max concurrent probes %d, want exactly the bound 3", rec.peak())
		}
		for _, tg := range targets {
			if got := len(rec.startsOf(tg.ID)); got != 2 {
				t.Errorf("%s probed %d times in 2 intervals", tg.ID, got)
			}
		}
		shutdown(t, s)
	})
}

// A probe that ignores its ctx and hangs past the interval holds one worker,
// delays nobody else, and its next slots are skipped and counted.
func TestSchedulerHangingTargetSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			if tg.ID == "hang" {
				time.Sleep(25 * time.Second) // ignores ctx on purpose
			}
			return Result{Target: tg, OK: true}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.Concurrency = 2 })
		targets := append(schedTargets(30, KindMixPort), &Target{ID: "hang", Kind: KindWSPort})
		s.SetTargets(targets)
		start := time.Now()
		s.Start()
		time.Sleep(30*time.Second - time.Millisecond)
		synctest.Wait()

		if got := len(rec.startsOf("hang")); got != 1 {
			t.Errorf("hanging target started %d times, want 1", got)
		}
		if got := counterValue(t, s.m.skipped.WithLabelValues(string(KindWSPort))); got != 2 {
			t.Errorf("skipped{ws_tcp} = %v, want 2", got)
		}
		if got := counterValue(t, s.m.skipped.WithLabelValues(string(KindMixPort))); got != 0 {
			t.Errorf("skipped{mix_tcp} = %v, want 0", got)
		}
		for _, tg := range targets[:30] {
			st := rec.startsOf(tg.ID)
			if len(st) != 3 {
				t.Fatalf("%s probed %d times, want 3", tg.ID, len(st))
			}
			// Not delayed: exactly one interval apart, at its slice start.
			off := st[0].Sub(start)
			if off%time.Second != 0 || st[1].Sub(st[0]) != 10*time.Second || st[2].Sub(st[1]) != 10*time.Second {
				t.Errorf("%s delayed: %v", tg.ID, st)
			}
		}
		// The hanging probe finishes at +25s-ish; its result is delivered.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		found := false
		for _, r := range rec.resultsCopy() {
			found = found || r.Target.ID == "hang"
		}
		if !found {
			t.Error("the hanging probe's eventual result was not delivered")
		}
		shutdown(t, s)
	})
}

// A probe that honours its ctx is cut at Timeout and the slot after it is
// not skipped.
func TestSchedulerTimeoutApplied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			start := time.Now()
			<-ctx.Done()
			return Result{Target: tg, Reason: ReasonTimeout, Latency: time.Since(start)}
		})
		s := newTestScheduler(t, rec, nil, nil)
		s.SetTargets(schedTargets(3, KindNodeHTTP))
		s.Start()
		time.Sleep(20*time.Second - time.Millisecond)
		synctest.Wait()
		if len(rec.resultsCopy()) != 6 {
			t.Fatalf("%d results, want 6", len(rec.resultsCopy()))
		}
		for _, r := range rec.resultsCopy() {
			if r.Latency != 2*time.Second || r.OK {
				t.Errorf("probe ran %s (ok=%v), want cut at the 2s timeout", r.Latency, r.OK)
			}
		}
		if got := counterValue(t, s.m.failures.WithLabelValues(string(KindNodeHTTP), "timeout")); got != 6 {
			t.Errorf("failures{timeout} = %v, want 6", got)
		}
		shutdown(t, s)
	})
}

func TestSchedulerSetTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			if strings.HasPrefix(tg.ID, "slow/") {
				<-release
			}
			return Result{Target: tg, OK: true}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.PerTargetMetrics = true })
		a := schedTargets(40, KindMixPort)
		slow := &Target{ID: "slow/1", Kind: KindControl}
		s.SetTargets(append(slices.Clone(a), slow))
		s.Start()
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		if got := len(rec.startsOf("slow/1")); got != 1 {
			t.Fatalf("slow target started %d times", got)
		}

		// Drop half of a and the slow one (still in flight), add 20 new.
		b := schedTargets(20, KindNodeHTTP)
		next := append(slices.Clone(a[20:]), b...)
		next = append(next, nil, &Target{}, a[20]) // ignored: nil, no ID, duplicate
		s.SetTargets(next)
		changed := time.Now()
		close(release) // the removed target's result must be dropped
		time.Sleep(20 * time.Second)
		synctest.Wait()

		for _, tg := range a[:20] {
			for _, at := range rec.startsOf(tg.ID) {
				if at.After(changed) {
					t.Errorf("removed %s probed at %v after removal", tg.ID, at)
				}
			}
		}
		for _, tg := range a[20:] {
			if got := len(rec.startsOf(tg.ID)); got != 3 {
				t.Errorf("kept %s probed %d times over 3 intervals, want 3", tg.ID, got)
			}
		}
		for _, tg := range b {
			st := rec.startsOf(tg.ID)
			if len(st) < 1 || len(st) > 2 || st[0].Sub(changed) >= 10*time.Second {
				t.Errorf("added %s probed at %v (changed at %v), want once per interval from the change", tg.ID, st, changed)
			}
		}
		for _, r := range rec.resultsCopy() {
			if r.Target.ID == "slow/1" {
				t.Error("result of a removed target delivered")
			}
		}
		if got := counterValue(t, s.m.targets.WithLabelValues(string(KindMixPort))); got != 20 {
			t.Errorf("probe_targets{mix_tcp} = %v, want 20", got)
		}
		if got := counterValue(t, s.m.targets.WithLabelValues(string(KindControl))); got != 0 {
			t.Errorf("probe_targets{control} = %v, want 0", got)
		}
		if got := testutil.CollectAndCount(s.m.targetUp); got != 40 {
			t.Errorf("target_up has %d series, want 40 (removed targets deleted)", got)
		}
		shutdown(t, s)
	})
}

func TestSchedulerShutdownCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []error
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			<-ctx.Done()
			mu.Lock()
			seen = append(seen, ctx.Err())
			mu.Unlock()
			return Result{Target: tg, Reason: ReasonTimeout}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.Timeout = 10 * time.Second })
		s.SetTargets(schedTargets(5, KindService))
		s.Start()
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 5 {
			t.Fatalf("%d probes saw their ctx end, want 5", len(seen))
		}
		for _, err := range seen {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("probe ctx ended with %v, want Canceled", err)
			}
		}
		if len(rec.resultsCopy()) != 0 {
			t.Errorf("%d results of cancelled probes delivered", len(rec.resultsCopy()))
		}
		if got := counterValue(t, s.m.inFlight); got != 0 {
			t.Errorf("in_flight = %v after shutdown", got)
		}
		// Idempotent, and nothing runs after it.
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		for _, tg := range schedTargets(5, KindService) {
			if st := rec.startsOf(tg.ID); len(st) != 1 {
				t.Errorf("%s started %d times", tg.ID, len(st))
			}
		}
	})
}

// gocron may run a job twice at one instant; a repeated tick must not
// dispatch anything again.
func TestSchedulerTickIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(nil)
		s := newTestScheduler(t, rec, nil, nil)
		targets := schedTargets(100, KindMixPort)
		s.SetTargets(targets)
		s.Start()
		synctest.Wait()
		first := len(rec.resultsCopy())
		if first == 0 {
			t.Fatal("nothing dispatched at start")
		}
		for range 3 {
			s.tick(context.Background())
		}
		synctest.Wait()
		if got := len(rec.resultsCopy()); got != first {
			t.Errorf("repeated ticks dispatched %d more probes", got-first)
		}
		shutdown(t, s)
	})
}

// A tick delayed by several slices catches up without double-probing.
func TestSchedulerCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(nil)
		s := newTestScheduler(t, rec, nil, nil)
		targets := schedTargets(100, KindMixPort)
		s.SetTargets(targets)
		// Drive ticks by hand, without gocron: skip 4 slices, then a
		// whole interval and more.
		s.mu.Lock()
		s.started = true
		s.epoch = time.Now()
		s.resizeLocked()
		s.mu.Unlock()
		s.tick(context.Background())
		time.Sleep(5 * time.Second)
		s.tick(context.Background())
		synctest.Wait()
		if got := len(rec.resultsCopy()); got != 60 {
			t.Errorf("after slices 0..5: %d probes, want 60", got)
		}
		before := map[string]int{}
		for _, tg := range targets {
			before[tg.ID] = len(rec.startsOf(tg.ID))
		}
		time.Sleep(27 * time.Second) // +32s: cycle 3 slice 2
		s.tick(context.Background())
		synctest.Wait()
		// The late tick covers the last interval's worth of slices: every
		// target exactly once, not once per missed cycle.
		for _, tg := range targets {
			if got := len(rec.startsOf(tg.ID)) - before[tg.ID]; got != 1 {
				t.Errorf("%s probed %d times by the catch-up tick, want 1", tg.ID, got)
			}
		}
		shutdown(t, s)
	})
}

func TestSchedulerReconfigure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			time.Sleep(100 * time.Millisecond)
			return Result{Target: tg, OK: true}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.Concurrency = 2 })
		targets := schedTargets(40, KindMixPort)
		s.SetTargets(targets)
		s.Start()
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		if rec.peak() != 2 {
			t.Fatalf("max concurrency %d before reload, want 2", rec.peak())
		}

		// Reset the recorder while nothing runs (synctest.Wait above), not
		// after Reconfigure: its gocron Update fires the first new tick
		// asynchronously at this same instant, and a reset racing with it
		// would erase the probes of slot 0 (a test flake, not a lost probe).
		reloaded := time.Now()
		rec.mu.Lock()
		rec.starts = map[string][]time.Time{}
		rec.maxRun = 0
		rec.mu.Unlock()
		if err := s.Reconfigure(Settings{Interval: 20 * time.Second, Timeout: time.Second, Concurrency: 8}); err != nil {
			t.Fatal(err)
		}
		got := s.Settings()
		if got.Interval != 20*time.Second || got.Slice != 312500*time.Microsecond || got.Concurrency != 8 {
			t.Errorf("settings after reload: %+v", got)
		}
		time.Sleep(60*time.Second - time.Millisecond)
		synctest.Wait()
		for _, tg := range targets {
			st := rec.startsOf(tg.ID)
			if len(st) != 3 {
				t.Errorf("%s probed %d times in 3 new intervals, want 3", tg.ID, len(st))
				continue
			}
			if st[0].Sub(reloaded) >= 20*time.Second || st[1].Sub(st[0]) != 20*time.Second {
				t.Errorf("%s not on the new 20s interval: %v", tg.ID, st)
			}
		}
		if rec.peak() > 8 {
			t.Errorf("max concurrency %d after reload, want <= 8", rec.peak())
		}

		// Shrinking the pool is honoured too.
		rec.mu.Lock()
		rec.maxRun = 0
		rec.mu.Unlock()
		if err := s.Reconfigure(Settings{Interval: 20 * time.Second, Timeout: time.Second, Concurrency: 1}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if rec.peak() != 1 {
			t.Errorf("max concurrency %d after shrinking to 1", rec.peak())
		}
		if err := s.Reconfigure(Settings{Interval: time.Second, Timeout: 2 * time.Second, Concurrency: 1}); err == nil {
			t.Error("timeout above interval accepted")
		}
		shutdown(t, s)
		if err := s.Reconfigure(Settings{Interval: 20 * time.Second, Timeout: time.Second, Concurrency: 1}); err == nil {
			t.Error("reconfigure after shutdown accepted")
		}
	})
}

func TestNewSchedulerValidation(t *testing.T) {
	rec := newSchedRec(nil)
	ok := SchedulerOptions{Interval: 30 * time.Second, Timeout: 5 * time.Second, Concurrency: 10, Prober: rec, Sink: rec.sink}
	tests := []struct {
		name    string
		mod     func(*SchedulerOptions)
		wantErr string
	}{
		{"valid", func(*SchedulerOptions) {}, ""},
		{"no interval", func(o *SchedulerOptions) { o.Interval = 0 }, "interval"},
		{"no timeout", func(o *SchedulerOptions) { o.Timeout = 0 }, "timeout"},
		{"timeout over interval", func(o *SchedulerOptions) { o.Timeout = time.Minute }, "timeout"},
		{"no concurrency", func(o *SchedulerOptions) { o.Concurrency = 0 }, "concurrency"},
		{"tiny slice", func(o *SchedulerOptions) { o.Slice = time.Microsecond }, "slice"},
		{"no prober", func(o *SchedulerOptions) { o.Prober = nil }, "prober"},
		{"no sink", func(o *SchedulerOptions) { o.Sink = nil }, "sink"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			s, err := NewScheduler(o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				shutdown(t, s)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestSettingsDefaultSlice(t *testing.T) {
	tests := []struct {
		interval, want time.Duration
	}{
		{30 * time.Second, 500 * time.Millisecond},
		{time.Minute, time.Second},
		{10 * time.Minute, time.Second},
		{time.Second, 100 * time.Millisecond},
		{50 * time.Millisecond, 50 * time.Millisecond},
		{7 * time.Second, 125 * time.Millisecond},     // 60 slices do not divide 7s; 56 do
		{20 * time.Second, 312500 * time.Microsecond}, // 64 slices
		{time.Hour + time.Nanosecond, time.Second},    // prime-ish: no divisor near, remainder accepted
	}
	for _, tc := range tests {
		set, n, err := Settings{Interval: tc.interval, Timeout: tc.interval, Concurrency: 1}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if set.Slice != tc.want || time.Duration(n)*set.Slice > tc.interval || tc.interval-time.Duration(n)*set.Slice >= time.Duration(n) {
			t.Errorf("interval %s: slice %s x %d, want %s", tc.interval, set.Slice, n, tc.want)
		}
	}
}

// Changing the set mid-interval re-balances offsets; targets that move must
// still be probed exactly once in the current cycle and once in the next.
func TestSchedulerRebalanceMidInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(nil)
		s := newTestScheduler(t, rec, nil, nil)
		a := schedTargets(50, KindMixPort)
		s.SetTargets(a)
		start := time.Now()
		s.Start()
		time.Sleep(15*time.Second - time.Millisecond)
		synctest.Wait()

		extra := schedTargets(80, KindWSPort)
		next := append(slices.Clone(a[7:]), extra...)
		s.mu.Lock()
		oldSlots := map[string]int{}
		for _, tg := range a[7:] {
			oldSlots[tg.ID] = s.targets[tg.ID].slot
		}
		s.mu.Unlock()
		s.SetTargets(next)
		moved := 0
		s.mu.Lock()
		for id, old := range oldSlots {
			if s.targets[id].slot != old {
				moved++
			}
		}
		s.mu.Unlock()
		if moved == 0 {
			t.Fatal("test needs targets to move; none did")
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()

		for _, tg := range a[7:] {
			var c1, c2 int
			for _, at := range rec.startsOf(tg.ID) {
				switch d := at.Sub(start); {
				case d >= 10*time.Second && d < 20*time.Second:
					c1++
				case d >= 20*time.Second && d < 30*time.Second:
					c2++
				}
			}
			if c1 != 1 || c2 != 1 {
				t.Errorf("%s (slot %d→moved): %d probes in cycle 1, %d in cycle 2, want 1 and 1: %v",
					tg.ID, oldSlots[tg.ID], c1, c2, rec.startsOf(tg.ID))
			}
		}
		t.Logf("%d of %d kept targets moved", moved, len(oldSlots))
		shutdown(t, s)
	})
}

// A panicking prober loses that one result, not the daemon or the worker.
func TestSchedulerProberPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(_ context.Context, tg *Target) Result {
			if tg.ID == "node/0/mix_tcp" {
				panic("boom")
			}
			return Result{Target: tg, OK: true}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.Concurrency = 1 })
		s.SetTargets(schedTargets(5, KindMixPort))
		s.Start()
		time.Sleep(20*time.Second - time.Millisecond)
		synctest.Wait()
		if got := len(rec.startsOf("node/0/mix_tcp")); got != 2 {
			t.Errorf("panicking target started %d times, want 2 (not stuck in flight)", got)
		}
		if got := len(rec.resultsCopy()); got != 8 {
			t.Errorf("%d results, want 8 (4 healthy targets x 2)", got)
		}
		shutdown(t, s)
	})
}

// When hanging nodes back the workers up, control and service targets are
// still probed as soon as a worker frees, not after the node backlog: the
// detector needs them to tell our own cut-off from a network outage.
func TestSchedulerControlAheadOfBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newSchedRec(func(ctx context.Context, tg *Target) Result {
			if tg.Kind == KindMixPort {
				<-ctx.Done() // every node hangs until its timeout
				return Result{Target: tg, Reason: ReasonTimeout}
			}
			return Result{Target: tg, OK: true}
		})
		s := newTestScheduler(t, rec, nil, func(o *SchedulerOptions) { o.Concurrency = 2 })
		priority := []*Target{
			{ID: "control/tcp://ctl", Kind: KindControl},
			{ID: "service/nym-api", Kind: KindService},
		}
		s.SetTargets(append(schedTargets(100, KindMixPort), priority...))
		start := time.Now()
		s.Start()
		// Three intervals, and the 2s a third-cycle start may wait.
		time.Sleep(32 * time.Second)
		synctest.Wait()
		s.mu.Lock()
		slots := map[string]int{}
		for _, tg := range priority {
			slots[tg.ID] = s.targets[tg.ID].slot
		}
		s.mu.Unlock()
		for _, tg := range priority {
			st := rec.startsOf(tg.ID)
			if len(st) < 3 {
				t.Errorf("%s probed %d times in 3 intervals, want 3: %v", tg.ID, len(st), st)
			}
			for c, at := range st[:min(3, len(st))] {
				due := start.Add(time.Duration(c)*10*time.Second + time.Duration(slots[tg.ID])*time.Second)
				// Two workers hold 2s probes: a worker frees within 2s.
				if wait := at.Sub(due); wait < 0 || wait > 2*time.Second {
					t.Errorf("%s cycle %d started %s after its slot, want at most the 2s timeout", tg.ID, c, wait)
				}
			}
		}
		// The nodes themselves are backed up (2 workers, 100 × 2s per 10s):
		// skipped, as designed.
		if got := counterValue(t, s.m.skipped.WithLabelValues(string(KindMixPort))); got == 0 {
			t.Error("no node probe skipped; the test needs a backlog")
		}
		shutdown(t, s)
	})
}
