package detector

import (
	"fmt"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// benchTargets is the daemon benchmark's shape at 10,000 targets: gateways
// in 20 countries, three mix layers, standby nodes, services and a control.
func benchTargets() []*probes.Target {
	var out []*probes.Target
	id := uint32(1)
	add := func(n int, role probes.Role, layer int) {
		for i := range n {
			cc := fmt.Sprintf("%c%c", 'A'+i%5, 'A'+(i/5)%4)
			out = append(out, nodeT(id, role, layer, cc))
			id++
		}
	}
	add(3000, probes.RoleEntryGateway, 0)
	add(3000, probes.RoleExitGateway, 0)
	for l := 1; l <= 3; l++ {
		add(1000, probes.RoleMixnode, l)
	}
	add(990, probes.RoleStandby, 0)
	for _, s := range []string{"nym-api", "vpn-api", "accounts", "payments", "status", "explorer", "wallet", "docs", "faucet"} {
		out = append(out, svcT(s))
	}
	return append(out, ctrlT("example.org"))
}

// benchDetector returns a detector at the 10,000-target shape after three
// rounds, 2 % of nodes failing.
func benchDetector(b *testing.B) (*Detector, []*probes.Target, time.Time) {
	b.Helper()
	targets := benchTargets()
	d := New(Options{})
	d.SetTargets(targets)
	var at time.Time
	for r := range 3 {
		at = t0.Add(time.Duration(r) * step)
		for i, t := range targets {
			ok := i%50 != 7
			d.Observe(probes.Result{Target: t, OK: ok, Reason: map[bool]probes.Reason{false: probes.ReasonTimeout}[ok],
				Latency: time.Duration(20+i%40) * time.Millisecond, At: at})
		}
	}
	d.Evaluate(at.Add(time.Second))
	return d, targets, at.Add(time.Second)
}

// BenchmarkObserve: one probe result of a healthy target (the probe
// workers' path).
func BenchmarkObserve(b *testing.B) {
	d, targets, now := benchDetector(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		t := targets[i%len(targets)]
		if i%len(targets) == 0 {
			now = now.Add(step)
		}
		i++
		d.Observe(probes.Result{Target: t, OK: true, Latency: 30 * time.Millisecond, At: now})
	}
}

// BenchmarkEvaluate10k: one Evaluate a second, 1 % of the 10,000 targets
// observed in between (a 30 s interval spread over 100 evaluations), a
// few of them failing.
func BenchmarkEvaluate10k(b *testing.B) {
	d, targets, now := benchDetector(b)
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		for range len(targets) / 100 {
			t := targets[next%len(targets)]
			ok := next%97 != 3
			next++
			d.Observe(probes.Result{Target: t, OK: ok, Reason: map[bool]probes.Reason{false: probes.ReasonTimeout}[ok],
				Latency: 25 * time.Millisecond, At: now.Add(-time.Millisecond)})
		}
		d.Evaluate(now)
	}
}
