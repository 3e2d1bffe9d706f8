package disclosure

import (
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// TestAlertmanagerIntegrationSelfAlerts: the real Alertmanager takes the
// watchdog as an active alert, and the monitoring-blind alert is active
// while blind and resolved when the quorum is back.
func TestAlertmanagerIntegrationSelfAlerts(t *testing.T) {
	base := startAlertmanager(t)
	am, err := page.NewAlertmanagerPager(base, page.HTTPOptions{RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSelfAlerts(SelfAlertsOptions{Pagers: []page.Pager{am}, Instance: "vp-a", Watchdog: true})
	now := time.Now().UTC()
	blind := VantageStatus{Enabled: true, Reporting: 1, Total: 3, Quorum: 2}
	if err := s.Tick(t.Context(), now, blind); err != nil {
		t.Fatal(err)
	}
	as := alertmanagerIntegrationWait(t, base, "alertname", WatchdogAlertName, "watchdog active", func(as []alertmanagerIntegrationAlert) bool {
		return len(as) == 1 && as[0].Status.State == "active"
	})
	if as[0].Labels["severity"] != "none" || as[0].Labels["instance"] != "vp-a" || as[0].Labels["incident_id"] != "" {
		t.Errorf("watchdog labels %v", as[0].Labels)
	}
	alertmanagerIntegrationWait(t, base, "alertname", BlindAlertName, "blind alert active", func(as []alertmanagerIntegrationAlert) bool {
		return len(as) == 1 && as[0].Status.State == "active" && as[0].Labels["severity"] == page.SeverityWarning
	})

	ok := VantageStatus{Enabled: true, Reporting: 2, Total: 3, Quorum: 2}
	if err := s.Tick(t.Context(), time.Now().UTC(), ok); err != nil {
		t.Fatal(err)
	}
	alertmanagerIntegrationWait(t, base, "alertname", BlindAlertName, "blind alert resolved", func(as []alertmanagerIntegrationAlert) bool {
		for _, a := range as {
			if a.Status.State == "active" && a.EndsAt.After(time.Now()) {
				return false
			}
		}
		return true
	})
	if as := alertmanagerIntegrationAlerts(t, base, "alertname", WatchdogAlertName); len(as) != 1 || as[0].Status.State != "active" {
		t.Errorf("watchdog no longer active: %+v", as)
	}
}
