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

func TestConsolePublication(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(serviceAnomaly("nymvpn-api", detector.ClassOperational, t0), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	c := e.login("alice")
	page := "/incidents/" + id

	// A draft has no publication panel; publishing it is refused.
	if r := e.do("GET", page, nil, c); strings.Contains(r.body, `id="publication"`) {
		t.Errorf("draft shows the publication panel")
	}
	if r := e.do("POST", page+"/publish", url.Values{}, c, e.sameOrigin()...); r.status != http.StatusConflict || !strings.Contains(r.body, "confirm the draft first") {
		t.Errorf("publish a draft: %d", r.status)
	}
	if r := e.do("POST", page+"/confirm", url.Values{}, c, e.sameOrigin()...); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.status)
	}
	r := e.do("GET", page, nil, c)
	if !strings.Contains(r.body, `id="publish"`) || !strings.Contains(r.body, "Not published yet") || !strings.Contains(r.body, "before the same-day deadline") {
		t.Errorf("confirmed incident: no publish button or deadline:\n%s", r.body)
	}

	// Past the deadline, unpublished: the console says so.
	e.clock.Set(t0.Add(15 * time.Hour))
	if r := e.do("GET", page, nil, e.login("bob")); !strings.Contains(r.body, "Deadline passed, not published") {
		t.Errorf("deadline passed not shown:\n%s", r.body)
	}
	e.clock.Set(t0.Add(10 * time.Minute))
	c = e.login("alice")

	// Cross-site posts are refused like every other change.
	if r := e.do("POST", page+"/publish", url.Values{}, c, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
		t.Errorf("cross-site publish: %d", r.status)
	}
	r = e.do("POST", page+"/publish", url.Values{}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=publish") {
		t.Fatalf("publish: %d %s", r.status, r.header.Get("Location"))
	}
	inc := e.get(id)
	if inc.PublishedAt.IsZero() || inc.Publication == nil || !strings.Contains(inc.Publication.PublishedBy, "alice") {
		t.Fatalf("not published: %+v", inc.Publication)
	}
	r = e.do("GET", page+"?done=publish", nil, c)
	for _, want := range []string{`id="published"`, "within the same-day deadline", `id="add-update"`, "Published: the report is frozen"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("published page lacks %q", want)
		}
	}
	if strings.Contains(r.body, `id="publish"`) {
		t.Errorf("publish button still shown after publication")
	}

	// An update with a hostile body is stored as typed and shown escaped.
	r = e.do("POST", page+"/update", url.Values{"status": {"monitoring"}, "body": {"<b>fix</b> deployed"}}, c, e.sameOrigin()...)
	if r.status != http.StatusSeeOther {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r = e.do("GET", page, nil, c)
	if !strings.Contains(r.body, "&lt;b&gt;fix&lt;/b&gt; deployed") || strings.Contains(r.body, "<b>fix</b>") {
		t.Errorf("update not shown escaped")
	}
	if r := e.do("POST", page+"/update", url.Values{"status": {"monitoring"}, "body": {""}}, c, e.sameOrigin()...); r.status != http.StatusBadRequest {
		t.Errorf("empty update: %d", r.status)
	}
	if got := e.get(id); len(got.Updates) != 2 || got.Updates[1].Status != disclosure.UpdateMonitoring {
		t.Errorf("updates = %+v", got.Updates)
	}
}
