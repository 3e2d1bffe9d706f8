package detector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

func TestTimestamps(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.rounds(2, allUp)                      // r0, r1
	h.rounds(4, failing("service/nym-api")) // r2..r5
	if got := h.byComponent("service/nym-api"); len(got) != 1 {
		t.Fatalf("want one anomaly, got %s", h.dump())
	}
	h.rounds(2, allUp) // r6, r7: recovered on r7, first good observation r6
	a := h.one("service/nym-api")
	checks := []struct {
		name      string
		got, want time.Time
	}{
		{"last_healthy", a.LastHealthy, roundAt(1)},
		{"first_seen", a.FirstSeen, roundAt(2)},
		{"detected_at", a.DetectedAt, roundAt(4).Add(time.Second)}, // third failure, evaluated 1s later
		{"resolved_at", a.ResolvedAt, roundAt(6)},
	}
	for _, c := range checks {
		if !c.got.Equal(c.want) || c.got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v (UTC)", c.name, c.got, c.want)
		}
	}
	if a.Source != "probe" || len(a.Affected) != 1 || a.Affected[0] != "service/nym-api" {
		t.Errorf("source %q affected %v", a.Source, a.Affected)
	}
	if len(a.Evidence) != 1 || a.Evidence[0].Reason != "timeout" || !a.Evidence[0].Since.Equal(roundAt(2)) {
		t.Errorf("evidence %+v", a.Evidence)
	}
	if len(h.d.Open()) != 0 {
		t.Errorf("still open: %+v", h.d.Open())
	}
	// Nothing changes: nothing emitted.
	if out := h.round(allUp); len(out) != 0 {
		t.Errorf("quiet round emitted %+v", out)
	}
}

func TestBlipBeforeThresholdOpensNothing(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.rounds(2, allUp)
	h.rounds(2, failing(append([]string{"service/nym-api"}, idRange(1, 10)...)...)) // 2 < FailureThreshold 3
	h.rounds(5, allUp)
	if len(h.log) != 0 {
		t.Fatalf("a blip below the failure threshold opened anomalies: %s", h.dump())
	}
}

func TestShortFailureBetweenEvaluationsIsRecorded(t *testing.T) {
	// The target crosses the failure threshold and recovers between two
	// Evaluate calls: it is still recorded, as internal.
	d := New(Options{})
	gws := gateways(1, 20, probes.RoleExitGateway, "FR")
	d.SetTargets(gws)
	at := t0
	obs := func(ok bool) {
		for _, g := range gws {
			o := up
			if !ok && g.ID == nid(3) {
				o = down
			}
			d.Observe(probes.Result{Target: g, OK: o.ok, Reason: o.reason, Latency: o.latency, At: at})
		}
		at = at.Add(step)
	}
	obs(true)
	d.Evaluate(at)
	for range 3 {
		obs(false)
	}
	obs(true)
	obs(true)
	out := d.Evaluate(at)
	if len(out) != 1 || out[0].Open() || out[0].Class != ClassInternal {
		t.Fatalf("want one resolved internal anomaly, got %+v", out)
	}
	a := out[0]
	if !a.FirstSeen.Equal(t0.Add(step)) || !a.ResolvedAt.Equal(t0.Add(4*step)) {
		t.Errorf("first_seen %v resolved_at %v", a.FirstSeen, a.ResolvedAt)
	}
	containsAll(t, "reason", a.Reason, "failed and recovered between two evaluations", "resolved before user impact")
}

