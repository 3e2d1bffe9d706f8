package detector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/probes"
)

// nymwatch_targets counts targets by role, layer, country and the state of
// their latest probe, as of the last Evaluate; hostile country strings are
// folded into "unknown".
func TestTargetsMetricAggregatesLatestProbes(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := New(Options{Metrics: NewMetrics(reg)})
	entry := gateways(1, 3, probes.RoleEntryGateway, "DE")
	exit := gateways(10, 2, probes.RoleExitGateway, "FR")
	hostile := nodeT(20, probes.RoleExitGateway, 0, `"}evil{`)
	mix := mixnodes(30, 2, 2)
	unprobed := nodeT(40, probes.RoleMixnode, 3, "NL")
	svc := svcT("nym-api")
	ctrl := ctrlT("control.example")
	d.SetTargets(join(entry, exit, []*probes.Target{hostile}, mix, []*probes.Target{unprobed, svc, ctrl}))

	gather := func(want string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nymwatch_targets"); err != nil {
			t.Error(err)
		}
	}
	// Nothing evaluated yet: no series.
	gather("")

	now := t0
	observe := func(tg *probes.Target, ok bool) {
		r := probes.Result{Target: tg, OK: ok, At: now}
		if !ok {
			r.Reason = probes.ReasonRefused
		}
		d.Observe(r)
	}
	for _, tg := range entry {
		observe(tg, true)
	}
	observe(exit[0], true)
	observe(exit[1], false)
	observe(hostile, false)
	observe(mix[0], true)
	observe(mix[1], false)
	observe(svc, true)
	observe(ctrl, true)
	d.Evaluate(now)

	const header = `# HELP nymwatch_targets Probed targets by node role (service and control for non-node targets), mix layer (0: none), country (ISO 3166 alpha-2, unknown if absent) and state of their latest probe (up or down). Targets not yet probed are not counted.
# TYPE nymwatch_targets gauge
`
	first := header + `nymwatch_targets{country="DE",layer="0",role="entry_gateway",state="up"} 3
nymwatch_targets{country="FR",layer="0",role="exit_gateway",state="down"} 1
nymwatch_targets{country="FR",layer="0",role="exit_gateway",state="up"} 1
nymwatch_targets{country="NL",layer="2",role="mixnode",state="down"} 1
nymwatch_targets{country="NL",layer="2",role="mixnode",state="up"} 1
nymwatch_targets{country="unknown",layer="0",role="control",state="up"} 1
nymwatch_targets{country="unknown",layer="0",role="exit_gateway",state="down"} 1
nymwatch_targets{country="unknown",layer="0",role="service",state="up"} 1
`
	gather(first)

	// Between evaluations a scrape serves the cached aggregate: new
	// observations show only after the next Evaluate.
	now = now.Add(step)
	observe(exit[1], true)
	observe(mix[1], true)
	gather(first)
	d.Evaluate(now)
	gather(header + `nymwatch_targets{country="DE",layer="0",role="entry_gateway",state="up"} 3
nymwatch_targets{country="FR",layer="0",role="exit_gateway",state="up"} 2
nymwatch_targets{country="NL",layer="2",role="mixnode",state="up"} 2
nymwatch_targets{country="unknown",layer="0",role="control",state="up"} 1
nymwatch_targets{country="unknown",layer="0",role="exit_gateway",state="down"} 1
nymwatch_targets{country="unknown",layer="0",role="service",state="up"} 1
`)
	if problems, err := testutil.GatherAndLint(reg, "nymwatch_targets"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestCountryLabel(t *testing.T) {
	for in, want := range map[string]string{"DE": "DE", "": "unknown", "de": "unknown", "DEU": "unknown", "D": "unknown", "Ä": "unknown", "\x00\x00": "unknown"} {
		if got := countryLabel(in); got != want {
			t.Errorf("countryLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
