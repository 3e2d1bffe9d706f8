package statuspage

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/testenv"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

var t0 = testenv.Start()

// Strings that exist only in what must never reach the public: evidence,
// node addresses, target ids, actors, an unpublished incident.
const (
	secretAddr      = "198.51.100.77"
	secretDetail    = "dial tcp 198.51.100.77:1789: connection refused"
	secretTarget    = "node/4242/node_http"
	secretActor     = "operator:alice-secret-actor"
	unpublishedText = "Exit gateways unreachable UNPUBLISHED"
	svcDetail       = "GET https://10.9.8.7/public/v1/health: 503"
)

type env struct {
	svc   *disclosure.Service
	clock *testutil.Clock
	srv   *httptest.Server
	pub   string // the published incident
	priv  string // confirmed, never published
}

func newEnv(t *testing.T) *env {
	t.Helper()
	te := testenv.New(t, testenv.Options{Start: t0})
	e := &env{svc: te.Service, clock: te.Clock}
	h, err := New(Options{Source: e.svc.Store(), Name: "Nym status", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)

	actor := disclosure.Actor{Name: secretActor, RemoteAddr: "192.0.2.55:4000"}
	svcAnomaly := detector.Anomaly{
		ID: "service/nymvpn-api@1", Component: "service/nymvpn-api", Class: detector.ClassOperational,
		Architecture: detector.ArchCentralized, Title: "NymVPN API failing", Reason: "503 for 3 probes", Source: "probe",
		Affected:    []string{"service/nymvpn-api"},
		Evidence:    []detector.Evidence{{TargetID: "service/nymvpn-api", Reason: "http_status", Detail: svcDetail, Since: t0}},
		LastHealthy: t0.Add(-30 * time.Second), FirstSeen: t0, DetectedAt: t0.Add(time.Minute),
	}
	gwAnomaly := detector.Anomaly{
		ID: "exit_gateways@1", Component: "exit_gateways", Class: detector.ClassOperational,
		Architecture: detector.ArchDecentralized, Title: unpublishedText, Reason: "3 of 10 exit gateways unreachable", Source: "probe",
		Affected:    []string{secretTarget},
		Evidence:    []detector.Evidence{{TargetID: secretTarget, NodeID: 4242, Role: "exit_gateway", Reason: "timeout", Detail: secretDetail, Since: t0}},
		LastHealthy: t0.Add(-30 * time.Second), FirstSeen: t0, DetectedAt: t0.Add(time.Minute),
	}
	for _, a := range []detector.Anomaly{svcAnomaly, gwAnomaly} {
		if err := e.svc.ApplyAnomaly(t.Context(), a, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	incs, err := e.svc.List(t.Context(), disclosure.Filter{})
	if err != nil || len(incs) != 2 {
		t.Fatalf("incidents: %v, %v", incs, err)
	}
	for _, inc := range incs {
		if _, err := e.svc.Confirm(t.Context(), inc.ID, actor, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if inc.Architecture == detector.ArchCentralized {
			e.pub = inc.ID
		} else {
			e.priv = inc.ID
		}
	}
	return e
}

func (e *env) publish(t *testing.T, at time.Time) {
	t.Helper()
	e.clock.Set(at)
	actor := disclosure.Actor{Name: secretActor}
	if _, err := e.svc.Publish(t.Context(), e.pub, disclosure.UpdateInput{
		Status: disclosure.UpdateIdentified, Body: "Logins fail. <script>alert(1)</script> & more",
	}, actor, at); err != nil {
		t.Fatal(err)
	}
}

func (e *env) get(t *testing.T, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var endpoints = []string{"/", "/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json",
	"/api/v2/incidents.json", "/api/v2/incidents/unresolved.json", "/feed.atom"}

// assertPrivate checks no endpoint leaks anything unpublished.
func (e *env) assertPrivate(t *testing.T) {
	t.Helper()
	for _, p := range endpoints {
		resp, body := e.get(t, http.MethodGet, p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		for _, secret := range []string{e.priv, unpublishedText, secretAddr, secretTarget, "alice-secret-actor", "10.9.8.7",
			"service/nymvpn-api", "192.0.2.55", "<script>"} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s leaks %q:\n%s", p, secret, body)
			}
		}
		if c := resp.Header.Get("Set-Cookie"); c != "" {
			t.Errorf("GET %s sets a cookie: %s", p, c)
		}
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "public, max-age=30",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, k, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP = %q", p, csp)
		}
		if resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", p)
		}
	}
}

// The Statuspage shape, written from its public API documentation.
type spPage struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type spComponent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	PageID string `json:"page_id"`
}

type spUpdate struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Body       string  `json:"body"`
	IncidentID string  `json:"incident_id"`
	CreatedAt  string  `json:"created_at"`
	UpdatedAt  string  `json:"updated_at"`
	DisplayAt  *string `json:"display_at"`
}

