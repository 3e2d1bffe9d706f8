package detector

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

func firingAlert(name string, labels map[string]string, start time.Time, c Class) Alert {
	l := map[string]string{"alertname": name}
	for k, v := range labels {
		l[k] = v
	}
	return Alert{Status: AlertFiring, Labels: l, StartsAt: start, Class: c, ClassSource: "label"}
}

func resolvedCopy(a Alert, end time.Time) Alert {
	a.Status, a.EndsAt = AlertResolved, end
	return a
}

// The 6,000-alertname flood at a smaller scale: N distinct
// alertnames of one class make at most max_groups anomalies plus one
// overflow anomaly per class, each with a bounded evidence list.
func TestManyAlertnamesMakeBoundedAnomalies(t *testing.T) {
	const n = 400
	d := New(Options{AlertMaxGroups: 20})
	var alerts []Alert
	for i := range n {
		alerts = append(alerts, firingAlert(fmt.Sprintf("Flood%04d", i), nil, t0.Add(time.Duration(i)*time.Millisecond), ClassInternal))
	}
	alerts = append(alerts, firingAlert("RealOutage", nil, t0, ClassOperational))
	ch := d.ObserveAlerts(alerts, t0.Add(time.Minute))
	if ch.Accepted != n+1 || len(ch.Rejected) != 0 {
		t.Fatalf("accepted %d, rejected %d", ch.Accepted, len(ch.Rejected))
	}
	out := d.Evaluate(t0.Add(time.Minute))
	if len(out) != 20+2 {
		t.Fatalf("%d anomalies for %d alertnames, want 20 groups + 2 overflow (one per class)", len(out), n+1)
	}
	byComp := map[string]Anomaly{}
	for _, a := range out {
		byComp[a.Component] = a
		if len(a.Evidence) > maxAlertEvidence+1 || len(a.Affected) > maxAlertEvidence+1 {
			t.Errorf("%s: %d evidence, %d affected: unbounded", a.Component, len(a.Evidence), len(a.Affected))
		}
		if len(a.Reason) > 4000 {
			t.Errorf("%s: reason of %d bytes", a.Component, len(a.Reason))
		}
	}
	over := byComp["alert/~others-internal"]
	if over.Class != ClassInternal || !strings.Contains(over.Title, "380 internal alert(s) beyond alerts.max_groups") ||
		!strings.Contains(over.Reason, "and 370 more") {
		t.Errorf("overflow anomaly: %+v", over)
	}
	if !over.FirstSeen.Equal(t0.Add(20 * time.Millisecond)) {
		t.Errorf("overflow first_seen %v, want its earliest alert's startsAt", over.FirstSeen)
	}
	// The operational alert came after the cap was full: its own overflow,
	// never mixed with internal noise.
	if op := byComp["alert/~others-operational"]; op.Class != ClassOperational || len(op.Evidence) != 1 {
		t.Errorf("operational overflow: %+v", op)
	}
	// A group with an anomaly keeps taking its alerts when the cap is full.
	d.ObserveAlerts([]Alert{firingAlert("Flood0003", map[string]string{"instance": "b"}, t0, ClassInternal)}, t0.Add(2*time.Minute))
	d.Evaluate(t0.Add(2 * time.Minute))
	open := d.Open()
	if len(open) != 22 {
		t.Fatalf("%d open after a known group grew", len(open))
	}
	for _, a := range open {
		if a.Component == "alert/Flood0003" && !strings.Contains(a.Title, "(2 alerts)") {
			t.Errorf("Flood0003 did not take its second instance: %q", a.Title)
		}
	}
}

