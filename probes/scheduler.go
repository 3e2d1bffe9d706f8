package probes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Slice bounds: the dispatch granularity when Settings.Slice is 0 is
// Interval/defaultSlices, clamped to [minDefaultSlice, maxDefaultSlice].
const (
	defaultSlices   = 60
	minDefaultSlice = 100 * time.Millisecond
	maxDefaultSlice = time.Second
	minSlice        = time.Millisecond
)

// Settings are the scheduler's reloadable parameters.
type Settings struct {
	// Interval: every target is probed once per Interval.
	Interval time.Duration
	// Timeout bounds each probe (0 < Timeout <= Interval).
	Timeout time.Duration
	// Concurrency is the maximum number of probes running at once.
	Concurrency int
	// Slice is the dispatch granularity: one gocron job ticks every Slice
	// and starts the targets whose offset falls in it. 0 picks Interval/60
	// clamped to [100ms, 1s]: at 10,000 targets and 30s that is ~167
	// probes every 500ms instead of 10,000 gocron jobs or one burst.
	Slice time.Duration
	// KindIntervals gives kinds a longer cadence than Interval (identity
	// checks: probes.identity_interval). Such a target is probed at once
	// when first scheduled, then about every KindIntervals[kind], rounded
	// up to whole intervals, at a phase spread by its hash so the checks
	// do not all fall in one interval. Values <= Interval mean every
	// interval.
	KindIntervals map[Kind]time.Duration
}

// every is the number of intervals between two probes of each kind with
// a longer cadence (absent: every interval).
func (s Settings) every() map[Kind]int64 {
	out := make(map[Kind]int64, len(s.KindIntervals))
	for k, d := range s.KindIntervals {
		if n := int64((d + s.Interval - 1) / s.Interval); n > 1 {
			out[k] = n
		}
	}
	return out
}

func (s Settings) normalize() (Settings, int, error) {
	if s.Interval <= 0 {
		return s, 0, fmt.Errorf("interval must be positive, got %s", s.Interval)
	}
	if s.Timeout <= 0 || s.Timeout > s.Interval {
		return s, 0, fmt.Errorf("timeout must be in (0, interval %s], got %s", s.Interval, s.Timeout)
	}
	if s.Concurrency < 1 {
		return s, 0, fmt.Errorf("concurrency must be at least 1, got %d", s.Concurrency)
	}
	if s.Slice == 0 {
		s.Slice = min(max(s.Interval/defaultSlices, minDefaultSlice), maxDefaultSlice)
	}
	s.Slice = min(s.Slice, s.Interval)
	if s.Slice < minSlice {
		return s, 0, fmt.Errorf("slice must be at least %s, got %s", minSlice, s.Slice)
	}
	n := slicesPerInterval(s.Interval, int(s.Interval/s.Slice))
	s.Slice = s.Interval / time.Duration(n)
	return s, n, nil
}

// slicesPerInterval prefers a slice count near n0 that divides the interval
// exactly, so that n ticks of Interval/n make exactly one interval and the
// ticks never drift against the slice boundaries. (A remainder is harmless
// anyway: sliceAt rounds, and a tick late by a slice only shifts work by
// one tick.)
func slicesPerInterval(iv time.Duration, n0 int) int {
	n0 = max(n0, 1)
	for d := 0; d <= n0/4; d++ {
		if n := n0 - d; n >= 1 && iv%time.Duration(n) == 0 {
			return n
		}
		if n := n0 + d; iv/time.Duration(n) >= minSlice && iv%time.Duration(n) == 0 {
			return n
		}
	}
	return n0
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Interval    time.Duration
	Timeout     time.Duration
	Concurrency int
	Slice       time.Duration // see Settings.Slice; 0 for the default

	// Prober checks one target; it must honour its ctx, or a hung probe
	// holds a worker until it returns.
	Prober Prober
	// Sink receives every completed probe's Result. It is called from the
	// worker goroutines, concurrently, so it must be safe for concurrent
	// use, and should be quick (hand off to a channel): a slow Sink holds
	// a worker. It is not called for probes cut short by Shutdown nor for
	// targets removed by SetTargets while their probe ran.
	Sink func(Result)
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registerer receives the probe metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// PerTargetMetrics adds nymwatch_target_up{target}: one series per
	// target (see metrics.go for the cost).
	PerTargetMetrics bool
	// KindIntervals: see Settings.KindIntervals.
	KindIntervals map[Kind]time.Duration
}

