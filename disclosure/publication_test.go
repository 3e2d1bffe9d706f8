package disclosure

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

var incOperator = Actor{Name: "operator:alice", RemoteAddr: "192.0.2.1:5000"}

// confirmed opens an operational incident of the centralized side and
// confirms it.
func (e *incEnv) confirmed(t *testing.T) string {
	t.Helper()
	e.apply(t, incService("nymvpn-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	id := e.only(t).ID
	if _, err := e.svc.Confirm(t.Context(), id, incOperator, incAt(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPublishFreezesReportAndAppendsUpdates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		id := e.confirmed(t)
		if got := e.get(t, id); !got.PublishedAt.IsZero() || got.Publication != nil {
			t.Fatalf("confirmed incident already published: %v %+v", got.PublishedAt, got.Publication)
		}

		inc, err := e.svc.Publish(t.Context(), id, UpdateInput{}, incOperator, incAt(3*time.Minute))
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if !inc.PublishedAt.Equal(incAt(3 * time.Minute)) {
			t.Errorf("published_at = %v, want %v", inc.PublishedAt, incAt(3*time.Minute))
		}
		p := inc.Publication
		if p == nil || p.Version != 1 || p.PublishedBy != incOperator.Name || p.Title != inc.Title ||
			p.Class != detector.ClassOperational || p.Architecture != detector.ArchCentralized {
			t.Fatalf("publication = %+v", p)
		}
		frozenMD, frozenSummary := p.Markdown, p.Report.Summary
		if !strings.Contains(frozenMD, frozenSummary) {
			t.Errorf("frozen markdown lacks the frozen summary:\n%s", frozenMD)
		}
		if len(inc.Updates) != 1 || inc.Updates[0].Status != UpdateInvestigating || inc.Updates[0].Body != frozenSummary {
			t.Errorf("first update = %+v, want investigating with the summary", inc.Updates)
		}
		if acts := incActions(inc); acts[len(acts)-1] != "published" {
			t.Errorf("audit = %v, want it to end with published", acts)
		}

		// The live report moves on: a human edits it and service recovers.
		if _, err := e.svc.Edit(t.Context(), id, map[string]*string{"summary": new("Edited after publication.")}, incOperator, incAt(4*time.Minute)); err != nil {
			t.Fatal(err)
		}
		rec := incService("nymvpn-api", detector.ClassOperational, incAt(0))
		rec.ResolvedAt = incAt(5 * time.Minute)
		e.apply(t, rec, incAt(5*time.Minute))

		if _, err := e.svc.Publish(t.Context(), id, UpdateInput{}, incOperator, incAt(6*time.Minute)); !isStateConflict(err) {
			t.Errorf("second publish: err = %v, want a conflict", err)
		}
		if _, err := e.svc.AddUpdate(t.Context(), id, UpdateInput{Status: UpdateResolved, Body: "Service restored at 12:05 UTC."}, incOperator, incAt(7*time.Minute)); err != nil {
			t.Fatalf("add update: %v", err)
		}

		got := e.get(t, id)
		if got.Report.Summary != "Edited after publication." {
			t.Errorf("live summary = %q", got.Report.Summary)
		}
		if got.Publication.Markdown != frozenMD || got.Publication.Report.Summary != frozenSummary {
			t.Errorf("published version changed:\n%s\nwas\n%s", got.Publication.Markdown, frozenMD)
		}
		if !got.PublishedAt.Equal(incAt(3 * time.Minute)) {
			t.Errorf("published_at moved to %v", got.PublishedAt)
		}
		var statuses []UpdateStatus
		for _, u := range got.Updates {
			statuses = append(statuses, u.Status)
		}
		if len(statuses) != 2 || statuses[1] != UpdateResolved || got.Updates[1].Body != "Service restored at 12:05 UTC." ||
			!got.Updates[1].At.Equal(incAt(7*time.Minute)) {
			t.Errorf("updates = %+v", got.Updates)
		}

		// The database refuses to rewrite what was published.
		if _, err := e.db.W.ExecContext(t.Context(), "UPDATE incident_publications SET markdown = 'x'"); err == nil {
			t.Error("a published version could be rewritten")
		}
		if _, err := e.db.W.ExecContext(t.Context(), "DELETE FROM incident_status_updates"); err == nil {
			t.Error("published updates could be deleted")
		}

		// Restart: all of it survives.
		e.reopen(t)
		if again := e.get(t, id); again.Publication == nil || again.Publication.Markdown != frozenMD || len(again.Updates) != 2 {
			t.Errorf("after restart: %+v, %d updates", again.Publication, len(again.Updates))
		}
	})
}

func TestPublishRefusals(t *testing.T) {
	e := newIncEnv(t)
	// A draft, a dismissed incident and an internal record.
	e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	draft := e.only(t).ID
	e.apply(t, incGateways("entry_gateways", detector.ClassOperational, incAt(time.Hour), 100, 3), incAt(time.Hour+time.Minute))
	e.apply(t, incGateways("node/7", detector.ClassInternal, incAt(2*time.Hour), 7, 1), incAt(2*time.Hour+time.Minute))
	var dismissed, internal string
	for _, inc := range e.all(t) {
		switch {
		case inc.Class == detector.ClassInternal:
			internal = inc.ID
		case inc.ID != draft:
			dismissed = inc.ID
		}
	}
	if _, err := e.svc.Dismiss(t.Context(), dismissed, "lab test", incOperator, incAt(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"draft": draft, "dismissed": dismissed, "internal": internal} {
		if _, err := e.svc.Publish(t.Context(), id, UpdateInput{}, incOperator, incAt(4*time.Hour)); !isStateConflict(err) {
			t.Errorf("publish %s: err = %v, want a conflict", name, err)
		}
		if _, err := e.svc.AddUpdate(t.Context(), id, UpdateInput{Status: UpdateIdentified, Body: "x"}, incOperator, incAt(4*time.Hour)); !isStateConflict(err) {
			t.Errorf("update %s: err = %v, want a conflict", name, err)
		}
		if inc := e.get(t, id); !inc.PublishedAt.IsZero() || len(inc.Updates) != 0 {
			t.Errorf("%s was published anyway", name)
		}
	}
	if _, err := e.svc.Publish(t.Context(), "INC-20990101-0001", UpdateInput{}, incOperator, incAt(4*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: err = %v", err)
	}
	for _, in := range []UpdateInput{
		{Status: "fixed", Body: "x"},
		{Status: UpdateMonitoring, Body: "   "},
		{Body: "no status"},
		{Status: UpdateMonitoring, Body: strings.Repeat("x", maxUpdateBodyBytes+1)},
		{Status: UpdateMonitoring, Body: "bad \xff utf-8"},
	} {
		if _, err := e.svc.AddUpdate(t.Context(), draft, in, incOperator, incAt(4*time.Hour)); func() bool { _, ok := errors.AsType[*InvalidError](err); return !ok }() {
			t.Errorf("update %+v: err = %v, want invalid", in, err)
		}
	}
}

func TestPublishedListsOnlyPublished(t *testing.T) {
	e := newIncEnv(t)
	id := e.confirmed(t)
	e.apply(t, incGateways("entry_gateways", detector.ClassOperational, incAt(time.Hour), 100, 3), incAt(time.Hour+time.Minute))
	pub, err := e.svc.Store().Published(t.Context(), incAt(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 0 {
		t.Fatalf("unpublished incidents listed: %+v", pub)
	}
	if _, err := e.svc.Publish(t.Context(), id, UpdateInput{Status: UpdateIdentified, Body: "The VPN API is down."}, incOperator, incAt(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	pub, err = e.svc.Store().Published(t.Context(), incAt(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != 1 || pub[0].ID != id || pub[0].Status() != UpdateIdentified || pub[0].Updates[0].Body != "The VPN API is down." {
		t.Fatalf("published = %+v", pub)
	}
	// Resolved before the window: history, not listed; unresolved: always.
	if _, err := e.svc.AddUpdate(t.Context(), id, UpdateInput{Status: UpdateResolved, Body: "Fixed."}, incOperator, incAt(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if pub, err = e.svc.Store().Published(t.Context(), incAt(5*time.Minute)); err != nil || len(pub) != 0 {
		t.Errorf("resolved before the window: %+v, %v", pub, err)
	}
	if pub, err = e.svc.Store().Published(t.Context(), incAt(4*time.Minute)); err != nil || len(pub) != 1 {
		t.Errorf("resolved in the window: %+v, %v", pub, err)
	}
}

func TestPublicationAPI(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	id := e.draft(t)
	path := "/api/v1/incidents/" + id
	if r := e.do(t, http.MethodPost, path+"/publish", "", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("publish without token: %d", r.status)
	}
	if r := e.do(t, http.MethodPost, path+"/publish", incBearer, "", nil); r.status != http.StatusConflict || !strings.Contains(r.errMsg(t), "confirm") {
		t.Errorf("publish a draft: %d %s", r.status, r.body)
	}
	if r := e.do(t, http.MethodPost, path+"/confirm", incBearer, "", nil); r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if m := e.do(t, http.MethodGet, path, incBearer, "", nil).json(t); m["published_at"] != nil {
		t.Errorf("published_at before publishing = %v", m["published_at"])
	}
	if r := e.do(t, http.MethodPost, path+"/publish", incBearer, "application/json", strings.NewReader(`{"status":"sideways"}`)); r.status != http.StatusBadRequest {
		t.Errorf("publish with a bad status: %d %s", r.status, r.body)
	}
	r := e.do(t, http.MethodPost, path+"/publish", incBearer, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["published_at"] != FormatTime(e.clock.Now()) {
		t.Errorf("published_at = %v, want %s", m["published_at"], FormatTime(e.clock.Now()))
	}
	if vs, _ := m["published_versions"].([]any); len(vs) != 1 {
		t.Errorf("published_versions = %v", m["published_versions"])
	}
	if r := e.do(t, http.MethodPost, path+"/publish", incBearer, "", nil); r.status != http.StatusConflict || !strings.Contains(r.errMsg(t), "add an update") {
		t.Errorf("publish twice: %d %s", r.status, r.body)
	}
	if r := e.do(t, http.MethodPost, path+"/updates", incBearer, "application/json", strings.NewReader(`{"status":"monitoring"}`)); r.status != http.StatusBadRequest {
		t.Errorf("update without body: %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, path+"/updates", incBearer, "application/json", strings.NewReader(`{"status":"monitoring","body":"A fix is deployed."}`))
	if r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	ups, _ := r.json(t)["updates"].([]any)
	if len(ups) != 2 {
		t.Fatalf("updates = %v", ups)
	}
	if last, _ := ups[1].(map[string]any); last["status"] != "monitoring" || last["body"] != "A fix is deployed." {
		t.Errorf("last update = %v", last)
	}
	// The list view carries published_at too.
	list := e.do(t, http.MethodGet, "/api/v1/incidents", incBearer, "", nil).json(t)
	if incs, _ := list["incidents"].([]any); len(incs) != 1 || incs[0].(map[string]any)["published_at"] == nil {
		t.Errorf("list = %v", list)
	}
}

func isStateConflict(err error) bool {
	_, ok := errors.AsType[*ConflictError](err)
	return ok
}

func TestPublicationCLI(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	id := e.draft(t)
	withToken := map[string]string{"NYMWATCH_TOKEN": incToken, "USER": "dave"}
	run := func(env map[string]string, a ...string) incCLIResult {
		return e.cli(t, env, append([]string{"--server", e.srv.URL}, a...)...)
	}
	if r := run(withToken, "publish", id); r.code != exitError || !strings.Contains(r.stderr, "confirm the draft first") {
		t.Errorf("publish a draft: %+v", r)
	}
	if r := run(withToken, "confirm", id); r.code != exitOK {
		t.Fatalf("confirm: %+v", r)
	}
	if r := run(map[string]string{}, "publish", id); r.code == exitOK {
		t.Errorf("publish without a token: %+v", r)
	}
	if r := run(withToken, "update", id, "--status", "monitoring"); r.code != exitUsage || !strings.Contains(r.stderr, "--body") {
		t.Errorf("update without --body: %+v", r)
	}
	if r := run(withToken, "publish", id, "--status", "sideways"); r.code != exitUsage {
		t.Errorf("publish with a bad status: %+v", r)
	}
	r := run(withToken, "publish", id, "--status", "identified", "--body", "The VPN API is down; logins fail.")
	if r.code != exitOK || !strings.Contains(r.stdout, id+": published at ") || !strings.Contains(r.stdout, "status identified") {
		t.Fatalf("publish: %+v", r)
	}
	r = run(withToken, "update", id, "--status", "resolved", "--body", "Logins work again.")
	if r.code != exitOK || !strings.Contains(r.stdout, "update 2 published (status resolved)") {
		t.Fatalf("update: %+v", r)
	}
	got := e.get(t, id)
	if got.Publication == nil || len(got.Updates) != 2 || got.Updates[0].Body != "The VPN API is down; logins fail." ||
		got.Updates[1].Status != UpdateResolved || !strings.HasPrefix(got.Publication.PublishedBy, "operator") {
		t.Errorf("after the CLI: %+v %+v", got.Publication, got.Updates)
	}
}

// The same-day deadline is met by publication: after confirmation one
// gentle reminder pages (info, its own alertname) while unpublished and
// before the deadline; never a ladder, never after publication.
func TestPublicationReminder(t *testing.T) {
	remindersOf := func(e *secEnv, id string) []page.Page {
		var out []page.Page
		for _, p := range e.pagesOf(id, 0) {
			if p.Labels["alertname"] == PagerPublicationAlertName {
				out = append(out, p)
			}
		}
		return out
	}
	t.Run("unpublished", func(t *testing.T) {
		e := newSecEnv(t, sqliteBackend)
		id := e.draft(t)
		e.tick(t, incAt(2*time.Minute))
		if e.act(t, "service", id, "confirm", incAt(5*time.Minute)) != http.StatusOK {
			t.Fatal("confirm failed")
		}
		e.tick(t, incAt(5*time.Minute+PublicationReminderDelay-time.Second))
		if r := remindersOf(e, id); len(r) != 0 {
			t.Fatalf("reminded before the delay: %+v", r)
		}
		for _, at := range []time.Duration{PublicationReminderDelay, PublicationReminderDelay + time.Minute, 2 * time.Hour} {
			e.tick(t, incAt(5*time.Minute+at))
		}
		r := remindersOf(e, id)
		if len(r) != 1 {
			t.Fatalf("want exactly one reminder, got %d: %+v", len(r), r)
		}
		if r[0].Labels["severity"] != page.SeverityInfo || r[0].Resolved || !strings.Contains(r[0].Annot["description"], "not published") {
			t.Errorf("reminder = %+v", r[0])
		}
		// No draft escalation after the confirmation.
		for _, p := range e.pagesOf(id, 0) {
			if p.Labels["alertname"] == page.AlertName && !p.Resolved && p.CreatedAt.After(incAt(5*time.Minute)) {
				t.Errorf("draft page after confirmation: %s", p.Key)
			}
		}
	})
	t.Run("published first", func(t *testing.T) {
		e := newSecEnv(t, sqliteBackend)
		id := e.draft(t)
		if e.act(t, "service", id, "confirm", incAt(5*time.Minute)) != http.StatusOK {
			t.Fatal("confirm failed")
		}
		if _, err := e.svc.Publish(t.Context(), id, UpdateInput{}, incOperator, incAt(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		e.tick(t, incAt(5*time.Minute+PublicationReminderDelay))
		e.tick(t, incAt(3*time.Hour))
		if r := remindersOf(e, id); len(r) != 0 {
			t.Errorf("published incident reminded: %+v", r)
		}
	})
	t.Run("deadline passed", func(t *testing.T) {
		e := newSecEnv(t, sqliteBackend)
		id := e.draft(t)
		// Confirmed late in the evening: the next tick is past midnight.
		if e.act(t, "service", id, "confirm", incAt(13*time.Hour+59*time.Minute)) != http.StatusOK {
			t.Fatal("confirm failed")
		}
		e.tick(t, incAt(14*time.Hour+30*time.Minute))
		if r := remindersOf(e, id); len(r) != 0 {
			t.Errorf("reminded after the deadline: %+v", r)
		}
	})
}
