package webui

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/authn"
)

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a Service succeeded")
	}
	e := newEnv(t, nil)
	for _, bad := range []string{"ftp://x.example", "not a url", "https://"} {
		if _, err := New(Options{Service: e.svc, ExternalURL: bad}); err == nil {
			t.Errorf("New accepted external URL %q", bad)
		}
	}
}

func TestReadViewsNeedLoginUnlessPublic(t *testing.T) {
	for _, public := range []bool{false, true} {
		t.Run(map[bool]string{false: "private", true: "public"}[public], func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.PublicRead = public })
			e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
			id := e.idOf(disclosure.StateDraft)
			for _, path := range []string{"/", "/incidents/" + id, "/?state=draft"} {
				r := e.do("GET", path, nil, nil)
				if !public {
					want := "/login?next=" + url.QueryEscape(path)
					if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
						t.Errorf("GET %s without login: %d to %q, want 303 to %q", path, r.status, r.header.Get("Location"), want)
					}
					if strings.Contains(r.body, "Exit gateways unreachable") {
						t.Errorf("GET %s without login leaked the incident", path)
					}
					continue
				}
				if r.status != http.StatusOK || !strings.Contains(r.body, id) {
					t.Errorf("public GET %s: %d", path, r.status)
				}
				// Read-only: no state-changing form is offered, the login is.
				if strings.Contains(r.body, `method="post"`) {
					t.Errorf("public GET %s offers a state-changing form without login", path)
				}
				if !strings.Contains(r.body, `/login?next=`) {
					t.Errorf("public GET %s has no login link", path)
				}
			}
			c := e.login("")
			r := e.do("GET", "/incidents/"+id, nil, c)
			if r.status != http.StatusOK || !strings.Contains(r.body, `action="/incidents/`+id+`/confirm"`) {
				t.Errorf("logged in: %d, confirm form present: %v", r.status, strings.Contains(r.body, "/confirm"))
			}
		})
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, nil)

	r := e.do("GET", "/login?next=/incidents/X", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `type="password"`) || !strings.Contains(r.body, `value="/incidents/X"`) {
		t.Fatalf("login form: %d\n%s", r.status, r.body)
	}

	wrong := "wrong-token-typed-by-someone"
	r = e.do("POST", "/login", url.Values{"token": {wrong}}, nil, e.sameOrigin()...)
	if r.status != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" {
		t.Errorf("wrong token: %d, cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
	if !strings.Contains(r.body, "not the operator token") {
		t.Errorf("wrong token: no message:\n%s", r.body)
	}

	r = e.do("POST", "/login", url.Values{"token": {" " + testToken + "\n"}, "name": {"Alice <script>"}, "next": {"/?state=draft"}}, nil, e.sameOrigin()...)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?state=draft" {
		t.Fatalf("login: %d to %q", r.status, r.header.Get("Location"))
	}
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies: %v", cookies)
	}
	c := cookies[0]
	if c.Name != cookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 || len(c.Value) < 40 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain http, a long random value", c)
	}

	// The session works, and names the operator as the audit will.
	r = e.do("GET", "/", nil, &http.Cookie{Name: c.Name, Value: c.Value})
	if r.status != http.StatusOK || !strings.Contains(r.body, "operator:Alice script (web console)") {
		t.Errorf("with session: %d, want the sanitized actor name on the page", r.status)
	}
	// Neither the token (right or wrong) nor the session id is logged.
	logs := e.logs.String()
	for _, secret := range []string{testToken, wrong, c.Value} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "web console: login with a wrong token") || !strings.Contains(logs, "web console: login ") {
		t.Errorf("logins not logged:\n%s", logs)
	}
}

func TestLoginRedirectStaysLocal(t *testing.T) {
	e := newEnv(t, nil)
	for next, want := range map[string]string{
		"/incidents/INC-1":        "/incidents/INC-1",
		"//evil.example/x":        "/",
		"https://evil.example/":   "/",
		"/\\evil.example":         "/",
		"javascript:alert(1)":     "/",
		"":                        "/",
		"/%0d%0aSet-Cookie:x=1":   "/%0d%0aSet-Cookie:x=1", // escaped: harmless path
		"/ok?state=draft#x":       "/ok?state=draft#x",
		"/\r\nLocation: http://x": "/",
	} {
		r := e.do("POST", "/login", url.Values{"token": {testToken}, "next": {next}}, nil, e.sameOrigin()...)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("next=%q: %d to %q, want %q", next, r.status, r.header.Get("Location"), want)
		}
	}
}