func TestFlappingHoldsOneAnomalyOpen(t *testing.T) {
	h := newHarness(t, Options{FlapTransitions: 4, FlapWindow: 10 * time.Minute},
		join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.rounds(2, allUp)
	// fail/ok/fail/ok: never FailureThreshold failures in a row, but flapping.
	for i := range 16 {
		if i%2 == 0 {
			h.round(failing("service/nym-api"))
		} else {
			h.round(allUp)
		}
	}
	as := h.byComponent("service/nym-api")
	if len(as) != 1 || !as[0].Open() {
		t.Fatalf("want one open anomaly while flapping, got %s", h.dump())
	}
	containsAll(t, "reason", as[0].Reason, "flapping", "held open until stable")
	if !as[0].FirstSeen.Equal(roundAt(2)) {
		t.Errorf("first_seen %v, want the first failure %v", as[0].FirstSeen, roundAt(2))
	}
	lastFail := roundAt(2 + 14)
	// Stable again: the transitions leave the 10m window, then it recovers.
	h.rounds(25, allUp)
	as = h.byComponent("service/nym-api")
	if len(as) != 1 || as[0].Open() {
		t.Fatalf("want the same anomaly resolved once stable, got %s", h.dump())
	}
	if want := lastFail.Add(step); !as[0].ResolvedAt.Equal(want) {
		t.Errorf("resolved_at %v, want the first good observation of the final stable run %v", as[0].ResolvedAt, want)
	}
	var opened, resolved int
	for _, a := range h.log {
		if a.Component == "service/nym-api" && a.Open() {
			opened++
		}
		if a.Component == "service/nym-api" && !a.Open() {
			resolved++
		}
	}
	if resolved != 1 {
		t.Errorf("resolved %d times, want once", resolved)
	}
	if opened > 3 {
		t.Errorf("emitted %d updates while flapping: it should only change on material changes", opened)
	}
}

func TestFlappingCyclesDoNotOpenAndCloseEachTime(t *testing.T) {
	h := newHarness(t, Options{FlapTransitions: 3}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.rounds(2, allUp)
	// fail×3 / ok×2 cycles would open and close an anomaly on every cycle
	// with plain hysteresis.
	for range 6 {
		h.rounds(3, failing("service/nym-api"))
		h.rounds(2, allUp)
	}
	as := h.byComponent("service/nym-api")
	if len(as) > 2 || as[len(as)-1].Open() == false {
		t.Fatalf("want at most the first cycle closed and then one anomaly held open, got %s", h.dump())
	}
	if ids := map[string]bool{}; true {
		for _, a := range as {
			if ids[a.ID] {
				t.Errorf("duplicate ID %s", a.ID)
			}
			ids[a.ID] = true
		}
	}
}

func TestPromotionKeepsIDAndFirstSeen(t *testing.T) {
	h := newHarness(t, Options{}, gateways(100, 20, probes.RoleExitGateway, "FR"))
	h.rounds(2, allUp)
	h.rounds(4, failing(nid(100))) // r2..r5: one gateway → internal
	first := h.one("exit_gateways")
	if first.Class != ClassInternal || !first.FirstSeen.Equal(roundAt(2)) {
		t.Fatalf("want internal from r2, got %s %v", first.Class, first.FirstSeen)
	}
	grow := failing(nids(100, 101, 102, 103, 104, 105, 106)...)
	h.rounds(3, grow) // r6..r8: 7 of 20 = 35% from r8
	a := h.one("exit_gateways")
	if a.ID != first.ID || a.Class != ClassOperational || !a.FirstSeen.Equal(first.FirstSeen) {
		t.Fatalf("promotion changed identity: %+v (was %s)", a, first.ID)
	}
	if len(a.Promotions) != 1 || a.Promotions[0].From != ClassInternal || a.Promotions[0].To != ClassOperational ||
		!a.Promotions[0].At.Equal(roundAt(8).Add(time.Second)) {
		t.Fatalf("promotions %+v", a.Promotions)
	}
	if !a.DetectedAt.Equal(roundAt(8).Add(time.Second)) {
		t.Errorf("detected_at %v, want the promotion decision", a.DetectedAt)
	}
	containsAll(t, "reason", a.Reason, "7 of 20 exit gateways (35%) unreachable for 3m1s", "threshold 10%")
	containsAll(t, "promotion reason", a.Promotions[0].Reason, "7 of 20 exit gateways (35%)")
	if len(a.Affected) != 7 || len(a.Evidence) != 7 {
		t.Errorf("affected %v evidence %d", a.Affected, len(a.Evidence))
	}

	// Shrinks back to one gateway: no demotion while open.
	h.rounds(3, failing(nid(106)))
	a = h.one("exit_gateways")
	if a.Class != ClassOperational || !a.Open() || len(a.Affected) != 7 {
		t.Fatalf("demoted or lost affected: %s %v %v", a.Class, a.Open(), a.Affected)
	}
	containsAll(t, "reason", a.Reason, "1 of 20 exit gateways (5%)", "still operational (decided 2026-05-16T11:04:01Z)")
	if strings.Contains(a.Reason, "internal:") {
		t.Errorf("an operational anomaly explained as internal: %s", a.Reason)
	}
	h.rounds(2, allUp) // r12, r13
	a = h.one("exit_gateways")
	if a.Open() || a.Class != ClassOperational || !a.ResolvedAt.Equal(roundAt(12)) {
		t.Fatalf("want resolved at the last target's first good observation %v: %+v", roundAt(12), a)
	}
	if strings.Contains(a.Reason, "before user impact") {
		t.Errorf("a disclosed anomaly is not 'before user impact': %s", a.Reason)
	}
}

func TestReconfigureKeepsStateAndAppliesThresholds(t *testing.T) {
	h := newHarness(t, Options{}, gateways(100, 20, probes.RoleExitGateway, "FR"))
	h.rounds(2, allUp)
	h.rounds(3, failing(nid(100)))
	first := h.one("exit_gateways")
	if first.Class != ClassInternal {
		t.Fatalf("got %s", first.Class)
	}
	h.d.Reconfigure(Options{GatewayFailureRatio: 0.04, MinFailingGateways: 1})
	h.round(failing(nid(100)))
	a := h.one("exit_gateways")
	if a.ID != first.ID || a.Class != ClassOperational || len(a.Promotions) != 1 {
		t.Fatalf("reconfigure: %+v", a)
	}
}

func TestNodeFailsWhenAnyOfItsTargetsFails(t *testing.T) {
	gws := gateways(1, 10, probes.RoleEntryGateway, "CH")
	var targets []*probes.Target
	for _, g := range gws {
		targets = append(targets, g, &probes.Target{ID: strings.Replace(g.ID, "node_http", "mix_tcp", 1),
			Kind: probes.KindMixPort, Node: g.Node})
	}
	h := newHarness(t, Options{}, targets)
	h.rounds(2, allUp)
	h.rounds(3, failing("node/1/mix_tcp", "node/2/mix_tcp"))
	a := h.one("entry_gateways")
	if a.Class != ClassOperational {
		t.Fatalf("2 of 10 nodes (by their mix port) should be operational: %s", a.Reason)
	}
	containsAll(t, "reason", a.Reason, "2 of 10 entry gateways (20%)")
	for _, ev := range a.Evidence {
		if !strings.HasSuffix(ev.TargetID, "/mix_tcp") || ev.Reason != "timeout" || ev.Role != "entry_gateway" || ev.Country != "CH" {
			t.Errorf("evidence %+v", ev)
		}
	}
}

func TestDuplicateResultsCountOnce(t *testing.T) {
	d := New(Options{})
	s := svcT("nym-api")
	d.SetTargets([]*probes.Target{s})
	for i := range 2 {
		at := t0.Add(time.Duration(i) * step)
		r := probes.Result{Target: s, OK: false, Reason: probes.ReasonRefused, At: at}
		d.Observe(r)
		// A duplicated scheduler run, and an older result: both ignored.
		d.Observe(r)
		d.Observe(probes.Result{Target: s, OK: false, At: at.Add(-time.Second)})
	}
	if out := d.Evaluate(t0.Add(2 * step)); len(out) != 0 {
		t.Fatalf("duplicates counted: %+v", out)
	}
}

func TestVantagePointLossOpensNoOperational(t *testing.T) {
	for _, rec := range []int{1, 2} {
		t.Run(fmt.Sprintf("recovery threshold %d", rec), func(t *testing.T) { testVantageLoss(t, rec) })
	}
}

func testVantageLoss(t *testing.T, recovery int) {
	ctrls := []*probes.Target{ctrlT("one.example"), ctrlT("two.example")}
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	h := newHarness(t, Options{RecoveryThreshold: recovery}, join(ctrls, []*probes.Target{svcT("nym-api")}, gws))
	h.rounds(2, allUp)
	h.rounds(8, func(*probes.Target) outcome { return down })
	v := h.one("vantage_point")
	if v.Class != ClassInternal || !v.Open() || !v.FirstSeen.Equal(roundAt(2)) || !v.LastHealthy.Equal(roundAt(1)) {
		t.Fatalf("vantage anomaly %+v", v)
	}
	if len(v.Affected) != 2 || !strings.HasPrefix(v.Affected[0], "control/") {
		t.Errorf("affected %v", v.Affected)
	}
	h.rounds(3, allUp) // controls and network back on r10
	if got := h.disclosable(); len(got) != 0 {
		t.Fatalf("disclosable anomalies during a vantage cut-off: %s", h.dump())
	}
	for _, id := range h.order {
		if a := h.byID[id]; a.Component != "vantage_point" {
			t.Errorf("anomaly other than vantage_point opened: %s", h.dump())
		}
	}
	v = h.one("vantage_point")
	if v.Open() || !v.ResolvedAt.Equal(roundAt(10)) {
		t.Errorf("vantage resolved_at %v, want %v", v.ResolvedAt, roundAt(10))
	}

	// Afterwards the network is judged afresh: a real outage is seen.
	h.rounds(4, failing(nids(100, 101, 102)...))
	if a := h.one("exit_gateways"); a.Class != ClassOperational {
		t.Errorf("after the cut-off: %s", a.Reason)
	}
}

func TestVantageHoldWaitsForControls(t *testing.T) {
	ctrls := []*probes.Target{ctrlT("one.example"), ctrlT("two.example")}
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	for _, tc := range []struct {
		name        string
		allDown     bool
		wantClass   Class
		wantVantage bool
	}{
		{"network fails, controls then answer: operational after confirmation", false, ClassOperational, false},
		{"everything fails, controls then fail too: vantage point, never operational", true, ClassInternal, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{FailureThreshold: 1})
			d.SetTargets(join(ctrls, gws))
			for _, tg := range join(ctrls, gws) {
				d.Observe(probes.Result{Target: tg, OK: true, Latency: time.Millisecond, At: t0})
			}
			d.Evaluate(t0.Add(time.Second))
			at := t0.Add(step)
			for i, g := range gws {
				if tc.allDown || i < 5 {
					d.Observe(probes.Result{Target: g, OK: false, Reason: probes.ReasonTimeout, At: at})
				}
			}
			// The nodes answered first; the controls have not been probed
			// since the failures began.
			out := d.Evaluate(at.Add(time.Second))
			for _, a := range out {
				if a.Class.Disclosable() {
					t.Fatalf("disclosed before the controls confirmed: %+v", a)
				}
				containsAll(t, "held reason", a.Reason, "operational decision held")
			}
			for _, c := range ctrls {
				d.Observe(probes.Result{Target: c, OK: !tc.allDown, Reason: map[bool]probes.Reason{true: probes.ReasonTimeout}[tc.allDown],
					At: at.Add(2 * time.Second)})
			}
			out = d.Evaluate(at.Add(3 * time.Second))
			var sawVantage bool
			for _, a := range d.Open() {
				if a.Component == "vantage_point" {
					sawVantage = true
					continue
				}
				if a.Class != tc.wantClass {
					t.Errorf("%s: class %s, want %s", a.Component, a.Class, tc.wantClass)
				}
			}
			if sawVantage != tc.wantVantage {
				t.Errorf("vantage anomaly %v, want %v (%+v)", sawVantage, tc.wantVantage, out)
			}
			if !tc.allDown {
				return
			}
			// The cut-off ends: the exit anomaly opened while held is
			// attributed to the vantage point and resolves, never disclosed.
			for _, tg := range join(ctrls, gws) {
				d.Observe(probes.Result{Target: tg, OK: true, At: at.Add(step)})
			}
			out = d.Evaluate(at.Add(step + time.Second))
			for _, a := range out {
				if a.Open() || a.Class.Disclosable() {
					t.Errorf("after the cut-off: %+v", a)
				}
				if a.Component == "exit_gateways" {
					containsAll(t, "reason", a.Reason, "attributed to the monitor's own vantage point")
				}
			}
		})
	}
}

