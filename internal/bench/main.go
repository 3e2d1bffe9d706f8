// Command bench runs the real nymwatch binary (`nymwatch run`) against a
// simulated Nym network on loopback and prints what the whole daemon costs:
//
//	go run ./internal/bench -targets 10000 -intervals 5
//
// It builds ./cmd/nymwatch (or takes -binary), serves a simulated network
// of about -targets probe targets (node HTTP, mix and websocket ports:
// about 2.9 targets per node) with -hang % of nodes hanging and -fail %
// failing (refused, 503, garbage in turn), starts the daemon with the
// production probe settings (timeout 5s, concurrency 256 unless
// -concurrency) at -interval,
// waits for the directory to be probed once, then measures -intervals
// intervals (or -duration): CPU seconds per 1,000 probes (the daemon's
// utime+stime from /proc), peak RSS (VmHWM), probes per interval
// (nymwatch_probes_total), probes skipped, p50/p99 dispatch lateness (from
// nymwatch_probe_dispatch_lateness_seconds), the workers the probes needed,
// and database growth: live pages scaled to a day, the WAL apart. The
// simulated network runs in this process, so its cost is not counted.
//
// Then, with the daemon stopped, it runs the same targets through
// prometheus/blackbox_exporter (-blackbox, Debian's binary by default; a
// one-line message without it), scraped as Prometheus would, and prints the
// exporter's CPU per 1,000 probes and peak RSS beside nymwatch's.
// Linux only (/proc).
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nymwatch/nymwatch/internal/blackbox"
	"github.com/nymwatch/nymwatch/internal/procstat"
	"github.com/nymwatch/nymwatch/internal/simnet"

	_ "modernc.org/sqlite" // the database's live size
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type params struct {
	targets     int
	intervals   int
	interval    time.Duration
	hang        int
	fail        int
	binary      string
	dir         string
	concurrency int
	storm       int
	stormFor    time.Duration
	duration    time.Duration
	blackbox    string
	bbIntervals int
	warmup      int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var p params
	fs.IntVar(&p.targets, "targets", 10000, "about how many probe targets the simulated network has")
	fs.IntVar(&p.intervals, "intervals", 5, "probe intervals measured (after one warm-up interval)")
	fs.DurationVar(&p.interval, "interval", 30*time.Second, "probes.interval")
	fs.IntVar(&p.hang, "hang", 10, "percentage of nodes that hang (accept, never answer)")
	fs.IntVar(&p.fail, "fail", 5, "percentage of nodes that fail (refuse, 503 or garbage in turn)")
	fs.IntVar(&p.concurrency, "concurrency", 256, "probes.concurrency (with many hanging targets, 256 workers cannot cover 50,000 targets)")
	fs.IntVar(&p.storm, "storm", 0, "alerts per second posted to the Alertmanager webhook during the measured intervals (0: none)")
	fs.DurationVar(&p.stormFor, "storm-for", time.Minute, "how long the -storm lasts, from the start of the measured intervals")
	fs.StringVar(&p.binary, "binary", "", "nymwatch binary (default: go build ./cmd/nymwatch)")
	fs.StringVar(&p.dir, "dir", "", "working directory for config, tokens and database (default: a temporary one, removed)")
	fs.DurationVar(&p.duration, "duration", 0, "measure this long instead of -intervals (rounded up to whole intervals), e.g. 15m for a database growth figure")
	bbDefault, _ := blackbox.Binary()
	if bbDefault == "" {
		bbDefault = blackbox.DefaultBinary
	}
	fs.StringVar(&p.blackbox, "blackbox", bbDefault, "blackbox_exporter binary for the comparison phase after the daemon's (empty: no blackbox phase)")
	fs.IntVar(&p.bbIntervals, "blackbox-intervals", 0, "intervals measured for blackbox_exporter (0: as many as for the daemon)")
	fs.IntVar(&p.warmup, "warmup", 1, "intervals after the targets are scheduled before measuring (then it waits for the start-up queue to drain)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if p.duration > 0 {
		p.intervals = int((p.duration + p.interval - 1) / p.interval)
	}
	if p.bbIntervals <= 0 {
		p.bbIntervals = p.intervals
	}
	if p.targets < 10 || p.intervals < 1 || p.warmup < 0 || p.interval < time.Second || p.hang < 0 || p.fail < 0 || p.hang+p.fail > 100 {
		return errors.New("want -targets >= 10, -intervals >= 1, -warmup >= 0, -interval >= 1s, 0 <= -hang + -fail <= 100")
	}
	env, err := setup(ctx, p, stderr)
	if err != nil {
		return err
	}
	defer env.close()
	res, err := measure(ctx, p, env, stderr)
	if err != nil {
		return err
	}
	res.print(stdout, p)
	bb := runBlackboxPhase(ctx, p, env, stderr)
	bb.print(stdout, res)
	return nil
}

