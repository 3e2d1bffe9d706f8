package detector

import (
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

func maintWin(id string, start, end time.Time) MaintenanceWindow {
	return MaintenanceWindow{ID: id, Services: []string{"nym-api"}, Start: start, End: end,
		Reason: "nym-api upgrade to v1.2", Who: "operator:alice"}
}

func TestMaintenanceInsideWindowIsInternal(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-1", t0, t0.Add(time.Hour))})
	h.rounds(2, allUp)
	h.rounds(20, failing("service/nym-api")) // 10 minutes down
	a := h.one("service/nym-api")
	if a.Class != ClassInternal || !a.Open() {
		t.Fatalf("inside the window: class %s open %v, want internal and open; %s", a.Class, a.Open(), h.dump())
	}
	containsAll(t, "reason", a.Reason, "planned maintenance M-1: nym-api upgrade to v1.2 (by operator:alice, until 2026-05-16 12:00 UTC)",
		"routine maintenance (policy II)")
	if d := h.disclosable(); len(d) != 0 {
		t.Errorf("disclosable anomalies inside a window: %v", d)
	}
	if !a.FirstSeen.Equal(roundAt(2)) {
		t.Errorf("first_seen %v, want %v", a.FirstSeen, roundAt(2))
	}
	// Recovery inside the window: not "before user impact", but planned.
	h.rounds(3, allUp)
	a = h.one("service/nym-api")
	if a.Open() || a.Class != ClassInternal {
		t.Fatalf("after recovery: %s", h.dump())
	}
	containsAll(t, "reason", a.Reason, "recorded under planned maintenance M-1")
	if strings.Contains(a.Reason, "before user impact") {
		t.Errorf("reason claims no user impact for a planned outage: %q", a.Reason)
	}
}

// Without the window the same failure is operational: the test above
// would pass for the wrong reason otherwise.
func TestMaintenanceOtherServiceNotCovered(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api"), svcT("nymvpn-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-1", t0, t0.Add(time.Hour))})
	h.rounds(2, allUp)
	h.rounds(10, failing("service/nymvpn-api"))
	if a := h.one("service/nymvpn-api"); a.Class != ClassOperational {
		t.Fatalf("a service outside the window: class %s, want operational; %s", a.Class, h.dump())
	}
}

func TestMaintenanceEndsWhileStillFailing(t *testing.T) {
	for _, early := range []bool{false, true} {
		name := "window ends"
		if early {
			name = "window ended early"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
			end := roundAt(12)
			if early {
				h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-3", t0, t0.Add(4*time.Hour))})
			} else {
				h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-3", t0, end)})
			}
			h.rounds(2, allUp)
			h.rounds(10, failing("service/nym-api")) // r2..r11: inside
			if a := h.one("service/nym-api"); a.Class != ClassInternal {
				t.Fatalf("inside: %s", h.dump())
			}
			if early {
				// DELETE /api/v1/maintenance/M-3 at round 12: the store hands
				// the window on with its effective end.
				h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-3", t0, end)})
			}
			h.rounds(4, failing("service/nym-api")) // r12..r15: after
			a := h.one("service/nym-api")
			if a.Class != ClassOperational || !a.Open() {
				t.Fatalf("after the window: class %s, want operational; %s", a.Class, h.dump())
			}
			if !a.FirstSeen.Equal(roundAt(2)) {
				t.Errorf("first_seen %v, want the failure's real start %v (not the window's end)", a.FirstSeen, roundAt(2))
			}
			if want := roundAt(12).Add(time.Second); !a.DetectedAt.Equal(want) {
				t.Errorf("detected_at %v, want %v (when it became disclosable)", a.DetectedAt, want)
			}
			containsAll(t, "reason", a.Reason, "failing since 2026-05-16 11:01 UTC during maintenance window M-3 (ended 2026-05-16 11:06 UTC)")
			if strings.Contains(a.Reason, "planned maintenance M-3:") {
				t.Errorf("reason still says it is inside the window: %q", a.Reason)
			}
			if len(a.Promotions) != 1 || a.Promotions[0].From != ClassInternal || a.Promotions[0].To != ClassOperational {
				t.Errorf("promotions %+v", a.Promotions)
			}
		})
	}
}