type spIncident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	Impact          string        `json:"impact"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	MonitoringAt    *string       `json:"monitoring_at"`
	ResolvedAt      *string       `json:"resolved_at"`
	StartedAt       string        `json:"started_at"`
	Shortlink       string        `json:"shortlink"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
}

type spStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type spSummary struct {
	Page                  spPage        `json:"page"`
	Status                spStatus      `json:"status"`
	Components            []spComponent `json:"components"`
	Incidents             []spIncident  `json:"incidents"`
	ScheduledMaintenances []any         `json:"scheduled_maintenances"`
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	return v
}

func componentStatuses(cs []spComponent) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		out[c.Name] = c.Status
	}
	return out
}

func TestStatusPageNothingPublished(t *testing.T) {
	e := newEnv(t)
	e.assertPrivate(t)
	_, body := e.get(t, http.MethodGet, "/api/v2/summary.json")
	s := decode[spSummary](t, body)
	if s.Status.Indicator != "none" || len(s.Incidents) != 0 || s.Page.ID == "" || s.Page.Name != "Nym status" {
		t.Errorf("summary = %+v", s)
	}
	want := map[string]string{"Decentralized Nym network": "operational", "Centralized services": "operational"}
	if got := componentStatuses(s.Components); len(got) != 2 || got["Decentralized Nym network"] != want["Decentralized Nym network"] ||
		got["Centralized services"] != want["Centralized services"] {
		t.Errorf("components = %v", got)
	}
	_, feed := e.get(t, http.MethodGet, "/feed.atom")
	if f := parseFeed(t, feed); len(f.Entries) != 0 {
		t.Errorf("feed has entries: %+v", f.Entries)
	}
}