func TestVantageHoldIsBounded(t *testing.T) {
	// Control targets are configured but no longer probed: an outage that
	// keeps growing is disclosed after VantageConfirmWithin all the same.
	ctrls := []*probes.Target{ctrlT("one.example")}
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	d := New(Options{FailureThreshold: 1, VantageConfirmWithin: time.Minute})
	d.SetTargets(join(ctrls, gws))
	for _, tg := range join(ctrls, gws) {
		d.Observe(probes.Result{Target: tg, OK: true, At: t0})
	}
	var class Class
	var when time.Time
	for i := range 8 {
		at := t0.Add(time.Duration(i+1) * step)
		for j, g := range gws {
			d.Observe(probes.Result{Target: g, OK: j > i+1, Reason: probes.ReasonTimeout, At: at})
		}
		for _, a := range d.Evaluate(at.Add(time.Second)) {
			if a.Component == "exit_gateways" && a.Class.Disclosable() && class == "" {
				class, when = a.Class, a.DetectedAt
			}
		}
	}
	// 2 gateways fail from t0+30s: held from t0+31s, released one minute on.
	if class != ClassOperational || !when.Equal(t0.Add(3*step+time.Second)) {
		t.Fatalf("class %q detected %v", class, when)
	}
}

func TestDirectoryLossIsNotDown(t *testing.T) {
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	h := newHarness(t, Options{}, gws)
	h.rounds(2, allUp)
	h.rounds(4, failing(nids(100, 101, 102)...))
	a := h.one("exit_gateways")
	if a.Class != ClassOperational {
		t.Fatalf("setup: %s", a.Reason)
	}
	// The directory drops the three failing nodes.
	h.targets = gws[3:]
	h.d.SetTargets(h.targets)
	now := h.at.Add(time.Second)
	out := h.eval(now)
	if len(out) != 1 || out[0].Open() {
		t.Fatalf("want the anomaly resolved, got %+v", out)
	}
	containsAll(t, "reason", out[0].Reason, "resolved without a recovery", "no longer in the directory")
	if !out[0].ResolvedAt.Equal(now) {
		t.Errorf("resolved_at %v want %v", out[0].ResolvedAt, now)
	}
	// Late results for the dropped nodes are ignored, and the rest is fine.
	for _, g := range gws[:3] {
		h.d.Observe(probes.Result{Target: g, OK: false, Reason: probes.ReasonTimeout, At: h.at})
	}
	h.rounds(5, allUp)
	if len(h.byComponent("exit_gateways")) != 1 || len(h.d.Open()) != 0 {
		t.Fatalf("dropped nodes still count: %s", h.dump())
	}

	// Forget works for services too.
	s := svcT("old")
	h.targets = append(h.targets, s)
	h.d.SetTargets(h.targets)
	h.rounds(4, failing("service/old"))
	h.d.Forget([]string{"service/old"})
	h.targets = h.targets[:len(h.targets)-1]
	out = h.eval(h.at)
	if len(out) != 1 || out[0].Open() || !strings.Contains(out[0].Reason, "no longer in the directory") {
		t.Fatalf("forget: %+v", out)
	}
}

