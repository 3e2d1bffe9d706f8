package probes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// prbNymAPI serves a nym-api under /api with the given health and
// rewarded-set handlers.
func prbNymAPI(t *testing.T, health, rewarded http.HandlerFunc) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/api-status/health", health)
	mux.HandleFunc("GET /api/v1/nym-nodes/rewarded-set", rewarded)
	return prbServe(t, mux.ServeHTTP).URL + "/api"
}

func prbJSON(b []byte) http.HandlerFunc { return prbBody(200, "application/json", b) }

// prbHang blocks until the client gives up.
func prbHang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// prbSlow answers correctly after d.
func prbSlow(d time.Duration, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d) // simulates a slow service; the assertion is on ReasonSlow, not on time
		h(w, r)
	}
}

func TestServiceProberNymAPI(t *testing.T) {
	synced := prbFixture(t, "nym-api_v1_api-status_health.json")
	stalled := prbFixture(t, "nym-api_v1_api-status_health_chain-stalled.json")
	rewarded := prbFixture(t, "nym-api_v1_nym-nodes_rewarded-set.json")
	okRS := prbJSON(rewarded)

	tests := []struct {
		name      string
		health    http.HandlerFunc
		rewarded  http.HandlerFunc
		opts      ProberOptions
		svcThr    time.Duration
		timeout   time.Duration
		wantOK    bool
		want      Reason
		detailHas string
	}{
		{name: "synced", health: prbJSON(synced), rewarded: okRS, wantOK: true},
		{name: "no chain_status (older nym-api)", health: prbJSON([]byte(`{"status":"up","uptime":5}`)), rewarded: okRS, wantOK: true},
		{name: "chain stalled", health: prbJSON(stalled), rewarded: okRS, want: ReasonUnhealthy, detailHas: "7m 41s 312ms"},
		{name: "chain unknown", health: prbJSON([]byte(`{"status":"up","chain_status":"unknown","uptime":5}`)), rewarded: okRS,
			want: ReasonUnhealthy, detailHas: "unknown"},
		{name: "chain new variant", health: prbJSON([]byte(`{"status":"up","chain_status":{"catching_up":{}},"uptime":5}`)), rewarded: okRS,
			want: ReasonUnhealthy, detailHas: "catching_up"},
		{name: "status not up", health: prbJSON([]byte(`{"status":"down","chain_status":"synced"}`)), rewarded: okRS, want: ReasonUnhealthy},
		{name: "no status", health: prbJSON([]byte(`{"chain_status":"synced"}`)), rewarded: okRS, want: ReasonBadBody},
		{name: "health 500", health: prbBody(500, "text/plain", []byte("storage error")), rewarded: okRS,
			want: ReasonHTTPStatus, detailHas: "500 Internal Server Error: storage error"},
		{name: "health garbage", health: prbBody(200, "text/html", []byte("<h1>maintenance</h1>")), rewarded: okRS, want: ReasonBadBody},
		{name: "health hangs", health: prbHang, rewarded: okRS, timeout: 200 * time.Millisecond, want: ReasonTimeout},
		{name: "directory cold cache", health: prbJSON(synced),
			rewarded: prbBody(503, "text/plain", []byte("relevant cache hasn't been initialised yet")),
			want:     ReasonUnhealthy, detailHas: "relevant cache hasn't been initialised yet"},
		{name: "directory 404", health: prbJSON(synced), rewarded: prbBody(404, "text/plain", nil), want: ReasonHTTPStatus},
		{name: "directory wrong shape", health: prbJSON(synced), rewarded: prbJSON([]byte(`{"data":[]}`)), want: ReasonBadBody, detailHas: "epoch_id"},
		{name: "directory oversized", health: prbJSON(synced), opts: ProberOptions{MaxBodyBytes: 128}, rewarded: okRS, want: ReasonBadBody},
		{name: "slow (default threshold)", health: prbSlow(50*time.Millisecond, prbJSON(synced)), rewarded: okRS,
			opts: ProberOptions{LatencyThreshold: 10 * time.Millisecond}, want: ReasonSlow, detailHas: "10ms threshold"},
		{name: "slow (service threshold overrides)", health: prbSlow(50*time.Millisecond, prbJSON(synced)), rewarded: okRS,
			opts: ProberOptions{LatencyThreshold: time.Hour}, svcThr: 10 * time.Millisecond, want: ReasonSlow},
		{name: "unhealthy wins over slow", health: prbSlow(50*time.Millisecond, prbJSON(stalled)), rewarded: okRS,
			opts: ProberOptions{LatencyThreshold: 10 * time.Millisecond}, want: ReasonUnhealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := prbNymAPI(t, tc.health, tc.rewarded)
			timeout := cmpOr(tc.timeout, 5*time.Second)
			p := NewServiceProber(tc.opts)
			tgt := &Target{ID: "service/nym-api", Kind: KindService,
				Service: &Service{Name: "nym-api", URL: base, Kind: ServiceKindNymAPI, LatencyThreshold: tc.svcThr}}
			r := p.Probe(prbCtx(t, timeout), tgt)
			prbCheck(t, r, tc.wantOK, tc.want, tc.detailHas)
		})
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// vpnAt is the fixtures' server time (vpn-api_public_v1_health.json).
var vpnAt = time.Date(2026, 5, 15, 11, 7, 31, 0, time.UTC)

func prbGateways(ages ...time.Duration) []byte {
	var gws []map[string]any
	for _, a := range ages {
		if a < 0 {
			gws = append(gws, map[string]any{"identity_key": "x", "last_probe": nil})
			continue
		}
		gws = append(gws, map[string]any{
			"identity_key": "x",
			"last_probe":   map[string]any{"last_updated_utc": vpnAt.Add(-a).Format(time.RFC3339), "outcome": map[string]any{}},
		})
	}
	b, _ := json.Marshal(gws)
	return b
}

func TestServiceProberNymVPNAPI(t *testing.T) {
	health := prbFixture(t, "vpn-api_public_v1_health.json")
	entry := prbFixture(t, "vpn-api_public_v1_directory_gateways_entry.json")
	exit := prbFixture(t, "vpn-api_public_v1_directory_gateways_exit.json")
	healthAt := func(ts time.Time) []byte {
		return fmt.Appendf(nil, `{"status":"ok","timestampUtc":%q}`, ts.Format(time.RFC3339Nano))
	}
	fresh := 5 * time.Minute
	old := 2 * time.Hour

	tests := []struct {
		name      string
		now       time.Time
		health    http.HandlerFunc
		entry     http.HandlerFunc
		exit      http.HandlerFunc
		opts      ProberOptions
		wantOK    bool
		want      Reason
		detailHas string
	}{
		{name: "fixtures healthy", wantOK: true},
		{name: "exactly half stale is still ok", entry: prbJSON(prbGateways(fresh, old)), wantOK: true},
		{name: "most gateways stale", entry: prbJSON(prbGateways(fresh, old, old)), want: ReasonStale, detailHas: "2 of 3"},
		{name: "missing last_probe counts as stale", exit: prbJSON(prbGateways(-1, -1, fresh)), want: ReasonStale,
			detailHas: "GET /api/public/v1/directory/gateways/exit"},
		{name: "whole directory stale (server clock)", now: vpnAt.Add(90 * time.Minute),
			health: prbJSON(healthAt(vpnAt.Add(90 * time.Minute))), want: ReasonStale, detailHas: "older than 1h0m0s"},
		{name: "cached health answer", now: vpnAt.Add(3 * time.Hour), want: ReasonStale, detailHas: "off our clock"},
		{name: "skew check disabled", now: vpnAt.Add(3 * time.Hour), opts: ProberOptions{MaxClockSkew: -1}, wantOK: true},
		{name: "empty entry directory", entry: prbJSON([]byte(`[]`)), want: ReasonBadBody, detailHas: "empty"},
		{name: "exit not an array", exit: prbJSON([]byte(`{"gateways":[]}`)), want: ReasonBadBody},
		{name: "exit 502", exit: prbBody(502, "application/json", prbFixture(t, "vpn-api_error_response.json")), want: ReasonHTTPStatus},
		{name: "health without timestamp", health: prbJSON([]byte(`{"status":"ok"}`)), want: ReasonBadBody, detailHas: "timestampUtc"},
		{name: "health bad timestamp", health: prbJSON([]byte(`{"status":"ok","timestampUtc":"yesterday"}`)), want: ReasonBadBody},
		{name: "health not json", health: prbBody(200, "text/html", []byte("<html>")), want: ReasonBadBody},
		{name: "directory oversized", opts: ProberOptions{MaxDirectoryBytes: 2048}, want: ReasonBadBody, detailHas: "larger than 2048"},
		{name: "slow", entry: prbSlow(50*time.Millisecond, prbJSON(entry)), opts: ProberOptions{LatencyThreshold: 10 * time.Millisecond},
			want: ReasonSlow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /api/public/v1/health", orHandler(tc.health, prbJSON(health)))
			mux.HandleFunc("GET /api/public/v1/directory/gateways/entry", orHandler(tc.entry, prbJSON(entry)))
			mux.HandleFunc("GET /api/public/v1/directory/gateways/exit", orHandler(tc.exit, prbJSON(exit)))
			srv := prbServe(t, mux.ServeHTTP)
			now := tc.now
			if now.IsZero() {
				now = vpnAt.Add(time.Minute)
			}
			opts := tc.opts
			opts.Now = func() time.Time { return now }
			p := NewServiceProber(opts)
			tgt := &Target{ID: "service/nymvpn", Kind: KindService,
				Service: &Service{Name: "nymvpn", URL: srv.URL + "/api/", Kind: ServiceKindNymVPNAPI}}
			r := p.Probe(prbCtx(t, 5*time.Second), tgt)
			prbCheck(t, r, tc.wantOK, tc.want, tc.detailHas)
		})
	}
}

