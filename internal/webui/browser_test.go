package webui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/probes"

	"github.com/nymwatch/nymwatch/internal/browsertest"
)

// simulateExitGatewayOutage runs the real detector over probe results in
// which 4 of 10 exit gateways stop answering, and records what it emits in
// the disclosure service: the draft an on-call human is paged for.
func simulateExitGatewayOutage(t *testing.T, e *env, start time.Time) string {
	t.Helper()
	countries := []string{"DE", "FR", "NL", "CH", "US"}
	var targets []*probes.Target
	for i := range 20 {
		id := uint32(1400 + i)
		role := probes.RoleExitGateway
		if i >= 10 {
			role = probes.RoleEntryGateway
		}
		targets = append(targets, &probes.Target{
			ID: fmt.Sprintf("node/%d/node_http", id), Kind: probes.KindNodeHTTP,
			Address: fmt.Sprintf("http://192.0.2.%d:8080", i+1),
			Node:    &probes.Node{NodeID: id, Role: role, Country: countries[i%len(countries)]},
		})
	}
	d := detector.New(detector.Options{FailureThreshold: 3, RecoveryThreshold: 2})
	d.SetTargets(targets)
	failing := map[uint32]bool{1401: true, 1403: true, 1404: true, 1407: true}
	const step = 30 * time.Second
	for round := range 8 {
		at := start.Add(time.Duration(round) * step)
		for _, tg := range targets {
			r := probes.Result{Target: tg, OK: true, Latency: 40 * time.Millisecond, At: at}
			if round >= 2 && failing[tg.Node.NodeID] {
				r = probes.Result{Target: tg, Reason: probes.ReasonTimeout, Latency: 5 * time.Second, At: at,
					Detail: "GET /api/v1/health: context deadline exceeded"}
			}
			d.Observe(r)
		}
		now := at.Add(time.Second)
		for _, a := range d.Evaluate(now) {
			e.apply(a, now)
		}
	}
	return e.idOf(disclosure.StateDraft)
}