// targetState is the scheduler's view of one target. Guarded by Scheduler.mu.
type targetState struct {
	t         *Target
	hash      uint64
	slot      int
	lastCycle int64 // cycle of the last dispatch (probed or skipped); -1 never
	lastProbe int64 // cycle it was last queued in; -1 never (kinds with a longer cadence)
	inFlight  bool  // queued or running
	removed   bool
	due       time.Time // start of the slot it was last queued for (dispatch lateness)
}

// workerHeadroom is the margin in the needed-workers estimate: probe times
// vary from one interval to the next, and a pool run near its limit queues
// probes late before it skips them.
const workerHeadroom = 1.5

// loadWindow accumulates one interval's demand on the workers, so that the
// scheduler can say how many the targets need. Guarded by Scheduler.mu.
type loadWindow struct {
	cycle   int64         // the interval being accumulated
	due     int           // probes that came due: queued or skipped
	skipped int           // of which skipped (previous still queued or running)
	done    int           // probes completed
	hung    int           // of which ran into the timeout
	busy    time.Duration // worker time of the completed probes
}

// saturation is what a window that skipped probes reports.
type saturation struct {
	skipped, due, needed, concurrency int
	hangShare                         float64
	mean, timeout, interval           time.Duration
}

// Scheduler probes every target once per interval, each at a stable offset
// within the interval so the load is spread evenly, with at most
// Concurrency probes at once. A target whose previous probe is still queued
// or running when its slot comes round is skipped and counted, never queued
// twice, so a hanging target cannot pile up work or delay the others.
//
// One gocron job ticks every slice; each tick dispatches the slices that
// came due since the last tick onto a queue served by a fixed pool of
// workers; control and service targets go ahead of node targets, so a
// backlog of hanging nodes cannot delay them. A tick is idempotent (gocron
// may run a job twice at one instant): each target is dispatched at most
// once per cycle.
type Scheduler struct {
	prober Prober
	sink   func(Result)
	log    *slog.Logger
	m      *probeMetrics

	ctx    context.Context // parent of every probe; cancelled by Shutdown
	cancel context.CancelFunc
	gs     gocron.Scheduler
	job    gocron.Job
	wg     sync.WaitGroup // workers

	lastRun atomic.Int64 // unix ns of the last completed dispatch

	mu      sync.Mutex
	cond    *sync.Cond // signals queue, close and concurrency changes
	set     Settings
	n       int            // slices per interval
	every   map[Kind]int64 // intervals between probes, for kinds with a longer cadence
	epoch   time.Time      // start of cycle 0
	lastG   int64          // last dispatched global slice (cycle*n + slot); -1 none
	started bool
	closed  bool
	running int // worker goroutines alive
	targets map[string]*targetState
	buckets [][]*targetState // per slot
	pending []*targetState   // moved to an already passed slot this cycle
	// urgent holds control and service targets, served before queue: when
	// hanging nodes back the workers up, our own connectivity check and
	// the central services must still be probed on time (the detector
	// needs the control targets to tell a cut-off from an outage).
	urgent []*targetState
	queue  []*targetState
	win    loadWindow
}

