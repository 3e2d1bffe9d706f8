package disclosure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// selfAlertsIntegrationAlerts lists the real Alertmanager's alerts named name.
func selfAlertsIntegrationAlerts(t *testing.T, base, name string) []alertmanagerIntegrationAlert {
	t.Helper()
	q := url.Values{"filter": {fmt.Sprintf("alertname=%q", name)}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/alerts?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("GET alerts: %s: %s", resp.Status, b)
	}
	var out []alertmanagerIntegrationAlert
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// selfAlertsIntegrationWait polls Alertmanager (it ingests asynchronously)
// until cond holds for the alerts named name.
func selfAlertsIntegrationWait(t *testing.T, base, name, what string, cond func([]alertmanagerIntegrationAlert) bool) []alertmanagerIntegrationAlert {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		as := selfAlertsIntegrationAlerts(t, base, name)
		if cond(as) {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager: %s: never happened; alerts now %+v", what, as)
		}
		time.Sleep(50 * time.Millisecond) // polling an external process
	}
}

// TestAlertmanagerIntegrationSelfAlerts: the real Alertmanager takes the
// watchdog as an active alert, and the monitoring-blind alert is active
// while blind and resolved when the quorum is back.
func TestAlertmanagerIntegrationSelfAlerts(t *testing.T) {
	base := startAlertmanager(t)
	am, err := NewAlertmanagerPager(base, PagerHTTPOptions{RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSelfAlerts(SelfAlertsOptions{Pagers: []Pager{am}, Instance: "vp-a", Watchdog: true})
	now := time.Now().UTC()
	blind := VantageStatus{Enabled: true, Reporting: 1, Total: 3, Quorum: 2}
	if err := s.Tick(t.Context(), now, blind); err != nil {
		t.Fatal(err)
	}
	as := selfAlertsIntegrationWait(t, base, WatchdogAlertName, "watchdog active", func(as []alertmanagerIntegrationAlert) bool {
		return len(as) == 1 && as[0].Status.State == "active"
	})
	if as[0].Labels["severity"] != "none" || as[0].Labels["instance"] != "vp-a" || as[0].Labels["incident_id"] != "" {
		t.Errorf("watchdog labels %v", as[0].Labels)
	}
	selfAlertsIntegrationWait(t, base, BlindAlertName, "blind alert active", func(as []alertmanagerIntegrationAlert) bool {
		return len(as) == 1 && as[0].Status.State == "active" && as[0].Labels["severity"] == PagerSeverityWarning
	})

	ok := VantageStatus{Enabled: true, Reporting: 2, Total: 3, Quorum: 2}
	if err := s.Tick(t.Context(), time.Now().UTC(), ok); err != nil {
		t.Fatal(err)
	}
	selfAlertsIntegrationWait(t, base, BlindAlertName, "blind alert resolved", func(as []alertmanagerIntegrationAlert) bool {
		for _, a := range as {
			if a.Status.State == "active" && a.EndsAt.After(time.Now()) {
				return false
			}
		}
		return true
	})
	if as := selfAlertsIntegrationAlerts(t, base, WatchdogAlertName); len(as) != 1 || as[0].Status.State != "active" {
		t.Errorf("watchdog no longer active: %+v", as)
	}
}
