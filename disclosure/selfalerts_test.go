package disclosure

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"

	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/disclosure/page/pagetest"
)

func newSelfAlertsTest(t *testing.T, watchdog bool) (*SelfAlerts, *pagetest.Server, *prometheus.Registry) {
	t.Helper()
	srv := pagetest.NewServer(t)
	am, err := page.NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	wh, err := page.NewWebhookPager(srv.URL+"/hook", nil, pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSelfAlerts(SelfAlertsOptions{Pagers: []page.Pager{am, wh}, Instance: "vp-a", Watchdog: watchdog, Registerer: reg})
	return s, srv, reg
}

func selfAlertsByName(t *testing.T, srv *pagetest.Server, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, a := range srv.Alerts(t) {
		if a["labels"].(map[string]any)["alertname"] == name {
			out = append(out, a)
		}
	}
	return out
}

// TestSelfAlertsWatchdog (issue 10.4): an always-firing NymwatchWatchdog
// alert, severity none, identifying the instance, re-sent every resend
// interval with endsAt ahead; only to Alertmanager, never to the webhook.
func TestSelfAlertsWatchdog(t *testing.T) {
	s, srv, reg := newSelfAlertsTest(t, true)
	t0 := outboxT0
	single := VantageStatus{}
	for _, d := range []time.Duration{0, 30 * time.Second, 59 * time.Second, time.Minute, 90 * time.Second, 2 * time.Minute} {
		if err := s.Tick(t.Context(), t0.Add(d), single); err != nil {
			t.Fatal(err)
		}
	}
	got := selfAlertsByName(t, srv, WatchdogAlertName)
	if len(got) != 3 {
		t.Fatalf("%d watchdog posts at 0s..2m, want 3 (every minute): %v", len(got), got)
	}
	l := got[0]["labels"].(map[string]any)
	if l["severity"] != "none" || l["instance"] != "vp-a" {
		t.Errorf("labels %v", l)
	}
	if got[2]["endsAt"] != page.FormatTime(t0.Add(2*time.Minute+4*time.Minute)) || got[2]["startsAt"] != page.FormatTime(t0) {
		t.Errorf("re-sent watchdog: startsAt %v endsAt %v", got[2]["startsAt"], got[2]["endsAt"])
	}
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/hook") {
			t.Errorf("self alert sent to the webhook pager")
		}
	}
	if n := len(selfAlertsByName(t, srv, BlindAlertName)); n != 0 {
		t.Errorf("single instance paged blind %d times", n)
	}
	if got := testutil.ToFloat64(s.sent.WithLabelValues(WatchdogAlertName)); got != 3 {
		t.Errorf("sent_total = %v", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// Off: nothing is sent.
	off, srv2, _ := newSelfAlertsTest(t, false)
	if err := off.Tick(t.Context(), t0, single); err != nil {
		t.Fatal(err)
	}
	if n := len(srv2.Requests()); n != 0 {
		t.Errorf("watchdog off: %d posts", n)
	}
}

// TestSelfAlertsMonitoringBlind (issue 10.4): with three vantage points and
// quorum 2, the detector's cluster status (fake clock) shows only this one
// reporting: NymwatchMonitoringBlind is paged (warning) with the counts,
// and ended when a peer reports again.
func TestSelfAlertsMonitoringBlind(t *testing.T) {
	s, srv, _ := newSelfAlertsTest(t, false)
	det := detector.New(detector.Options{Cluster: detector.ClusterOptions{Self: "a", Peers: []string{"b", "c"}, Quorum: 2}})
	peer := detector.New(detector.Options{Cluster: detector.ClusterOptions{Self: "b"}})
	t0 := outboxT0
	step := func(at time.Time, bUp bool) {
		t.Helper()
		if bUp {
			det.PeerView("b", peer.View(at), at)
		} else {
			det.PeerFailed("b", errors.New("connection refused"), at)
		}
		det.PeerFailed("c", errors.New("connection refused"), at)
		det.Evaluate(at)
		if err := s.Tick(t.Context(), at, VantageFromCluster(det.ClusterStatus())); err != nil {
			t.Fatal(err)
		}
	}
	// Just started: the peers' views are not in yet (warming), no page.
	step(t0, false)
	step(t0.Add(30*time.Second), false)
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("paged blind while warming: %d posts", n)
	}
	// Past the stale window, only this vantage point reports.
	at := t0.Add(2 * time.Minute)
	step(at, false)
	got := selfAlertsByName(t, srv, BlindAlertName)
	if len(got) != 1 {
		t.Fatalf("%d blind pages, want 1", len(got))
	}
	l := got[0]["labels"].(map[string]any)
	desc := got[0]["annotations"].(map[string]any)["description"].(string)
	if l["severity"] != page.SeverityWarning || l["instance"] != "vp-a" || l["incident_id"] != nil ||
		!strings.Contains(desc, "monitoring blind: only 1 of 3 vantage points reporting, quorum 2") {
		t.Errorf("blind page labels %v description %q", l, desc)
	}
	// Still blind: re-sent at the resend interval, not every tick.
	step(at.Add(10*time.Second), false)
	step(at.Add(time.Minute), false)
	if n := len(selfAlertsByName(t, srv, BlindAlertName)); n != 2 {
		t.Errorf("%d blind pages after a minute, want 2", n)
	}
	// b reports again: 2 of 3, the quorum: the page ends at once.
	back := at.Add(70 * time.Second)
	step(back, true)
	got = selfAlertsByName(t, srv, BlindAlertName)
	last := got[len(got)-1]
	if last["endsAt"] != page.FormatTime(back) {
		t.Errorf("blind page not ended when the quorum came back: %v", last)
	}
	if !strings.Contains(last["annotations"].(map[string]any)["summary"].(string), "no longer blind") {
		t.Errorf("end summary %v", last["annotations"])
	}
	n := len(got)
	step(back.Add(2*time.Minute), true)
	if m := len(selfAlertsByName(t, srv, BlindAlertName)); m != n {
		t.Errorf("blind alert sent again after it ended (%d → %d)", n, m)
	}
}

// TestSelfAlertsEndRetried: an end that cannot be delivered is retried at
// the next tick, not forgotten (the alert would otherwise fire for 4 resend
// intervals after the quorum came back).
func TestSelfAlertsEndRetried(t *testing.T) {
	s, srv, _ := newSelfAlertsTest(t, false)
	blind := VantageStatus{Enabled: true, Reporting: 1, Total: 3, Quorum: 2}
	ok := VantageStatus{Enabled: true, Reporting: 2, Total: 3, Quorum: 2}
	if err := s.Tick(t.Context(), outboxT0, blind); err != nil {
		t.Fatal(err)
	}
	srv.SetStatus(503)
	if err := s.Tick(t.Context(), outboxT0.Add(time.Second), ok); err == nil {
		t.Fatal("want the failed end reported")
	}
	srv.SetStatus(0)
	if err := s.Tick(t.Context(), outboxT0.Add(2*time.Second), ok); err != nil {
		t.Fatal(err)
	}
	got := selfAlertsByName(t, srv, BlindAlertName)
	if last := got[len(got)-1]; last["endsAt"] != page.FormatTime(outboxT0.Add(2*time.Second)) {
		t.Errorf("end not retried: %v", last)
	}
}
