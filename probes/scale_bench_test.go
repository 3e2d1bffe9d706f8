package probes

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/internal/procstat"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// BenchmarkScale10k checks the requirement "nymwatch must probe 10,000
// targets within one 30 s interval on 2 cores", and compares nymwatch's cost
// per probe with prometheus/blackbox_exporter's on the same targets. Run it as
//
//	taskset -c 0,1 env GOMAXPROCS=2 go test -run '^$' -bench Scale10k -benchtime 1x ./probes/
//
// Two sub-benchmarks, hang=5% and hang=10%, differ in the share of nodes
// that hang (accept, never answer); -benchtime Nx measures N consecutive
// intervals per tool, each 30 s. NYMWATCH_SCALE_CONCURRENCY sets the worker
// count (default 256), NYMWATCH_BLACKBOX_EXPORTER the exporter's path
// (default /usr/bin/prometheus-blackbox-exporter; without it the blackbox
// half is skipped with a message).
//
// A simulated network of 3,467 nodes (10,000 targets: 3,467 node_http,
// 3,467 mix_tcp, 3,066 ws_tcp) runs on loopback in a child process, so the
// CPU and memory reported are the probers' own; the child shares the same
// two cores. Besides the hanging nodes, 9% are faulty as on a real network:
// 5% refuse, 2% answer 503, 2% answer garbage.
//
// Each sub-benchmark runs two phases one after the other against the same
// network, so that neither tool competes with the other for the cores:
//
//  1. nymwatch: targets discovered through the simulated nym-api and
//     probed in this process by the real Scheduler and NewMulti probers with
//     the production defaults (interval 30s, timeout 5s, concurrency 256).
//     CPU is this process's (getrusage; it includes the benchmark's own
//     bookkeeping of every probe, so it slightly overstates nymwatch), RSS
//     its peak (VmHWM, reset before the phase).
//  2. blackbox: the exporter in a child process with the closest equivalent
//     modules (see blackbox.Config), scraped by a driver in this process —
//     another Scheduler with the same slots and concurrency, one /probe
//     request per target per interval, as Prometheus would with
//     scrape_interval 30s and scrape_timeout 5.5s. CPU and peak RSS are the
//     exporter process's, from /proc/<pid>/stat and VmHWM, so the driver's
//     cost is excluded.
//
// Metrics without a prefix are nymwatch's; bb- ones are blackbox_exporter's.
// Per interval: targets whose probe completed before their next slot
// (completed, want 10,000), probes skipped because the previous one was
// still running (skipped, want 0), dispatch lateness (probe start minus its
// slot's start, p50/p99/max), CPU seconds per 1,000 probes and as a share of
// one core, busy workers (probe time / wall time: the average number of
// probes in flight, against the concurrency), peak live heap and peak RSS,
// the simulated network's CPU, and bb/nw-cpu-ratio: blackbox's CPU per probe
// over nymwatch's. A table of both tools is printed at the end. It fails if
// nymwatch missed or skipped a target.
func BenchmarkScale10k(b *testing.B) {
	if testing.Short() {
		b.Skip("30 s per interval and tool; skipped in -short")
	}
	if lim, err := simnet.RaiseFDLimit(); err != nil || lim < 4096 {
		b.Skipf("descriptor limit %d (%v): need 4096", lim, err)
	}
	concurrency, err := envInt(scaleConcurrencyEnv, 256)
	if err != nil || concurrency == 0 {
		b.Fatalf("concurrency %d: %v", concurrency, err)
	}
	bbBin, bbMissing := blackboxBinary()
	// Every run of every sub-benchmark (-count, and -benchtime Nx's first
	// run of one interval) gets its rows in the table.
	rows := map[int][][]scalePhase{}
	hangs := []int{5, 10}
	for _, hang := range hangs {
		b.Run(fmt.Sprintf("hang=%d%%", hang), func(b *testing.B) {
			if bbMissing != "" {
				b.Logf("blackbox half skipped: %s", bbMissing)
			}
			rows[hang] = append(rows[hang], runScale(b, hang, concurrency, bbBin))
		})
	}
	printScaleTable(os.Stdout, hangs, rows, concurrency)
	if bbMissing != "" {
		fmt.Printf("blackbox half skipped: %s\n", bbMissing)
	}
}

