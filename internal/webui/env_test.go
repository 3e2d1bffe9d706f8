package webui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/testenv"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

const testToken = testenv.OperatorToken

// t0 has milliseconds on purpose, and is mid-morning UTC so the same-day
// deadline is hours away.
var t0 = testenv.Start()

type env struct {
	t     *testing.T
	svc   *disclosure.Service
	ui    *UI
	srv   *httptest.Server
	clock *testutil.Clock
	logs  *testutil.Buffer
	reg   *prometheus.Registry
}

// newEnv serves the console and the incidents API on one mux, as the
// daemon does.
func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	te := testenv.New(t, testenv.Options{Start: t0.Add(5 * time.Minute)})
	// The console's metrics go to a registry of their own, apart from the
	// service's (te.Registry), so its tests see only the console's.
	e := &env{t: t, svc: te.Service, clock: te.Clock, logs: te.Logs, reg: prometheus.NewRegistry()}
	logger := te.Logger
	opts := Options{Service: e.svc, OperatorToken: []byte(testToken + "\n"), Logger: logger, Now: e.clock.Now, Registerer: e.reg}
	if mod != nil {
		mod(&opts)
	}
	var err error
	e.ui, err = New(opts)
	if err != nil {
		t.Fatalf("new ui: %v", err)
	}
	apiOpts := te.APIOptions()
	apiOpts.PublicRead = opts.PublicRead
	api, err := disclosure.NewAPI(apiOpts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	e.ui.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// gatewayAnomaly is n failing exit gateways, as the detector reports them.
func gatewayAnomaly(component string, firstSeen time.Time, firstNode uint32, n int) detector.Anomaly {
	role := strings.TrimSuffix(component, "s")
	a := detector.Anomaly{
		ID: component + "@" + firstSeen.Format(time.RFC3339Nano), Component: component,
		Class: detector.ClassOperational, Architecture: detector.ArchDecentralized,
		Title:  "Exit gateways unreachable",
		Reason: fmt.Sprintf("%d of 10 exit gateways unreachable (threshold 10%%)", n),
		Source: "probe", LastHealthy: firstSeen.Add(-30 * time.Second), FirstSeen: firstSeen,
		DetectedAt: firstSeen.Add(90 * time.Second),
	}
	countries := []string{"DE", "FR", "NL"}
	for i := range n {
		node := firstNode + uint32(i)
		target := fmt.Sprintf("node/%d/node_http", node)
		a.Affected = append(a.Affected, target)
		a.Evidence = append(a.Evidence, detector.Evidence{
			TargetID: target, NodeID: node, Role: role, Country: countries[i%len(countries)],
			Reason: "timeout", Detail: "GET /api/v1/health: context deadline exceeded", Since: firstSeen,
		})
	}
	return a
}

func serviceAnomaly(name string, class detector.Class, firstSeen time.Time) detector.Anomaly {
	return detector.Anomaly{
		ID: "service/" + name + "@" + firstSeen.Format(time.RFC3339Nano), Component: "service/" + name,
		Class: class, Architecture: detector.ArchCentralized, Title: name + " failing",
		Reason: name + " answered 503 for 3 consecutive probes", Source: "probe",
		Affected:    []string{"service/" + name},
		LastHealthy: firstSeen.Add(-30 * time.Second), FirstSeen: firstSeen, DetectedAt: firstSeen.Add(time.Minute),
	}
}

func (e *env) apply(a detector.Anomaly, now time.Time) {
	e.t.Helper()
	if err := e.svc.ApplyAnomaly(e.t.Context(), a, now); err != nil {
		e.t.Fatalf("apply %s: %v", a.ID, err)
	}
}

// onlyID returns the id of the one incident with the given state.
func (e *env) idOf(state disclosure.State) string {
	e.t.Helper()
	incs, err := e.svc.List(e.t.Context(), disclosure.Filter{State: state})
	if err != nil || len(incs) != 1 {
		e.t.Fatalf("want one %s incident, have %d (%v)", state, len(incs), err)
	}
	return incs[0].ID
}

func (e *env) get(id string) *disclosure.Incident {
	e.t.Helper()
	inc, err := e.svc.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

type resp struct {
	status int
	header http.Header
	body   string
}

// do sends a request without following redirects. hdr is name, value, ...
func (e *env) do(method, path string, form url.Values, cookie *http.Cookie, hdr ...string) resp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

// sameOrigin are the headers a browser sends with a same-origin form post.
func (e *env) sameOrigin() []string {
	return []string{"Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"}
}

// login logs in and returns the session cookie.
func (e *env) login(name string) *http.Cookie {
	e.t.Helper()
	r := e.do("POST", "/login", url.Values{"token": {testToken}, "name": {name}, "next": {"/"}}, nil, e.sameOrigin()...)
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("login: status %d: %s", r.status, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == cookieName && c.Value != "" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	e.t.Fatalf("login set no session cookie: %v", r.header)
	return nil
}

// apiIncident reads an incident through the JSON API.
func (e *env) apiIncident(id string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/api/v1/incidents/"+id, nil, nil, "Authorization", "Bearer "+testToken)
	if r.status != http.StatusOK {
		e.t.Fatalf("api get %s: %d %s", id, r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}
