package disclosure

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

// Tests of issue 10 item 7: the report says only what was measured.

// incidentOf returns the id of the incident holding anomaly a.
func incidentOf(t *testing.T, e *incEnv, a detector.Anomaly) string {
	t.Helper()
	for _, inc := range e.all(t) {
		full := e.get(t, inc.ID)
		for _, m := range full.Anomalies {
			if m.ID == a.ID {
				return inc.ID
			}
		}
	}
	t.Fatalf("no incident holds %s", a.ID)
	return ""
}

func section(md, heading string) string {
	i := strings.Index(md, "\n## "+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := md[i+len(heading)+5:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func wantIn(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func wantNotIn(t *testing.T, what, text string, bads ...string) {
	t.Helper()
	for _, b := range bads {
		if strings.Contains(text, b) {
			t.Errorf("%s says %q:\n%s", what, b, text)
		}
	}
}

// TestReportOtherSideFromMeasurement: section VI's statement about the
// other side names what was probed when nothing failed there, and links
// both ways when a concurrent incident exists there.
func TestReportOtherSideFromMeasurement(t *testing.T) {
	e := newIncEnv(t)
	measuring(e, reportMeasured)
	gw := incGateways("exit_gateways", detector.ClassOperational, incAt(0), 2210, 3)
	e.apply(t, gw, incAt(2*time.Minute))
	net := incidentOf(t, e, gw)
	e.clock.Set(incAt(10 * time.Minute))

	arch := section(RenderMarkdown(e.get(t, net)), "Architecture context")
	wantIn(t, "network report alone", arch,
		"No centralized service failed since this incident began (measured by nymwatch: nym-api, nymvpn-api, nym-api directory; as of 2026-11-25T10:10:00.123Z).")
	wantNotIn(t, "network report alone", arch, "not part of this incident", "also failed")

	// nym-api fails 20 minutes in, while the gateways are still down.
	api := incService("nym-api", detector.ClassOperational, incAt(20*time.Minute))
	e.apply(t, api, incAt(21*time.Minute))
	central := incidentOf(t, e, api)
	e.clock.Set(incAt(30 * time.Minute))

	netInc, centralInc := e.get(t, net), e.get(t, central)
	wantIn(t, "network report", section(RenderMarkdown(netInc), "Architecture context"),
		"Centralized services also failed since this incident began: see "+central+" (nym-api failing).")
	wantIn(t, "centralized report", section(RenderMarkdown(centralInc), "Architecture context"),
		"The decentralized network also failed since this incident began: see "+net+" (Exit gateways unreachable).")
	wantNotIn(t, "network report", RenderMarkdown(netInc), "No centralized service failed")
	for _, c := range []struct{ inc, other *Incident }{{netInc, centralInc}, {centralInc, netInc}} {
		b, err := json.Marshal(c.inc)
		if err != nil {
			t.Fatal(err)
		}
		var j struct {
			Concurrent []struct{ ID, Architecture string } `json:"concurrent"`
		}
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		if len(j.Concurrent) != 1 || j.Concurrent[0].ID != c.other.ID || j.Concurrent[0].Architecture != string(c.other.Architecture) {
			t.Errorf("%s: concurrent %+v, want %s", c.inc.ID, j.Concurrent, c.other.ID)
		}
	}

	// Both resolve; a later nymvpn-api outage overlaps neither.
	gw.ResolvedAt, api.ResolvedAt = incAt(40*time.Minute), incAt(35*time.Minute)
	e.apply(t, gw, incAt(41*time.Minute))
	e.apply(t, api, incAt(41*time.Minute))
	later := incService("nymvpn-api", detector.ClassOperational, incAt(3*time.Hour))
	e.apply(t, later, incAt(3*time.Hour+time.Minute))
	e.clock.Set(incAt(4 * time.Hour))
	wantIn(t, "resolved network report", section(RenderMarkdown(e.get(t, net)), "Architecture context"),
		"Centralized services also failed during this incident: see "+central)
	wantNotIn(t, "resolved network report", RenderMarkdown(e.get(t, net)), incidentOf(t, e, later))
	wantIn(t, "later centralized report", section(RenderMarkdown(e.get(t, incidentOf(t, e, later))), "Architecture context"),
		"No node failure was detected since this incident began (measured by nymwatch: 640 nodes probed;")
}

// TestReportOtherSideBelowThreshold: an internal record on the other side
// is not hidden behind "no centralized service failed".
func TestReportOtherSideBelowThreshold(t *testing.T) {
	e := newIncEnv(t)
	measuring(e, reportMeasured)
	gw := incGateways("exit_gateways", detector.ClassOperational, incAt(0), 2210, 3)
	e.apply(t, gw, incAt(2*time.Minute))
	slow := incService("nymvpn-api", detector.ClassInternal, incAt(time.Minute))
	e.apply(t, slow, incAt(2*time.Minute))
	e.clock.Set(incAt(5 * time.Minute))
	arch := section(RenderMarkdown(e.get(t, incidentOf(t, e, gw))), "Architecture context")
	wantIn(t, "network report", arch, "No centralized service failed past a disclosure threshold since this incident began",
		"failures below it were recorded as "+incidentOf(t, e, slow))
	wantNotIn(t, "network report", arch, "No centralized service failed since")
}

// TestReportOtherSideUnmeasured: with nothing probed on the other side the
// report asks a human instead of asserting.
func TestReportOtherSideUnmeasured(t *testing.T) {
	e := newIncEnv(t)
	measuring(e, Measured{Nodes: 640}) // no centralized service configured
	gw := incGateways("exit_gateways", detector.ClassOperational, incAt(0), 2210, 3)
	e.apply(t, gw, incAt(2*time.Minute))
	inc := e.get(t, incidentOf(t, e, gw))
	wantIn(t, "report", section(RenderMarkdown(inc), "Architecture context"), ToBeFilled+": nymwatch does not probe any centralized service")
	wantNotIn(t, "report", RenderMarkdown(inc), "No centralized service failed")
	if !slices.Contains(inc.Report.Unfilled(), "architecture_context") {
		t.Errorf("architecture_context not listed to be filled: %v", inc.Report.Unfilled())
	}
}

// TestReportPrivacyIsAProposal: the privacy paragraphs are never asserted
// by the draft; they are proposed under "Still to be filled in before
// publishing" until a human writes the field (through the audited edit).
func TestReportPrivacyIsAProposal(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    detector.Anomaly
	}{
		{"decentralized", incGateways("exit_gateways", detector.ClassOperational, incAt(0), 2210, 3)},
		{"centralized", incService("nym-api", detector.ClassOperational, incAt(0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newIncEnv(t)
			measuring(e, reportMeasured)
			e.apply(t, tc.a, incAt(2*time.Minute))
			id := incidentOf(t, e, tc.a)
			inc := e.get(t, id)
			md := RenderMarkdown(inc)
			privacy := section(md, "Privacy impact assessment")
			wantIn(t, "privacy section", privacy, ToBeFilled)
			for _, claim := range []string{"did not expose user data", "remained intact", "Multi-layer encryption"} {
				if strings.Contains(privacy, claim) || strings.Contains(section(md, "What users should do"), claim) {
					t.Errorf("the draft asserts %q as fact", claim)
				}
			}
			todo := section(md, StillToFill)
			wantIn(t, "still-to-fill part", todo, "Privacy impact assessment (`privacy_impact`): proposed text below",
				"> What was potentially affected: availability only.", "did not expose user data", "Multi-layer encryption remained intact")
			if strings.Index(md, "did not expose user data") > strings.Index(md, "\n## Headline summary\n") {
				t.Error("the proposal appears inside the report body")
			}
			if !slices.Contains(inc.Report.Unfilled(), "privacy_impact") || inc.Proposals["privacy_impact"] == "" {
				t.Fatalf("unfilled %v, proposals %v", inc.Report.Unfilled(), inc.Proposals)
			}
			wantIn(t, "privacy_impact proposal", inc.Proposals["privacy_impact"], "What remained intact:")

			// A human confirms the proposal by saving it as the field.
			confirmed := inc.Proposals["privacy_impact"]
			after, err := e.svc.Edit(t.Context(), id, map[string]*string{"privacy_impact": &confirmed},
				Actor{Name: "operator:alice"}, incAt(5*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			md = RenderMarkdown(after)
			if slices.Contains(after.Report.Unfilled(), "privacy_impact") || strings.Contains(md, "Proposed privacy") {
				t.Errorf("confirmed privacy still listed as to be filled:\n%s", md)
			}
			wantIn(t, "confirmed privacy section", section(md, "Privacy impact assessment"), "did not expose user data")
			if got := incActions(after); !slices.Contains(got, "edited") {
				t.Errorf("the confirmation is not audited: %v", got)
			}
		})
	}
}

// TestReportLocalizedOnlyWhenFew: "localized to specific operators" only
// for at most maxLocalizedNodes nodes, below every outage threshold and
// not part of a disclosable failure of the same targets.
func TestReportLocalizedOnlyWhenFew(t *testing.T) {
	const whyLocalized = "4 of 10 exit gateways unreachable for 1m0s; internal: below the user-impact threshold; network node issues are localized to specific operators (policy VI)"
	tests := []struct {
		name      string
		build     func(t *testing.T, e *incEnv) detector.Anomaly
		localized bool
		why       string
	}{
		{"one node", func(t *testing.T, e *incEnv) detector.Anomaly {
			a := incGateways("node/1399", detector.ClassInternal, incAt(0), 1399, 1)
			a.Reason = whyLocalized
			return a
		}, true, ""},
		{"three nodes", func(t *testing.T, e *incEnv) detector.Anomaly {
			a := incGateways("exit_gateways", detector.ClassInternal, incAt(0), 1399, 3)
			a.Reason = whyLocalized
			return a
		}, true, ""},
		{"four nodes below the threshold", func(t *testing.T, e *incEnv) detector.Anomaly {
			a := incGateways("exit_gateways", detector.ClassInternal, incAt(0), 1399, 4)
			a.Reason = whyLocalized
			return a
		}, false, "4 nodes affected, more than 3"},
		{"two nodes past the threshold", func(t *testing.T, e *incEnv) detector.Anomaly {
			return incGateways("exit_gateways", detector.ClassOperational, incAt(0), 1399, 2)
		}, false, "2 nodes affected and an outage threshold was crossed"},
		{"one node of a disclosable outage", func(t *testing.T, e *incEnv) detector.Anomaly {
			e.apply(t, incGateways("entry_gateways", detector.ClassOperational, incAt(0), 1399, 4), incAt(time.Minute))
			a := incGateways("node/1399", detector.ClassInternal, incAt(0), 1399, 1)
			a.Reason = whyLocalized
			return a
		}, false, "its targets were also part of INC-20261125-0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newIncEnv(t)
			measuring(e, reportMeasured)
			a := tt.build(t, e)
			e.apply(t, a, incAt(2*time.Minute))
			md := RenderMarkdown(e.get(t, incidentOf(t, e, a)))
			if got := strings.Contains(md, "localized to specific operators") && !strings.Contains(md, "not localized"); got != tt.localized {
				t.Errorf("localized = %v, want %v:\n%s", got, tt.localized, md)
			}
			if !tt.localized {
				wantIn(t, "report", md, "not localized to specific operators", tt.why)
				wantNotIn(t, "report", md, "localized to specific operators (policy VI)", "The failure was localized")
			}
		})
	}
}

// TestReportBeforeUserImpactOnlyWithoutThreshold: "resolved before user
// impact" only when no disclosure threshold was crossed, by the incident
// or by a disclosable one sharing its targets (a gateway down for hours
// while its group's outage was disclosed).
func TestReportBeforeUserImpactOnlyWithoutThreshold(t *testing.T) {
	const note = "1 of 10 exit gateways unreachable for 3h0m0s; resolved: recovered; resolved before user impact: it never crossed the user-impact threshold"
	internal := func() detector.Anomaly {
		a := incGateways("node/2210", detector.ClassInternal, incAt(0), 2210, 1)
		a.Reason, a.ResolvedAt = note, incAt(3*time.Hour)
		return a
	}
	t.Run("alone", func(t *testing.T) {
		e := newIncEnv(t)
		a := internal()
		e.apply(t, a, incAt(3*time.Hour))
		wantIn(t, "report", RenderMarkdown(e.get(t, incidentOf(t, e, a))), "resolved before user impact")
	})
	t.Run("its targets were in a disclosed outage", func(t *testing.T) {
		e := newIncEnv(t)
		outage := incGateways("exit_gateways", detector.ClassOperational, incAt(time.Hour), 2210, 4)
		e.apply(t, outage, incAt(time.Hour+2*time.Minute))
		a := internal()
		e.apply(t, a, incAt(3*time.Hour))
		md := RenderMarkdown(e.get(t, incidentOf(t, e, a)))
		wantNotIn(t, "report", md, "resolved before user impact")
		wantIn(t, "report", md, "resolved, not before user impact (its targets were also part of "+incidentOf(t, e, outage))
	})
	t.Run("promoted", func(t *testing.T) {
		e := newIncEnv(t)
		a := internal()
		a.Promotions = []detector.Promotion{{At: incAt(time.Hour), From: detector.ClassInternal, To: detector.ClassOperational}}
		e.apply(t, a, incAt(3*time.Hour))
		md := RenderMarkdown(e.get(t, incidentOf(t, e, a)))
		wantNotIn(t, "report", md, "resolved before user impact")
		wantIn(t, "report", md, "not before user impact (a disclosure threshold was crossed)")
	})
}

// TestReportDurationsStayCurrent: the detector's "unreachable for 1m1s"
// is its age when the reason last changed; the report shows the age now
// while open and the final one once resolved.
func TestReportDurationsStayCurrent(t *testing.T) {
	e := newIncEnv(t)
	measuring(e, reportMeasured)
	a := incGateways("exit_gateways", detector.ClassOperational, incAt(0), 2210, 3)
	a.Reason = "3 of 10 exit gateways unreachable for 1m1s; threshold 10% and at least 2; degradation not yet sustained for 5m0s; operational: NymVPN connectivity problems or gateway unavailability (policy II)"
	e.apply(t, a, incAt(61*time.Second))
	id := incidentOf(t, e, a)

	e.clock.Set(incAt(3*time.Hour + 2*time.Second))
	md := RenderMarkdown(e.get(t, id))
	wantIn(t, "open report", md, "unreachable for 3h0m2s;", "Ongoing for: 3h0m2s (as of 2026-11-25T13:00:02.123Z)",
		"not yet sustained for 5m0s") // a configured duration is not an age
	wantNotIn(t, "open report", md, "1m1s", "Total time to resolution")

	a.ResolvedAt = incAt(3*time.Hour + 10*time.Minute)
	e.apply(t, a, incAt(3*time.Hour+10*time.Minute))
	e.clock.Set(incAt(9 * time.Hour))
	md = RenderMarkdown(e.get(t, id))
	wantIn(t, "resolved report", md, "unreachable for 3h10m0s;", "Total time to resolution: 3h10m0s")
	wantNotIn(t, "resolved report", md, "Ongoing for", "9h")
}

// TestReportSecurityTimelineSaysContained: a security incident's timeline
// never says "service restored".
func TestReportSecurityTimelineSaysContained(t *testing.T) {
	e := newIncEnv(t)
	measuring(e, reportMeasured)
	a := detector.Anomaly{
		ID: "alert/KeyExposed@1", Component: "alert/KeyExposed", Class: detector.ClassSecurity,
		Architecture: detector.ArchCentralized, Title: "Key possibly exposed", Reason: "alert labelled class=security",
		Source: "alertmanager", Affected: []string{"alert/KeyExposed"}, FirstSeen: incAt(0), DetectedAt: incAt(0),
	}
	b := a
	b.ID, b.Component, b.Affected, b.Title = "alert/KeyUsed@1", "alert/KeyUsed", []string{"alert/KeyUsed"}, "Key used from an unknown host"
	e.apply(t, a, incAt(time.Second))
	e.apply(t, b, incAt(2*time.Second))
	id := incidentOf(t, e, a)
	md := RenderMarkdown(e.get(t, id))
	wantIn(t, "open security report", section(md, "Timeline"), "- Contained / resolved: not yet")
	wantNotIn(t, "open security report", md, "Service restored", "restored")

	a.ResolvedAt, b.ResolvedAt = incAt(time.Hour), incAt(time.Hour)
	e.apply(t, a, incAt(time.Hour))
	e.apply(t, b, incAt(time.Hour))
	md = RenderMarkdown(e.get(t, id))
	wantIn(t, "resolved security report", section(md, "Timeline"), "- Contained / resolved: 2026-11-25T11:00:00.123Z", "cleared 2026-11-25T11:00:00.123Z")
	wantNotIn(t, "resolved security report", md, "Service restored", "restored", "service was restored")
}