// result is what one run measured.
type result struct {
	nodes, targets     int
	cpu                float64 // daemon CPU seconds over the measured intervals
	probes, skipped    float64
	perInterval        []float64 // probes completed in each measured interval
	hwmKiB             int64
	db0, db1           dbSize
	dbMid              dbSize    // halfway through the measured intervals (at midAt), if there are 2 or more
	midAt, endAt       time.Time // when dbMid and db1 were read
	elapsed            time.Duration
	lateness           [2]float64 // p50, p99 seconds over the measured intervals; NaN if none
	workersNeeded      float64    // nymwatch_probe_workers_needed at the end
	saturatedLogs      int        // the daemon's "probe workers saturated" warnings, whole run
	backlog            bool       // the start-up queue had not drained when the measurement began
	lateOver10         float64    // share of probes that started over 10 s late (beyond the histogram's buckets)
	simnetNodesHanging int
	storm              string // the webhook storm's counts, "" without one
}

// perK is CPU seconds per 1,000 probes (0 without probes).
func (r *result) perK() float64 {
	if r.probes == 0 {
		return 0
	}
	return r.cpu / r.probes * 1000
}

func (r *result) print(w io.Writer, p params) {
	minPer := 0.0
	for i, v := range r.perInterval {
		if i == 0 || v < minPer {
			minPer = v
		}
	}
	perK := r.perK()
	day := 24 * time.Hour.Hours() / r.elapsed.Hours()
	fmt.Fprintf(w, "nymwatch run: %d nodes, %d targets, interval %s, concurrency %d, %d%% hang, %d%% fail, %d intervals measured\n",
		r.nodes, r.targets, p.interval, p.concurrency, p.hang, p.fail, len(r.perInterval))
	if r.backlog {
		fmt.Fprintf(w, "note: the probe queue had not drained after the warm-up; the figures include its backlog\n")
	}
	fmt.Fprintf(w, "%-34s %12.3f\n", "CPU s per 1,000 probes", perK)
	fmt.Fprintf(w, "%-34s %12.1f\n", "CPU s per interval", r.cpu/float64(len(r.perInterval)))
	fmt.Fprintf(w, "%-34s %12.1f\n", "peak RSS (VmHWM), MiB", float64(r.hwmKiB)/1024)
	fmt.Fprintf(w, "%-34s %12d\n", "probe targets (nymwatch_probe_targets)", r.targets)
	fmt.Fprintf(w, "%-34s %12.0f\n", "probes per interval, min", minPer)
	fmt.Fprintf(w, "%-34s %12.0f\n", "probes per interval, mean", r.probes/float64(len(r.perInterval)))
	fmt.Fprintf(w, "%-34s %12.0f\n", "probes skipped (still running)", r.skipped)
	fmt.Fprintf(w, "%-34s %12.0f\n", "workers needed (concurrency)", r.workersNeeded)
	fmt.Fprintf(w, "%-34s %12d\n", "saturation warnings logged", r.saturatedLogs)
	fmt.Fprintf(w, "%-34s %12.1f\n", "dispatch lateness p50, ms", r.lateness[0]*1000)
	fmt.Fprintf(w, "%-34s %12.1f\n", "dispatch lateness p99, ms", r.lateness[1]*1000)
	fmt.Fprintf(w, "%-34s %12.1f\n", "started over 10 s late, %", 100*r.lateOver10)
	const mib = 1 << 20
	fmt.Fprintf(w, "%-34s %12.2f\n", "database growth (live), MiB/day", float64(r.db1.live-r.db0.live)*day/mib)
	if !r.midAt.IsZero() {
		half := r.endAt.Sub(r.midAt)
		fmt.Fprintf(w, "%-34s %12.2f\n", "  over the 2nd half, MiB/day", float64(r.db1.live-r.dbMid.live)*(24*time.Hour).Hours()/half.Hours()/mib)
	}
	fmt.Fprintf(w, "%-34s %12.1f\n", "database live size at end, MiB", float64(r.db1.live)/mib)
	fmt.Fprintf(w, "%-34s %12.1f\n", "database file at end, MiB", float64(r.db1.file)/mib)
	fmt.Fprintf(w, "%-34s %12.1f\n", "WAL at start, MiB", float64(r.db0.wal)/mib)
	fmt.Fprintf(w, "%-34s %12.1f\n", "WAL at end, MiB", float64(r.db1.wal)/mib)
	if r.storm != "" {
		fmt.Fprintf(w, "%-34s %s\n", "webhook storm alerts", r.storm)
	}
}

