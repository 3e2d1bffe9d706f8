package detector

import (
	"fmt"
	"testing"

	"github.com/nymwatch/nymwatch/probes"
)

// TestCountryRuleCountsGateways: a country is judged on its gateways
// (entry and exit) only; its mix nodes are judged by layer. Every gateway of
// a country down is operational from MinFailingGateways (default 2) on; a
// country's only gateway is the single-node case (internal, on its role
// group).
func TestCountryRuleCountsGateways(t *testing.T) {
	// 37 healthy exit gateways elsewhere keep the role groups below their
	// ratio, so only the country rule can disclose.
	elsewhere := gateways(500, 37, probes.RoleExitGateway, "FR")
	isMix := func(n int) []*probes.Target {
		var out []*probes.Target
		for i := range n {
			out = append(out, nodeT(uint32(300+i), probes.RoleMixnode, 1+i%3, "IS"))
		}
		return out
	}
	cases := []struct {
		name    string
		opts    Options
		targets []*probes.Target
		fail    []string
		want    Class // "" = no country/IS anomaly at all
		reason  []string
	}{
		{
			name:    "all 3 exit gateways of a small country, with 10 healthy mix nodes there",
			targets: join(gateways(1, 3, probes.RoleExitGateway, "IS"), isMix(10), elsewhere),
			fail:    nids(1, 2, 3),
			want:    ClassOperational,
			reason:  []string{"3 of 3 gateways in IS (100%)", "third-party infrastructure failure"},
		},
		{
			name: "both gateways (one entry, one exit) of a country",
			targets: join(gateways(1, 1, probes.RoleEntryGateway, "IS"), gateways(2, 1, probes.RoleExitGateway, "IS"),
				isMix(4), elsewhere),
			fail:   nids(1, 2),
			want:   ClassOperational,
			reason: []string{"2 of 2 gateways in IS (100%)", "all of its 2 gateways down", "no user can connect through IS at all"},
		},
		{
			name:    "a country's only gateway is one node: internal on its role group, no country anomaly",
			targets: join(gateways(1, 1, probes.RoleExitGateway, "IS"), isMix(4), elsewhere),
			fail:    nids(1),
		},
		{
			name:    "a country's only gateway with min_failing_gateways 1 is operational",
			opts:    Options{MinFailingGateways: 1},
			targets: join(gateways(1, 1, probes.RoleExitGateway, "IS"), elsewhere),
			fail:    nids(1),
			want:    ClassOperational,
			reason:  []string{"1 of 1 gateways in IS (100%)", "all of its 1 gateways down"},
		},
		{
			name:    "2 of 3 gateways: over the ratio but under country_min_nodes",
			targets: join(gateways(1, 3, probes.RoleExitGateway, "IS"), elsewhere),
			fail:    nids(1, 2),
		},
		{
			name:    "4 of 6 gateways: ratio and minimum met",
			targets: join(gateways(1, 6, probes.RoleEntryGateway, "IS"), elsewhere),
			fail:    nids(1, 2, 3, 4),
			want:    ClassOperational,
			reason:  []string{"4 of 6 gateways in IS (67%)", "threshold 50% and at least 3"},
		},
		{
			name:    "every mix node of a country down: judged by layer, not as the country",
			targets: join(gateways(1, 3, probes.RoleExitGateway, "IS"), isMix(6), elsewhere),
			fail:    nids(300, 301, 302, 303, 304, 305),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, tc.targets)
			h.rounds(2, allUp)
			h.rounds(4, failing(tc.fail...))
			as := h.byComponent("country/IS")
			if tc.want == "" {
				if len(as) != 0 {
					t.Fatalf("want no country anomaly, got %s", h.dump())
				}
				return
			}
			a := h.one("country/IS")
			if a.Class != tc.want || !a.Open() || a.Architecture != ArchDecentralized {
				t.Fatalf("got %s open=%v: %s", a.Class, a.Open(), a.Reason)
			}
			containsAll(t, "reason", a.Reason, tc.reason...)
			if len(a.Affected) != len(tc.fail) {
				t.Errorf("affected %v, want the %d failing gateways", a.Affected, len(tc.fail))
			}
			if want := fmt.Sprintf("Gateways in IS: %d of", len(tc.fail)); len(a.Title) < len(want) || a.Title[:len(want)] != want {
				t.Errorf("title %q, want it to start %q", a.Title, want)
			}
		})
	}
}
