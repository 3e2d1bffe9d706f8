package daemon

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/probes"
)

// Every classification threshold in the config must reach the detector; a
// forgotten mapping would silently run on the detector's default.
func TestDetectorOptionsMapEveryThreshold(t *testing.T) {
	cfg := config.Default()
	cfg.Probes.FailureThreshold = 7
	cfg.Probes.RecoveryThreshold = 5
	c := &cfg.Classification
	c.GatewayFailureRatio = 0.31
	c.MinFailingGateways = 4
	c.MixnodeFailureRatio = 0.41
	c.CountryFailureRatio = 0.61
	c.CountryMinNodes = 9
	c.ServiceFailureFor = 17 * time.Second
	c.Degradation.SuccessRatioDrop = 0.27
	c.Degradation.LatencyFactor = 4.5
	c.Degradation.Sustain = 7 * time.Minute
	c.Degradation.BaselineWindow = 3 * time.Hour
	c.Vantage.ControlFailureRatio = 0.66
	c.Vantage.NetworkFailureRatio = 0.77
	c.Flapping.Window = 13 * time.Minute
	c.Flapping.Transitions = 6
	c.PromotionLookback = 47 * time.Minute

	o := detectorOptions(cfg)
	checks := []struct {
		name      string
		got, want any
	}{
		{"FailureThreshold", o.FailureThreshold, 7},
		{"RecoveryThreshold", o.RecoveryThreshold, 5},
		{"GatewayFailureRatio", o.GatewayFailureRatio, 0.31},
		{"MinFailingGateways", o.MinFailingGateways, 4},
		{"MixnodeFailureRatio", o.MixnodeFailureRatio, 0.41},
		{"CountryFailureRatio", o.CountryFailureRatio, 0.61},
		{"CountryMinNodes", o.CountryMinNodes, 9},
		{"ServiceFailureFor", o.ServiceFailureFor, 17 * time.Second},
		{"SuccessRatioDrop", o.SuccessRatioDrop, 0.27},
		{"LatencyFactor", o.LatencyFactor, 4.5},
		{"DegradationSustain", o.DegradationSustain, 7 * time.Minute},
		{"BaselineWindow", o.BaselineWindow, 3 * time.Hour},
		{"VantageControlFailureRatio", o.VantageControlFailureRatio, 0.66},
		{"VantageNetworkFailureRatio", o.VantageNetworkFailureRatio, 0.77},
		{"FlapWindow", o.FlapWindow, 13 * time.Minute},
		{"FlapTransitions", o.FlapTransitions, 6},
		{"PromotionLookback", o.PromotionLookback, 47 * time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := o.Validate(); err != nil {
		t.Errorf("mapped options invalid: %v", err)
	}
}

func TestServiceTargetsMarkStaging(t *testing.T) {
	cfg := config.Default()
	cfg.Network.StagingNodes = []string{"1399", "IdentityKeyOfAStagingNode"}
	cfg.Services = []config.Service{
		{Name: "nym-api", URL: "https://validator.nymtech.net/api", Kind: config.ServiceKindNymAPI, LatencyThreshold: time.Second},
		{Name: "vpn-staging", URL: "https://staging.example/api", Kind: config.ServiceKindNymVPNAPI, Staging: true},
	}
	services, staging := serviceTargets(cfg)
	if len(services) != 2 || services[0].LatencyThreshold != time.Second || services[1].Kind != config.ServiceKindNymVPNAPI {
		t.Errorf("services %+v", services)
	}
	for _, k := range []string{"1399", "IdentityKeyOfAStagingNode", "vpn-staging"} {
		if !staging[k] {
			t.Errorf("%s not marked staging", k)
		}
	}
	if staging["nym-api"] {
		t.Error("a production service is marked staging")
	}
	targets := probes.BuildTargets(nil, services, nil, staging)
	for _, tg := range targets {
		if want := tg.ID == "service/vpn-staging"; tg.Staging != want {
			t.Errorf("%s staging = %v", tg.ID, tg.Staging)
		}
	}
}

func TestSwapHandler(t *testing.T) {
	var s swapHandler
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before set: %d", rec.Code)
	}
	for _, code := range []int{http.StatusTeapot, http.StatusAccepted} {
		s.set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != code {
			t.Errorf("after set: %d, want %d", rec.Code, code)
		}
	}
}