func TestAlertsMergeWithProbeComponents(t *testing.T) {
	h := newHarness(t, Options{}, gateways(100, 20, probes.RoleExitGateway, "FR"))
	h.rounds(2, allUp)
	h.rounds(3, failing(nid(100)))
	probeA := h.one("exit_gateways")
	if probeA.Class != ClassInternal {
		t.Fatalf("setup %s", probeA.Class)
	}
	alert := Alert{Status: AlertFiring, Labels: map[string]string{"alertname": "ExitGatewaysDown", "component": "exit_gateways"},
		Annotations: map[string]string{"summary": "users report exits failing"}, StartsAt: roundAt(1),
		Class: ClassOperational, ClassSource: "rule"}
	h.d.ObserveAlerts([]Alert{alert}, h.at)
	h.round(failing(nid(100)))
	a := h.one("exit_gateways")
	if a.ID != probeA.ID || a.Class != ClassOperational || len(a.Promotions) != 1 {
		t.Fatalf("merge: %+v", a)
	}
	if !a.FirstSeen.Equal(roundAt(1)) {
		t.Errorf("first_seen %v: the alert's startsAt is earlier", a.FirstSeen)
	}
	fp := Fingerprint(alert.Labels)
	var found bool
	for _, ev := range a.Evidence {
		if ev.TargetID == "alert/"+fp && ev.Reason == "ExitGatewaysDown" {
			found = true
		}
	}
	if !found {
		t.Errorf("alert evidence missing: %+v", a.Evidence)
	}
	containsAll(t, "reason", a.Reason, `Alertmanager: 1 alert(s) firing: "ExitGatewaysDown"`, "a classification rule")

	// The node recovers but the alert still fires: still open.
	h.rounds(2, allUp)
	if a := h.one("exit_gateways"); !a.Open() {
		t.Fatal("resolved while the alert fires")
	}
	ended := alert
	ended.Status, ended.EndsAt = AlertResolved, h.at.Add(-10*time.Second)
	h.d.ObserveAlerts([]Alert{ended}, h.at)
	h.eval(h.at)
	a = h.one("exit_gateways")
	if a.Open() || !a.ResolvedAt.Equal(ended.EndsAt) || a.Class != ClassOperational {
		t.Fatalf("want resolved at endsAt %v: %+v", ended.EndsAt, a)
	}
}