// nodesFor is how many nodes give about n targets, with the role mix of
// the probes benchmark (3,467 nodes, 10,000 targets).
func nodesFor(n int) simnet.Options {
	nodes := max(n*3467/10000, 4)
	mix := max(nodes*240/3467/3, 1)
	entry := nodes * 1200 / 3467
	exit := max(nodes-entry-3*mix, 1)
	return simnet.Options{
		EntryGateways: max(entry, 1),
		ExitGateways:  exit,
		Mixnodes:      [3]int{mix, mix, mix},
		Seed:          42,
		Listen:        simnet.ListenWildcard,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// env is what both phases share: the working directory, the daemon binary
// and the simulated network with its faults.
type env struct {
	dir, bin string
	sn       *simnet.Network
	hanging  int
	cleanup  []func()
}

func (e *env) close() {
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
}

func setup(ctx context.Context, p params, stderr io.Writer) (_ *env, err error) {
	e := &env{dir: p.dir, bin: p.binary}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir != "" {
		// Absolute: the config's file paths are read relative to it.
		if e.dir, err = filepath.Abs(e.dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(e.dir, 0o700); err != nil {
			return nil, err
		}
	} else {
		d, err := os.MkdirTemp("", "nymwatch-bench-")
		if err != nil {
			return nil, err
		}
		e.cleanup = append(e.cleanup, func() { _ = os.RemoveAll(d) })
		e.dir = d
	}
	if e.bin == "" {
		e.bin = filepath.Join(e.dir, "nymwatch")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/nymwatch")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build nymwatch (run from the repository root, or pass -binary): %w", err)
		}
	}
	if _, err := simnet.RaiseFDLimit(); err != nil {
		fmt.Fprintln(stderr, "bench: raise fd limit:", err)
	}
	sn, err := simnet.New(nodesFor(p.targets))
	if err != nil {
		return nil, fmt.Errorf("simulated network: %w", err)
	}
	if err := sn.Start(ctx); err != nil {
		return nil, fmt.Errorf("simulated network: %w", err)
	}
	e.cleanup = append(e.cleanup, sn.Close)
	e.sn = sn
	for i, ni := range sn.Nodes() {
		f := simnet.None()
		switch pc := i % 100; {
		case pc < p.hang:
			f = simnet.Hang()
			e.hanging++
		case pc < p.hang+p.fail:
			f = []simnet.Fault{simnet.Refuse(), simnet.HTTP5xx(503), simnet.Garbage()}[i%3]
		}
		if f.Kind != simnet.KindNone {
			if err := sn.SetFault(ni.ID, f); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// measure runs the daemon against e's network and measures p.intervals
// intervals after a warm-up; the daemon is stopped when it returns.
func measure(ctx context.Context, p params, e *env, stderr io.Writer) (*result, error) {
	dir, bin, sn := e.dir, e.bin, e.sn
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"operator-token", "webhook-token"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("bench-"+f+"-0123456789abcdef\n"), 0o600); err != nil {
			return nil, err
		}
	}
	dbPath := filepath.Join(dir, "nymwatch.db")
	cfg := fmt.Sprintf(`listen: %s
storage:
  path: %s
network:
  nym_api_url: %s
  refresh_interval: 5m
  allow_private_addresses: true # the simulated nodes live on 127/8
probes:
  interval: %s
  timeout: %s
  concurrency: %d
auth:
  operator_token_file: %s
  webhook_token_file: %s
`, listen, dbPath, sn.NymAPIURL(), p.interval, min(5*time.Second, p.interval/2), p.concurrency, filepath.Join(dir, "operator-token"), filepath.Join(dir, "webhook-token"))
	cfgPath := filepath.Join(dir, "nymwatch.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "nymwatch.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nymwatch: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // why it exited is in its log
		close(done)
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	pid := cmd.Process.Pid
	metricsURL := "http://" + listen + "/metrics"
	fmt.Fprintf(stderr, "bench: %d nodes, nymwatch pid %d, log %s\n", len(sn.Nodes()), pid, logf.Name())

	// Wait until the directory's targets are scheduled, then one interval
	// more: start-up (discovery, first probes) is not the steady state.
	var targets float64
	if err := waitUntil(ctx, done, 3*time.Minute, func() bool {
		m, err := scrape(ctx, metricsURL)
		targets = m.sums["nymwatch_probe_targets"]
		return err == nil && targets > float64(len(sn.Nodes()))
	}); err != nil {
		return nil, fmt.Errorf("waiting for targets (see %s): %w", logf.Name(), err)
	}
	if err := sleep(ctx, done, time.Duration(p.warmup)*p.interval); err != nil {
		return nil, err
	}
	// Every new node's identity is checked at once, so the first interval
	// carries a burst that, at 50,000 targets, outlasts it: wait until the
	// queue has drained (in flight below the worker count), for at most
	// two intervals more (a saturated pool never drains).
	drained := waitUntil(ctx, done, 2*p.interval, func() bool {
		m, err := scrape(ctx, metricsURL)
		return err == nil && m.sums["nymwatch_probes_in_flight"] < float64(p.concurrency)
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r := &result{nodes: len(sn.Nodes()), targets: int(targets), simnetNodesHanging: e.hanging, backlog: drained != nil}
	m0, err := scrape(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	var st *storm
	if p.storm > 0 {
		st = &storm{url: "http://" + listen + "/api/v1/alertmanager", token: "bench-webhook-token-0123456789abcdef",
			rate: p.storm, d: p.stormFor}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go st.run(sctx)
	}
	cpu0, start, db0 := procstat.CPU(pid), time.Now(), measureDB(ctx, dbPath)
	prev := m0
	for range p.intervals {
		if err := sleep(ctx, done, p.interval); err != nil {
			return nil, err
		}
		m, err := scrape(ctx, metricsURL)
		if err != nil {
			return nil, err
		}
		r.perInterval = append(r.perInterval, m.sums["nymwatch_probes_total"]-prev.sums["nymwatch_probes_total"])
		prev = m
		if len(r.perInterval) == p.intervals/2 {
			// Halfway: the second half's growth shows whether the first
			// was still state filling up (rows per target, first anomalies).
			r.dbMid, r.midAt = measureDB(ctx, dbPath), time.Now()
		}
	}
	r.cpu, r.elapsed, r.db0, r.db1 = procstat.CPU(pid)-cpu0, time.Since(start), db0, measureDB(ctx, dbPath)
	r.endAt = time.Now()
	r.probes = prev.sums["nymwatch_probes_total"] - m0.sums["nymwatch_probes_total"]
	r.skipped = prev.sums["nymwatch_probes_skipped_total"] - m0.sums["nymwatch_probes_skipped_total"]
	r.workersNeeded = prev.sums["nymwatch_probe_workers_needed"]
	r.saturatedLogs = countLines(logf.Name(), "probe workers saturated")
	r.lateOver10 = shareAbove(10, m0.buckets[latenessMetric], prev.buckets[latenessMetric])
	for i, q := range []float64{0.5, 0.99} {
		r.lateness[i] = quantile(q, m0.buckets[latenessMetric], prev.buckets[latenessMetric])
	}
	r.hwmKiB = procstat.PeakRSS(pid) >> 10
	if st != nil {
		r.storm = fmt.Sprintf("%d sent, %d accepted, %d refused (429), %d failed", st.sent.Load(), st.accepted.Load(),
			st.refused.Load(), st.failed.Load())
	}
	return r, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// sleep waits d, or fails if the daemon exits or ctx ends first.
func sleep(ctx context.Context, done <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-done:
		return errors.New("nymwatch exited (see its log)")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitUntil polls cond every 200 ms until it holds, limit passes, the
// daemon exits or ctx ends.
func waitUntil(ctx context.Context, done <-chan struct{}, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		if err := sleep(ctx, done, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// latenessMetric is the scheduler's dispatch lateness histogram.
const latenessMetric = "nymwatch_probe_dispatch_lateness_seconds"

// metrics is one scrape: each series name summed over its labels, and each
// histogram's cumulative bucket counts by upper bound (summed over its
// other labels).
type metrics struct {
	sums    map[string]float64
	buckets map[string]map[float64]float64
}

// scrape reads the daemon's text exposition.
func scrape(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return metrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return metrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return metrics{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseExposition(resp.Body)
}

// parseExposition reads the Prometheus text format.
func parseExposition(r io.Reader) (metrics, error) {
	out := metrics{sums: map[string]float64{}, buckets: map[string]map[float64]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		labels := ""
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			// Labels may hold spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, labels, rest = line[:i], line[i+1:j], strings.TrimSpace(line[j+1:])
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out.sums[name] += v
		if family, ok := strings.CutSuffix(name, "_bucket"); ok {
			if le, ok := labelValue(labels, "le"); ok {
				if ub, err := strconv.ParseFloat(le, 64); err == nil {
					if out.buckets[family] == nil {
						out.buckets[family] = map[float64]float64{}
					}
					out.buckets[family][ub] += v
				}
			}
		}
	}
	return out, sc.Err()
}

// labelValue finds name="value" in a label list (values of the le label
// need no unescaping).
func labelValue(labels, name string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// shareAbove is the share of the observations between the two scrapes
// above bound (a bucket's upper bound), 0 without observations.
func shareAbove(bound float64, start, end map[float64]float64) float64 {
	inf := math.Inf(1)
	total := end[inf] - start[inf]
	if total <= 0 {
		return 0
	}
	return (total - (end[bound] - start[bound])) / total
}

// quantile is histogram_quantile(q) over the increase from the cumulative
// buckets at start to those at end, as Prometheus computes it: linear
// interpolation inside the bucket that holds the rank, the lower bound of
// the first bucket taken as 0, and the highest finite bound if the rank
// falls in +Inf. NaN without observations.
func quantile(q float64, start, end map[float64]float64) float64 {
	bounds := make([]float64, 0, len(end))
	for ub := range end {
		bounds = append(bounds, ub)
	}
	slices.Sort(bounds)
	if len(bounds) < 2 || !math.IsInf(bounds[len(bounds)-1], 1) {
		return math.NaN()
	}
	cum := make([]float64, len(bounds))
	for i, ub := range bounds {
		cum[i] = end[ub] - start[ub]
	}
	total := cum[len(cum)-1]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	b := 0
	for b < len(cum)-1 && cum[b] < rank {
		b++
	}
	if b == len(bounds)-1 {
		return bounds[len(bounds)-2]
	}
	lo, below := 0.0, 0.0
	if b > 0 {
		lo, below = bounds[b-1], cum[b-1]
	}
	if bounds[b] <= 0 {
		return bounds[b]
	}
	n := cum[b] - below
	if n <= 0 {
		return bounds[b]
	}
	return lo + (bounds[b]-lo)*(rank-below)/n
}

// countLines is how many lines of file path contain s.
func countLines(path, s string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// dbSize is the database's size at one moment.
type dbSize struct {
	live int64 // (page_count - freelist_count) × page_size: what the rows take
	file int64 // the main file on disk
	wal  int64 // the write-ahead log (and its shared-memory index)
}

// measureDB reads path's live size through a read-only connection (the
// page count includes pages still in the WAL, so the figure does not
// depend on when the daemon checkpoints) and the files' sizes.
func measureDB(ctx context.Context, path string) dbSize {
	var d dbSize
	if st, err := os.Stat(path); err == nil {
		d.file = st.Size()
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if st, err := os.Stat(path + suffix); err == nil {
			d.wal += st.Size()
		}
	}
	live, err := liveBytes(ctx, path)
	if err != nil {
		live = d.file // no better figure; the log says why
		fmt.Fprintln(os.Stderr, "bench: database live size:", err)
	}
	d.live = live
	return d
}

// liveBytes is (page_count − freelist_count) × page_size of the SQLite
// database at path.
func liveBytes(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var pages, free, size int64
	for _, q := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := db.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.v); err != nil {
			return 0, fmt.Errorf("pragma %s: %w", q.pragma, err)
		}
	}
	return (pages - free) * size, nil
}