func TestMaintenanceNeverSuppressesSecurity(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	w := maintWin("M-2", t0, t0.Add(time.Hour))
	w.Components = []string{"service/nym-api", "alert/SigningKeyExposed"}
	h.d.SetMaintenance([]MaintenanceWindow{w})
	h.rounds(2, allUp)
	h.d.ObserveAlerts([]Alert{{Status: AlertFiring, StartsAt: h.at, Class: ClassSecurity, ClassSource: "label",
		Labels: map[string]string{"alertname": "SigningKeyExposed", "class": "security", "component": "service/nym-api"}}}, h.at)
	h.d.ObserveAlerts([]Alert{{Status: AlertFiring, StartsAt: h.at, Class: ClassSecurity, ClassSource: "label",
		Labels: map[string]string{"alertname": "SigningKeyExposed", "class": "security", "instance": "b"}}}, h.at)
	h.rounds(4, failing("service/nym-api"))
	for _, c := range []string{"service/nym-api", "alert/SigningKeyExposed"} {
		a := h.one(c)
		if a.Class != ClassSecurity {
			t.Errorf("%s: class %s inside a window, want security; %s", c, a.Class, h.dump())
		}
		containsAll(t, c+" reason", a.Reason, "a window never suppresses security")
	}
}

func TestMaintenanceGroups(t *testing.T) {
	targets := join(gateways(1, 10, probes.RoleExitGateway, "FR"), gateways(11, 10, probes.RoleExitGateway, "DE"))
	cases := []struct {
		name     string
		w        MaintenanceWindow
		internal bool
	}{
		{"component matcher", MaintenanceWindow{Components: []string{"exit_gateways"}}, true},
		{"country covers its gateways", MaintenanceWindow{Components: []string{"country/FR"}}, true},
		{"every failing node named", MaintenanceWindow{Nodes: []uint32{1, 2, 3, 4, 5, 6}}, true},
		// One failing gateway outside the window: an unplanned failure is
		// never hidden by a planned one.
		{"one failing node not named", MaintenanceWindow{Nodes: []uint32{1, 2, 3, 4, 5}}, false},
		{"another country", MaintenanceWindow{Components: []string{"country/DE"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{}, targets)
			c.w.ID, c.w.Start, c.w.End, c.w.Reason, c.w.Who = "M-7", t0, t0.Add(time.Hour), "rack move", "operator"
			h.d.SetMaintenance([]MaintenanceWindow{c.w})
			h.rounds(2, allUp)
			h.rounds(6, failing(idRange(1, 6)...)) // 6 of 20 exit gateways (30%)
			a := h.one("exit_gateways")
			if got := a.Class == ClassInternal; got != c.internal {
				t.Fatalf("internal = %v, want %v; %s", got, c.internal, h.dump())
			}
			if c.internal {
				if d := h.disclosable(); len(d) != 0 {
					t.Errorf("disclosable: %v", d)
				}
			}
		})
	}
}

// A planned nym-api downtime also fails nymwatch's own directory fetch
// from it: --service nym-api covers that too.
func TestMaintenanceServiceCoversDirectoryFetch(t *testing.T) {
	byService := maintWin("M-1", t0, t0.Add(time.Hour))
	byComponent := byService
	byComponent.Services, byComponent.Components = nil, []string{"service/nym-api"}
	for name, w := range map[string]MaintenanceWindow{"service matcher": byService, "component matcher": byComponent} {
		t.Run(name, func(t *testing.T) {
			api := svcT("nym-api")
			api.Service.Kind = probes.ServiceKindNymAPI
			dir := &probes.Target{ID: "service/nym-api-directory", Kind: probes.KindService, Address: "https://nym-api.example/",
				Service: &probes.Service{Name: "nym-api-directory", URL: "https://nym-api.example/", Kind: probes.ServiceKindNymAPI}}
			h := newHarness(t, Options{}, join([]*probes.Target{api, dir}, gateways(1, 20, probes.RoleExitGateway, "FR")))
			h.d.SetMaintenance([]MaintenanceWindow{w})
			h.rounds(2, allUp)
			h.rounds(10, failing("service/nym-api", "service/nym-api-directory"))
			if d := h.disclosable(); len(d) != 0 {
				t.Fatalf("disclosable inside the window: %v; %s", d, h.dump())
			}
			if a := h.one("service/nym-api-directory"); a.Class != ClassInternal {
				t.Errorf("directory fetch: %s", a.Class)
			}
		})
	}
}

