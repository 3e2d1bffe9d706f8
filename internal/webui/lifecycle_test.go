package webui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// TestLifecycleConsole: a confirmed incident's page shows the checklist,
// follow-ups and credit; the forms tick, mark, add, credit and close, as
// "operator:<name> (web console)"; overdue is said in words; a hostile
// reporter name is shown as text; cross-origin posts are refused.
func TestLifecycleConsole(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(serviceAnomaly("nymvpn-api", detector.ClassOperational, t0), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	c := e.login("alice")
	if page := e.do("GET", "/incidents/"+id, nil, c); strings.Contains(page.body, `id="after"`) {
		t.Fatal("a draft shows the after-confirmation section")
	}
	post := func(action string, form url.Values) resp {
		t.Helper()
		return e.do("POST", "/incidents/"+id+"/"+action, form, c, e.sameOrigin()...)
	}
	if r := post("confirm", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.status)
	}
	page := e.do("GET", "/incidents/"+id, nil, c)
	for _, want := range []string{`id="after"`, "Banner on nym.com and the Help Center", "Restore service", "Enhanced automation for faster recovery", `id="credit-add"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if r := post("channel", url.Values{"channel": {"Status page"}, "done": {"true"}, "note": {"posted"}}); r.status != http.StatusSeeOther {
		t.Fatalf("tick: %d %s", r.status, r.body)
	}
	if r := post("followup-add", url.Values{"title": {"Rotate keys"}, "due": {"2026-05-20T12:00"}}); r.status != http.StatusSeeOther {
		t.Fatalf("add follow-up: %d %s", r.status, r.body)
	}
	hostile := `<script>alert(1)</script>[fix](https://phish.example)`
	if r := post("credit", url.Values{"name": {hostile}, "channel": {"discord"}, "reported_at": {"2026-05-16T10:05"}}); r.status != http.StatusSeeOther {
		t.Fatalf("credit: %d %s", r.status, r.body)
	}
	if r := post("followup", url.Values{"seq": {"1"}, "done": {"true"}}); r.status != http.StatusSeeOther {
		t.Fatalf("mark follow-up: %d %s", r.status, r.body)
	}
	inc := e.get(id)
	if ch := inc.Channels[2]; ch.Name != "Status page" || ch.DoneBy != "operator:alice (web console)" || ch.Note != "posted" {
		t.Errorf("channel %+v", ch)
	}
	if f := inc.FollowUps[0]; f.DoneBy != "operator:alice (web console)" || len(inc.FollowUps) != 7 ||
		!inc.FollowUps[6].DueAt.Equal(time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("follow-ups %+v", inc.FollowUps)
	}
	if len(inc.Reporters) != 1 || inc.Reporters[0].Name != hostile {
		t.Errorf("reporters %+v", inc.Reporters)
	}
	e.clock.Set(t0.Add(30 * 24 * time.Hour))
	c = e.login("alice") // the session expired meanwhile
	page = e.do("GET", "/incidents/"+id, nil, c)
	if strings.Contains(page.body, "<script>alert(1)") || !strings.Contains(page.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("reporter name not escaped in the page")
	}
	if !strings.Contains(page.body, "<strong>OVERDUE</strong>") {
		t.Error("overdue follow-ups not marked in words")
	}
	// Bad input: an error on the page, nothing lost.
	if r := post("channel", url.Values{"channel": {"Fax"}, "done": {"true"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "not found") {
		t.Errorf("unknown channel: %d", r.status)
	}
	if r := post("credit", url.Values{"name": {"bob"}, "channel": {"discord"}, "reported_at": {"yesterday"}}); r.status != http.StatusBadRequest {
		t.Errorf("bad time: %d", r.status)
	}
	// Cross-origin and logged-out posts change nothing.
	if r := e.do("POST", "/incidents/"+id+"/close", url.Values{}, c, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
		t.Errorf("cross-origin close: %d", r.status)
	}
	if r := post("close", url.Values{}); r.status != http.StatusConflict {
		t.Errorf("close a confirmed incident: %d", r.status)
	}
	if r := post("resolve", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("resolve: %d", r.status)
	}
	if page := e.do("GET", "/incidents/"+id, nil, c); !strings.Contains(page.body, `id="close"`) {
		t.Error("no close button on a resolved incident")
	}
	if r := post("close", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("close: %d", r.status)
	}
	if inc := e.get(id); inc.State != disclosure.StateClosed {
		t.Errorf("state %s after close", inc.State)
	}
	if page := e.do("GET", "/?state=closed", nil, c); !strings.Contains(page.body, id) {
		t.Error("closed incident not listed under state=closed")
	}
}