func TestSecureCookie(t *testing.T) {
	t.Run("https external url", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.ExternalURL = "https://nymwatch.example.net/ops/" })
		r := e.do("POST", "/login", url.Values{"token": {testToken}}, nil, e.sameOrigin()...)
		c := (&http.Response{Header: r.header}).Cookies()
		if len(c) != 1 || c[0].Name != secureCookieName || !c[0].Secure || !c[0].HttpOnly || c[0].Path != "/" {
			t.Fatalf("cookie %+v, want a Secure __Host- cookie", c)
		}
		// Links carry the external URL's path (a proxy strips it).
		if loc := r.header.Get("Location"); loc != "/ops/" {
			t.Errorf("redirect to %q, want /ops/", loc)
		}
		// The external origin is trusted even if a proxy rewrote Host.
		e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
		id := e.idOf(disclosure.StateDraft)
		r = e.do("POST", "/incidents/"+id+"/confirm", url.Values{}, &http.Cookie{Name: c[0].Name, Value: c[0].Value},
			"Origin", "https://nymwatch.example.net")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ops/incidents/"+id+"?done=confirm" {
			t.Errorf("confirm from the external origin: %d to %q", r.status, r.header.Get("Location"))
		}
	})
	t.Run("tls", func(t *testing.T) {
		e := newEnv(t, nil)
		req := httptest.NewRequest("POST", "https://127.0.0.1/login", strings.NewReader("token="+testToken))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.TLS = &tls.ConnectionState{}
		w := httptest.NewRecorder()
		e.ui.ServeHTTP(w, req)
		c := w.Result().Cookies()
		if len(c) != 1 || !c[0].Secure {
			t.Fatalf("cookie over TLS %+v, want Secure", c)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, nil)
	for i := range authn.DefaultFailuresPerClient {
		if r := e.do("POST", "/login", url.Values{"token": {"nope"}}, nil, e.sameOrigin()...); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	// Even the right token is refused until the window passes.
	r := e.do("POST", "/login", url.Values{"token": {testToken}}, nil, e.sameOrigin()...)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("throttled login: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	e.clock.Set(e.clock.Now().Add(authn.DefaultThrottleWindow))
	e.login("")
	want := `
# HELP nymwatch_web_logins_total Logins to the web console by result (success, failure, throttled).
# TYPE nymwatch_web_logins_total counter
nymwatch_web_logins_total{result="failure"} 10
nymwatch_web_logins_total{result="success"} 1
nymwatch_web_logins_total{result="throttled"} 1
# HELP nymwatch_web_sessions Live web console sessions.
# TYPE nymwatch_web_sessions gauge
nymwatch_web_sessions 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "nymwatch_web_logins_total", "nymwatch_web_sessions"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(e.reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestMetricsRegisterOncePerRegistry(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := New(Options{Service: e.svc, Registerer: e.reg}); err == nil {
		t.Error("a second console on the same registry registered its metrics twice")
	}
	if _, err := New(Options{Service: e.svc, Registerer: prometheus.NewRegistry()}); err != nil {
		t.Error(err)
	}
}

func TestLoginDisabledWithoutToken(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.OperatorToken = []byte(" \n") })
	r := e.do("GET", "/login", nil, nil)
	if !strings.Contains(r.body, "Login is disabled") || strings.Contains(r.body, `type="password"`) {
		t.Errorf("login page without a token:\n%s", r.body)
	}
	r = e.do("POST", "/login", url.Values{"token": {""}}, nil, e.sameOrigin()...)
	if r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
		t.Errorf("login without a configured token: %d", r.status)
	}
}

func TestSessionExpiryAndLogout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SessionTTL = time.Hour })
	c := e.login("")
	if r := e.do("GET", "/", nil, c); r.status != http.StatusOK {
		t.Fatalf("fresh session: %d", r.status)
	}
	e.clock.Set(e.clock.Now().Add(time.Hour))
	if r := e.do("GET", "/", nil, c); r.status != http.StatusSeeOther {
		t.Errorf("expired session: %d, want a redirect to login", r.status)
	}

	c = e.login("")
	r := e.do("POST", "/logout", url.Values{}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Fatalf("logout: %d to %q", r.status, r.header.Get("Location"))
	}
	cleared := (&http.Response{Header: r.header}).Cookies()
	if len(cleared) != 1 || cleared[0].MaxAge >= 0 || cleared[0].Value != "" {
		t.Errorf("logout did not clear the cookie: %+v", cleared)
	}
	if r := e.do("GET", "/", nil, c); r.status != http.StatusSeeOther {
		t.Errorf("session still valid after logout: %d", r.status)
	}
}

func TestStateChangesNeedASession(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PublicRead = true })
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	for _, c := range []*http.Cookie{nil, {Name: cookieName, Value: "forged-session-id"}} {
		for _, action := range []string{"confirm", "dismiss", "resolve", "edit"} {
			form := url.Values{"reason": {"x"}, "field": {"summary"}, "text": {"hacked"}}
			r := e.do("POST", "/incidents/"+id+"/"+action, form, c, e.sameOrigin()...)
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
				t.Errorf("%s with cookie %v: %d to %q, want a redirect to login", action, c, r.status, r.header.Get("Location"))
			}
		}
	}
	inc := e.get(id)
	if inc.State != disclosure.StateDraft || len(inc.Edited) != 0 || len(inc.Audit) != 1 {
		t.Errorf("incident changed without a session: state %s, edited %v, audit %v", inc.State, inc.Edited, inc.Audit)
	}
}

func TestCrossSitePostsRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	c := e.login("")
	cases := map[string][]string{
		"sec-fetch-site cross-site": {"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		"sec-fetch-site same-site":  {"Sec-Fetch-Site", "same-site", "Origin", "https://sub.127.0.0.1"},
		"foreign origin only":       {"Origin", "https://evil.example"},
		"null origin":               {"Origin", "null"},
	}
	for name, hdr := range cases {
		for _, action := range []string{"confirm", "dismiss", "edit"} {
			form := url.Values{"reason": {"csrf"}, "field": {"summary"}, "text": {"csrf"}}
			r := e.do("POST", "/incidents/"+id+"/"+action, form, c, hdr...)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "Cross-site request refused") {
				t.Errorf("%s %s: %d, want 403", name, action, r.status)
			}
		}
		// Login and logout are state changes too (login CSRF, forced logout).
		if r := e.do("POST", "/login", url.Values{"token": {testToken}}, nil, hdr...); r.status != http.StatusForbidden {
			t.Errorf("%s login: %d", name, r.status)
		}
		if r := e.do("POST", "/logout", url.Values{}, c, hdr...); r.status != http.StatusForbidden {
			t.Errorf("%s logout: %d", name, r.status)
		}
	}
	inc := e.get(id)
	if inc.State != disclosure.StateDraft || len(inc.Audit) != 1 {
		t.Fatalf("a cross-site post changed the incident: %s %v", inc.State, inc.Audit)
	}
	if !strings.Contains(e.logs.String(), "cross-origin request refused") {
		t.Error("refusals not logged")
	}
	// The same post from the console's own origin goes through.
	r := e.do("POST", "/incidents/"+id+"/confirm", url.Values{}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther || e.get(id).State != disclosure.StateConfirmed {
		t.Errorf("same-origin confirm: %d, state %s", r.status, e.get(id).State)
	}
}

func TestDecisionsAreAuditedAsWebConsole(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	e.apply(serviceAnomaly("nymvpn-api", detector.ClassOperational, t0.Add(time.Hour)), t0.Add(time.Hour+2*time.Minute))
	incs, err := e.svc.List(t.Context(), disclosure.Filter{State: disclosure.StateDraft})
	if err != nil || len(incs) != 2 {
		t.Fatalf("want 2 drafts: %v %v", incs, err)
	}
	gw, svc := incs[1].ID, incs[0].ID // newest first
	c := e.login("alice")
	const actor = "operator:alice (web console)"

	// Dismiss needs a reason: refused, the page says why, nothing changes.
	r := e.do("POST", "/incidents/"+svc+"/dismiss", url.Values{"reason": {"   "}}, c, e.sameOrigin()...)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Dismiss needs a non-empty reason") || !strings.Contains(r.body, `id="reason-error"`) {
		t.Errorf("dismiss without reason: %d\n%s", r.status, r.body)
	}
	if e.get(svc).State != disclosure.StateDraft {
		t.Fatal("dismiss without reason changed the state")
	}
	e.clock.Set(t0.Add(70 * time.Minute))
	r = e.do("POST", "/incidents/"+svc+"/dismiss", url.Values{"reason": {"Staging API, not user facing"}}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/incidents/"+svc+"?done=dismiss" {
		t.Fatalf("dismiss: %d to %q", r.status, r.header.Get("Location"))
	}
	page := e.do("GET", r.header.Get("Location"), nil, c)
	if !strings.Contains(page.body, "Dismissed: this incident will not be disclosed") || !strings.Contains(page.body, "Staging API, not user facing") {
		t.Errorf("page after dismiss lacks the notice or the reason")
	}

	r = e.do("POST", "/incidents/"+gw+"/confirm", url.Values{}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.status)
	}
	// A second confirm (say, from a stale tab) is a conflict, explained.
	r = e.do("POST", "/incidents/"+gw+"/confirm", url.Values{}, c, e.sameOrigin()...)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "it is already confirmed") {
		t.Errorf("second confirm: %d", r.status)
	}
	r = e.do("POST", "/incidents/"+gw+"/resolve", url.Values{}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther {
		t.Fatalf("resolve: %d", r.status)
	}

	// The API shows the same trail, with the console as the actor.
	for id, want := range map[string][]string{svc: {"opened", "dismissed"}, gw: {"opened", "confirmed", "resolved"}} {
		m := e.apiIncident(id)
		var got []string
		for _, a := range m["audit"].([]any) {
			entry := a.(map[string]any)
			got = append(got, entry["action"].(string))
			if entry["action"] != "opened" {
				if entry["actor"] != actor || !strings.HasPrefix(entry["remote_addr"].(string), "127.0.0.1:") {
					t.Errorf("%s %s: actor %v from %v", id, entry["action"], entry["actor"], entry["remote_addr"])
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s audit %v, want %v", id, got, want)
		}
	}
	if m := e.apiIncident(gw); m["state"] != "resolved" || m["acknowledged_at"] != "2026-11-25T11:10:00.123Z" {
		t.Errorf("gateway incident: state %v, acknowledged %v", m["state"], m["acknowledged_at"])
	}
	// And the page lists it.
	page = e.do("GET", "/incidents/"+gw, nil, c)
	if !strings.Contains(page.body, actor) || !strings.Contains(page.body, "No decision is pending") {
		t.Error("incident page lacks the web console actor or still offers a decision")
	}
}

func TestEditFields(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	c := e.login("bob")
	edit := func(field, text string, extra ...string) resp {
		form := url.Values{"field": {field}, "text": {text}}
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		return e.do("POST", "/incidents/"+id+"/edit", form, c, e.sameOrigin()...)
	}

	// Textareas post CRLF; the report keeps LF.
	r := edit("remediation", "- Immediate fixes deployed: restarted the gateways\r\n- Long-term: more gateways\r\n\r\n")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/incidents/"+id+"?done=edit#field-remediation" {
		t.Fatalf("edit: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	inc := e.get(id)
	if inc.Report.Remediation != "- Immediate fixes deployed: restarted the gateways\n- Long-term: more gateways" || !slices.Contains(inc.Edited, "remediation") {
		t.Errorf("remediation = %q, edited %v", inc.Report.Remediation, inc.Edited)
	}
	// The page shows it rendered, marked as edited.
	page := e.do("GET", "/incidents/"+id+"?done=edit", nil, c).body
	if !strings.Contains(page, "<li>Immediate fixes deployed: restarted the gateways</li>") || !strings.Contains(page, "Saved.") {
		t.Error("edited field not rendered on the page")
	}

	// Saving a generated field unchanged does nothing (it would stop it
	// from updating as the incident develops).
	before := len(e.get(id).Audit)
	r = edit("summary", strings.ReplaceAll(inc.Report.Summary, "\n", "\r\n")+"\r\n")
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=unchanged") || len(e.get(id).Audit) != before {
		t.Errorf("unchanged save: %d %q, audit %d → %d", r.status, r.header.Get("Location"), before, len(e.get(id).Audit))
	}

	// Restore the generated text.
	r = edit("remediation", "", "op", "restore")
	if r.status != http.StatusSeeOther || slices.Contains(e.get(id).Edited, "remediation") {
		t.Errorf("restore: %d, edited %v", r.status, e.get(id).Edited)
	}

	// Invalid input is refused with the typed text kept in the form.
	r = edit("title", strings.Repeat("t", 400))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="edit-title-error"`) || !strings.Contains(r.body, strings.Repeat("t", 400)) {
		t.Errorf("too long title: %d", r.status)
	}
	if r := edit("no_such_field", "x"); r.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d", r.status)
	}

	var actions []string
	for _, a := range e.get(id).Audit {
		actions = append(actions, a.Action+"/"+a.Actor)
	}
	want := []string{"opened/nymwatch", "edited/operator:bob (web console)", "edited/operator:bob (web console)"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}
}

func TestListOrderAndFilters(t *testing.T) {
	e := newEnv(t, nil)
	// An older and a newer draft, a confirmed incident, an internal record.
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	e.apply(serviceAnomaly("nymvpn-api", detector.ClassOperational, t0.Add(time.Hour)), t0.Add(time.Hour+time.Minute))
	e.apply(serviceAnomaly("nym-api", detector.ClassOperational, t0.Add(3*time.Hour)), t0.Add(3*time.Hour))
	e.apply(serviceAnomaly("staging-api", detector.ClassInternal, t0.Add(4*time.Hour)), t0.Add(4*time.Hour))
	all, err := e.svc.List(t.Context(), disclosure.Filter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("setup: %d incidents, %v", len(all), err)
	}
	internal, confirmed, newer, older := all[0].ID, all[1].ID, all[2].ID, all[3].ID
	if _, err := e.svc.Confirm(t.Context(), confirmed, disclosure.Actor{Name: "operator"}, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(t0.Add(5 * time.Hour))
	c := e.login("")

	body := e.do("GET", "/", nil, c).body
	drafts, others := section(t, body, "drafts"), section(t, body, "others")
	if got := rowIDs(drafts); !slices.Equal(got, []string{older, newer}) {
		t.Errorf("drafts %v, want oldest first %v", got, []string{older, newer})
	}
	if got := rowIDs(others); !slices.Equal(got, []string{internal, confirmed}) {
		t.Errorf("others %v, want %v", got, []string{internal, confirmed})
	}
	// Waiting since the draft was opened; deadline at the end of the UTC
	// day it was detected; both in words.
	for _, want := range []string{"4h 58m", "8h 59m left", "2026-11-26 00:00 UTC", "Operational", "exit_gateways", "Decentralized network", "Centralized services"} {
		if !strings.Contains(drafts, want) {
			t.Errorf("drafts table lacks %q", want)
		}
	}
	if !strings.Contains(others, "Internal record (no disclosure)") || !strings.Contains(others, "Confirmed for public disclosure") {
		t.Error("states not written out in the others table")
	}

	for q, want := range map[string][]string{
		"?class=internal":                   {internal},
		"?state=confirmed":                  {confirmed},
		"?state=draft":                      {older, newer},
		"?class=operational":                {older, newer, confirmed},
		"?class=operational&state=resolved": nil,
	} {
		r := e.do("GET", "/"+q, nil, c)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d", q, r.status)
			continue
		}
		if got := rowIDs(r.body); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", q, got, want)
		}
	}
	if r := e.do("GET", "/?state=draft", nil, c); strings.Contains(r.body, `id="others-h"`) {
		t.Error("state=draft still shows the other incidents")
	}
	if r := e.do("GET", "/?state=confirmed", nil, c); strings.Contains(r.body, `id="drafts-h"`) {
		t.Error("state=confirmed still shows the drafts section")
	}
	for _, q := range []string{"?state=open", "?class=critical"} {
		if r := e.do("GET", "/"+q, nil, c); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, r.status)
		}
	}

	// Past midnight UTC the draft is overdue, and says so in words.
	e.clock.Set(time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC))
	if body := e.do("GET", "/", nil, c).body; !strings.Contains(body, "overdue by 30m 0s") || !strings.Contains(body, "urgency-overdue") {
		t.Error("overdue draft not marked overdue in words")
	}
}