// Many instances of one alertname are one anomaly listing the earliest
// instances and a count of the rest; it resolves at the latest endsAt,
// listed or not.
func TestManyInstancesOneAnomaly(t *testing.T) {
	d := New(Options{})
	var alerts []Alert
	for i := range 500 {
		alerts = append(alerts, firingAlert("NodeDown", map[string]string{"instance": fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250)},
			t0.Add(time.Duration(i)*time.Second), ClassOperational))
	}
	d.ObserveAlerts(alerts, t0.Add(time.Hour))
	out := d.Evaluate(t0.Add(time.Hour))
	if len(out) != 1 {
		t.Fatalf("%d anomalies for 500 instances of one alertname", len(out))
	}
	a := out[0]
	if a.Component != "alert/NodeDown" || !a.FirstSeen.Equal(t0) || len(a.Evidence) != maxAlertEvidence+1 || len(a.Affected) != maxAlertEvidence+1 {
		t.Fatalf("anomaly: component %s first_seen %v, %d evidence, %d affected", a.Component, a.FirstSeen, len(a.Evidence), len(a.Affected))
	}
	var rest, inst int
	for _, ev := range a.Evidence {
		switch {
		case ev.TargetID == alertRestID:
			rest++
			if !strings.Contains(ev.Detail, "490 more firing alert(s)") {
				t.Errorf("rest evidence: %q", ev.Detail)
			}
		case strings.Contains(ev.Detail, `instance="10.0.0.`):
			inst++
		}
	}
	if rest != 1 || inst != maxAlertEvidence {
		t.Errorf("evidence lists %d instances by label and %d rest entries: %+v", inst, rest, a.Evidence)
	}
	if !strings.Contains(a.Reason, `500 alert(s) firing: "NodeDown"`) {
		t.Errorf("reason %q", a.Reason)
	}
	// The listed ones resolve first; the list does not grow past its bound.
	var res []Alert
	for i := range maxAlertEvidence + 5 {
		res = append(res, resolvedCopy(alerts[i], t0.Add(2*time.Hour)))
	}
	d.ObserveAlerts(res, t0.Add(2*time.Hour))
	if out := d.Evaluate(t0.Add(2 * time.Hour)); len(out) != 1 || !out[0].Open() || len(out[0].Evidence) != maxAlertEvidence+1 {
		t.Fatalf("after a partial resolution: %+v", out)
	}
	// The rest end, the last one latest: that is when service was restored.
	res = nil
	last := t0.Add(3*time.Hour + 7*time.Second)
	for i := maxAlertEvidence + 5; i < len(alerts); i++ {
		end := t0.Add(3 * time.Hour)
		if i == len(alerts)-1 {
			end = last
		}
		res = append(res, resolvedCopy(alerts[i], end))
	}
	d.ObserveAlerts(res, t0.Add(4*time.Hour))
	out = d.Evaluate(t0.Add(4 * time.Hour))
	if len(out) != 1 || out[0].Open() || !out[0].ResolvedAt.Equal(last) {
		t.Fatalf("resolved: %+v, want resolved_at %v", out, last)
	}
}

// alerts.max_firing: new firing alerts beyond it are refused (returned, not
// held); resolutions and known alerts always get through; security has a
// reserve.
func TestAlertMaxFiring(t *testing.T) {
	d := New(Options{AlertMaxFiring: 10})
	var alerts []Alert
	for i := range 15 {
		alerts = append(alerts, firingAlert("Noise", map[string]string{"i": fmt.Sprint(i)}, t0, ClassInternal))
	}
	ch := d.ObserveAlerts(alerts, t0)
	if ch.Accepted != 10 || len(ch.Rejected) != 5 || ch.MaxFiring != 10 {
		t.Fatalf("accepted %d rejected %d", ch.Accepted, len(ch.Rejected))
	}
	err := ch.Err()
	if e, ok := errors.AsType[*AlertsRejectedError](err); !ok || len(e.Rejected) != 5 || e.Limit != 10 ||
		!strings.Contains(err.Error(), "alerts.max_firing = 10") {
		t.Fatalf("Err() = %v", err)
	}
	// Re-sent with the held ones: those are accepted, the others still not.
	ch = d.ObserveAlerts(alerts, t0.Add(time.Minute))
	if ch.Accepted != 10 || len(ch.Rejected) != 5 {
		t.Fatalf("re-send: accepted %d rejected %d", ch.Accepted, len(ch.Rejected))
	}
	// A security alert is not crowded out by noise.
	sec := firingAlert("SigningKeyExposed", nil, t0, ClassSecurity)
	if ch := d.ObserveAlerts([]Alert{sec}, t0.Add(time.Minute)); len(ch.Rejected) != 0 {
		t.Fatal("security alert refused at the cap")
	}
	// 11 held (the security one in the reserve); two resolve: room for one.
	ch = d.ObserveAlerts([]Alert{resolvedCopy(alerts[0], t0.Add(2*time.Minute)), resolvedCopy(alerts[1], t0.Add(2*time.Minute)),
		alerts[10], alerts[11]}, t0.Add(2*time.Minute))
	if ch.Accepted != 3 || len(ch.Rejected) != 1 || ch.Rejected[0].Labels["i"] != "11" {
		t.Fatalf("after a resolution: accepted %d rejected %+v", ch.Accepted, ch.Rejected)
	}
	if ch := d.ObserveAlerts(nil, t0); ch.Err() != nil {
		t.Fatal("nothing refused, yet an error")
	}
}

// A retried POST (its first save failed after the detector took it) still
// writes its rows: the changes are the POST's alerts, not a diff.
func TestAlertChangesAreThePost(t *testing.T) {
	d := New(Options{})
	var held []Alert
	for i := range 2000 {
		held = append(held, firingAlert("Held", map[string]string{"i": fmt.Sprint(i)}, t0, ClassInternal))
	}
	d.ObserveAlerts(held, t0)
	one := firingAlert("New", nil, t0, ClassOperational)
	for range 2 {
		ch := d.ObserveAlerts([]Alert{one}, t0.Add(time.Minute))
		if len(ch.firing) != 1 || len(ch.ended) != 0 {
			t.Fatalf("a one-alert POST with 2000 held writes %d+%d rows", len(ch.firing), len(ch.ended))
		}
	}
	r := resolvedCopy(held[0], t0.Add(2*time.Minute))
	for range 2 {
		ch := d.ObserveAlerts([]Alert{r}, t0.Add(2*time.Minute))
		if len(ch.firing) != 0 || len(ch.ended) != 1 {
			t.Fatalf("a resolution writes %d+%d rows", len(ch.firing), len(ch.ended))
		}
	}
	snap, err := d.Snapshot(t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Alerts) != 0 {
		t.Fatalf("snapshot holds %d alerts", len(snap.Alerts))
	}
}

