package detector

import (
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// TestNearTotalWithoutControlsIsPagedUnverified: with no control targets,
// 41 of 41 targets down used to be taken for the monitor's own cut-off
// (internal, nobody paged). It is disclosed as the rules decide, marked
// unverified in title and reason, and the mark stays when part of it
// recovers.
func TestNearTotalWithoutControlsIsPagedUnverified(t *testing.T) {
	targets := join([]*probes.Target{svcT("nym-api")}, gateways(100, 20, probes.RoleExitGateway, "FR"),
		gateways(200, 20, probes.RoleEntryGateway, "DE"))
	if len(targets) != 41 {
		t.Fatalf("%d targets", len(targets))
	}
	h := newHarness(t, Options{}, targets)
	h.rounds(2, allUp)
	h.rounds(4, func(*probes.Target) outcome { return down })
	if got := h.byComponent("vantage_point"); len(got) != 0 {
		t.Fatalf("taken for a cut-off without control targets: %s", h.dump())
	}
	for _, c := range []string{"exit_gateways", "entry_gateways", "service/nym-api", "country/FR", "country/DE"} {
		a := h.one(c)
		if a.Class != ClassOperational || !a.Open() {
			t.Errorf("%s: %s open=%v, want operational: %s", c, a.Class, a.Open(), a.Reason)
		}
		if !strings.HasPrefix(a.Title, "Unverified: ") {
			t.Errorf("%s: title %q not marked unverified", c, a.Title)
		}
		containsAll(t, c+" reason", a.Reason, "unverified: nymwatch cannot rule out its own cut-off; configure control_targets",
			"41 of 41 nodes and services (100%) failing at once at 2026-05-16T11:02:01Z, no control targets configured")
		if !a.FirstSeen.Equal(roundAt(2)) {
			t.Errorf("%s: first_seen %v, want %v", c, a.FirstSeen, roundAt(2))
		}
	}

	// The services answer again: no longer near-total, but what was decided
	// unverified stays marked for the human who confirms it.
	h.rounds(3, func(tg *probes.Target) outcome {
		if tg.Kind == probes.KindService {
			return up
		}
		return down
	})
	a := h.one("exit_gateways")
	if !a.Open() || !strings.HasPrefix(a.Title, "Unverified: ") || !strings.Contains(a.Reason, "unverified:") {
		t.Errorf("mark lost: %q %s", a.Title, a.Reason)
	}
	if s := h.one("service/nym-api"); s.Open() || !strings.Contains(s.Reason, "unverified:") {
		t.Errorf("resolved service lost its mark: %+v", s)
	}
}

// TestNearTotalMarkOnlyWhenItHolds: a failure below the near-total ratio,
// or a near-total one with control targets answering, is not marked; a
// near-total one with the controls failing too is still the vantage point
// (the rule with control targets is unchanged).
func TestNearTotalMarkOnlyWhenItHolds(t *testing.T) {
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	ctrls := []*probes.Target{ctrlT("one.example"), ctrlT("two.example")}
	cases := []struct {
		name     string
		targets  []*probes.Target
		fn       func(*probes.Target) outcome
		marked   bool
		disclose bool
	}{
		{"18 of 20 (90%) without controls", gws, failing(idRange(100, 18)...), false, true},
		{"20 of 20 without controls", gws, failing(idRange(100, 20)...), true, true},
		{"20 of 20 with controls answering", join(ctrls, gws), failing(idRange(100, 20)...), false, true},
		{"everything with controls failing", join(ctrls, gws), func(*probes.Target) outcome { return down }, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{}, tc.targets)
			h.rounds(2, allUp)
			h.rounds(4, tc.fn)
			as := h.byComponent("exit_gateways")
			if !tc.disclose {
				if len(h.disclosable()) != 0 || len(h.byComponent("vantage_point")) != 1 {
					t.Fatalf("want only the vantage point: %s", h.dump())
				}
				return
			}
			if len(as) != 1 || as[0].Class != ClassOperational {
				t.Fatalf("want operational exit gateways: %s", h.dump())
			}
			if got := strings.Contains(as[0].Reason, "unverified") || strings.HasPrefix(as[0].Title, "Unverified"); got != tc.marked {
				t.Errorf("marked %v, want %v: %q %s", got, tc.marked, as[0].Title, as[0].Reason)
			}
		})
	}
}

// TestNearTotalMarkSurvivesRestart: the mark is part of the anomaly's
// persisted state.
func TestNearTotalMarkSurvivesRestart(t *testing.T) {
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	h := newHarness(t, Options{}, gws)
	h.rounds(2, allUp)
	h.rounds(4, func(*probes.Target) outcome { return down })
	snap, err := h.d.Snapshot(h.at)
	if err != nil {
		t.Fatal(err)
	}
	d2 := New(Options{})
	if err := d2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	h.d = d2
	h.rounds(1, failing(idRange(100, 5)...)) // no longer near-total
	a := h.one("exit_gateways")
	if !strings.HasPrefix(a.Title, "Unverified: ") || !strings.Contains(a.Reason, "failing at once at 2026-05-16T11:02:01Z") {
		t.Errorf("mark lost over a restart: %q %s", a.Title, a.Reason)
	}
}