// runScale is one sub-benchmark: both tools against one simulated network
// with hangPct% hanging nodes, b.N intervals each.
func runScale(b *testing.B, hangPct, concurrency int, bbBin string) []scalePhase {
	child := startScaleHelper(b, hangPct)
	nodes, err := fetchNodes(b.Context(), child.NymAPI, time.Minute, 0)
	if err != nil {
		b.Fatal(err)
	}
	targets := BuildTargets(nodes, nil, nil, nil)
	// Identity checks (one per node) come on top of the 10,000 reachability
	// targets: all at once in the first interval (every node is new), then
	// each every scaleIdentityInterval.
	var reach []*Target
	for _, t := range targets {
		if t.Kind != KindIdentity {
			reach = append(reach, t)
		}
	}
	if len(reach) != scaleTargets {
		b.Fatalf("discovered %d reachability targets, want %d", len(reach), scaleTargets)
	}
	b.Logf("concurrency %d (%s)", concurrency, scaleConcurrencyEnv)
	cycles := b.N
	b.StopTimer() // the timer runs only during the measured intervals

	nw := runScalePhase(b, child, targets, scalePhaseSpec{
		tool: "nymwatch", prober: NewMulti(ProberOptions{AllowPrivate: true}), timeout: 5 * time.Second,
		concurrency: concurrency, cycles: cycles, self: true,
	})
	for c, n := range nw.stats.completed {
		want := len(targets) // the first interval checks every new node's identity
		if c > 0 {
			want = len(reach) // later ones only the identity checks due
		}
		if n < want {
			b.Errorf("interval %d: %d of %d targets completed in time", c, n, want)
		}
	}
	if nw.skipped != 0 {
		b.Errorf("%v probes skipped (previous still running)", nw.skipped)
	}
	b.Logf("nymwatch outcomes per interval: %s", nw.outcomes())
	wall := nw.wall()
	b.ReportMetric(float64(len(targets)), "targets")
	b.ReportMetric(float64(slices.Min(nw.stats.completed)), "completed/interval")
	b.ReportMetric(nw.skipped/float64(cycles), "skipped/interval")
	b.ReportMetric(float64(nw.stats.failed)/float64(cycles), "failed/interval")
	b.ReportMetric(nw.stats.busy.Seconds()/wall, "busy-workers")
	b.ReportMetric(ms(nw.stats.p50), "lateness-p50-ms")
	b.ReportMetric(ms(nw.stats.p99), "lateness-p99-ms")
	b.ReportMetric(ms(nw.stats.max), "lateness-max-ms")
	b.ReportMetric(nw.cpu/float64(cycles), "cpu-s/interval")
	b.ReportMetric(nw.cpuPer1k(), "cpu-s/1k-probes")
	b.ReportMetric(100*nw.cpu/wall, "%-of-1-core")
	b.ReportMetric(float64(nw.peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(nw.peakRSS)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(nw.simnetCPU/float64(cycles), "simnet-cpu-s/interval")
	if bbBin == "" {
		return []scalePhase{nw}
	}

	bb := startBlackbox(b, bbBin)
	driver := newBlackboxDriver(bb.Base, concurrency)
	bp := runScalePhase(b, child, reach, scalePhaseSpec{
		tool: "blackbox", prober: driver, timeout: blackboxScrapeTimeout,
		concurrency: concurrency, cycles: cycles, pid: bb.Pid,
	})
	driver.Close()
	b.Logf("blackbox outcomes per interval: %s", bp.outcomes())
	if n := slices.Min(bp.stats.completed); n != len(reach) {
		b.Logf("blackbox: only %d of %d targets completed in some interval", n, len(reach))
	}
	b.ReportMetric(float64(slices.Min(bp.stats.completed)), "bb-completed/interval")
	b.ReportMetric(float64(bp.stats.failed)/float64(cycles), "bb-failed/interval")
	b.ReportMetric(bp.cpuPer1k(), "bb-cpu-s/1k-probes")
	b.ReportMetric(100*bp.cpu/bp.wall(), "bb-%-of-1-core")
	b.ReportMetric(float64(bp.peakRSS)/(1<<20), "bb-peak-rss-MiB")
	b.ReportMetric(bp.simnetCPU/float64(cycles), "bb-simnet-cpu-s/interval")
	if nw.cpuPer1k() > 0 {
		b.ReportMetric(bp.cpuPer1k()/nw.cpuPer1k(), "bb/nw-cpu-ratio")
	}
	return []scalePhase{nw, bp}
}

// scalePhaseSpec is one tool's run over the targets.
type scalePhaseSpec struct {
	tool        string
	prober      Prober
	timeout     time.Duration // the scheduler's per-probe bound
	concurrency int
	cycles      int
	// self: the tool runs in this process (CPU by getrusage, RSS and heap
	// of this process); otherwise pid is the tool's process.
	self bool
	pid  int
}

// scalePhase is what one tool's run measured.
type scalePhase struct {
	tool      string
	cycles    int
	interval  time.Duration
	stats     scaleStats
	skipped   float64
	cpu       float64 // the tool's CPU seconds over the measured intervals
	simnetCPU float64
	peakRSS   int64
	peakHeap  uint64 // self only
}

func (p scalePhase) wall() float64 { return (time.Duration(p.cycles) * p.interval).Seconds() }

// cpuPer1k is CPU seconds per 1,000 probes started in the measured intervals.
func (p scalePhase) cpuPer1k() float64 {
	if p.stats.probes == 0 {
		return 0
	}
	return 1000 * p.cpu / float64(p.stats.probes)
}

// outcomes is one line (the benchmark log keeps only ten) of results per
// interval by kind and reason.
func (p scalePhase) outcomes() string {
	var out []string
	for _, reason := range slices.Sorted(maps.Keys(p.stats.reasons)) {
		out = append(out, fmt.Sprintf("%s %.0f", reason, float64(p.stats.reasons[reason])/float64(p.cycles)))
	}
	return strings.Join(out, ", ")
}

// runScalePhase probes targets for spec.cycles intervals through a fresh
// Scheduler and measures the tool over exactly those intervals. The
// timer runs during them only.
func runScalePhase(b *testing.B, child *scaleChild, targets []*Target, spec scalePhaseSpec) scalePhase {
	b.Helper()
	const interval = 30 * time.Second
	rec := newScaleRecorder(targets)
	s, err := NewScheduler(SchedulerOptions{
		Interval: interval, Timeout: spec.timeout, Concurrency: spec.concurrency,
		Prober:        scaleProber{inner: spec.prober, rec: rec},
		KindIntervals: map[Kind]time.Duration{KindIdentity: scaleIdentityInterval},
		Sink:          rec.sink,
		Registerer:    prometheus.NewRegistry(),
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	s.SetTargets(targets)
	cpu := func() float64 { return procstat.CPU(spec.pid) }
	rss := func() int64 { return procstat.PeakRSS(spec.pid) }
	var heap *heapSampler
	if spec.self {
		cpu, rss = processCPU, func() int64 { return procstat.PeakRSS(0) }
		// Give back what earlier phases left, then restart the high-water
		// mark from here, so the peak is this phase's.
		debug.FreeOSMemory()
		resetPeakRSS()
		heap = startHeapSampler()
	}
	runtime.GC()
	b.StartTimer()
	cpu0, child0 := cpu(), child.cpu()
	s.Start()
	s.mu.Lock()
	epoch, slice := s.epoch, s.set.Slice
	slots := make(map[string]int, len(s.targets))
	for id, st := range s.targets {
		slots[id] = st.slot
	}
	s.mu.Unlock()
	// The measurement window: the benchmark measures CPU and probes over
	// this many real intervals, so it sleeps through them (not a wait for
	// some event).
	time.Sleep(time.Until(epoch.Add(time.Duration(spec.cycles) * interval)))
	cpu1, child1 := cpu(), child.cpu()
	// Skips happen at dispatch, so the measured intervals' are all in.
	skipped := 0.0
	for _, k := range metricKinds {
		skipped += testutil.ToFloat64(s.m.skipped.WithLabelValues(string(k)))
	}
	b.StopTimer()
	// Let the last interval's probes finish (they have until their next
	// slot); anything dispatched from here on belongs to an unmeasured cycle.
	time.Sleep(spec.timeout + time.Second) // the probes' own deadline, not an event to wait on
	p := scalePhase{
		tool: spec.tool, cycles: spec.cycles, interval: interval, skipped: skipped,
		cpu: cpu1 - cpu0, simnetCPU: child1 - child0, peakRSS: rss(),
	}
	if heap != nil {
		p.peakHeap = heap.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		b.Errorf("%s: shutdown: %v", spec.tool, err)
	}
	p.stats = rec.summarize(epoch, interval, slice, slots, spec.cycles)
	return p
}

// printScaleTable prints both tools side by side for every run of every
// hang level.
func printScaleTable(w io.Writer, hangs []int, rows map[int][][]scalePhase, concurrency int) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nBenchmarkScale10k: %d targets, 30s interval, 5s timeout, concurrency %d\n", scaleTargets, concurrency)
	fmt.Fprintln(tw, "hang\trun\tintervals\ttool\tprobes/interval\tcompleted/interval\tfailed/interval\tCPU s/interval\tCPU s/1k probes\t% of 1 core\tpeak RSS MiB\tsimnet CPU s/interval\t")
	for _, h := range hangs {
		for run, ps := range rows[h] {
			for _, p := range ps {
				c := float64(p.cycles)
				fmt.Fprintf(tw, "%d%%\t%d\t%d\t%s\t%.0f\t%d\t%.0f\t%.2f\t%.4f\t%.1f\t%.1f\t%.2f\t\n",
					h, run+1, p.cycles, p.tool, float64(p.stats.probes)/c, slices.Min(p.stats.completed), float64(p.stats.failed)/c,
					p.cpu/c, p.cpuPer1k(), 100*p.cpu/p.wall(), float64(p.peakRSS)/(1<<20), p.simnetCPU/c)
			}
			if len(ps) == 2 && ps[0].cpuPer1k() > 0 {
				fmt.Fprintf(tw, "%d%%\t%d\t\tblackbox/nymwatch\t\t\t\t\t%.1fx\t\t%.1fx\t\t\n",
					h, run+1, ps[1].cpuPer1k()/ps[0].cpuPer1k(), float64(ps[1].peakRSS)/float64(max(ps[0].peakRSS, 1)))
			}
		}
	}
	_ = tw.Flush()
}

// scaleTargets is what scaleNetwork yields: 2×3,467 nodes + 3,066 gateways
// (plus one identity check per node, not counted here).
const scaleTargets = 10000

// scaleIdentityInterval is probes.identity_interval's default.
const scaleIdentityInterval = 5 * time.Minute

// scaleNetwork is the benchmark's simulated network.
func scaleNetwork() simnet.Options {
	return simnet.Options{
		EntryGateways: 1200,
		ExitGateways:  1765,
		Mixnodes:      [3]int{80, 80, 80},
		Standby:       60,
		Inactive:      202, // half of them exit gateways
		Seed:          42,
		Listen:        simnet.ListenWildcard, // 3,467 nodes: per-address would need ~9,500 sockets
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// scaleFault is the fault of the i-th node in address order (roles are
// shuffled over addresses): hangPct% hang, then 5% refuse, 2% answer 503
// and 2% garbage.
func scaleFault(i, hangPct int) simnet.Fault {
	switch p := i % 100; {
	case p < hangPct:
		return simnet.Hang()
	case p < hangPct+5:
		return simnet.Refuse()
	case p < hangPct+7:
		return simnet.HTTP5xx(503)
	case p < hangPct+9:
		return simnet.Garbage()
	}
	return simnet.None()
}

const (
	// scaleConcurrencyEnv is a knob for exploring the limits (default 256);
	// the requirement is checked with the default.
	scaleConcurrencyEnv = "NYMWATCH_SCALE_CONCURRENCY"
	// scaleHangEnv passes the sub-benchmark's hang percentage to the child.
	scaleHangEnv = "NYMWATCH_SCALE_HANG_PERCENT"
)

// envInt reads a non-negative integer knob, def if unset.
func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, v)
	}
	return n, nil
}

// ---- the child process serving the simulated network ----

const scaleHelperEnv = "NYMWATCH_SCALE_SIMNET"

// scaleHello is the child's one line on stdout once it serves.
type scaleHello struct {
	NymAPI  string `json:"nym_api"`
	Nodes   int    `json:"nodes"`
	Faulty  int    `json:"faulty"`
	HangPct int    `json:"hang_pct"`
}

// runScaleHelper serves scaleNetwork until stdin closes (TestMain calls it).
func runScaleHelper() int {
	if _, err := simnet.RaiseFDLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "simnet helper:", err)
	}
	n, err := simnet.New(scaleNetwork())
	if err != nil {
		fmt.Fprintln(os.Stderr, "simnet helper:", err)
		return 1
	}
	if err := n.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "simnet helper:", err)
		return 1
	}
	defer n.Close()
	hangPct, err := envInt(scaleHangEnv, 5)
	if err != nil || hangPct > 91 {
		fmt.Fprintln(os.Stderr, "simnet helper: bad hang percentage:", hangPct, err)
		return 1
	}
	faulty := 0
	for i, ni := range n.Nodes() {
		if f := scaleFault(i, hangPct); f.Kind != simnet.KindNone {
			if err := n.SetFault(ni.ID, f); err != nil {
				fmt.Fprintln(os.Stderr, "simnet helper:", err)
				return 1
			}
			faulty++
		}
	}
	hello, _ := json.Marshal(scaleHello{NymAPI: n.NymAPIURL(), Nodes: len(n.Nodes()), Faulty: faulty, HangPct: hangPct})
	fmt.Println(string(hello))
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	return 0
}