func TestMaintenanceUpcomingWindowDoesNothing(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-1", t0.Add(time.Hour), t0.Add(2*time.Hour))})
	h.rounds(2, allUp)
	h.rounds(6, failing("service/nym-api"))
	if a := h.one("service/nym-api"); a.Class != ClassOperational {
		t.Fatalf("before the window starts: %s", h.dump())
	}
}

// The window an anomaly was recorded under survives a restart.
func TestMaintenanceMarkSurvivesRestore(t *testing.T) {
	targets := join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR"))
	h := newHarness(t, Options{}, targets)
	h.d.SetMaintenance([]MaintenanceWindow{maintWin("M-4", t0, roundAt(8))})
	h.rounds(2, allUp)
	h.rounds(4, failing("service/nym-api"))
	snap, err := h.d.Snapshot(h.at)
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, Options{}, targets)
	h2.at = h.at
	if err := h2.d.Restore(snap); err != nil {
		t.Fatal(err)
	}
	// The restarted daemon hands over the windows again (from the store).
	h2.d.SetMaintenance([]MaintenanceWindow{maintWin("M-4", t0, roundAt(8))})
	h2.rounds(6, failing("service/nym-api"))
	a := h2.one("service/nym-api")
	if a.Class != ClassOperational {
		t.Fatalf("after restart and window end: %s", h2.dump())
	}
	containsAll(t, "reason", a.Reason, "during maintenance window M-4 (ended 2026-05-16 11:04 UTC)")
}

func TestValidMaintenanceComponent(t *testing.T) {
	for _, c := range []string{"exit_gateways", "entry_gateways", "mixnodes_layer2", "country/DE", "service/nym-api", "node/1011", "alert/NymAPIDown"} {
		if err := ValidMaintenanceComponent(c); err != nil {
			t.Errorf("%q: %v", c, err)
		}
	}
	for _, c := range []string{"", "*", "service/*", "country/de", "country/DEU", "node/x", "node/", "mixnodes_layer9", "vantage_point", "foo/bar", "service/ x"} {
		if err := ValidMaintenanceComponent(c); err == nil {
			t.Errorf("%q accepted", c)
		}
	}
}

// The team's own Prometheus alert about the planned downtime (service
// label, or named by alertname) is covered too; without a window it pages.
func TestMaintenanceCoversOperationalAlerts(t *testing.T) {
	alert := func(at time.Time) Alert {
		return Alert{Status: AlertFiring, StartsAt: at, Class: ClassOperational, ClassSource: "rule",
			Labels: map[string]string{"alertname": "NymAPIDown", "service": "nym-api"}}
	}
	for _, c := range []struct {
		name     string
		w        *MaintenanceWindow
		internal bool
	}{
		{"service label", &MaintenanceWindow{Services: []string{"nym-api"}}, true},
		{"alert component", &MaintenanceWindow{Components: []string{"alert/NymAPIDown"}}, true},
		{"other service", &MaintenanceWindow{Services: []string{"nymvpn-api"}}, false},
		{"no window", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
			if c.w != nil {
				c.w.ID, c.w.Start, c.w.End, c.w.Reason, c.w.Who = "M-5", t0, t0.Add(time.Hour), "upgrade", "operator"
				h.d.SetMaintenance([]MaintenanceWindow{*c.w})
			}
			h.rounds(2, allUp)
			h.d.ObserveAlerts([]Alert{alert(h.at)}, h.at)
			h.rounds(2, allUp)
			if got := h.one("alert/NymAPIDown").Class == ClassInternal; got != c.internal {
				t.Fatalf("internal = %v, want %v; %s", got, c.internal, h.dump())
			}
		})
	}
}

// A window's reason and author are a human's text: one bounded line in
// the anomaly's reason, whatever was typed.
func TestMaintenanceReasonIsOneBoundedLine(t *testing.T) {
	h := newHarness(t, Options{}, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	w := maintWin("M-1", t0, t0.Add(time.Hour))
	w.Reason = "upgrade\n# Resolved\r\n" + strings.Repeat("x", 1000)
	h.d.SetMaintenance([]MaintenanceWindow{w})
	h.rounds(2, allUp)
	h.rounds(4, failing("service/nym-api"))
	a := h.one("service/nym-api")
	if strings.ContainsAny(a.Reason, "\r\n") || len(a.Reason) > 1000 {
		t.Fatalf("reason not one bounded line (%d bytes): %q", len(a.Reason), a.Reason)
	}
	containsAll(t, "reason", a.Reason, "planned maintenance M-1: upgrade # Resolved xxx")
}