func TestAlertLifecycleIsIdempotent(t *testing.T) {
	d := New(Options{})
	start := t0.Add(-5 * time.Minute)
	al := Alert{Status: AlertFiring, Labels: map[string]string{"alertname": "PaymentsAPIErrors", "service": "payments"},
		StartsAt: start, Class: ClassOperational, ClassSource: "default"}
	d.ObserveAlerts([]Alert{al}, t0)
	out := d.Evaluate(t0)
	if len(out) != 1 || out[0].Component != "alert/PaymentsAPIErrors" || out[0].Architecture != ArchCentralized ||
		!out[0].FirstSeen.Equal(start) || out[0].Source != "alertmanager" || out[0].Labels["service"] != "payments" {
		t.Fatalf("firing: %+v", out)
	}
	id := out[0].ID
	// Re-delivered at repeat_interval: nothing changes.
	d.ObserveAlerts([]Alert{al}, t0.Add(time.Minute))
	if out := d.Evaluate(t0.Add(time.Minute)); len(out) != 0 {
		t.Fatalf("duplicate delivery changed something: %+v", out)
	}
	res := al
	res.Status, res.EndsAt = AlertResolved, t0.Add(2*time.Minute)
	d.ObserveAlerts([]Alert{res}, t0.Add(3*time.Minute))
	out = d.Evaluate(t0.Add(3 * time.Minute))
	if len(out) != 1 || out[0].ID != id || !out[0].ResolvedAt.Equal(res.EndsAt) {
		t.Fatalf("resolved: %+v", out)
	}
	d.ObserveAlerts([]Alert{res}, t0.Add(4*time.Minute))
	if out := d.Evaluate(t0.Add(4 * time.Minute)); len(out) != 0 {
		t.Fatalf("duplicate resolved delivery: %+v", out)
	}
	// A resolved alert never seen firing is still recorded, once.
	other := Alert{Status: AlertResolved, Labels: map[string]string{"alertname": "Blip", "architecture": "decentralized"},
		StartsAt: t0, EndsAt: t0.Add(time.Minute), Class: ClassInternal, ClassSource: "label"}
	d.ObserveAlerts([]Alert{other}, t0.Add(5*time.Minute))
	out = d.Evaluate(t0.Add(5 * time.Minute))
	if len(out) != 1 || out[0].Open() || out[0].Class != ClassInternal || out[0].Architecture != ArchDecentralized {
		t.Fatalf("orphan resolved: %+v", out)
	}
	d.ObserveAlerts([]Alert{other}, t0.Add(6*time.Minute))
	if out := d.Evaluate(t0.Add(6 * time.Minute)); len(out) != 0 {
		t.Fatalf("orphan duplicate: %+v", out)
	}
}