type scaleChild struct {
	scaleHello
	pid int
}

// startScaleHelper re-runs the test binary as the simulated network with
// hangPct% hanging nodes and stops it (closing its stdin, killing it if it
// lingers) at cleanup.
func startScaleHelper(b *testing.B, hangPct int) *scaleChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), scaleHelperEnv+"=1", fmt.Sprintf("%s=%d", scaleHangEnv, hangPct))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	b.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var hello scaleHello
	select {
	case l, ok := <-line:
		if !ok {
			b.Fatal("simulated network exited before serving")
		}
		if err := json.Unmarshal([]byte(l), &hello); err != nil {
			b.Fatalf("simulated network said %q: %v", l, err)
		}
	case <-time.After(2 * time.Minute):
		b.Fatal("simulated network did not start within 2 minutes")
	}
	b.Logf("simulated network: %d nodes, %d faulty (%d%% hang), nym-api %s, pid %d",
		hello.Nodes, hello.Faulty, hello.HangPct, hello.NymAPI, cmd.Process.Pid)
	return &scaleChild{scaleHello: hello, pid: cmd.Process.Pid}
}

// cpu is the child's user+system CPU seconds so far.
func (c *scaleChild) cpu() float64 { return procstat.CPU(c.pid) }

// ---- measurement ----