func TestStatusPagePublishedIncident(t *testing.T) {
	e := newEnv(t)
	e.publish(t, t0.Add(3*time.Minute))
	e.assertPrivate(t)

	_, body := e.get(t, http.MethodGet, "/api/v2/summary.json")
	s := decode[spSummary](t, body)
	if s.Status.Indicator != "major" || s.Status.Description != "Partial System Outage" {
		t.Errorf("status = %+v", s.Status)
	}
	if got := componentStatuses(s.Components); got["Centralized services"] != "partial_outage" || got["Decentralized Nym network"] != "operational" {
		t.Errorf("components = %v", got)
	}
	if len(s.Incidents) != 1 {
		t.Fatalf("incidents = %+v", s.Incidents)
	}
	inc := s.Incidents[0]
	if inc.ID != e.pub || inc.Name != "NymVPN API failing" || inc.Status != "identified" || inc.Impact != "major" ||
		inc.CreatedAt != disclosure.FormatTime(t0.Add(3*time.Minute)) || inc.StartedAt != disclosure.FormatTime(t0) ||
		inc.ResolvedAt != nil || inc.PageID != s.Page.ID || len(inc.Components) != 1 || inc.Components[0].Status != "partial_outage" {
		t.Errorf("incident = %+v", inc)
	}
	if len(inc.IncidentUpdates) != 1 || inc.IncidentUpdates[0].Body != "Logins fail. <script>alert(1)</script> & more" ||
		inc.IncidentUpdates[0].IncidentID != e.pub || inc.IncidentUpdates[0].DisplayAt == nil {
		t.Errorf("updates = %+v", inc.IncidentUpdates)
	}

	// HTML: escaped, current status and the open incident.
	resp, html := e.get(t, http.MethodGet, "/")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", "Partial outage", e.pub, "Partial System Outage"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Errorf("page has a script or an external resource:\n%s", html)
	}

	// Feed.
	_, feedBody := e.get(t, http.MethodGet, "/feed.atom")
	f := parseFeed(t, feedBody)
	if len(f.Entries) != 1 || !strings.HasPrefix(f.Entries[0].ID, "tag:nymwatch,2026-11-25:") || f.Entries[0].Content.Type != "html" ||
		!strings.Contains(f.Entries[0].Content.Body, "&lt;script&gt;") {
		t.Errorf("feed entries = %+v", f.Entries)
	}

	// An update moves the page; resolution empties the open list.
	e.clock.Set(t0.Add(10 * time.Minute))
	if _, err := e.svc.AddUpdate(t.Context(), e.pub, disclosure.UpdateInput{Status: disclosure.UpdateMonitoring, Body: "A fix is deployed."},
		disclosure.Actor{Name: secretActor}, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddUpdate(t.Context(), e.pub, disclosure.UpdateInput{Status: disclosure.UpdateResolved, Body: "Service restored."},
		disclosure.Actor{Name: secretActor}, t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.assertPrivate(t)
	_, body = e.get(t, http.MethodGet, "/api/v2/summary.json")
	if s := decode[spSummary](t, body); s.Status.Indicator != "none" || len(s.Incidents) != 0 {
		t.Errorf("after resolution: %+v", s)
	}
	_, body = e.get(t, http.MethodGet, "/api/v2/incidents.json")
	all := decode[struct {
		Page      spPage       `json:"page"`
		Incidents []spIncident `json:"incidents"`
	}](t, body)
	if len(all.Incidents) != 1 {
		t.Fatalf("incidents.json = %s", body)
	}
	r := all.Incidents[0]
	if r.Status != "resolved" || r.ResolvedAt == nil || *r.ResolvedAt != disclosure.FormatTime(t0.Add(20*time.Minute)) ||
		r.MonitoringAt == nil || *r.MonitoringAt != disclosure.FormatTime(t0.Add(10*time.Minute)) || len(r.IncidentUpdates) != 3 ||
		r.IncidentUpdates[0].Status != "resolved" {
		t.Errorf("resolved incident = %+v", r)
	}
	_, body = e.get(t, http.MethodGet, "/api/v2/incidents/unresolved.json")
	if u := decode[struct {
		Incidents []spIncident `json:"incidents"`
	}](t, body); len(u.Incidents) != 0 {
		t.Errorf("unresolved = %s", body)
	}
	_, html = e.get(t, http.MethodGet, "/")
	if !strings.Contains(html, "No open incidents.") || !strings.Contains(html, "Service restored.") {
		t.Errorf("page after resolution:\n%s", html)
	}

	// Past the 90-day window the resolved incident is no longer shown.
	e.clock.Set(t0.Add(HistoryWindow + time.Hour))
	_, body = e.get(t, http.MethodGet, "/api/v2/incidents.json")
	if strings.Contains(body, e.pub) {
		t.Errorf("incident older than the window still listed:\n%s", body)
	}
}

func TestStatusPageHTTP(t *testing.T) {
	e := newEnv(t)
	e.publish(t, t0.Add(3*time.Minute))
	for _, p := range endpoints {
		resp, body := e.get(t, http.MethodHead, p)
		if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s: %d %q", p, resp.StatusCode, body)
		}
		if resp, _ := e.get(t, http.MethodPost, p); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d", p, resp.StatusCode)
		}
		get, _ := e.get(t, http.MethodGet, p)
		if again, body := e.get(t, http.MethodGet, p, "If-None-Match", get.Header.Get("ETag")); again.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s with its ETag: %d", p, again.StatusCode)
		}
	}
	for _, p := range []string{"/api/v1/incidents", "/api/v1/incidents/" + e.pub, "/metrics", "/index.html"} {
		if resp, _ := e.get(t, http.MethodGet, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

type atomFeedT struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Author struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Content struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

// parseFeed checks the elements RFC 4287 requires of a feed and its entries.
func parseFeed(t *testing.T, body string) atomFeedT {
	t.Helper()
	var f atomFeedT
	if err := xml.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("feed: %v\n%s", err, body)
	}
	if f.ID == "" || f.Title == "" || f.Author.Name == "" {
		t.Errorf("feed lacks id, title or author: %+v", f)
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Errorf("feed updated %q: %v", f.Updated, err)
	}
	self := false
	for _, l := range f.Links {
		self = self || l.Rel == "self"
	}
	if !self {
		t.Errorf("feed has no self link: %+v", f.Links)
	}
	for _, en := range f.Entries {
		if en.ID == "" || en.Title == "" {
			t.Errorf("entry lacks id or title: %+v", en)
		}
		if _, err := time.Parse(time.RFC3339, en.Updated); err != nil {
			t.Errorf("entry updated %q: %v", en.Updated, err)
		}
	}
	return f
}
