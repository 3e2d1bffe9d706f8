package disclosure

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/authn"
)

const incViewer = "r3ad-only-viewer-token"

// newReadAuthEnv is an API with an operator and a viewer token, an explicit
// public_read and a throttle on a fake clock.
func newReadAuthEnv(t *testing.T, publicRead bool, guard *authn.Guard) *incAPIEnv {
	t.Helper()
	e := newIncEnv(t)
	logs := &bytes.Buffer{}
	api, err := NewAPI(APIOptions{
		Service:       e.svc,
		OperatorToken: []byte(incToken),
		ViewerToken:   []byte(incViewer + "\n"),
		PublicRead:    publicRead,
		Guard:         guard,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &incAPIEnv{incEnv: e, srv: srv, logs: logs}
}

func TestIncidentAPIReadNeedsToken(t *testing.T) {
	e := newReadAuthEnv(t, false, nil)
	id := e.draft(t)
	reads := []string{"/api/v1/incidents", "/api/v1/incidents?state=draft", "/api/v1/incidents/" + id, "/api/v1/incidents/" + id + "/report.md"}
	for _, p := range reads {
		for _, tt := range []struct {
			name, auth string
			want       int
		}{
			{"anonymous", "", http.StatusUnauthorized},
			{"wrong token", "Bearer not-the-token-at-all", http.StatusUnauthorized},
			{"viewer", "Bearer " + incViewer, http.StatusOK},
			{"operator", incBearer, http.StatusOK},
		} {
			r := e.do(t, "GET", p, tt.auth, "", nil)
			if r.status != tt.want {
				t.Errorf("GET %s as %s: %d, want %d: %s", p, tt.name, r.status, tt.want, r.body)
			}
			if tt.want == http.StatusUnauthorized {
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("GET %s as %s: WWW-Authenticate %q", p, tt.name, r.header.Get("WWW-Authenticate"))
				}
				if bytes.Contains(r.body, []byte(id)) && !strings.Contains(p, id) {
					t.Errorf("GET %s as %s leaked the incident id: %s", p, tt.name, r.body)
				}
			}
		}
	}
	if strings.Contains(e.logs.String(), incViewer) || strings.Contains(e.logs.String(), "not-the-token") {
		t.Errorf("a token reached the log:\n%s", e.logs)
	}
}

func TestIncidentAPIViewerCannotWrite(t *testing.T) {
	for _, publicRead := range []bool{false, true} {
		e := newReadAuthEnv(t, publicRead, nil)
		id := e.draft(t)
		base := "/api/v1/incidents/" + id
		for _, c := range []struct{ method, path, body string }{
			{"POST", base + "/confirm", ""},
			{"POST", base + "/dismiss", `{"reason":"noise"}`},
			{"POST", base + "/resolve", ""},
			{"PATCH", base, `{"summary":"edited by a viewer"}`},
		} {
			r := e.do(t, c.method, c.path, "Bearer "+incViewer, "application/json", strings.NewReader(c.body))
			if r.status != http.StatusForbidden || !strings.Contains(r.errMsg(t), "viewer token may only read") {
				t.Errorf("public_read=%v %s %s with the viewer token: %d %s", publicRead, c.method, c.path, r.status, r.body)
			}
		}
		if inc := e.get(t, id); inc.State != StateDraft || len(inc.Audit) != 1 {
			t.Errorf("a viewer changed the incident: %s %v", inc.State, incActions(inc))
		}
	}
}

func TestIncidentAPIPublicRead(t *testing.T) {
	e := newReadAuthEnv(t, true, nil)
	id := e.draft(t)
	for _, p := range []string{"/api/v1/incidents", "/api/v1/incidents/" + id, "/api/v1/incidents/" + id + "/report.md"} {
		if r := e.do(t, "GET", p, "", "", nil); r.status != http.StatusOK {
			t.Errorf("public GET %s: %d", p, r.status)
		}
	}
	if r := e.do(t, "POST", "/api/v1/incidents/"+id+"/confirm", "", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("public_read opened writes: %d", r.status)
	}
}

func TestIncidentAPIThrottle(t *testing.T) {
	clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	guardLogs := &bytes.Buffer{}
	guard, err := authn.NewGuard(authn.GuardOptions{
		Logger:         slog.New(slog.NewTextHandler(guardLogs, nil)),
		Throttle:       authn.ThrottleOptions{FailuresPerClient: 3, FailuresGlobal: 1000, Window: time.Minute, Now: now},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newReadAuthEnv(t, false, guard)
	id := e.draft(t)
	attacker := []string{"X-Forwarded-For", "203.0.113.66"}
	human := []string{"X-Forwarded-For", "198.51.100.7"}
	for i := range 3 {
		r := e.do(t, "GET", "/api/v1/incidents", "Bearer guess-"+strings.Repeat("x", i), "", nil, attacker...)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	// The attacker is now refused before its token is looked at: even the
	// right token gets 429, so a blocked client cannot test guesses.
	for _, auth := range []string{"Bearer guess-again", incBearer} {
		r := e.do(t, "POST", "/api/v1/incidents/"+id+"/confirm", auth, "", nil, attacker...)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" {
			t.Errorf("throttled client (%s): %d Retry-After %q", auth[:10], r.status, r.header.Get("Retry-After"))
		}
	}
	// The on-call human behind the same proxy is not locked out.
	if r := e.do(t, "POST", "/api/v1/incidents/"+id+"/confirm", incBearer, "", nil, human...); r.status != http.StatusOK {
		t.Errorf("the human behind the proxy: %d %s", r.status, r.body)
	}
	// After the window, the attacker's address may try again.
	clock = clock.Add(time.Minute)
	if r := e.do(t, "GET", "/api/v1/incidents", "Bearer "+incViewer, "", nil, attacker...); r.status != http.StatusOK {
		t.Errorf("after the window: %d", r.status)
	}
	if n := strings.Count(guardLogs.String(), "throttling it"); n != 1 || !strings.Contains(guardLogs.String(), "client=203.0.113.66") {
		t.Errorf("the block was logged %d times, want once, naming the client:\n%s", n, guardLogs)
	}
}
