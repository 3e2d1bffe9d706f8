package detector

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/internal/unixms"
	"github.com/nymwatch/nymwatch/probes"
)

// TestIncrementalEqualsFull drives two detectors with the same random
// sequences of observations, directory changes, forgotten services,
// maintenance windows, alerts, cut-offs, peer views, restarts and clock
// advances (fake time): one evaluates incrementally (the index), the other
// walks every target (fullEval). At every step their Evaluate results,
// their whole state (Snapshot), their cluster status and nymwatch_targets
// must be equal.
func TestIncrementalEqualsFull(t *testing.T) {
	for _, variant := range []string{"plain", "controls", "cluster"} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("%s/%d", variant, seed), func(t *testing.T) {
				t.Parallel()
				equivalenceRun(t, variant, seed, 400)
			})
		}
	}
}

func equivalenceRun(t *testing.T, variant string, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 29))
	o := Options{PromotionLookback: 10 * time.Minute, VantageConfirmWithin: 2 * time.Minute, ServiceFailureFor: time.Minute,
		DegradationSustain: 2 * time.Minute, BaselineMinSamples: 3}
	if variant == "cluster" {
		o.Cluster = ClusterOptions{Self: "a", Peers: []string{"b", "c"}, Quorum: 2, StaleAfter: 3 * time.Minute, Wait: time.Minute}
	}
	// Small groups, so that thresholds, countries and the cut-off are
	// crossed by chance.
	all := join(gateways(100, 6, probes.RoleEntryGateway, "DE"), gateways(110, 3, probes.RoleEntryGateway, "FR"),
		gateways(200, 5, probes.RoleExitGateway, "FR"), mixnodes(300, 3, 1), mixnodes(310, 3, 2), mixnodes(320, 2, 3),
		gateways(400, 2, probes.RoleStandby, "NL"), []*probes.Target{svcT("nym-api"), svcT("vpn-api")})
	// Second ports of some nodes (a node fails as one unit) and identity checks.
	for _, id := range []uint32{100, 101, 200, 300} {
		p := *nodeT(id, probes.RoleEntryGateway, 0, "DE")
		p.ID, p.Kind = fmt.Sprintf("node/%d/mix_port", id), probes.KindMixPort
		if id == 200 {
			p.Node = &probes.Node{NodeID: id, Role: probes.RoleExitGateway, Country: "FR"}
		}
		if id == 300 {
			p.Node = &probes.Node{NodeID: id, Role: probes.RoleMixnode, Layer: 1, Country: "NL"}
		}
		all = append(all, &p)
	}
	ident := *nodeT(101, probes.RoleEntryGateway, 0, "DE")
	ident.ID, ident.Kind = "node/101/identity", probes.KindIdentity
	all = append(all, &ident)
	if variant == "controls" {
		all = append(all, ctrlT("one.example"), ctrlT("two.example"))
	}
	mode := map[string]int{}
	for _, tg := range all {
		mode[tg.ID] = rng.IntN(5)
	}
	// listed is a directory refresh: most nodes, some with a new role,
	// country or staging mark.
	listed := func() []*probes.Target {
		var out []*probes.Target
		for _, tg := range all {
			if tg.Node != nil && rng.IntN(12) == 0 {
				continue
			}
			if tg.Node != nil && rng.IntN(15) == 0 {
				c := cloneTarget(tg)
				switch rng.IntN(4) {
				case 0:
					c.Node.Country = []string{"DE", "FR", "NL", ""}[rng.IntN(4)]
				case 1:
					c.Node.Staging = !c.Node.Staging
				case 2:
					c.Node.Role = []probes.Role{probes.RoleEntryGateway, probes.RoleExitGateway, probes.RoleStandby, probes.RoleInactive}[rng.IntN(4)]
				default:
					c.Node.Layer = rng.IntN(4)
				}
				tg = c
			}
			out = append(out, tg)
		}
		return out
	}
	newPair := func() (*Detector, *Detector) {
		oi, of := o, o
		oi.Metrics, of.Metrics = NewMetrics(prometheus.NewRegistry()), NewMetrics(prometheus.NewRegistry())
		inc, full := New(oi), New(of)
		full.fullEval = true
		return inc, full
	}
	inc, full := newPair()
	peers := map[string]*Detector{"b": New(Options{Cluster: ClusterOptions{Self: "b"}}), "c": New(Options{Cluster: ClusterOptions{Self: "c"}})}
	both := func(fn func(d *Detector)) { fn(inc); fn(full) }
	at := t0
	dirs := listed()
	both(func(d *Detector) { d.SetTargets(dirs) })
	for _, p := range peers {
		p.SetTargets(all)
	}
	evals, opened := 0, 0
	cutOff := false
	for step := range steps {
		switch r := rng.IntN(100); {
		case r < 8:
			at = at.Add(time.Duration(1+rng.IntN(20)) * time.Minute) // a long silence
		default:
			at = at.Add(time.Duration(1+rng.IntN(30)) * time.Second)
		}
		switch r := rng.IntN(100); {
		case r < 45: // a round of probes of some targets, in random order
			if rng.IntN(15) == 0 {
				cutOff = !cutOff
			}
			for _, i := range rng.Perm(len(all)) {
				tg := all[i]
				if rng.IntN(6) == 0 {
					continue
				}
				res := outcomeOf(rng, mode[tg.ID], step, tg, cutOff)
				res.At = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				both(func(d *Detector) { d.Observe(res) })
				for _, p := range peers {
					pr := outcomeOf(rng, mode[tg.ID], step, tg, false)
					pr.At = res.At
					p.Observe(pr)
				}
			}
		case r < 50:
			dirs = listed()
			both(func(d *Detector) { d.SetTargets(dirs) })
		case r < 52:
			id := "service/vpn-api"
			both(func(d *Detector) { d.Forget([]string{id}) })
		case r < 55:
			var ws []MaintenanceWindow
			if rng.IntN(3) > 0 {
				comp := []string{compEntry, compExit, "mixnodes_layer1", "country/DE", "service/nym-api", "node/400"}[rng.IntN(6)]
				ws = []MaintenanceWindow{{ID: fmt.Sprint("w", step), Components: []string{comp},
					Start: at.Add(time.Duration(rng.IntN(5)-2) * time.Minute), End: at.Add(time.Duration(1+rng.IntN(10)) * time.Minute),
					Reason: "upgrade", Who: "ops"}}
			}
			both(func(d *Detector) { d.SetMaintenance(ws) })
		case r < 58:
			alerts := []Alert{{Status: AlertFiring, Labels: map[string]string{"alertname": fmt.Sprint("A", rng.IntN(3))},
				StartsAt: at.Add(-time.Minute), Class: ClassInternal, ClassSource: "label"}}
			both(func(d *Detector) { d.ObserveAlerts(alerts, at) })
		case r < 62:
			mode[all[rng.IntN(len(all))].ID] = rng.IntN(5)
		case r < 64 && variant == "cluster":
			for name, p := range peers {
				if rng.IntN(4) == 0 {
					both(func(d *Detector) { d.PeerFailed(name, fmt.Errorf("unreachable"), at) })
					continue
				}
				v := p.View(at)
				both(func(d *Detector) { d.PeerView(name, v, at) })
			}
		case r < 65: // a restart: both carry on from their own saved state
			si, err := inc.Snapshot(at)
			if err != nil {
				t.Fatal(err)
			}
			sf, err := full.Snapshot(at)
			if err != nil {
				t.Fatal(err)
			}
			inc, full = newPair()
			if err := inc.Restore(si); err != nil {
				t.Fatal(err)
			}
			if err := full.Restore(sf); err != nil {
				t.Fatal(err)
			}
		default:
			gi, gf := inc.Evaluate(at), full.Evaluate(at)
			evals++
			if !reflect.DeepEqual(gi, gf) {
				t.Fatalf("step %d: Evaluate differs: %s", step, anomDiff(gi, gf))
			}
			for _, a := range gi {
				if a.Open() {
					opened++
				}
			}
		}
		si, err := inc.Snapshot(at)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := full.Snapshot(at)
		if err != nil {
			t.Fatal(err)
		}
		if diff := snapDiff(si, sf); diff != "" {
			t.Fatalf("step %d: state differs: %s", step, diff)
		}
		if !reflect.DeepEqual(inc.ClusterStatus(), full.ClusterStatus()) {
			t.Fatalf("step %d: cluster status differs", step)
		}
		ci, cf := inc.o.Metrics.targets.agg.Load(), full.o.Metrics.targets.agg.Load()
		if (ci == nil) != (cf == nil) || ci != nil && !maps.Equal(*ci, *cf) {
			t.Fatalf("step %d: nymwatch_targets differs: %v != %v", step, ci, cf)
		}
	}
	if evals < 50 || opened < 10 {
		t.Fatalf("%d evaluations, %d open anomaly emissions: the sequence tests nothing", evals, opened)
	}
}

