package detector

import (
	"slices"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// wantAnomaly is one expected anomaly of a scenario.
type wantAnomaly struct {
	component string
	class     Class
	arch      Architecture
	open      bool
	reason    []string // substrings of the reason
}

// TestClassificationTable covers every row of DESIGN.md's classification
// table (and the refinements), one scenario each.
func TestClassificationTable(t *testing.T) {
	exit20 := gateways(100, 20, probes.RoleExitGateway, "FR")
	cases := []struct {
		name    string
		opts    Options
		targets []*probes.Target
		script  func(h *harness)
		want    []wantAnomaly
		// disclosableOK lists the only components allowed a disclosable class.
		disclosableOK []string
	}{
		{
			name:    "centralized service failing is operational",
			targets: join([]*probes.Target{svcT("nym-api")}, exit20),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing("service/nym-api"))
			},
			want: []wantAnomaly{{component: "service/nym-api", class: ClassOperational, arch: ArchCentralized, open: true,
				reason: []string{"nym-api failing for", "timeout", "API or infrastructure outage preventing connections"}}},
			disclosableOK: []string{"service/nym-api"},
		},
		{
			name:    "service far slower than its baseline, sustained, is operational",
			opts:    Options{DegradationSustain: 2 * time.Minute},
			targets: join([]*probes.Target{svcT("nymvpn-api")}, exit20),
			script: func(h *harness) {
				h.rounds(12, allUp)
				h.rounds(10, func(t *probes.Target) outcome {
					if t.ID == "service/nymvpn-api" {
						return outcome{ok: true, latency: 900 * time.Millisecond}
					}
					return up
				})
			},
			want: []wantAnomaly{{component: "service/nymvpn-api", class: ClassOperational, arch: ArchCentralized, open: true,
				reason: []string{"median latency 900ms vs baseline 40ms", "performance degradation"}}},
			disclosableOK: []string{"service/nymvpn-api"},
		},
		{
			name:    "service answering over its latency limit, sustained, is operational",
			opts:    Options{DegradationSustain: 2 * time.Minute},
			targets: join([]*probes.Target{svcT("accounts")}, exit20),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(9, func(t *probes.Target) outcome {
					if t.ID == "service/accounts" {
						return slowAns
					}
					return up
				})
			},
			want: []wantAnomaly{{component: "service/accounts", class: ClassOperational, arch: ArchCentralized, open: true,
				reason: []string{"accounts answering over its latency limit since", "performance degradation"}}},
			disclosableOK: []string{"service/accounts"},
		},
		{
			name:    "exit gateways at or above the ratio are operational",
			targets: exit20,
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(nids(100, 101, 102)...))
			},
			want: []wantAnomaly{{component: "exit_gateways", class: ClassOperational, arch: ArchDecentralized, open: true,
				reason: []string{"3 of 20 exit gateways (15%) unreachable for 1m", "threshold 10% and at least 2",
					"NymVPN connectivity problems or gateway unavailability"}}},
			disclosableOK: []string{"exit_gateways"},
		},
		{
			name: "a whole country's gateways down is operational (third-party infrastructure)",
			targets: join(gateways(1, 3, probes.RoleExitGateway, "DE"),
				gateways(10, 37, probes.RoleExitGateway, "FR")),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(nids(1, 2, 3)...))
			},
			want: []wantAnomaly{
				{component: "country/DE", class: ClassOperational, arch: ArchDecentralized, open: true,
					reason: []string{"3 of 3 gateways in DE (100%)", "third-party infrastructure failure"}},
				// 3 of 40 = 7.5%: below the gateway ratio on its own.
				{component: "exit_gateways", class: ClassInternal, arch: ArchDecentralized, open: true,
					reason: []string{"3 of 40 exit gateways (8%)", "localized to specific operators"}},
			},
			disclosableOK: []string{"country/DE"},
		},
		{
			name:    "a mix layer at or above the ratio is network performance degradation",
			targets: join(mixnodes(200, 8, 2), mixnodes(300, 8, 1)),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(nids(200, 201)...))
			},
			want: []wantAnomaly{{component: "mixnodes_layer2", class: ClassOperational, arch: ArchDecentralized, open: true,
				reason: []string{"2 of 8 layer 2 mix nodes (25%)", "network performance degradation"}}},
			disclosableOK: []string{"mixnodes_layer2"},
		},
		{
			name:    "network-wide latency degradation against the baseline is operational",
			opts:    Options{DegradationSustain: 2 * time.Minute},
			targets: gateways(1, 10, probes.RoleEntryGateway, "CH"),
			script: func(h *harness) {
				h.rounds(12, allUp)
				h.rounds(10, func(*probes.Target) outcome { return outcome{ok: true, latency: 700 * time.Millisecond} })
			},
			want: []wantAnomaly{{component: "entry_gateways", class: ClassOperational, arch: ArchDecentralized, open: true,
				reason: []string{"median latency 700ms vs baseline 40ms", "network performance degradation"}}},
			disclosableOK: []string{"entry_gateways"},
		},
		{
			name: "network-wide success ratio degradation (no node crosses its own threshold) is operational",
			// Each node fails one round in three: never FailureThreshold in a
			// row; flap detection is set out of reach to isolate the ratio.
			opts:    Options{DegradationSustain: 2 * time.Minute, FlapTransitions: 1000},
			targets: gateways(1, 10, probes.RoleEntryGateway, "CH"),
			script: func(h *harness) {
				h.rounds(12, allUp)
				for r := range 10 {
					h.round(func(t *probes.Target) outcome {
						if int(t.Node.NodeID)%3 == r%3 && t.Node.NodeID <= 9 {
							return down
						}
						return up
					})
				}
			},
			want: []wantAnomaly{{component: "entry_gateways", class: ClassOperational, arch: ArchDecentralized, open: true,
				reason: []string{"success ratio 70% vs baseline 100%", "network performance degradation"}}},
			disclosableOK: []string{"entry_gateways"},
		},
		{
			name:    "an alert labelled security is security",
			targets: exit20,
			script: func(h *harness) {
				h.rounds(1, allUp)
				h.d.ObserveAlerts([]Alert{{Status: AlertFiring, Labels: map[string]string{"alertname": "SigningKeyExposed", "class": "security"},
					Annotations: map[string]string{"summary": "zk-nym signer key readable"}, StartsAt: t0.Add(-time.Minute),
					Class: ClassSecurity, ClassSource: "label"}}, h.at)
				h.eval(h.at)
			},
			want: []wantAnomaly{{component: "alert/SigningKeyExposed", class: ClassSecurity, arch: ArchCentralized, open: true,
				reason: []string{`"SigningKeyExposed"`, "security:", "its class label"}}},
			disclosableOK: []string{"alert/SigningKeyExposed"},
		},
		{
			name:    "a single node below the threshold is internal",
			targets: exit20,
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(nid(105)))
			},
			want: []wantAnomaly{{component: "exit_gateways", class: ClassInternal, arch: ArchDecentralized, open: true,
				reason: []string{"1 of 20 exit gateways (5%)", "localized to specific operators"}}},
		},
		{
			name:    "one node is never an incident, even above the ratio",
			targets: gateways(1, 5, probes.RoleEntryGateway, "CH"),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(nid(1)))
			},
			want: []wantAnomaly{{component: "entry_gateways", class: ClassInternal, arch: ArchDecentralized, open: true,
				reason: []string{"1 of 5 entry gateways (20%)", "at least 2", "localized to specific operators"}}},
		},
		{
			name:    "a failure that recovered before the user-impact threshold is internal",
			opts:    Options{ServiceFailureFor: 5 * time.Minute},
			targets: join([]*probes.Target{svcT("payments")}, exit20),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(5, failing("service/payments"))
				h.rounds(3, allUp)
			},
			want: []wantAnomaly{{component: "service/payments", class: ClassInternal, arch: ArchCentralized, open: false,
				reason: []string{"internal: operational once it has failed for 5m0s", "resolved before user impact"}}},
		},
		{
			name: "the monitor's own vantage point cut off is internal and nothing else is disclosed",
			targets: join([]*probes.Target{ctrlT("one.example"), ctrlT("two.example"), svcT("nym-api")},
				exit20, gateways(1, 10, probes.RoleEntryGateway, "CH")),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(6, func(*probes.Target) outcome { return down })
				h.rounds(3, allUp)
			},
			want: []wantAnomaly{{component: "vantage_point", class: ClassInternal, arch: ArchCentralized, open: false,
				reason: []string{"2 of 2 control targets (100%)", "vantage point is cut off", "never paged for disclosure"}}},
		},
		{
			name: "staging targets are internal and never counted",
			targets: func() []*probes.Target {
				ts := gateways(1, 10, probes.RoleExitGateway, "DE")
				for _, t := range ts[:4] {
					t.Node.Staging = true
				}
				s := svcT("nym-api-staging")
				s.Staging = true
				return append(ts, s)
			}(),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(append(nids(1, 2, 3, 4), "service/nym-api-staging")...))
			},
			want: []wantAnomaly{
				{component: "node/1", class: ClassInternal, arch: ArchDecentralized, open: true, reason: []string{"staging / pre-production"}},
				{component: "node/4", class: ClassInternal, arch: ArchDecentralized, open: true, reason: []string{"staging / pre-production"}},
				{component: "service/nym-api-staging", class: ClassInternal, arch: ArchCentralized, open: true,
					reason: []string{"staging / pre-production", "never counted toward user-impact thresholds"}},
			},
		},
		{
			name: "standby and inactive nodes carry no user traffic",
			targets: join(gateways(1, 4, probes.RoleStandby, "DE"), gateways(10, 4, probes.RoleInactive, "DE"),
				gateways(20, 4, probes.RoleExitGateway, "FR")),
			script: func(h *harness) {
				h.rounds(2, allUp)
				h.rounds(4, failing(append(idRange(1, 4), idRange(10, 4)...)...))
			},
			want: []wantAnomaly{{component: "standby_nodes", class: ClassInternal, arch: ArchDecentralized, open: true,
				reason: []string{"8 of 8 standby/inactive nodes unreachable", "carry no user traffic", "never disclosable on its own"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, tc.targets)
			tc.script(h)
			for _, w := range tc.want {
				a := h.one(w.component)
				if a.Class != w.class || a.Architecture != w.arch || a.Open() != w.open {
					t.Errorf("%s: got class %s arch %s open %v, want %s %s %v; reason: %s",
						w.component, a.Class, a.Architecture, a.Open(), w.class, w.arch, w.open, a.Reason)
				}
				containsAll(t, w.component+" reason", a.Reason, w.reason...)
				if a.FirstSeen.IsZero() || a.DetectedAt.Before(a.FirstSeen) {
					t.Errorf("%s: first_seen %v detected_at %v", w.component, a.FirstSeen, a.DetectedAt)
				}
			}
			for _, id := range h.disclosable(tc.disclosableOK...) {
				t.Errorf("unexpected disclosable anomaly %s; all: %s", id, h.dump())
			}
			if len(tc.disclosableOK) > 0 && !slices.ContainsFunc(tc.want, func(w wantAnomaly) bool { return w.class.Disclosable() }) {
				t.Fatal("test case lists disclosable components but wants none")
			}
		})
	}
}