var rowIDRE = regexp.MustCompile(`<tr[^>]*data-id="([^"]+)"`)

func rowIDs(html string) []string {
	var out []string
	for _, m := range rowIDRE.FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	return out
}

// section returns the table with the given id.
func section(t *testing.T, html, id string) string {
	t.Helper()
	start := strings.Index(html, `<table class="incidents" id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no table %q", id)
	}
	end := strings.Index(html[start:], "</table>")
	return html[start : start+end]
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, nil)
	c := e.login("")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/incidents/INC-20990101-0001"},
		{"POST", "/incidents/INC-20990101-0001/confirm"},
		{"POST", "/incidents/INC-20990101-0001/edit"},
		{"GET", "/static/nope.css"},
		{"GET", "/static/"},
		{"GET", "/nope"},
	} {
		var form url.Values
		if tc.method == "POST" {
			form = url.Values{"field": {"summary"}, "text": {"x"}}
		}
		if r := e.do(tc.method, tc.path, form, c, e.sameOrigin()...); r.status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", tc.method, tc.path, r.status)
		}
	}
	r := e.do("GET", "/incidents/%3Cscript%3E", nil, c)
	if r.status != http.StatusNotFound || strings.Contains(r.body, "<script>") || !strings.Contains(r.body, "&lt;script&gt;") {
		t.Errorf("unknown id is not escaped on the 404 page: %d", r.status)
	}
}

func TestEscaping(t *testing.T) {
	e := newEnv(t, nil)
	a := gatewayAnomaly("exit_gateways", t0, 1400, 3)
	a.Reason = `<img src=x onerror=alert("reason")>`
	a.Evidence[0].Detail = `<script>alert("detail")</script>`
	a.Evidence[1].Country = `"><svg onload=alert(1)>`
	e.apply(a, t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	c := e.login("")
	for field, text := range map[string]string{
		"title":        `<script>alert("title")</script>`,
		"summary":      "<script>alert('summary')</script> and [click](javascript:alert(1))",
		"user_actions": "</textarea><script>alert('textarea')</script>",
	} {
		if r := e.do("POST", "/incidents/"+id+"/edit", url.Values{"field": {field}, "text": {text}}, c, e.sameOrigin()...); r.status != http.StatusSeeOther {
			t.Fatalf("edit %s: %d %s", field, r.status, r.body)
		}
	}
	for _, path := range []string{"/incidents/" + id, "/"} {
		body := e.do("GET", path, nil, c).body
		for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", `href="javascript:`, "</textarea><script>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains unescaped %q", path, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;") {
			t.Errorf("%s does not show the title as text", path)
		}
	}
	// The only scripts on the page are the console's own.
	body := e.do("GET", "/incidents/"+id, nil, c).body
	if n := strings.Count(body, "<script"); n != 1 || !strings.Contains(body, `<script src="/static/app.js?v=`) {
		t.Errorf("%d script tags", n)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/login", nil, nil)
	for h, want := range map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	m := regexp.MustCompile(`href="(/static/style\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no versioned stylesheet link")
	}
	s := e.do("GET", m[1], nil, nil)
	if s.status != http.StatusOK || !strings.HasPrefix(s.header.Get("Content-Type"), "text/css") || !strings.Contains(s.header.Get("Cache-Control"), "immutable") {
		t.Errorf("stylesheet: %d %q %q", s.status, s.header.Get("Content-Type"), s.header.Get("Cache-Control"))
	}
	if s := e.do("GET", "/static/style.css?v=old", nil, nil); s.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("stale version cached: %q", s.header.Get("Cache-Control"))
	}
}

// TestAPIUnaffected: mounting the console next to the API changes nothing
// for API clients (bearer token, no cookie, no Origin).
func TestAPIUnaffected(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	r := e.do("POST", "/api/v1/incidents/"+id+"/confirm", nil, nil, "Authorization", "Bearer "+testToken)
	if r.status != http.StatusOK {
		t.Fatalf("api confirm: %d %s", r.status, r.body)
	}
	if got := e.get(id).Audit[1].Actor; got != "operator" {
		t.Errorf("api actor %q", got)
	}
}

func TestSetAccessOnReload(t *testing.T) {
	e := newEnv(t, nil)
	c := e.login("")

	// Same token, reads made public: the session survives, and an
	// anonymous reader gets in.
	e.ui.SetAccess([]byte(testToken+"\n"), true)
	if r := e.do("GET", "/", nil, c); r.status != http.StatusOK || !strings.Contains(r.body, "Log out") {
		t.Errorf("session after a reload with the same token: %d", r.status)
	}
	if r := e.do("GET", "/", nil, nil); r.status != http.StatusOK {
		t.Errorf("public read after reload: %d", r.status)
	}

	// A new token ends every session; only the new token logs in.
	const rotated = "rotated-operator-token-0123456789"
	e.ui.SetAccess([]byte(rotated), false)
	if r := e.do("GET", "/", nil, c); r.status != http.StatusSeeOther {
		t.Errorf("session after the token changed: %d, want a redirect to login", r.status)
	}
	if r := e.do("POST", "/login", url.Values{"token": {testToken}}, nil, e.sameOrigin()...); r.status != http.StatusUnauthorized {
		t.Errorf("old token after rotation: %d", r.status)
	}
	if r := e.do("POST", "/login", url.Values{"token": {rotated}}, nil, e.sameOrigin()...); r.status != http.StatusSeeOther {
		t.Errorf("new token: %d", r.status)
	}
	if !strings.Contains(e.logs.String(), "operator token changed, sessions ended") || strings.Contains(e.logs.String(), rotated) {
		t.Error("rotation not logged, or the token was")
	}
}