// outcomeOf is one probe result by the target's mode: up, mostly down,
// flapping, long outages, slow or a security signal; everything fails
// while cut off.
func outcomeOf(rng *rand.Rand, mode, step int, tg *probes.Target, cutOff bool) probes.Result {
	res := probes.Result{Target: tg, OK: true, Latency: time.Duration(20+rng.IntN(60)) * time.Millisecond}
	fail := false
	switch mode {
	case 1:
		fail = rng.IntN(10) < 8
	case 2:
		fail = rng.IntN(2) == 0
	case 3:
		fail = (step/25)%2 == 0
	case 4:
		switch rng.IntN(6) {
		case 0:
			res.OK, res.Reason = false, probes.ReasonSlow
			res.Latency = 4 * time.Second
		case 1:
			if tg.Kind == probes.KindIdentity || tg.Kind == probes.KindService {
				res.OK, res.Reason, res.Detail = false, probes.ReasonIdentityMismatch, "another key"
			}
		case 2:
			if tg.Node != nil {
				res.OK, res.Reason = false, probes.ReasonPrivateAddress
			}
		}
	}
	if cutOff {
		fail = true
	}
	if fail {
		res.OK, res.Reason, res.Detail = false, probes.ReasonTimeout, fmt.Sprint("timeout ", rng.IntN(2))
	}
	return res
}