// processCPU is this process's user+system CPU seconds so far.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// resetPeakRSS restarts this process's VmHWM from its current RSS (Linux
// 4.0+; a no-op elsewhere, where the peak then spans earlier phases).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// heapSampler tracks the peak of the live heap (objects, including not yet
// swept garbage) every 100ms, without stopping the world.
type heapSampler struct {
	stopc chan struct{}
	done  chan uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stopc: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-tk.C:
			case <-h.stopc:
				h.done <- peak
				return
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() uint64 {
	close(h.stopc)
	return <-h.done
}

// scaleProber notes when each probe really starts, on the monotonic clock.
type scaleProber struct {
	inner Prober
	rec   *scaleRecorder
}

func (p scaleProber) Probe(ctx context.Context, t *Target) Result {
	p.rec.started(t.ID, time.Now())
	return p.inner.Probe(ctx, t)
}

type scaleProbe struct {
	start, end time.Time
	reason     Reason
	ok         bool
}

// scaleRecorder keeps every probe's start and completion per target.
type scaleRecorder struct {
	mu     sync.Mutex
	probes map[string][]scaleProbe
}

func newScaleRecorder(targets []*Target) *scaleRecorder {
	r := &scaleRecorder{probes: make(map[string][]scaleProbe, len(targets))}
	for _, t := range targets {
		r.probes[t.ID] = nil
	}
	return r
}

func (r *scaleRecorder) started(id string, at time.Time) {
	r.mu.Lock()
	r.probes[id] = append(r.probes[id], scaleProbe{start: at})
	r.mu.Unlock()
}

func (r *scaleRecorder) sink(res Result) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.probes[res.Target.ID]
	// A target has one probe in flight at a time: the last one started.
	if len(ps) == 0 || !ps[len(ps)-1].end.IsZero() {
		return
	}
	p := &ps[len(ps)-1]
	p.end, p.ok, p.reason = now, res.OK, res.Reason
}