// NewScheduler validates opts and prepares a scheduler; Start runs it.
func NewScheduler(opts SchedulerOptions) (*Scheduler, error) {
	set, n, err := Settings{Interval: opts.Interval, Timeout: opts.Timeout, Concurrency: opts.Concurrency, Slice: opts.Slice,
		KindIntervals: opts.KindIntervals}.normalize()
	if err != nil {
		return nil, fmt.Errorf("probe scheduler: %w", err)
	}
	if opts.Prober == nil {
		return nil, errors.New("probe scheduler: no prober")
	}
	if opts.Sink == nil {
		return nil, errors.New("probe scheduler: no sink")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gs, err := gocron.NewScheduler(
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(log.With("component", "gocron")),
	)
	if err != nil {
		return nil, fmt.Errorf("probe scheduler: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		prober:  opts.Prober,
		sink:    opts.Sink,
		log:     log,
		m:       newProbeMetrics(opts.Registerer, opts.PerTargetMetrics),
		ctx:     ctx,
		cancel:  cancel,
		gs:      gs,
		set:     set,
		n:       n,
		every:   set.every(),
		lastG:   -1,
		targets: map[string]*targetState{},
		buckets: make([][]*targetState, n),
	}
	s.cond = sync.NewCond(&s.mu)
	s.job, err = gs.NewJob(gocron.DurationJob(set.Slice), gocron.NewTask(s.tick), s.jobOptions()...)
	if err != nil {
		cancel()
		_ = gs.Shutdown()
		return nil, fmt.Errorf("probe scheduler: %w", err)
	}
	return s, nil
}

func (s *Scheduler) jobOptions() []gocron.JobOption {
	return []gocron.JobOption{
		gocron.WithName("probe-dispatch"),
		gocron.WithStartAt(gocron.WithStartImmediately()),
		// Reschedule at job level: a late tick is never queued behind
		// another (gocron #722); the next tick catches up on missed slices.
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
	}
}

// Start starts the workers and the dispatch job. It is a no-op if already
// started or shut down.
func (s *Scheduler) Start() {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.epoch = time.Now()
	s.lastG = -1
	s.resizeLocked()
	set := s.set
	s.mu.Unlock()
	s.gs.Start()
	s.log.Info("probe scheduler started", "interval", set.Interval, "slice", set.Slice, "concurrency", set.Concurrency)
}

// Shutdown stops dispatching, cancels in-flight probes and waits for the
// workers until ctx is done. Results of cancelled probes are dropped.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, q := range [][]*targetState{s.urgent, s.queue} {
		for _, st := range q {
			st.inFlight = false
		}
		s.m.inFlight.Sub(float64(len(q)))
	}
	s.urgent, s.queue = nil, nil
	s.cond.Broadcast()
	s.mu.Unlock()

	s.cancel()
	var errs []error
	if err := s.gs.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop dispatch job: %w", err))
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("wait for probes: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// LastRun is when the scheduler last completed a dispatch round (zero
// before the first). The watchdog should require it to be recent: ticks
// come every Settings.Slice.
func (s *Scheduler) LastRun() time.Time {
	ns := s.lastRun.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Settings returns the current, normalized settings.
func (s *Scheduler) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

// Reconfigure applies new settings without a restart (SIGHUP). A new
// interval or slice restarts the cycle: every target is probed within one
// new interval. Timeout applies to probes started afterwards; a smaller
// Concurrency lets surplus workers finish their current probe and exit.
func (s *Scheduler) Reconfigure(set Settings) error {
	set, n, err := set.normalize()
	if err != nil {
		return fmt.Errorf("probe scheduler: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("probe scheduler: shut down")
	}
	old := s.set
	s.set = set
	s.every = set.every()
	reslice := set.Interval != old.Interval || set.Slice != old.Slice
	if reslice {
		s.n = n
		s.epoch = time.Now()
		s.lastG = -1
		for _, st := range s.targets {
			st.lastCycle, st.lastProbe = -1, -1
		}
		s.pending = nil
		s.win = loadWindow{}
		s.assignLocked()
	}
	if s.started {
		s.resizeLocked()
	}
	s.mu.Unlock()
	if reslice {
		if _, err := s.gs.Update(s.job.ID(), gocron.DurationJob(set.Slice), gocron.NewTask(s.tick), s.jobOptions()...); err != nil {
			return fmt.Errorf("probe scheduler: update dispatch job: %w", err)
		}
	}
	s.log.Info("probe scheduler reconfigured", "interval", set.Interval, "timeout", set.Timeout, "concurrency", set.Concurrency, "slice", set.Slice)
	return nil
}

// SetTargets replaces the scheduled targets (nil and ID-less entries are
// ignored, duplicates keep the first). Known targets keep their schedule
// state; removed ones stop being probed and their in-flight results are
// dropped. Offsets are re-balanced so no slice holds more than
// ceil(N/slices) targets; a target moves by about one slice at most on
// small changes. It is safe to call at any time.
func (s *Scheduler) SetTargets(ts []*Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*targetState, len(ts))
	dups := 0
	var fresh []*targetState // new targets of a long-cadence kind, checked at once
	for _, t := range ts {
		if t == nil || t.ID == "" {
			continue
		}
		if _, ok := next[t.ID]; ok {
			dups++
			continue
		}
		st := s.targets[t.ID]
		if st == nil {
			st = &targetState{hash: targetHash(t.ID), slot: -1, lastCycle: -1, lastProbe: -1}
			// A node newly seen while running gets its identity checked on
			// the next tick, not up to an interval later; the initial set
			// is spread over the first interval by slot instead.
			if s.started && s.every[t.Kind] > 1 {
				fresh = append(fresh, st)
			}
		}
		st.t = t
		next[t.ID] = st
	}
	for id, st := range s.targets {
		if _, ok := next[id]; !ok {
			st.removed = true
			if s.m.targetUp != nil {
				s.m.targetUp.DeleteLabelValues(id)
			}
		}
	}
	if dups > 0 {
		s.log.Warn("duplicate target ids ignored", "count", dups)
	}
	s.targets = next
	s.assignLocked()
	s.pending = append(s.pending, fresh...)

	counts := make(map[Kind]int, len(metricKinds))
	for _, k := range metricKinds {
		counts[k] = 0
	}
	for _, st := range next {
		counts[st.t.Kind]++
	}
	for k, c := range counts {
		s.m.targets.WithLabelValues(string(k)).Set(float64(c))
	}
}

// assignLocked gives every target a slot by its rank in hash order, so the
// offsets are deterministic, spread evenly (at most ceil(N/n) per slot) and
// mostly stable across changes. A known target moved to a slot that has
// already passed in the current cycle, without having been dispatched in
// it, is dispatched on the next tick instead of missing the cycle.
func (s *Scheduler) assignLocked() {
	all := make([]*targetState, 0, len(s.targets))
	for _, st := range s.targets {
		all = append(all, st)
	}
	slices.SortFunc(all, func(a, b *targetState) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.t.ID, b.t.ID)
	})
	for i := range s.buckets {
		s.buckets[i] = nil
	}
	if len(s.buckets) != s.n {
		s.buckets = make([][]*targetState, s.n)
	}
	curCycle, curSlot := int64(-1), -1
	if s.lastG >= 0 {
		curCycle, curSlot = s.lastG/int64(s.n), int(s.lastG%int64(s.n))
	}
	s.pending = slices.DeleteFunc(s.pending, func(st *targetState) bool { return st.removed })
	for i, st := range all {
		slot := int(uint64(i) * uint64(s.n) / uint64(len(all))) //nolint:gosec // i < len(all) and n > 0, so slot < n
		known := st.slot >= 0
		if known && slot != st.slot && slot <= curSlot && st.slot > curSlot && st.lastCycle < curCycle {
			s.pending = append(s.pending, st)
		}
		st.slot = slot
		s.buckets[slot] = append(s.buckets[slot], st)
	}
}

func targetHash(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// sliceAt is the global slice index (cycle*n + slot) of now, rounded to
// the nearest slice start so that a tick a little early or late still
// dispatches the slice it was meant for.
func (s *Scheduler) sliceAt(now time.Time) int64 {
	d := now.Sub(s.epoch)
	if d < 0 {
		d = 0
	}
	iv := uint64(s.set.Interval) //nolint:gosec // the interval is validated positive
	cycle := uint64(d) / iv
	r := uint64(d) % iv
	// k = round(r*n/iv) without overflow.
	hi, lo := bits.Mul64(r, uint64(s.n)) //nolint:gosec // n > 0
	lo, carry := bits.Add64(lo, iv/2, 0)
	hi += carry
	k, _ := bits.Div64(hi, lo, iv)
	return int64(cycle)*int64(s.n) + int64(k) //nolint:gosec // cycle <= d and k <= n: both fit
}

// tick is the gocron task: dispatch every slice that came due since the
// last tick (at most one interval's worth, so each target at most once).
func (s *Scheduler) tick(context.Context) {
	now := time.Now()
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return
	}
	g := s.sliceAt(now)
	n := int64(s.n)
	var sat *saturation
	if c := g / n; c > s.win.cycle {
		sat = s.closeWindowLocked(c)
	}
	enq := 0
	for _, st := range s.pending {
		if !st.removed && s.dispatchLocked(st, g/n, now) {
			enq++
		}
	}
	s.pending = s.pending[:0]
	from := max(s.lastG+1, g-n+1)
	for x := from; x <= g; x++ {
		due := s.epoch.Add(time.Duration(x/n)*s.set.Interval + time.Duration(x%n)*s.set.Slice)
		for _, st := range s.buckets[x%n] {
			if s.dispatchLocked(st, x/n, due) {
				enq++
			}
		}
	}
	// Count a round only when it reached a new slice: gocron occasionally
	// runs a job twice at one instant, and that duplicate dispatches nothing.
	advanced := g > s.lastG
	s.lastG = max(s.lastG, g)
	if enq > 0 {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if sat != nil {
		// Once per interval: the operator needs the figure, not a line per
		// skipped target.
		s.log.Warn("probe workers saturated: targets skipped this interval, raise probes.concurrency",
			"skipped", sat.skipped, "due", sat.due, "hanging_share", fmt.Sprintf("%.3f", sat.hangShare),
			"mean_probe", sat.mean.Round(time.Millisecond), "timeout", sat.timeout, "interval", sat.interval,
			"concurrency", sat.concurrency, "needed_concurrency", sat.needed)
	}
	s.lastRun.Store(now.UnixNano())
	s.m.lastTick.Set(float64(now.UnixNano()) / 1e9)
	if advanced {
		s.m.dispatched.Inc()
	}
}

// closeWindowLocked ends the load window, starts one for cycle next,
// updates the needed-workers gauge and, if the window skipped probes,
// returns what to tell the operator.
//
// Needed workers = headroom × probes due × mean probe time / interval
// (Little's law). With hanging targets the mean is dominated by hanging
// share × timeout, so at 50,000 targets, 10 % hanging, a 5 s timeout and a
// 30 s interval: 1.5 × 50,000 × 0.1 × 5 s / 30 s ≈ 1,250 plus the healthy
// probes' share. The mean comes from the probes that completed: under
// saturation the queue is served in order, so they are a fair sample.
func (s *Scheduler) closeWindowLocked(next int64) *saturation {
	w := s.win
	s.win = loadWindow{cycle: next}
	mean, share := time.Duration(0), 0.0
	switch {
	case w.done > 0:
		mean, share = w.busy/time.Duration(w.done), float64(w.hung)/float64(w.done)
	case w.due > 0:
		mean, share = s.set.Timeout, 1 // nothing completed: assume every probe hangs
	}
	needed := int(math.Ceil(workerHeadroom * float64(w.due) * mean.Seconds() / s.set.Interval.Seconds()))
	s.m.workersNeeded.Set(float64(needed))
	if w.skipped == 0 {
		return nil
	}
	return &saturation{skipped: w.skipped, due: w.due, needed: needed, concurrency: s.set.Concurrency,
		hangShare: share, mean: mean, timeout: s.set.Timeout, interval: s.set.Interval}
}

// dispatchLocked queues st for cycle unless it was already dispatched in it
// (duplicate tick) or is still in flight (skipped and counted). due is the
// start of the slot it is queued for.
func (s *Scheduler) dispatchLocked(st *targetState, cycle int64, due time.Time) bool {
	if st.lastCycle >= cycle {
		return false
	}
	st.lastCycle = cycle
	if e := s.every[st.t.Kind]; e > 1 && st.lastProbe >= 0 && cycle-st.lastProbe < e && (cycle+int64(st.hash%uint64(e)))%e != 0 { //nolint:gosec // e > 1, so the remainder fits
		return false // not due: its cadence is longer than the interval
	}
	s.win.due++
	if st.inFlight {
		s.win.skipped++
		s.m.skipped.WithLabelValues(string(st.t.Kind)).Inc()
		s.log.Debug("probe skipped, previous still in flight", "target", st.t.ID)
		return false
	}
	st.inFlight = true
	st.lastProbe = cycle
	st.due = due
	if k := st.t.Kind; k == KindControl || k == KindService {
		s.urgent = append(s.urgent, st)
	} else {
		s.queue = append(s.queue, st)
	}
	s.m.inFlight.Inc()
	return true
}

// resizeLocked starts workers up to Concurrency; surplus ones exit by
// themselves (see worker).
func (s *Scheduler) resizeLocked() {
	for s.running < s.set.Concurrency {
		s.running++
		s.wg.Go(s.worker)
	}
	s.m.workers.Set(float64(s.set.Concurrency))
	s.cond.Broadcast()
}

func (s *Scheduler) worker() {
	for {
		s.mu.Lock()
		for len(s.urgent) == 0 && len(s.queue) == 0 && !s.closed && s.running <= s.set.Concurrency {
			s.cond.Wait()
		}
		if s.closed || s.running > s.set.Concurrency {
			s.running--
			s.mu.Unlock()
			return
		}
		q := &s.queue
		if len(s.urgent) > 0 {
			q = &s.urgent
		}
		st := (*q)[0]
		(*q)[0] = nil
		*q = (*q)[1:]
		t, timeout, removed, due := st.t, s.set.Timeout, st.removed, st.due
		if removed {
			st.inFlight = false
		}
		s.mu.Unlock()
		if removed {
			s.m.inFlight.Dec()
			continue
		}
		s.run(st, t, timeout, due)
	}
}

// run probes t once under its own timeout and delivers the result. due is
// the start of the slot it was queued for.
func (s *Scheduler) run(st *targetState, t *Target, timeout time.Duration, due time.Time) {
	var res Result
	start := time.Now()
	// A tick rounds to the nearest slice, so it may start a slot a little
	// early: that is not lateness.
	s.m.lateness.Observe(max(start.Sub(due), 0).Seconds())
	ok := func() (ok bool) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("prober panicked", "target", t.ID, "err", fmt.Errorf("panic: %v", p))
			}
		}()
		ctx, cancel := context.WithTimeout(s.ctx, timeout)
		defer cancel()
		res = s.prober.Probe(ctx, t)
		return true
	}()
	took := time.Since(start)
	s.mu.Lock()
	st.inFlight = false
	current := !st.removed && !s.closed
	if ok {
		s.win.done++
		s.win.busy += took
		if res.Reason == ReasonTimeout || took >= timeout {
			s.win.hung++
		}
	}
	s.mu.Unlock()
	s.m.inFlight.Dec()
	if !ok || !current || s.ctx.Err() != nil {
		return
	}
	if res.Target == nil {
		res.Target = t
	}
	if res.At.IsZero() {
		res.At = start.UTC()
	}
	s.m.observe(&res)
	s.sink(res)
}