// anomDiff names the first difference of two Evaluate results.
func anomDiff(a, b []Anomaly) string {
	if len(a) != len(b) {
		ids := func(as []Anomaly) (out []string) {
			for _, x := range as {
				out = append(out, x.ID)
			}
			return out
		}
		return fmt.Sprintf("incremental %v, full %v", ids(a), ids(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("%s:\nincremental %+v\nfull        %+v", a[i].ID, a[i], b[i])
		}
	}
	return ""
}

// TestIncrementalSampleNewestLeaves: when the target holding a group's
// newest observation leaves the group, the next baseline sample is dated
// by the newest observation of those left, as the full walk dates it.
func TestIncrementalSampleNewestLeaves(t *testing.T) {
	gws := gateways(100, 3, probes.RoleEntryGateway, "DE")
	inc, full := New(Options{}), New(Options{})
	full.fullEval = true
	for _, d := range []*Detector{inc, full} {
		d.SetTargets(gws)
		for _, tg := range gws {
			d.Observe(probes.Result{Target: tg, OK: true, Latency: time.Millisecond, At: t0})
		}
		d.Evaluate(t0.Add(time.Second)) // first sample, dated t0
		d.Observe(probes.Result{Target: gws[2], OK: true, Latency: time.Millisecond, At: t0.Add(20 * time.Second)})
		d.SetTargets(gws[:2]) // the newest observation leaves unsampled
		d.Observe(probes.Result{Target: gws[0], OK: true, Latency: 2 * time.Millisecond, At: t0.Add(10 * time.Second)})
		d.Evaluate(t0.Add(21 * time.Second))
	}
	si, err := inc.Snapshot(t0)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := full.Snapshot(t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := snapDiff(si, sf); diff != "" {
		t.Fatal(diff)
	}
	if c := inc.comps[compEntry]; c == nil || len(c.Samples) != 2 || c.Samples[1].At != unixms.From(t0.Add(10*time.Second)) {
		t.Fatalf("samples %+v, want the second dated by the newest remaining observation", c)
	}
}