type scaleStats struct {
	completed     []int // per interval: targets whose probe ended before their next slot
	probes        int   // probes started in the measured intervals
	failed        int
	busy          time.Duration // sum of probe durations (worker time)
	reasons       map[string]int
	p50, p99, max time.Duration
}

// summarize attributes each probe to the interval whose slot it served
// (the nearest slot start) and measures it against that slot.
func (r *scaleRecorder) summarize(epoch time.Time, iv, slice time.Duration, slots map[string]int, cycles int) scaleStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := scaleStats{completed: make([]int, cycles), reasons: map[string]int{}}
	var late []time.Duration
	for id, ps := range r.probes {
		off := time.Duration(slots[id]) * slice
		done := make([]bool, cycles)
		for _, p := range ps {
			rel := p.start.Sub(epoch) - off
			c := int((rel + iv/2) / iv)
			if rel < -iv/2 || c >= cycles {
				continue
			}
			slot := epoch.Add(off + time.Duration(c)*iv)
			late = append(late, p.start.Sub(slot))
			st.probes++
			if !p.end.IsZero() {
				st.busy += p.end.Sub(p.start)
				done[c] = p.end.Before(slot.Add(iv))
			}
			switch {
			case p.end.IsZero():
				st.reasons["unfinished"]++
			case p.ok:
				st.reasons["ok"]++
			default:
				st.failed++
				st.reasons[kindOf(id)+" "+string(p.reason)]++
			}
		}
		for c, d := range done {
			if d {
				st.completed[c]++
			}
		}
	}
	if len(late) > 0 {
		slices.Sort(late)
		st.p50 = late[len(late)/2]
		st.p99 = late[min(len(late)-1, len(late)*99/100)]
		st.max = late[len(late)-1]
	}
	return st
}

// kindOf is the kind suffix of a node target id ("node/7/mix" → "mix").
func kindOf(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
