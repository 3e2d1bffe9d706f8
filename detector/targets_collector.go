package detector

import (
	"maps"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/probes"
)

// targetsCollector exports nymwatch_targets{role,layer,country,state}: how
// many targets the latest probe found up or down, by node role, mix layer
// and country. It is what a dashboard needs for "probe success by role,
// layer and country" without a series per target.
//
// Cardinality is bounded: role is one of probes' five roles or "service" /
// "control" (non-node targets), layer is "0"–"3", country is an upper-case
// two-letter code or "unknown" (anything else a directory says is folded
// into "unknown", so a hostile directory cannot create series), state is
// up or down: at most 7 × 4 × 677 × 2 series, in practice a few hundred.
//
// The aggregate is computed once per Evaluate (under the detector's lock,
// which Evaluate holds anyway) and swapped in atomically; a scrape only
// reads it, so scrapes never walk the targets nor take the detector's lock.
type targetsCollector struct {
	desc *prometheus.Desc
	agg  atomic.Pointer[map[targetsKey]int]
}

type targetsKey struct {
	role, layer, country string
	up                   bool
}

func newTargetsCollector() *targetsCollector {
	return &targetsCollector{desc: prometheus.NewDesc("nymwatch_targets",
		"Probed targets by node role (service and control for non-node targets), mix layer (0: none), "+
			"country (ISO 3166 alpha-2, unknown if absent) and state of their latest probe (up or down). "+
			"Targets not yet probed are not counted.",
		[]string{"role", "layer", "country", "state"}, nil)}
}

func (c *targetsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *targetsCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.agg.Load()
	if p == nil {
		return
	}
	for k, n := range *p {
		state := "down"
		if k.up {
			state = "up"
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.role, k.layer, k.country, state)
	}
}

// update replaces the aggregate with the counts of targets.
func (c *targetsCollector) update(targets map[string]*targetState) {
	counts := make(map[targetsKey]int, 64)
	for _, ts := range targets {
		if ts.LastAt == 0 || ts.Target == nil {
			continue // never probed: neither up nor down
		}
		k := ts.tkey
		k.up = ts.LastGood
		counts[k]++
	}
	c.agg.Store(&counts)
}

func targetsKeyOf(t *probes.Target, up bool) targetsKey {
	k := targetsKey{role: "control", layer: "0", country: "unknown", up: up}
	switch {
	case t.Node != nil:
		k.role = string(t.Node.Role)
		switch t.Node.Role {
		case probes.RoleEntryGateway, probes.RoleExitGateway, probes.RoleMixnode, probes.RoleStandby, probes.RoleInactive:
		default:
			k.role = "unknown"
		}
		if l := t.Node.Layer; l >= 1 && l <= 3 {
			k.layer = strconv.Itoa(l)
		}
		k.country = countryLabel(t.Node.Country)
	case t.Kind == probes.KindService:
		k.role = "service"
	}
	return k
}

// countryLabel keeps a two-letter upper-case code and folds everything else
// (empty, malformed, hostile) into "unknown".
func countryLabel(cc string) string {
	if len(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z' {
		return cc
	}
	return "unknown"
}

// recordTargets refreshes nymwatch_targets; called once per Evaluate.
func (m *Metrics) recordTargets(targets map[string]*targetState) {
	if m == nil || m.targets == nil {
		return
	}
	m.targets.update(targets)
}

// recordTargetCounts refreshes nymwatch_targets from the index's counts
// (a copy: the index keeps changing).
func (m *Metrics) recordTargetCounts(counts map[targetsKey]int) {
	if m == nil || m.targets == nil {
		return
	}
	c := maps.Clone(counts)
	if c == nil {
		c = map[targetsKey]int{}
	}
	m.targets.agg.Store(&c)
}
