package webui

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/nymwatch/nymwatch/disclosure"

	"github.com/nymwatch/nymwatch/internal/browsertest"
	"github.com/nymwatch/nymwatch/internal/store/storetest"
)

func newMaintEnv(t *testing.T) (*env, *disclosure.Maintenance) {
	t.Helper()
	m := disclosure.NewMaintenance(storetest.Open(t))
	return newEnv(t, func(o *Options) { o.Maintenance = m }), m
}

func TestMaintenanceView(t *testing.T) {
	e, m := newMaintEnv(t)

	// Reading needs a session: windows say what is being worked on.
	if r := e.do("GET", "/maintenance", nil, nil); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/login?next=%2Fmaintenance") {
		t.Fatalf("without a session: %d %v", r.status, r.header)
	}
	c := e.login("alice")
	r := e.do("GET", "/maintenance", nil, c)
	if r.status != http.StatusOK || !strings.Contains(r.body, "No active or upcoming maintenance window") || !strings.Contains(r.body, `id="add-window"`) {
		t.Fatalf("empty view: %d\n%s", r.status, r.body)
	}

	add := url.Values{"services": {"nym-api"}, "components": {"country/DE"}, "duration": {"2h"}, "reason": {"nym-api <b>upgrade</b>"}}
	// A cross-site post is refused, and nothing is stored.
	if r := e.do("POST", "/maintenance", add, c, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
		t.Fatalf("cross-site add: %d", r.status)
	}
	// Without a session: to the login form, nothing stored.
	if r := e.do("POST", "/maintenance", add, nil, e.sameOrigin()...); r.status != http.StatusSeeOther {
		t.Fatalf("add without session: %d", r.status)
	}
	if ws, _ := m.List(t.Context(), e.clock.Now(), true); len(ws) != 0 {
		t.Fatalf("refused adds stored %+v", ws)
	}

	r = e.do("POST", "/maintenance", add, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/maintenance?done=add" {
		t.Fatalf("add: %d %v\n%s", r.status, r.header, r.body)
	}
	ws, err := m.List(t.Context(), e.clock.Now(), false)
	if err != nil || len(ws) != 1 || ws[0].Who != "operator:alice (web console)" || !ws[0].End.Equal(e.clock.Now().Add(2*time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("stored %+v %v", ws, err)
	}
	r = e.do("GET", "/maintenance?done=add", nil, c)
	if !strings.Contains(r.body, ws[0].ID) || !strings.Contains(r.body, "service=nym-api, component=country/DE") ||
		!strings.Contains(r.body, "nym-api &lt;b&gt;upgrade&lt;/b&gt;") || !strings.Contains(r.body, "Maintenance window declared.") {
		t.Fatalf("view after add:\n%s", r.body)
	}

	// A bad window: a clear error, and what was typed is kept.
	bad := url.Values{"components": {"*"}, "duration": {"2h"}, "reason": {"keep me"}}
	r = e.do("POST", "/maintenance", bad, c, e.sameOrigin()...)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "wildcards are not allowed") || !strings.Contains(r.body, "keep me") {
		t.Fatalf("bad add: %d\n%s", r.status, r.body)
	}
	r = e.do("POST", "/maintenance", url.Values{"services": {"nym-api"}, "duration": {"8d"}, "reason": {"x"}}, c, e.sameOrigin()...)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "too long") {
		t.Fatalf("too long: %d\n%s", r.status, r.body)
	}

	// End it.
	r = e.do("POST", "/maintenance/"+ws[0].ID+"/end", url.Values{"reason": {"done"}}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther {
		t.Fatalf("end: %d\n%s", r.status, r.body)
	}
	got, err := m.Get(t.Context(), ws[0].ID)
	if err != nil || got.EndedBy != "operator:alice (web console)" {
		t.Fatalf("ended %+v %v", got, err)
	}
	audit, err := m.Audit(t.Context(), ws[0].ID)
	if err != nil || len(audit) != 2 || audit[1].Action != "end" || audit[1].Actor != "operator:alice (web console)" {
		t.Fatalf("audit %+v %v", audit, err)
	}
	if r := e.do("POST", "/maintenance/"+ws[0].ID+"/end", nil, c, e.sameOrigin()...); r.status != http.StatusConflict {
		t.Errorf("end twice: %d", r.status)
	}
	if r := e.do("POST", "/maintenance/M-77/end", nil, c, e.sameOrigin()...); r.status != http.StatusNotFound {
		t.Errorf("end unknown: %d", r.status)
	}
}

// TestMaintenanceViewInBrowser declares and ends a window with a real
// browser: the forms work as a person uses them, through the session and
// cross-origin checks. NYMWATCH_SCREENSHOT_MAINTENANCE=FILE saves a
// screenshot of the view.
func TestMaintenanceViewInBrowser(t *testing.T) {
	browsertest.Find(t) // skip (or fail in CI) before the setup
	e, m := newMaintEnv(t)
	bctx := browsertest.New(t, 1280, 900, 2*time.Minute)
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

	res := load("open maintenance", chromedp.Navigate(e.srv.URL+"/maintenance"))
	if u, _ := url.Parse(res.URL); u.Path != "/login" {
		t.Fatalf("maintenance without login went to %s", res.URL)
	}
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("token"), testToken), chromedp.SendKeys(chromedp.ID("name"), "carol")); err != nil {
		t.Fatal(err)
	}
	res = load("log in", chromedp.Click(chromedp.CSS(`form.login button[type=submit]`)))
	if u, _ := url.Parse(res.URL); res.Status != http.StatusOK || u.Path != "/maintenance" {
		t.Fatalf("after login: %d %s", res.Status, res.URL)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("m-services"), "nym-api"),
		chromedp.SendKeys(chromedp.ID("m-duration"), "90m"),
		chromedp.SendKeys(chromedp.ID("m-reason"), "nym-api upgrade to v1.40"),
	); err != nil {
		t.Fatal(err)
	}
	res = load("declare", chromedp.Click(chromedp.CSS(`#add-window button[type=submit]`)))
	if res.Status != http.StatusOK || !strings.Contains(res.URL, "done=add") {
		t.Fatalf("after declare: %d %s", res.Status, res.URL)
	}
	if row := text("#windows tbody tr"); !strings.Contains(row, "M-1") || !strings.Contains(row, "service=nym-api") ||
		!strings.Contains(row, "operator:carol (web console)") || !strings.Contains(row, "active") {
		t.Errorf("window row: %q", row)
	}
	if path := os.Getenv("NYMWATCH_SCREENSHOT_MAINTENANCE"); path != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res = load("end", chromedp.Click(chromedp.CSS(`#windows tbody tr form button[type=submit]`)))
	if res.Status != http.StatusOK || !strings.Contains(res.URL, "done=end") {
		t.Fatalf("after end: %d %s", res.Status, res.URL)
	}
	if w, err := m.Get(t.Context(), "M-1"); err != nil || w.EndedBy != "operator:carol (web console)" {
		t.Errorf("after end: %+v %v", w, err)
	}
}
