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
// intervals: CPU seconds per 1,000 probes (the daemon's utime+stime from
// /proc), peak RSS (VmHWM), probes per interval (nymwatch_probes_total),
// probes skipped, and database growth (file, WAL and SHM) scaled to an hour.
// The simulated network runs in this process, so its cost is not counted.
// Linux only (/proc).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if p.targets < 10 || p.intervals < 1 || p.interval < time.Second || p.hang < 0 || p.fail < 0 || p.hang+p.fail > 100 {
		return errors.New("want -targets >= 10, -intervals >= 1, -interval >= 1s, 0 <= -hang + -fail <= 100")
	}
	res, err := measure(ctx, p, stderr)
	if err != nil {
		return err
	}
	res.print(stdout, p)
	return nil
}

// result is what one run measured.
type result struct {
	nodes, targets     int
	cpu                float64 // daemon CPU seconds over the measured intervals
	probes, skipped    float64
	perInterval        []float64 // probes completed in each measured interval
	hwmKiB             int64
	dbStart, dbEnd     int64
	elapsed            time.Duration
	p99Lateness        string
	simnetNodesHanging int
	storm              string // the webhook storm's counts, "" without one
}

func (r *result) print(w io.Writer, p params) {
	minPer := 0.0
	for i, v := range r.perInterval {
		if i == 0 || v < minPer {
			minPer = v
		}
	}
	perK := 0.0
	if r.probes > 0 {
		perK = r.cpu / r.probes * 1000
	}
	growth := float64(r.dbEnd-r.dbStart) / r.elapsed.Hours() / (1 << 20)
	fmt.Fprintf(w, "nymwatch run: %d nodes, %d targets, interval %s, concurrency %d, %d%% hang, %d%% fail, %d intervals measured\n",
		r.nodes, r.targets, p.interval, p.concurrency, p.hang, p.fail, len(r.perInterval))
	fmt.Fprintf(w, "%-34s %12.3f\n", "CPU s per 1,000 probes", perK)
	fmt.Fprintf(w, "%-34s %12.1f\n", "CPU s per interval", r.cpu/float64(len(r.perInterval)))
	fmt.Fprintf(w, "%-34s %12.1f\n", "peak RSS (VmHWM), MiB", float64(r.hwmKiB)/1024)
	fmt.Fprintf(w, "%-34s %12d\n", "probe targets (nymwatch_probe_targets)", r.targets)
	fmt.Fprintf(w, "%-34s %12.0f\n", "probes per interval, min", minPer)
	fmt.Fprintf(w, "%-34s %12.0f\n", "probes per interval, mean", r.probes/float64(len(r.perInterval)))
	fmt.Fprintf(w, "%-34s %12.0f\n", "probes skipped (still running)", r.skipped)
	fmt.Fprintf(w, "%-34s %12s\n", "p99 dispatch lateness", r.p99Lateness)
	fmt.Fprintf(w, "%-34s %12.2f\n", "database growth, MiB per hour", growth)
	fmt.Fprintf(w, "%-34s %12.1f\n", "database size at end, MiB", float64(r.dbEnd)/(1<<20))
	if r.storm != "" {
		fmt.Fprintf(w, "%-34s %s\n", "webhook storm alerts", r.storm)
	}
	fmt.Fprintf(w, "blackbox_exporter: not run by this command; see go test -bench Scale10k ./probes/\n")
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

func measure(ctx context.Context, p params, stderr io.Writer) (*result, error) {
	dir := p.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "nymwatch-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := p.binary
	if bin == "" {
		bin = filepath.Join(dir, "nymwatch")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/nymwatch")
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
	defer sn.Close()
	hanging := 0
	for i, ni := range sn.Nodes() {
		f := simnet.None()
		switch pc := i % 100; {
		case pc < p.hang:
			f = simnet.Hang()
			hanging++
		case pc < p.hang+p.fail:
			f = []simnet.Fault{simnet.Refuse(), simnet.HTTP5xx(503), simnet.Garbage()}[i%3]
		}
		if f.Kind != simnet.KindNone {
			if err := sn.SetFault(ni.ID, f); err != nil {
				return nil, err
			}
		}
	}
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
		targets = m["nymwatch_probe_targets"]
		return err == nil && targets > float64(len(sn.Nodes()))
	}); err != nil {
		return nil, fmt.Errorf("waiting for targets (see %s): %w", logf.Name(), err)
	}
	if err := sleep(ctx, done, p.interval); err != nil {
		return nil, err
	}
	r := &result{nodes: len(sn.Nodes()), targets: int(targets), simnetNodesHanging: hanging, p99Lateness: "n/a (no metric)"}
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
	cpu0, start, db0 := procCPU(pid), time.Now(), dbSize(dbPath)
	prev := m0
	for range p.intervals {
		if err := sleep(ctx, done, p.interval); err != nil {
			return nil, err
		}
		m, err := scrape(ctx, metricsURL)
		if err != nil {
			return nil, err
		}
		r.perInterval = append(r.perInterval, m["nymwatch_probes_total"]-prev["nymwatch_probes_total"])
		prev = m
	}
	r.cpu, r.elapsed, r.dbStart, r.dbEnd = procCPU(pid)-cpu0, time.Since(start), db0, dbSize(dbPath)
	r.probes = prev["nymwatch_probes_total"] - m0["nymwatch_probes_total"]
	r.skipped = prev["nymwatch_probes_skipped_total"] - m0["nymwatch_probes_skipped_total"]
	r.hwmKiB = procHWM(pid)
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

// scrape sums each metric family of the text exposition over its labels.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
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
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may hold spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			name, rest = name[:i], strings.TrimSpace(line[j+1:])
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// procCPU is process pid's user+system CPU seconds so far.
func procCPU(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// utime and stime are fields 14 and 15, after the ")" that ends the
	// command name; clock ticks, 100/s on Linux.
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

// procHWM is process pid's peak RSS in KiB (VmHWM).
func procHWM(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// dbSize is the database's bytes on disk, WAL and shared memory included.
func dbSize(path string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if st, err := os.Stat(path + suffix); err == nil {
			n += st.Size()
		}
	}
	return n
}
