package probes

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSchedulerMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// time.Sleep in this bubble advances its fake clock: no real wait.
		rec := newSchedRec(func(_ context.Context, tg *Target) Result {
			switch tg.ID {
			case "node/1/mix_tcp":
				return Result{Target: tg, Reason: ReasonRefused, Latency: 3 * time.Millisecond}
			case "service/weird":
				return Result{Target: tg, Reason: "made-up", Latency: time.Second}
			}
			return Result{Target: tg, OK: true, Latency: 20 * time.Millisecond}
		})
		reg := prometheus.NewPedanticRegistry()
		s := newTestScheduler(t, rec, reg, func(o *SchedulerOptions) { o.PerTargetMetrics = true })
		s.SetTargets([]*Target{
			{ID: "node/1/mix_tcp", Kind: KindMixPort},
			{ID: "node/1/node_http", Kind: KindNodeHTTP},
			{ID: "service/weird", Kind: KindService},
		})
		s.Start()
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()

		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}

		const want = `
# HELP nymwatch_probes_total Probes completed, by target kind and result (ok|fail).
# TYPE nymwatch_probes_total counter
nymwatch_probes_total{kind="control",result="fail"} 0
nymwatch_probes_total{kind="control",result="ok"} 0
nymwatch_probes_total{kind="identity",result="fail"} 0
nymwatch_probes_total{kind="identity",result="ok"} 0
nymwatch_probes_total{kind="mix_tcp",result="fail"} 1
nymwatch_probes_total{kind="mix_tcp",result="ok"} 0
nymwatch_probes_total{kind="node_http",result="fail"} 0
nymwatch_probes_total{kind="node_http",result="ok"} 1
nymwatch_probes_total{kind="service",result="fail"} 1
nymwatch_probes_total{kind="service",result="ok"} 0
nymwatch_probes_total{kind="ws_tcp",result="fail"} 0
nymwatch_probes_total{kind="ws_tcp",result="ok"} 0
# HELP nymwatch_target_up 1 if the target's last probe succeeded, else 0 (only with per-target metrics enabled).
# TYPE nymwatch_target_up gauge
nymwatch_target_up{target="node/1/mix_tcp"} 0
nymwatch_target_up{target="node/1/node_http"} 1
nymwatch_target_up{target="service/weird"} 0
# HELP nymwatch_probe_targets Targets currently scheduled, by kind.
# TYPE nymwatch_probe_targets gauge
nymwatch_probe_targets{kind="control"} 0
nymwatch_probe_targets{kind="identity"} 0
nymwatch_probe_targets{kind="mix_tcp"} 1
nymwatch_probe_targets{kind="node_http"} 1
nymwatch_probe_targets{kind="service"} 1
nymwatch_probe_targets{kind="ws_tcp"} 0
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
			"nymwatch_probes_total", "nymwatch_target_up", "nymwatch_probe_targets"); err != nil {
			t.Error(err)
		}
		if got := testutil.ToFloat64(s.m.failures.WithLabelValues("mix_tcp", "refused")); got != 1 {
			t.Errorf("failures{mix_tcp,refused} = %v", got)
		}
		if got := testutil.ToFloat64(s.m.failures.WithLabelValues("service", "other")); got != 1 {
			t.Errorf("an out-of-vocabulary reason is not counted as other: %v", got)
		}
		if got := testutil.ToFloat64(s.m.dispatched); got != 10 {
			t.Errorf("dispatches_total = %v, want 10 (one per slice)", got)
		}
		shutdown(t, s)
	})
}

// Without PerTargetMetrics no series carries a target label.
func TestNoPerTargetSeriesByDefault(t *testing.T) {
	reg := prometheus.NewRegistry()
	newProbeMetrics(reg, false)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "target" {
					t.Errorf("%s has a target label", mf.GetName())
				}
			}
		}
	}
}
