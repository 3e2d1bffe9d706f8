package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/internal/blackbox"
	"github.com/nymwatch/nymwatch/internal/procstat"
	"github.com/nymwatch/nymwatch/probes"
)

// bbResult is what the blackbox_exporter phase measured; skipped says why
// it did not run.
type bbResult struct {
	skipped   string
	intervals int
	targets   int
	probes    int64   // scrapes started in the measured intervals
	failed    int64   // of which the exporter's probe failed
	scrapeErr int64   // of which the scrape itself failed
	cpu       float64 // the exporter's utime+stime over the measured intervals
	hwmKiB    int64
}

func (b *bbResult) perK() float64 {
	if b.probes == 0 {
		return 0
	}
	return b.cpu / float64(b.probes) * 1000
}

func (b *bbResult) print(w io.Writer, nw *result) {
	if b.skipped != "" {
		fmt.Fprintf(w, "blackbox_exporter: phase not run: %s\n", b.skipped)
		return
	}
	fmt.Fprintf(w, "blackbox_exporter on the same node targets (daemon stopped): %d targets, %d intervals measured\n", b.targets, b.intervals)
	fmt.Fprintf(w, "%-34s %12.3f\n", "bb CPU s per 1,000 probes", b.perK())
	fmt.Fprintf(w, "%-34s %12.1f\n", "bb CPU s per interval", b.cpu/float64(b.intervals))
	fmt.Fprintf(w, "%-34s %12.1f\n", "bb peak RSS (VmHWM), MiB", float64(b.hwmKiB)/1024)
	fmt.Fprintf(w, "%-34s %12.0f\n", "bb probes per interval, mean", float64(b.probes)/float64(b.intervals))
	fmt.Fprintf(w, "%-34s %12.0f\n", "bb failed per interval, mean", float64(b.failed)/float64(b.intervals))
	fmt.Fprintf(w, "%-34s %12d\n", "bb scrapes failed", b.scrapeErr)
	if nw != nil && nw.perK() > 0 && nw.hwmKiB > 0 {
		fmt.Fprintf(w, "%-34s %11.1fx\n", "blackbox / nymwatch CPU per probe", b.perK()/nw.perK())
		fmt.Fprintf(w, "%-34s %11.1fx\n", "blackbox / nymwatch peak RSS", float64(b.hwmKiB)/float64(nw.hwmKiB))
	}
}

// bbProber scrapes the exporter for each target and counts the outcomes.
type bbProber struct {
	d                          *blackbox.Driver
	started, failed, scrapeErr atomic.Int64
}

func (p *bbProber) Probe(ctx context.Context, t *probes.Target) probes.Result {
	p.started.Add(1)
	start := time.Now()
	res := probes.Result{Target: t, At: start.UTC()}
	module, target, _ := blackbox.Module(string(t.Kind), t.Address) // bbTargets builds only kinds with a module
	o := p.d.Scrape(ctx, module, target)
	switch {
	case !o.Scraped:
		p.scrapeErr.Add(1)
	case !o.OK:
		p.failed.Add(1)
	}
	res.OK, res.Reason, res.Detail, res.Latency = o.OK, probes.Reason(o.Reason), o.Detail, time.Since(start)
	return res
}

// bbTargets are the simulated network's node targets as nymwatch probes
// them (node HTTP health, mix port, gateway websocket port), without the
// identity checks, which blackbox_exporter cannot do.
func bbTargets(e *env) []*probes.Target {
	var out []*probes.Target
	for _, ni := range e.sn.Nodes() {
		id := "node/" + strconv.FormatUint(uint64(ni.ID), 10)
		out = append(out,
			&probes.Target{ID: id + "/http", Kind: probes.KindNodeHTTP, Address: ni.HTTPURL()},
			&probes.Target{ID: id + "/mix", Kind: probes.KindMixPort, Address: ni.MixAddr()})
		if ws := ni.WSAddr(); ws != "" {
			out = append(out, &probes.Target{ID: id + "/ws", Kind: probes.KindWSPort, Address: ws})
		}
	}
	return out
}

// runBlackboxPhase probes e's node targets through blackbox_exporter for
// p.bbIntervals intervals, with the slots and concurrency the daemon's
// scheduler uses, as the probes benchmark does (BenchmarkScale10k). CPU and
// peak RSS are the exporter process's own.
func runBlackboxPhase(ctx context.Context, p params, e *env, stderr io.Writer) *bbResult {
	if p.blackbox == "" {
		return &bbResult{skipped: "-blackbox is empty"}
	}
	if _, err := os.Stat(p.blackbox); err != nil {
		return &bbResult{skipped: fmt.Sprintf("no blackbox_exporter at %s (apt-get install prometheus-blackbox-exporter, or -blackbox PATH)", p.blackbox)}
	}
	r, err := measureBlackbox(ctx, p, e, stderr)
	if err != nil {
		return &bbResult{skipped: err.Error()}
	}
	return r
}

func measureBlackbox(ctx context.Context, p params, e *env, stderr io.Writer) (*bbResult, error) {
	dir, err := os.MkdirTemp(e.dir, "blackbox-")
	if err != nil {
		return nil, err
	}
	ex, err := blackbox.Start(ctx, p.blackbox, dir)
	if err != nil {
		return nil, err
	}
	defer ex.Stop()
	fmt.Fprintf(stderr, "bench: blackbox_exporter pid %d on %s\n", ex.Pid, ex.Base)
	pr := &bbProber{d: blackbox.NewDriver(ex.Base, p.concurrency)}
	defer pr.d.Close()
	targets := bbTargets(e)
	s, err := probes.NewScheduler(probes.SchedulerOptions{
		Interval: p.interval, Timeout: min(blackbox.ScrapeTimeout, p.interval), Concurrency: p.concurrency,
		Prober: pr, Sink: func(probes.Result) {}, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	s.SetTargets(targets)
	cpu0 := procstat.CPU(ex.Pid)
	s.Start()
	werr := sleep(ctx, nil, time.Duration(p.bbIntervals)*p.interval)
	r := &bbResult{intervals: p.bbIntervals, targets: len(targets), cpu: procstat.CPU(ex.Pid) - cpu0, hwmKiB: procstat.PeakRSS(ex.Pid) >> 10,
		probes: pr.started.Load(), failed: pr.failed.Load(), scrapeErr: pr.scrapeErr.Load()}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		fmt.Fprintln(stderr, "bench: blackbox scheduler shutdown:", err)
	}
	return r, werr
}
