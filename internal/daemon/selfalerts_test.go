package daemon

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/disclosure/page"
)

// TestSelfAlertsWiring: with an Alertmanager configured the watchdog is on
// by default, named by cluster.name; pagers.alertmanager.watchdog: false
// turns it off.
func TestSelfAlertsWiring(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var as []map[string]any
		_ = json.Unmarshal(b, &as)
		mu.Lock()
		got = append(got, as...)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	for _, on := range []bool{true, false} {
		mu.Lock()
		got = nil
		mu.Unlock()
		cfg := config.Default()
		cfg.Pagers.Alertmanager.URL = srv.URL
		cfg.Cluster.Name = "vp-berlin"
		if !on {
			cfg.Pagers.Alertmanager.Watchdog = false
		}
		pagers, err := buildPagers(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := newSelfAlerts(cfg, pagers, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		if err := s.Tick(t.Context(), time.Now(), disclosure.VantageStatus{}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(got)
		var labels map[string]any
		if n > 0 {
			labels, _ = got[0]["labels"].(map[string]any)
		}
		mu.Unlock()
		switch {
		case on && (n != 1 || labels["alertname"] != disclosure.WatchdogAlertName || labels["instance"] != "vp-berlin"):
			t.Errorf("watchdog on: %d alerts, labels %v", n, labels)
		case !on && n != 0:
			t.Errorf("watchdog off: %d alerts sent", n)
		}
	}
}

// TestOwnAlertsNotIngested: nymwatch's own alerts coming back through the
// webhook never reach the detector (they would become incidents).
func TestOwnAlertsNotIngested(t *testing.T) {
	d := &daemon{log: slog.New(slog.DiscardHandler)}
	in := []detector.Alert{
		{Labels: map[string]string{"alertname": disclosure.WatchdogAlertName}},
		{Labels: map[string]string{"alertname": "ZkNymIssuanceKeyExposed"}},
		{Labels: map[string]string{"alertname": disclosure.BlindAlertName}},
		{Labels: map[string]string{"alertname": page.AlertName}},
	}
	out := d.withoutOwnAlerts(in)
	if len(out) != 1 || out[0].Name() != "ZkNymIssuanceKeyExposed" {
		t.Errorf("kept %v", out)
	}
}