func TestDegradationRecovers(t *testing.T) {
	h := newHarness(t, Options{DegradationSustain: time.Minute}, join([]*probes.Target{svcT("nymvpn-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	slowSvc := func(t *probes.Target) outcome {
		if t.ID == "service/nymvpn-api" {
			return outcome{ok: true, latency: 800 * time.Millisecond}
		}
		return up
	}
	h.rounds(12, allUp)
	h.rounds(6, slowSvc) // r12..r17, degraded from r12
	a := h.one("service/nymvpn-api")
	if a.Class != ClassOperational || !a.FirstSeen.Equal(roundAt(12)) || !a.LastHealthy.Equal(roundAt(11)) {
		t.Fatalf("degradation: %s %v %s", a.Class, a.FirstSeen, a.Reason)
	}
	h.rounds(3, allUp) // back to baseline from r18
	a = h.one("service/nymvpn-api")
	if a.Open() || !a.ResolvedAt.Equal(roundAt(18)) {
		t.Fatalf("want resolved at the first good sample: %+v", a)
	}
}

// TestRestartMidOutageKeepsIDAndFirstSeen moved with the SQL store to
// internal/detectorstore.

func TestRestoreRejectsAndEmptyIsNoop(t *testing.T) {
	d := New(Options{})
	d.SetTargets([]*probes.Target{svcT("x")})
	if err := d.Restore(Snapshot{}); err != nil {
		t.Fatal(err)
	}
	snap, err := d.Snapshot(t0)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Empty() {
		t.Fatal("snapshot of a detector with targets is empty")
	}
	bad := snap
	bad.Version = 99
	if err := d.Restore(bad); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("want version error, got %v", err)
	}
	corrupt := snap
	corrupt.Targets = []TargetRow{{ID: "service/x", State: []byte("{not json")}}
	if err := d.Restore(corrupt); err == nil {
		t.Fatal("corrupt state accepted")
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	err := (Options{GatewayFailureRatio: 1.5, FailureThreshold: -1, FlapTransitions: 1, LatencyFactor: 0.5,
		AlertArchitecture: "sideways"}).Validate()
	for _, want := range []string{"GatewayFailureRatio", "FailureThreshold", "FlapTransitions", "LatencyFactor", "AlertArchitecture"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v lacks %s", err, want)
		}
	}
	o := (Options{GatewayFailureRatio: 1.5}).withDefaults()
	if o.GatewayFailureRatio != DefaultGatewayFailureRatio || o.FailureThreshold != DefaultFailureThreshold {
		t.Errorf("defaults %+v", o)
	}
}

func TestSteadyStateEmitsNothing(t *testing.T) {
	h := newHarness(t, Options{DegradationSustain: time.Minute},
		join([]*probes.Target{svcT("nymvpn-api")}, gateways(100, 20, probes.RoleExitGateway, "FR")))
	h.rounds(12, allUp)
	phase := func(svc outcome) func(*probes.Target) outcome {
		return func(t *probes.Target) outcome {
			switch t.ID {
			case "service/nymvpn-api":
				return svc
			case nid(100), nid(101), nid(102):
				return down
			}
			return up
		}
	}
	for _, svc := range []outcome{{ok: true, latency: 900 * time.Millisecond}, down, slowAns} {
		h.rounds(6, phase(svc))
		for i := range 3 {
			if out := h.round(phase(svc)); len(out) != 0 {
				t.Fatalf("steady round %d with service %+v emitted %d: %+v", i, svc, len(out), out)
			}
		}
		if out := h.eval(h.at); len(out) != 0 {
			t.Fatalf("evaluate without news emitted %+v", out)
		}
	}
	a := h.one("service/nymvpn-api")
	var reasons []string
	for _, ev := range a.Evidence {
		reasons = append(reasons, ev.Reason)
	}
	if got := strings.Join(reasons, ","); got != "timeout,degradation,slow" {
		t.Errorf("evidence reasons %s", got)
	}
}

// A cut-off where each node's HTTP API fails but its other ports still look
// alive (a mix port that accepts and hears nothing passes a TCP probe) is
// still the vantage point: the network share is counted per node, not per
// port, so it cannot hide behind ports that cannot fail that way.
func TestVantageLossCountsNodesNotPorts(t *testing.T) {
	ctrls := []*probes.Target{ctrlT("one.example"), ctrlT("two.example")}
	var nodes []*probes.Target
	for _, gw := range gateways(100, 20, probes.RoleExitGateway, "FR") {
		mix := *gw
		mix.ID, mix.Kind = gw.ID+"-mix", probes.KindMixPort
		ws := *gw
		ws.ID, ws.Kind = gw.ID+"-ws", probes.KindWSPort
		nodes = append(nodes, gw, &mix, &ws)
	}
	h := newHarness(t, Options{}, join(ctrls, []*probes.Target{svcT("nym-api")}, nodes))
	h.rounds(2, allUp)
	// Every control, service and node HTTP API fails; mix and ws ports of
	// every node still connect: by ports only 2/3 of the network fails.
	cut := func(tg *probes.Target) outcome {
		if tg.Kind == probes.KindMixPort || tg.Kind == probes.KindWSPort {
			return up
		}
		return down
	}
	h.rounds(8, cut)
	if v := h.one("vantage_point"); v.Class != ClassInternal || !v.Open() {
		t.Fatalf("vantage anomaly %+v", v)
	}
	if got := h.disclosable(); len(got) != 0 {
		t.Fatalf("disclosable anomalies during a vantage cut-off: %s", h.dump())
	}
}

// A shrinking outage keeps its worst moment in the title and reason: the
// report a human confirms must state the scale, not the last sample.
func TestShrinkingOutageKeepsItsPeak(t *testing.T) {
	h := newHarness(t, Options{}, gateways(100, 10, probes.RoleExitGateway, "FR"))
	h.rounds(2, allUp)
	h.rounds(4, failing(nids(100, 101, 102, 103)...))
	if a := h.one("exit_gateways"); a.Title != "Exit gateways: 4 of 10 unreachable" {
		t.Fatalf("at the peak: title %q", a.Title)
	}
	h.rounds(4, failing(nids(100)...))
	a := h.one("exit_gateways")
	if a.Title != "Exit gateways: 1 of 10 unreachable (at worst 4 of 10)" {
		t.Errorf("after shrinking: title %q", a.Title)
	}
	if !strings.Contains(a.Reason, "at worst 4 of 10 (40%)") {
		t.Errorf("reason lacks the peak: %q", a.Reason)
	}
	if a.Class != ClassOperational || !a.Open() {
		t.Errorf("class %s open %v", a.Class, a.Open())
	}
}
