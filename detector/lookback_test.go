package detector

import (
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
	"github.com/nymwatch/nymwatch/probes"
)

// TestLongFailureIsBackgroundOfALaterOutage: one gateway down for two days,
// then 8 more fail. The outage's first_seen, ID and so the incident's date
// are today's; the two-day-old failure is background evidence, and its
// internal record is closed, pointing at the new anomaly.
func TestLongFailureIsBackgroundOfALaterOutage(t *testing.T) {
	h := newHarness(t, Options{}, gateways(100, 40, probes.RoleExitGateway, "FR"))
	h.rounds(2, allUp)
	h.rounds(4, failing(nid(100))) // r2..r5: one gateway, internal
	old := h.one("exit_gateways")
	if old.Class != ClassInternal || !old.FirstSeen.Equal(roundAt(2)) {
		t.Fatalf("lone gateway: %+v", old)
	}

	h.at = h.at.Add(48 * time.Hour) // it keeps failing for two days
	h.rounds(2, failing(nid(100)))
	lastGood := h.at.Add(-step)
	start := h.at
	h.rounds(4, failing(idRange(100, 9)...)) // 9 of 40 = 22.5% from the third round
	crossed := start.Add(2*step + time.Second)

	as := h.byComponent("exit_gateways")
	if len(as) != 2 {
		t.Fatalf("want the old record and the outage, got %s", h.dump())
	}
	old, a := as[0], as[1]
	if old.Open() || old.Class != ClassInternal || len(old.Promotions) != 0 {
		t.Errorf("old record: class %s open %v promotions %v", old.Class, old.Open(), old.Promotions)
	}
	containsAll(t, "old reason", old.Reason, "closed without a recovery", "recorded as "+a.ID)
	if a.Class != ClassOperational || !a.Open() {
		t.Fatalf("outage: %s open=%v: %s", a.Class, a.Open(), a.Reason)
	}
	if !a.FirstSeen.Equal(start) || a.ID != anomalyID("exit_gateways", unixms.From(start)) {
		t.Errorf("first_seen %v id %s, want %v (the 8 gateways' first failure)", a.FirstSeen, a.ID, start)
	}
	if !a.LastHealthy.Equal(lastGood) {
		t.Errorf("last_healthy %v, want the 8 gateways' last good probe %v", a.LastHealthy, lastGood)
	}
	if a.FirstSeen.Format("20060102") != "20260518" {
		t.Errorf("the incident's date would be %s", a.FirstSeen.Format("20060102"))
	}
	var bg []Evidence
	for _, ev := range a.Evidence {
		if ev.Background {
			bg = append(bg, ev)
		} else if !ev.Since.Equal(start) {
			t.Errorf("evidence %+v", ev)
		}
	}
	if len(bg) != 1 || bg[0].TargetID != nid(100) || !bg[0].Since.Equal(roundAt(2)) ||
		!strings.HasPrefix(bg[0].Detail, "background, failing before this outage began") {
		t.Errorf("background evidence %+v", bg)
	}
	if len(a.Affected) != 9 {
		t.Errorf("affected %v", a.Affected)
	}
	containsAll(t, "reason", a.Reason, "9 of 40 exit gateways (22%)",
		"1 target(s) failing since before "+crossed.Add(-30*time.Minute).Format(time.RFC3339)+" are background", "not counted in first_seen")

	// Steady afterwards: first_seen stays, and the background gateway never
	// pulls it back.
	h.rounds(2, failing(idRange(100, 9)...))
	a = h.byID[a.ID]
	if !a.FirstSeen.Equal(start) || len(h.byComponent("exit_gateways")) != 2 {
		t.Errorf("first_seen moved to %v: %s", a.FirstSeen, h.dump())
	}
}

// TestPromotionLookbackBoundary: a target failing for exactly the lookback
// when the group crosses is not background (its first_seen stands, as
// within the lookback); one millisecond more is.
func TestPromotionLookbackBoundary(t *testing.T) {
	// g100 fails from r2; the others from r12; they cross at the Evaluate
	// of r14 (failure threshold 3), one second after its probes: g100 has
	// then been failing for (14−2)×30s + 1s = 6m1s.
	const failingFor = 6*time.Minute + time.Second
	for _, tc := range []struct {
		name      string
		lookback  time.Duration
		wantFirst time.Time
		anomalies int
	}{
		{"default 30m: a promotion within the lookback keeps the first gateway's first_seen", 0, roundAt(2), 1},
		{"failing for exactly the lookback: not background", failingFor, roundAt(2), 1},
		{"failing one millisecond longer than the lookback: background", failingFor - time.Millisecond, roundAt(12), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{PromotionLookback: tc.lookback}, gateways(100, 20, probes.RoleExitGateway, "FR"))
			h.rounds(2, allUp)
			h.rounds(10, failing(nid(100)))          // r2..r11
			h.rounds(3, failing(idRange(100, 4)...)) // r12..r14
			as := h.byComponent("exit_gateways")
			if len(as) != tc.anomalies {
				t.Fatalf("want %d anomalies, got %s", tc.anomalies, h.dump())
			}
			a := as[len(as)-1]
			if a.Class != ClassOperational || !a.DetectedAt.Equal(roundAt(14).Add(time.Second)) {
				t.Fatalf("crossed: %s at %v", a.Class, a.DetectedAt)
			}
			if !a.FirstSeen.Equal(tc.wantFirst) {
				t.Errorf("first_seen %v, want %v", a.FirstSeen, tc.wantFirst)
			}
			if tc.anomalies == 1 && (a.ID != anomalyID("exit_gateways", unixms.From(roundAt(2))) || len(a.Promotions) != 1) {
				t.Errorf("promoted in place: id %s promotions %v", a.ID, a.Promotions)
			}
			for _, ev := range a.Evidence {
				if ev.Background != (tc.anomalies == 2 && ev.TargetID == nid(100)) {
					t.Errorf("evidence %+v", ev)
				}
			}
		})
	}
}

// TestPromotionLookbackSurvivesRestart: after a restart the rebased
// outage keeps its ID and first_seen, and its background stays background.
func TestPromotionLookbackSurvivesRestart(t *testing.T) {
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	o := Options{PromotionLookback: 2 * time.Minute}
	h := newHarness(t, o, gws)
	h.rounds(2, allUp)
	h.rounds(8, failing(nid(100)))           // r2..r9
	h.rounds(3, failing(idRange(100, 4)...)) // r10..r12: crosses
	a := h.byComponent("exit_gateways")[1]
	if !a.FirstSeen.Equal(roundAt(10)) {
		t.Fatalf("before restart: %+v", a)
	}
	snap, err := h.d.Snapshot(h.at)
	if err != nil {
		t.Fatal(err)
	}
	d2 := New(o)
	d2.SetTargets(gws)
	if err := d2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	h.d = d2
	h.rounds(2, failing(idRange(100, 5)...)) // one more joins
	as := h.byComponent("exit_gateways")
	if len(as) != 2 {
		t.Fatalf("restart opened or lost anomalies: %s", h.dump())
	}
	b := h.byID[a.ID]
	if !b.Open() || !b.FirstSeen.Equal(roundAt(10)) {
		t.Errorf("after restart: first_seen %v open %v", b.FirstSeen, b.Open())
	}
	for _, ev := range b.Evidence {
		if ev.Background != (ev.TargetID == nid(100)) {
			t.Errorf("evidence after restart %+v", ev)
		}
	}
}
