package disclosure

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"
)

func TestIncidentMetrics(t *testing.T) {
	e := newIncEnv(t)
	op := Actor{Name: "operator"}
	// Two drafts (created at +1m and +2m), one internal record.
	e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	e.apply(t, incGateways("entry_gateways", detector.ClassOperational, incAt(30*time.Minute), 1, 3), incAt(31*time.Minute))
	e.apply(t, incGateways("node/9", detector.ClassInternal, incAt(0), 9, 1), incAt(2*time.Minute))
	e.clock.Set(incAt(11 * time.Minute))

	expect := func(drafts, confirmed int, oldestAge string, delays string) string {
		var b strings.Builder
		b.WriteString(`# HELP nymwatch_draft_oldest_age_seconds How long the oldest draft incident has been waiting for a human to confirm or dismiss it (0 if none).
# TYPE nymwatch_draft_oldest_age_seconds gauge
nymwatch_draft_oldest_age_seconds ` + oldestAge + `
# HELP nymwatch_incidents Incidents recorded, by disclosure class and state.
# TYPE nymwatch_incidents gauge
nymwatch_incidents{class="internal",state="internal"} 1
nymwatch_incidents{class="operational",state="closed"} 0
nymwatch_incidents{class="operational",state="confirmed"} ` + strconv.Itoa(confirmed) + `
nymwatch_incidents{class="operational",state="dismissed"} 0
nymwatch_incidents{class="operational",state="draft"} ` + strconv.Itoa(drafts) + `
nymwatch_incidents{class="operational",state="resolved"} 0
nymwatch_incidents{class="security",state="closed"} 0
nymwatch_incidents{class="security",state="confirmed"} 0
nymwatch_incidents{class="security",state="dismissed"} 0
nymwatch_incidents{class="security",state="draft"} 0
nymwatch_incidents{class="security",state="resolved"} 0
# HELP nymwatch_incident_confirmation_delay_seconds Time from an incident's first_seen (users first experienced issues) to a human's confirmation.
# TYPE nymwatch_incident_confirmation_delay_seconds histogram
`)
		b.WriteString(delays)
		return b.String()
	}
	noDelays := `nymwatch_incident_confirmation_delay_seconds_bucket{le="60"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="300"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="900"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="1800"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="3600"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="7200"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="14400"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="28800"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="86400"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="172800"} 0
nymwatch_incident_confirmation_delay_seconds_bucket{le="+Inf"} 0
nymwatch_incident_confirmation_delay_seconds_sum 0
nymwatch_incident_confirmation_delay_seconds_count 0
`
	names := []string{"nymwatch_incidents", "nymwatch_draft_oldest_age_seconds", "nymwatch_incident_confirmation_delay_seconds"}
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(expect(2, 0, "600", noDelays)), names...); err != nil {
		t.Error(err)
	}

	// Confirm the oldest draft 12 minutes after its first_seen.
	oldest := ""
	for _, inc := range e.all(t) {
		if inc.Component == "service/nym-api" {
			oldest = inc.ID
		}
	}
	if _, err := e.svc.Confirm(t.Context(), oldest, op, incAt(12*time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(incAt(41 * time.Minute))
	oneDelay := strings.NewReplacer(
		`le="900"} 0`, `le="900"} 1`, `le="1800"} 0`, `le="1800"} 1`, `le="3600"} 0`, `le="3600"} 1`,
		`le="7200"} 0`, `le="7200"} 1`, `le="14400"} 0`, `le="14400"} 1`, `le="28800"} 0`, `le="28800"} 1`,
		`le="86400"} 0`, `le="86400"} 1`, `le="172800"} 0`, `le="172800"} 1`, `le="+Inf"} 0`, `le="+Inf"} 1`,
		"_sum 0", "_sum 720", "_count 0", "_count 1",
	).Replace(noDelays)
	// The oldest draft is now the gateway one, disclosable (detected_at)
	// since +30m30s and created at +31m: it waits since detected_at, 570s.
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(expect(1, 1, "570", oneDelay)), names...); err != nil {
		t.Error(err)
	}

	// The counts are loaded from the database at start.
	e.reopen(t)
	e.clock.Set(incAt(41 * time.Minute))
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(expect(1, 1, "570", noDelays)), names...); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}