func orHandler(h, def http.HandlerFunc) http.HandlerFunc {
	if h != nil {
		return h
	}
	return def
}

func TestServiceProberHTTP(t *testing.T) {
	redirect := http.NewServeMux()
	redirect.HandleFunc("GET /old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	redirect.HandleFunc("GET /new", prbBody(200, "text/plain", []byte("ok")))
	rsrv := prbServe(t, redirect.ServeHTTP)

	tests := []struct {
		name   string
		url    func(t *testing.T) string
		wantOK bool
		want   Reason
	}{
		{name: "204", wantOK: true, url: func(t *testing.T) string { return prbServe(t, prbBody(204, "", nil)).URL }},
		{name: "big body is fine", wantOK: true, url: func(t *testing.T) string {
			return prbServe(t, prbBody(200, "text/html", []byte(strings.Repeat("a", 1<<20)))).URL
		}},
		{name: "redirect not followed", want: ReasonRedirect, url: func(*testing.T) string { return rsrv.URL + "/old" }},
		{name: "503", want: ReasonHTTPStatus, url: func(t *testing.T) string { return prbServe(t, prbBody(503, "", nil)).URL }},
		{name: "404", want: ReasonHTTPStatus, url: func(t *testing.T) string { return prbServe(t, prbBody(404, "", nil)).URL }},
		{name: "refused", want: ReasonRefused, url: func(t *testing.T) string { return "http://" + prbClosedAddr(t) }},
		{name: "not a url", want: ReasonNetwork, url: func(*testing.T) string { return "::nope" }},
		{name: "unsupported scheme", want: ReasonNetwork, url: func(*testing.T) string { return "ftp://example.org/" }},
	}
	p := NewServiceProber(ProberOptions{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range []string{ServiceKindHTTP, ""} {
				tgt := &Target{ID: "service/x", Kind: KindService, Service: &Service{Name: "x", URL: tc.url(t), Kind: kind}}
				r := p.Probe(prbCtx(t, 5*time.Second), tgt)
				prbCheck(t, r, tc.wantOK, tc.want, "")
			}
		})
	}
}