func TestBrowserEndToEnd(t *testing.T) {
	browsertest.Find(t) // skip (or fail in CI) before the setup
	e := newEnv(t, nil)
	start := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	id := simulateExitGatewayOutage(t, e, start)
	e.clock.Set(start.Add(12*time.Minute + 30*time.Second))

	// The attacker's page lives on another site: "localhost" and
	// "127.0.0.1" are different sites to the browser.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Free gateways</title>
<form method="post" action="%s/incidents/%s/dismiss"><input type="hidden" name="reason" value="csrf">
<button id="go" type="submit">Claim</button></form>`, e.srv.URL, id)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	bctx := browsertest.New(t, 1280, 900, 3*time.Minute)

	// load runs the steps and waits for the page they navigate to.
	load := func(what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
		t.Helper()
		res, err := chromedp.RunResponse(bctx, steps...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// 1. The console needs a login: the list redirects to the form.
	res := load("open console", chromedp.Navigate(e.srv.URL+"/"))
	if u, _ := url.Parse(res.URL); u.Path != "/login" {
		t.Fatalf("console without login went to %s", res.URL)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.SendKeys(chromedp.ID("name"), "e2e-oncall"),
	); err != nil {
		t.Fatal(err)
	}
	res = load("log in", chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)))
	if res.Status != http.StatusOK || !strings.HasSuffix(res.URL, "/") {
		t.Fatalf("after login: %d %s", res.Status, res.URL)
	}
	cookies, err := chromedp.Call(bctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.srv.URL}})
	if err != nil || len(cookies.Cookies) != 1 {
		t.Fatalf("cookies: %v %v", cookies, err)
	}
	sc := cookies.Cookies[0]
	if sc.Name != cookieName || !sc.HTTPOnly || sc.SameSite != network.CookieSameSiteStrict {
		t.Errorf("session cookie as the browser stored it: %+v", sc)
	}

	// 2. Open the draft from the list.
	if got := text("#drafts tbody tr"); !strings.Contains(got, id) || !strings.Contains(got, "Operational") || !strings.Contains(got, "left") {
		t.Errorf("draft row: %q", got)
	}
	res = load("open draft", chromedp.Click(chromedp.CSS(`#drafts a[href="/incidents/`+id+`"]`)))
	if res.Status != http.StatusOK {
		t.Fatalf("incident page: %d", res.Status)
	}
	if got := text("#state"); got != "Draft: waiting for a decision" {
		t.Errorf("state %q", got)
	}
	if got := text("#evidence"); !strings.Contains(got, "node/1403/node_http") || !strings.Contains(got, "exit gateway") {
		t.Errorf("evidence: %q", got)
	}

	// 3. Edit a field in place.
	const remediation = "- Immediate fixes deployed: the operators of nodes 1401, 1403, 1404 and 1407 restarted their gateways\n- Long-term prevention measures: alert operators directly"
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#field-remediation details.edit > summary`)),
		chromedp.WaitVisible(chromedp.ID("edit-remediation")),
		chromedp.SetValue(chromedp.ID("edit-remediation"), remediation),
	); err != nil {
		t.Fatal(err)
	}
	res = load("save field", chromedp.Click(chromedp.CSS(`#field-remediation button[value=save]`)))
	if res.Status != http.StatusOK || !strings.Contains(res.URL, "done=edit") {
		t.Fatalf("after save: %d %s", res.Status, res.URL)
	}
	if got := text("#field-remediation ul"); !strings.Contains(got, "restarted their gateways") {
		t.Errorf("edited field not rendered: %q", got)
	}
	if path := os.Getenv("NYMWATCH_SCREENSHOT"); path != "" {
		// From the top of the page, so the sticky decision panel is drawn
		// where a reader first sees it.
		load("reload for the screenshot", chromedp.Navigate(e.srv.URL+"/incidents/"+id))
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of the incident page: %s", path)
	}
	if path := os.Getenv("NYMWATCH_SCREENSHOT_PHONE"); path != "" {
		// The same page on a phone-sized screen, to review the layout.
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
		load("reload at phone size", chromedp.Navigate(e.srv.URL+"/incidents/"+id))
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(bctx, chromedp.EmulateReset()); err != nil {
			t.Fatal(err)
		}
	}

	// 4. A form on another site posting to the console is refused, although
	// the browser is logged in.
	load("open the other site", chromedp.Navigate(evilURL))
	res = load("cross-site post", chromedp.Click(chromedp.ID("go")))
	if res.Status != http.StatusForbidden || !strings.Contains(text("main"), "Cross-site request refused") {
		t.Errorf("cross-site form post: %d %q", res.Status, text("main"))
	}
	if st := e.get(id).State; st != disclosure.StateDraft {
		t.Fatalf("the cross-site post changed the state to %s", st)
	}

	// 5. Confirm.
	load("back to the draft", chromedp.Navigate(e.srv.URL+"/incidents/"+id))
	res = load("confirm", chromedp.Click(chromedp.ID("confirm")))
	if res.Status != http.StatusOK || !strings.Contains(res.URL, "done=confirm") {
		t.Fatalf("after confirm: %d %s", res.Status, res.URL)
	}
	if got := text("#state"); got != "Confirmed for public disclosure" {
		t.Errorf("state after confirm %q", got)
	}
	if got := text("#audit"); !strings.Contains(got, "operator:e2e-oncall (web console)") || !strings.Contains(got, "confirmed") {
		t.Errorf("audit on the page: %q", got)
	}

	// 6. The API sees the decision and the trail.
	m := e.apiIncident(id)
	if m["state"] != "confirmed" || m["acknowledged_at"] == nil {
		t.Errorf("api: state %v, acknowledged_at %v", m["state"], m["acknowledged_at"])
	}
	var trail []string
	for _, a := range m["audit"].([]any) {
		entry := a.(map[string]any)
		line := fmt.Sprint(entry["action"], " by ", entry["actor"])
		if d, ok := entry["detail"].(map[string]any); ok && entry["action"] == "edited" {
			line += fmt.Sprint(" field ", d["field"])
			if d["new"] != remediation {
				t.Errorf("audited new text %q", d["new"])
			}
		}
		trail = append(trail, line)
	}
	want := []string{
		"edited by operator:e2e-oncall (web console) field remediation",
		"confirmed by operator:e2e-oncall (web console)",
	}
	if len(trail) < 2 || trail[len(trail)-2] != want[0] || trail[len(trail)-1] != want[1] {
		t.Errorf("audit trail %q, want it to end with %q", trail, want)
	}
	r := e.do("GET", "/api/v1/incidents/"+id+"/report.md", nil, nil, "Authorization", "Bearer "+testToken)
	if !strings.Contains(r.body, remediation) || strings.Contains(r.body, "DRAFT") {
		t.Errorf("report.md after confirm:\n%s", r.body)
	}

	// 7. A cross-site POST carrying the browser's own session cookie is
	// refused too (the cookie alone is not enough).
	stolen := &http.Cookie{Name: sc.Name, Value: sc.Value}
	for _, hdr := range [][]string{
		{"Origin", evilURL, "Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://evil.example"},
	} {
		if r := e.do("POST", "/incidents/"+id+"/resolve", url.Values{}, stolen, hdr...); r.status != http.StatusForbidden {
			t.Errorf("cross-site POST with the session cookie (%v): %d", hdr, r.status)
		}
	}
	if st := e.get(id).State; st != disclosure.StateConfirmed {
		t.Errorf("state after refused posts: %s", st)
	}
}