// BenchmarkIdleWithAlerts: what 5,000 held alerts cost the daemon while
// nothing arrives: one Evaluate (every second) and one state snapshot
// (every 5 s).
func BenchmarkIdleWithAlerts(b *testing.B) {
	d := New(Options{})
	var pre []Alert
	for i := range 5000 {
		pre = append(pre, firingAlert(fmt.Sprintf("Held%d", i%3), map[string]string{"instance": fmt.Sprint(i)}, t0, ClassInternal))
	}
	d.ObserveAlerts(pre, t0)
	d.Evaluate(t0)
	b.Run("evaluate", func(b *testing.B) {
		for i := range b.N {
			d.Evaluate(t0.Add(time.Duration(i+1) * time.Second))
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		for range b.N {
			if _, err := d.Snapshot(t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// An alert that fires and resolves between two evaluations is still
// recorded (opened and resolved at once), not lost.
func TestAlertFiredAndResolvedBetweenEvaluations(t *testing.T) {
	d := New(Options{})
	a := firingAlert("Blink", nil, t0, ClassOperational)
	d.ObserveAlerts([]Alert{a}, t0.Add(time.Second))
	d.ObserveAlerts([]Alert{resolvedCopy(a, t0.Add(2*time.Second))}, t0.Add(2*time.Second))
	out := d.Evaluate(t0.Add(3 * time.Second))
	if len(out) != 1 || out[0].Open() || !out[0].FirstSeen.Equal(t0) || !out[0].ResolvedAt.Equal(t0.Add(2*time.Second)) ||
		out[0].ID != anomalyID("alert/Blink", unixms.From(t0)) {
		t.Fatalf("fired and resolved between evaluations: %+v", out)
	}
	if out := d.Evaluate(t0.Add(4 * time.Second)); len(out) != 0 {
		t.Fatalf("recorded twice: %+v", out)
	}
}

// What one held alert may cost is bounded, whatever the body limit: labels
// (its identity) past 8 KiB are refused, annotations are clipped.
func TestAlertSizeBounded(t *testing.T) {
	labels := map[string]string{"alertname": "Big"}
	for i := range 3 {
		labels[fmt.Sprintf("l%d", i)] = strings.Repeat("x", 3000)
	}
	_, _, err := decodeWebhook(amPayload(amAlert("firing", labels, "2026-05-16T11:58:00Z", zeroTime, "")), t0, nil, ClassOperational)
	if err == nil || !strings.Contains(err.Error(), "labels total 9018 bytes, more than 8192") {
		t.Fatalf("9 KB of labels: %v", err)
	}
	ann := map[string]string{"summary": strings.Repeat("s", 5000), "description": "short", "zzz": strings.Repeat("z", 3000)}
	for i := range 50 {
		ann[fmt.Sprintf("a%02d", i)] = strings.Repeat("a", 500)
	}
	al := amAlert("firing", map[string]string{"alertname": "Chatty"}, "2026-05-16T11:58:00Z", zeroTime, "")
	al["annotations"] = ann
	got, _, err := decodeWebhook(amPayload(al), t0, nil, ClassOperational)
	if err != nil {
		t.Fatal(err)
	}
	a := got[0].Annotations
	if n := mapBytes(a); n > maxAnnotationBytes {
		t.Errorf("annotations kept: %d bytes", n)
	}
	if len(a["summary"]) > maxAnnotationLen+len("…") || a["description"] != "short" || a["summary"] == "" {
		t.Errorf("summary/description not kept first: %d bytes summary, description %q", len(a["summary"]), a["description"])
	}
}

// component labels naming probe components count toward max_groups too:
// a sender can invent any number of node/N.
func TestComponentLabelsBounded(t *testing.T) {
	d := New(Options{AlertMaxGroups: 5})
	var alerts, resolved []Alert
	for i := range 50 {
		a := firingAlert("NodeBad", map[string]string{"component": fmt.Sprintf("node/%d", 1000+i)}, t0, ClassOperational)
		alerts = append(alerts, a)
		r := firingAlert("NodeBlip", map[string]string{"component": fmt.Sprintf("node/%d", 2000+i)}, t0, ClassOperational)
		resolved = append(resolved, resolvedCopy(r, t0.Add(time.Second)))
	}
	d.ObserveAlerts(alerts, t0)
	if out := d.Evaluate(t0); len(out) != 6 {
		t.Fatalf("50 node components: %d anomalies, want 5 + 1 overflow", len(out))
	}
	d.ObserveAlerts(resolved, t0.Add(time.Second))
	// 5 groups of their own; the rest join the open overflow anomaly.
	if out := d.Evaluate(t0.Add(time.Second)); len(out) > 6 {
		t.Fatalf("50 resolved node components: %d anomalies, want at most 5 + 1 overflow", len(out))
	}
}