// Secrets in a URL (a token in the query, a password in userinfo) must never
// reach Result.Detail, which ends up in logs and incident reports.
func TestDetailHasNoSecrets(t *testing.T) {
	closed := prbClosedAddr(t)
	hang := prbHangListener(t)
	garbage := httptest.NewServer(prbBody(500, "text/plain", []byte("oops")))
	t.Cleanup(garbage.Close)
	urls := []string{
		"http://user:hunter2@" + closed + "/api?token=SECRET",
		"http://" + hang + "/api?token=SECRET",
		garbage.URL + "/api?token=SECRET#SECRET",
		"http://nymwatch-test.invalid/api?token=SECRET",
		"http://user:hunter2@[::1/?token=SECRET",
	}
	p := NewServiceProber(ProberOptions{})
	c := NewControlProber(ProberOptions{})
	for _, u := range urls {
		for _, kind := range []string{ServiceKindHTTP, ServiceKindNymAPI, ServiceKindNymVPNAPI} {
			r := p.Probe(prbCtx(t, 200*time.Millisecond), &Target{ID: "service/x", Kind: KindService, Service: &Service{URL: u, Kind: kind}})
			if r.OK || strings.Contains(r.Detail, "SECRET") || strings.Contains(r.Detail, "hunter2") {
				t.Errorf("%s %s: ok=%v detail %q", kind, u, r.OK, r.Detail)
			}
		}
		// Control targets count any HTTP answer as reachable, so only the
		// detail is checked here.
		r := c.Probe(prbCtx(t, 200*time.Millisecond), &Target{ID: "control/x", Kind: KindControl, Address: u})
		if strings.Contains(r.Detail, "SECRET") || strings.Contains(r.Detail, "hunter2") {
			t.Errorf("control %s: ok=%v detail %q", u, r.OK, r.Detail)
		}
	}
}
