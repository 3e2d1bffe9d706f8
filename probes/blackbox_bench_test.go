package probes

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/blackbox"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// BenchmarkScale10k's second half runs the same targets through
// prometheus/blackbox_exporter, the tool an operator would otherwise use,
// scraped the way Prometheus scrapes it. The exporter's child process, its
// module configuration and the driver that plays Prometheus live in
// internal/blackbox (the whole-daemon command uses them too); this file
// adapts the driver to a Prober.

// blackboxBinary is the exporter's path, or "" with the reason it is
// unavailable.
func blackboxBinary() (string, string) {
	p, err := blackbox.Binary()
	if err != nil {
		return "", err.Error()
	}
	return p, ""
}

// blackboxScrapeTimeout is the scheduler's bound on one scrape.
const blackboxScrapeTimeout = blackbox.ScrapeTimeout

// startBlackbox runs the exporter (see internal/blackbox) and stops it at
// cleanup.
func startBlackbox(b testing.TB, bin string) *blackbox.Exporter {
	b.Helper()
	e, err := blackbox.Start(b.Context(), bin, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Stop)
	b.Logf("blackbox_exporter %s on %s, pid %d", bin, e.Base, e.Pid)
	return e
}

// blackboxDriver is a Prober that asks the exporter to probe the target
// (one Prometheus-like scrape of /probe). It is driven by a Scheduler, so
// the scrapes are spread over the interval exactly as nymwatch's probes are.
type blackboxDriver struct {
	*blackbox.Driver
}

func newBlackboxDriver(base string, concurrency int) *blackboxDriver {
	return &blackboxDriver{blackbox.NewDriver(base, concurrency)}
}

// Probe implements Prober. The Result says whether the exporter's probe
// succeeded (probe_success) and, if the scrape itself failed, why.
func (d *blackboxDriver) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	res := Result{Target: t, At: start.UTC(), Reason: "no_module"}
	if module, target, ok := blackbox.Module(string(t.Kind), t.Address); ok {
		o := d.Scrape(ctx, module, target)
		res.OK, res.Reason, res.Detail = o.OK, Reason(o.Reason), o.Detail
	}
	res.Latency = time.Since(start)
	return res
}

// TestBlackboxModulesAgainstSimnet checks that the benchmark's blackbox
// modules are the equivalents they claim to be: against the simulated
// network's faults, the exporter's node_http and ws_upgrade modules fail
// exactly where nymwatch's probers do, and its mix_tcp module passes a
// healthy port. (Hang is left out: it costs the 5 s timeout.)
func TestBlackboxModulesAgainstSimnet(t *testing.T) {
	bin, missing := blackboxBinary()
	if missing != "" {
		t.Skip(missing)
	}
	n, targets := startSimnet(t, simnet.ListenWildcard)
	var gw simnet.NodeInfo
	for _, ni := range n.Nodes() {
		if ni.WSPort != 0 {
			gw = ni
			break
		}
	}
	byKind := nodeTargets(targets, gw.ID)
	// (Its identity check has no blackbox equivalent and is left out.)
	if byKind[KindNodeHTTP] == nil || byKind[KindMixPort] == nil || byKind[KindWSPort] == nil {
		t.Fatalf("gateway %d has targets %v, want node_http, mix_tcp and ws_tcp", gw.ID, slices.Collect(maps.Keys(byKind)))
	}
	bb := startBlackbox(t, bin)
	driver := newBlackboxDriver(bb.Base, 4)
	defer driver.Close()
	nw := NewMulti(ProberOptions{AllowPrivate: true})
	for _, f := range []simnet.Fault{simnet.None(), simnet.Refuse(), simnet.Garbage(), simnet.HTTP5xx(503)} {
		if err := n.SetFault(gw.ID, f); err != nil {
			t.Fatal(err)
		}
		for _, k := range []Kind{KindNodeHTTP, KindWSPort, KindMixPort} {
			tg := byKind[k]
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			want := nw.Probe(ctx, tg)
			got := driver.Probe(ctx, tg)
			cancel()
			if strings.HasPrefix(string(got.Reason), "scrape") || got.Reason == "no_probe_success" {
				t.Fatalf("fault %v, %s: scrape failed: %s %s", f.Kind, k, got.Reason, got.Detail)
			}
			if k == KindMixPort && f.Kind != simnet.KindNone {
				continue // tcp_connect does less than our mix probe; see blackbox.Config
			}
			if got.OK != want.OK {
				t.Errorf("fault %v, %s: blackbox ok=%v (%s), nymwatch ok=%v (%s %s)", f.Kind, k, got.OK, got.Reason, want.OK, want.Reason, want.Detail)
			}
		}
	}
}