// TestNearTotalInCluster: without control targets, a near-total failure
// used to make every vantage point take itself for cut off and report
// "unknown", so a quorum could never confirm a real total outage. Now a
// quorum of vantage points confirms it (operational, and not marked: two
// places agree), while one vantage point's own cut-off stays its path
// problem, never paged.
func TestNearTotalInCluster(t *testing.T) {
	all := func(vp string, _ *probes.Target) outcome { return down }
	onlyA := func(vp string, _ *probes.Target) outcome {
		if vp == "a" {
			return down
		}
		return up
	}
	for _, tc := range []struct {
		name     string
		fn       func(string, *probes.Target) outcome
		disclose bool
	}{
		{"every vantage point sees everything down", all, true},
		{"only a sees everything down", onlyA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
			c.rounds(2, allUpFrom)
			c.rounds(8, tc.fn)
			if !tc.disclose {
				if got := c.disclosable(); len(got) != 0 {
					t.Fatalf("one vantage point's failures disclosed: %s", c.dump())
				}
				if got := c.byComponent("path/a"); len(got) != 1 || got[0].Class != ClassInternal {
					t.Fatalf("want a's path problem: %s", c.dump())
				}
				return
			}
			a := c.one("exit_gateways")
			if a.Class != ClassOperational || !a.Open() {
				t.Fatalf("total outage seen by all three: %s: %s", a.Class, a.Reason)
			}
			if strings.Contains(a.Reason, "unverified") {
				t.Errorf("a quorum-confirmed failure marked unverified: %s", a.Reason)
			}
		})
	}
}

// TestNearTotalDecisionWaitsForARound: without control targets a group
// whose probes ran early in a round crosses its threshold before the rest
// of the round is known. The decision waits until every target has been
// observed since the failures began, so that a near-total failure is
// marked on its first disclosable emission (its first page), and a partial
// one is not.
func TestNearTotalDecisionWaitsForARound(t *testing.T) {
	svcs := []*probes.Target{svcT("nym-api"), svcT("nymvpn-api")}
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	for _, tc := range []struct {
		name     string
		svcsDown bool
		marked   bool
	}{
		{"the rest of the round fails too: near-total, marked", true, true},
		{"the rest of the round answers: not marked", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{FailureThreshold: 1})
			d.SetTargets(join(svcs, gws))
			for _, tg := range join(svcs, gws) {
				d.Observe(probes.Result{Target: tg, OK: true, Latency: time.Millisecond, At: t0})
			}
			d.Evaluate(t0.Add(time.Second))
			at := t0.Add(step)
			for _, g := range gws {
				d.Observe(probes.Result{Target: g, OK: false, Reason: probes.ReasonTimeout, At: at})
			}
			for _, a := range d.Evaluate(at.Add(time.Second)) {
				if a.Class.Disclosable() {
					t.Fatalf("decided before the round was known: %+v", a)
				}
				if a.Component == "exit_gateways" {
					containsAll(t, "held reason", a.Reason, "operational decision held", "no control targets configured")
				}
			}
			for _, s := range svcs {
				d.Observe(probes.Result{Target: s, OK: !tc.svcsDown, Reason: probes.ReasonTimeout, At: at.Add(2 * time.Second)})
			}
			var exit *Anomaly
			for _, a := range d.Evaluate(at.Add(3 * time.Second)) {
				if a.Component == "exit_gateways" {
					exit = &a
				}
			}
			if exit == nil || exit.Class != ClassOperational {
				t.Fatalf("exit gateways not decided once the round was known: %+v", exit)
			}
			if got := strings.HasPrefix(exit.Title, "Unverified: "); got != tc.marked {
				t.Errorf("title %q: marked %v, want %v", exit.Title, got, tc.marked)
			}
		})
	}
}

// BenchmarkEvaluateNearTotal10k: the worst case of the round hold and the
// mark: 10,000 gateways in 100 countries all failing, so every group and
// country finding is disclosable and asks held(); with and without
// control targets.
func BenchmarkEvaluateNearTotal10k(b *testing.B) {
	for _, controls := range []bool{false, true} {
		b.Run(map[bool]string{false: "no controls", true: "controls"}[controls], func(b *testing.B) {
			var targets []*probes.Target
			for i := range 10000 {
				role := probes.RoleExitGateway
				if i%2 == 0 {
					role = probes.RoleEntryGateway
				}
				cc := string(rune('A'+i%10)) + string(rune('A'+(i/10)%10))
				targets = append(targets, nodeT(uint32(i+1), role, 0, cc))
			}
			if controls {
				targets = append(targets, ctrlT("one.example"))
			}
			d := New(Options{})
			d.SetTargets(targets)
			for r := range 4 {
				at := t0.Add(time.Duration(r) * step)
				for _, t := range targets {
					d.Observe(probes.Result{Target: t, OK: r == 0 || t.Kind == probes.KindControl, Reason: probes.ReasonTimeout, At: at})
				}
			}
			now := t0.Add(4 * step)
			d.Evaluate(now)
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Second)
				d.Evaluate(now)
			}
		})
	}
}
