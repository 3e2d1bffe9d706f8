package disclosure

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// lcPages is incFakePages that also takes follow-up pages.
type lcPages struct {
	*incFakePages
	mu       sync.Mutex
	followUp []page.Page
}

func (p *lcPages) FollowUpPage(_ context.Context, tx *sql.Tx, pg page.Page, _ time.Time) error {
	if tx == nil {
		return errors.New("nil tx")
	}
	p.mu.Lock()
	p.followUp = append(p.followUp, pg)
	p.mu.Unlock()
	return nil
}

// Ended is not recorded: the fake's kv key allows one end per incident,
// and a reopened incident is confirmed (ended) twice.
func (p *lcPages) Ended(context.Context, *sql.Tx, page.Subject, time.Time) error { return nil }

func (p *lcPages) take() []page.Page {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.followUp
	p.followUp = nil
	return out
}

// newLCEnv is a service whose pager takes follow-up pages, with a
// confirmed operational incident (confirmed at incAt(1h)).
func newLCEnv(t *testing.T, b testBackend) (*incEnv, *lcPages, string) {
	t.Helper()
	e := newIncEnvOn(t, b)
	lp := &lcPages{incFakePages: e.pages}
	e.reg = prometheus.NewRegistry()
	svc, err := NewService(t.Context(), ServiceOptions{DB: e.db, Pages: lp, Registerer: e.reg, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.apply(t, incService("nymvpn-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	id := e.only(t).ID
	if _, err := e.svc.Confirm(t.Context(), id, Actor{Name: "operator:alice"}, incAt(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return e, lp, id
}

func TestLifecycleConfirmCreatesChecklistAndFollowUps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e, _, id := newLCEnv(t, b)
		inc := e.get(t, id)
		var names []string
		for _, c := range inc.Channels {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, DefaultChannels()) {
			t.Errorf("channels %q, want the policy's six", names)
		}
		confirmed := incAt(time.Hour)
		want := []struct {
			phase string
			due   time.Duration
		}{
			{PhaseImmediate, 24 * time.Hour}, {PhaseImmediate, 24 * time.Hour},
			{PhaseShortTerm, 7 * 24 * time.Hour}, {PhaseShortTerm, 7 * 24 * time.Hour},
			{PhaseLongTerm, 0}, {PhaseLongTerm, 0},
		}
		if len(inc.FollowUps) != len(want) {
			t.Fatalf("follow-ups %+v", inc.FollowUps)
		}
		for i, w := range want {
			f := inc.FollowUps[i]
			wantDue := time.Time{}
			if w.due > 0 {
				wantDue = confirmed.Add(w.due).Truncate(time.Millisecond)
			}
			if f.Phase != w.phase || !f.DueAt.Equal(wantDue) || !f.DoneAt.IsZero() || f.CreatedBy != "operator:alice" {
				t.Errorf("follow-up %d = %+v, want phase %s due %v", i+1, f, w.phase, wantDue)
			}
		}

		// Overdue as of the Store's clock.
		e.clock.Set(confirmed.Add(24 * time.Hour))
		inc = e.get(t, id)
		if !inc.FollowUps[0].Overdue || inc.FollowUps[2].Overdue || inc.FollowUps[4].Overdue {
			t.Errorf("overdue at 24 h: %v %v %v", inc.FollowUps[0].Overdue, inc.FollowUps[2].Overdue, inc.FollowUps[4].Overdue)
		}

		// Tick and un-tick a channel: who, when, audited.
		ch := DefaultChannels()[1]
		inc, err := e.svc.SetChannel(t.Context(), id, ch, true, "posted in #status", Actor{Name: "operator:bob"}, incAt(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if c := inc.Channels[1]; !c.DoneAt.Equal(incAt(2*time.Hour).Truncate(time.Millisecond)) || c.DoneBy != "operator:bob" || c.Note != "posted in #status" {
			t.Errorf("ticked channel %+v", c)
		}
		inc, err = e.svc.SetChannel(t.Context(), id, ch, false, "", Actor{Name: "operator:bob"}, incAt(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if c := inc.Channels[1]; !c.DoneAt.IsZero() || c.DoneBy != "" {
			t.Errorf("un-ticked channel %+v", c)
		}
		if got := incActions(inc); !slices.Equal(got[len(got)-2:], []string{"channel_updated", "channel_updated"}) {
			t.Errorf("audit %v", got)
		}
		if _, err := e.svc.SetChannel(t.Context(), id, "Carrier pigeon", true, "", Actor{Name: "operator"}, incAt(3*time.Hour)); !errors.As(err, new(*NotFoundError)) {
			t.Errorf("unknown channel: %v", err)
		}

		// Resolved is not closed: the dated follow-ups are open.
		inc, err = e.svc.Resolve(t.Context(), id, Actor{Name: "operator"}, incAt(4*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if inc.State != StateResolved {
			t.Fatalf("state %s after resolve", inc.State)
		}
		for seq := 1; seq <= 4; seq++ {
			inc, err = e.svc.SetFollowUp(t.Context(), id, seq, true, "done", Actor{Name: "operator:carol"}, incAt(5*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if seq < 4 && inc.State != StateResolved {
				t.Fatalf("closed after follow-up %d of 4", seq)
			}
		}
		// The last dated follow-up closes it; the long-term ones stay open.
		if inc.State != StateClosed || !inc.ClosedAt.Equal(incAt(5*time.Hour).Truncate(time.Millisecond)) || inc.State.Disclosure() != "public" {
			t.Errorf("after the last dated follow-up: %s closed_at %v", inc.State, inc.ClosedAt)
		}
		if !inc.FollowUps[4].DoneAt.IsZero() {
			t.Errorf("long-term follow-up done: %+v", inc.FollowUps[4])
		}
		closed, err := e.svc.List(t.Context(), Filter{State: StateClosed})
		if err != nil || len(closed) != 1 || closed[0].State != StateClosed {
			t.Errorf("list closed: %v %v", closed, err)
		}
		if resolved, _ := e.svc.List(t.Context(), Filter{State: StateResolved}); len(resolved) != 0 {
			t.Errorf("a closed incident listed as resolved: %v", incIDs(resolved))
		}
		if got := testutil.ToFloat64(e.svc.metrics.incidents.WithLabelValues("operational", "closed")); got != 1 {
			t.Errorf("nymwatch_incidents{state=closed} = %v", got)
		}
		// A long-term follow-up done later keeps it closed.
		if inc, err = e.svc.SetFollowUp(t.Context(), id, 5, true, "", Actor{Name: "operator"}, incAt(6*time.Hour)); err != nil || inc.State != StateClosed {
			t.Errorf("after a long-term follow-up: %v %v", inc, err)
		}
	})
}

func TestLifecycleCloseByHandAndConflicts(t *testing.T) {
	e, _, id := newLCEnv(t, sqliteBackend)
	op := Actor{Name: "operator"}
	if _, err := e.svc.Close(t.Context(), id, op, incAt(2*time.Hour)); !errors.As(err, new(*ConflictError)) {
		t.Errorf("close a confirmed incident: %v", err)
	}
	if _, err := e.svc.Resolve(t.Context(), id, op, incAt(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	inc, err := e.svc.Close(t.Context(), id, op, incAt(3*time.Hour))
	if err != nil || inc.State != StateClosed {
		t.Fatalf("close: %v %v", inc, err)
	}
	last := inc.Audit[len(inc.Audit)-1]
	if last.Action != "closed" || !strings.Contains(string(last.Detail), `"open_follow_ups":6`) {
		t.Errorf("close audit %s %s", last.Action, last.Detail)
	}
	for _, action := range []func() error{
		func() error { _, err := e.svc.Close(t.Context(), id, op, incAt(4*time.Hour)); return err },
		func() error { _, err := e.svc.Resolve(t.Context(), id, op, incAt(4*time.Hour)); return err },
		func() error { _, err := e.svc.Confirm(t.Context(), id, op, incAt(4*time.Hour)); return err },
	} {
		if err := action(); !errors.As(err, new(*ConflictError)) {
			t.Errorf("action on a closed incident: %v", err)
		}
	}
	// Survives a restart.
	e.reopen(t)
	if got := e.get(t, id); got.State != StateClosed {
		t.Errorf("after restart: %s", got.State)
	}
}

func TestLifecycleDraftHasNoChecklist(t *testing.T) {
	e := newIncEnv(t)
	e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	id := e.only(t).ID
	if inc := e.get(t, id); len(inc.Channels) != 0 || len(inc.FollowUps) != 0 {
		t.Errorf("draft has a checklist: %+v %+v", inc.Channels, inc.FollowUps)
	}
	for _, err := range []error{
		func() error {
			_, err := e.svc.SetChannel(t.Context(), id, "Status page", true, "", Actor{}, incAt(time.Hour))
			return err
		}(),
		func() error {
			_, err := e.svc.AddFollowUp(t.Context(), id, "x", time.Time{}, Actor{}, incAt(time.Hour))
			return err
		}(),
		func() error {
			_, err := e.svc.AddReporter(t.Context(), id, NewReporter{Name: "a", Channel: "discord", ReportedAt: incAt(0)}, Actor{}, incAt(time.Hour))
			return err
		}(),
	} {
		if !errors.As(err, new(*ConflictError)) {
			t.Errorf("lifecycle change on a draft: %v", err)
		}
	}
}

func TestLifecycleClosedIncidentReopensWhenItTurnsSecurity(t *testing.T) {
	e, _, id := newLCEnv(t, sqliteBackend)
	op := Actor{Name: "operator"}
	if _, err := e.svc.Resolve(t.Context(), id, op, incAt(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Close(t.Context(), id, op, incAt(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a := incService("nymvpn-api", detector.ClassSecurity, incAt(0))
	e.apply(t, a, incAt(4*time.Hour))
	inc := e.get(t, id)
	if inc.State != StateDraft || !inc.ClosedAt.IsZero() || inc.Class != detector.ClassSecurity {
		t.Fatalf("after turning security: %s %s closed_at %v", inc.State, inc.Class, inc.ClosedAt)
	}
	last := inc.Audit[len(inc.Audit)-1]
	if last.Action != "reopened" || !strings.Contains(string(last.Detail), `"from":"closed"`) {
		t.Errorf("audit %s %s", last.Action, last.Detail)
	}
	// Confirmed again: the checklist and follow-ups are kept, not doubled.
	inc, err := e.svc.Confirm(t.Context(), id, op, incAt(5*time.Hour))
	if err != nil {
		t.Fatalf("re-confirm: %v", err)
	}
	if len(inc.FollowUps) != 6 || len(inc.Channels) != 6 {
		t.Errorf("re-confirmed: follow-ups %d channels %d", len(inc.FollowUps), len(inc.Channels))
	}
}

func TestLifecycleOverdueFollowUpsPageOncePerDayAtInfo(t *testing.T) {
	e, lp, id := newLCEnv(t, sqliteBackend)
	confirmed := incAt(time.Hour)
	page := func(at time.Time) []page.Page {
		t.Helper()
		n, err := e.svc.PageOverdueFollowUps(t.Context(), at)
		if err != nil {
			t.Fatal(err)
		}
		pages := lp.take()
		if n != len(pages) {
			t.Errorf("reported %d pages, queued %d", n, len(pages))
		}
		return pages
	}
	if got := page(confirmed.Add(24*time.Hour - time.Millisecond)); len(got) != 0 {
		t.Fatalf("paged before due: %+v", got)
	}
	got := page(confirmed.Add(24 * time.Hour))
	if len(got) != 2 {
		t.Fatalf("at 24 h: %d pages, want the two immediate follow-ups", len(got))
	}
	for _, p := range got {
		if p.Labels["severity"] != "info" || p.Labels["alertname"] != FollowUpAlertName || p.Labels["incident_id"] != id || p.Resolved {
			t.Errorf("page %+v", p)
		}
	}
	// Same instant again (a duplicated scheduler run), and later that day.
	if got := page(confirmed.Add(24 * time.Hour)); len(got) != 0 {
		t.Errorf("paged twice at one instant: %d", len(got))
	}
	if got := page(confirmed.Add(47 * time.Hour)); len(got) != 0 {
		t.Errorf("paged again within a day: %d", len(got))
	}
	if got := page(confirmed.Add(48 * time.Hour)); len(got) != 2 {
		t.Errorf("a day later: %d pages, want 2", len(got))
	}
	// Marking one done ends its alert; the other keeps its daily page.
	if _, err := e.svc.SetFollowUp(t.Context(), id, 1, true, "", Actor{Name: "operator"}, confirmed.Add(50*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ended := lp.take()
	if len(ended) != 1 || !ended[0].Resolved || ended[0].Labels["followup"] != "1" {
		t.Errorf("end page %+v", ended)
	}
	got = page(confirmed.Add(7 * 24 * time.Hour))
	var seqs []string
	for _, p := range got {
		seqs = append(seqs, p.Labels["followup"])
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, []string{"2", "3", "4"}) {
		t.Errorf("at 7 days paged follow-ups %v, want 2 3 4", seqs)
	}
	// A closed (or dismissed) incident pages nothing.
	if _, err := e.svc.Resolve(t.Context(), id, Actor{Name: "operator"}, confirmed.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Close(t.Context(), id, Actor{Name: "operator"}, confirmed.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Closing ends the alerts of the paged, still open follow-ups (2, 3, 4).
	if ended := lp.take(); len(ended) != 3 || !ended[0].Resolved || !ended[2].Resolved {
		t.Errorf("close ended %+v", ended)
	}
	if got := page(confirmed.Add(30 * 24 * time.Hour)); len(got) != 0 {
		t.Errorf("a closed incident paged: %d", len(got))
	}
}

// An overdue page goes through the real outbox and is delivered, although
// the incident's own alert was ended when it was confirmed.
func TestLifecycleOverduePageThroughTheOutbox(t *testing.T) {
	am := &outboxTestPager{name: "am"}
	e := newOutboxTestEnv(t, []page.Pager{am}, OutboxOptions{})
	s := page.Subject{IncidentID: "INC-1", Class: "operational", State: "draft", Component: "service/x", FirstSeen: incAt(0), DetectedAt: incAt(0), CreatedAt: incAt(0)}
	e.opened(s, incAt(0))
	e.ended(s, incAt(time.Hour))
	p := page.Page{Key: "INC-1/followup/1/1", IncidentID: "INC-1/followup/1",
		Labels:   map[string]string{"alertname": FollowUpAlertName, "incident_id": "INC-1", "followup": "1", "severity": "info"},
		Annot:    map[string]string{"summary": "overdue"},
		StartsAt: incAt(25 * time.Hour), EndsAt: incAt(50 * time.Hour), CreatedAt: incAt(25 * time.Hour)}
	if err := e.db.Tx(t.Context(), func(tx *sql.Tx) error { return e.ob.FollowUpPage(t.Context(), tx, p, incAt(25*time.Hour)) }); err != nil {
		t.Fatal(err)
	}
	e.tick(incAt(25 * time.Hour))
	if !slices.Contains(am.keys(), "INC-1/followup/1/1") {
		t.Errorf("delivered %v, want the follow-up page", am.keys())
	}
}

func TestLifecycleReporterCreditIsEscaped(t *testing.T) {
	e, _, id := newLCEnv(t, sqliteBackend)
	hostile := "[Nym official fix](https://phish.example/fix) <img src=x onerror=alert(1)> **bold**"
	inc, err := e.svc.AddReporter(t.Context(), id, NewReporter{Name: hostile, Channel: "discord", ReportedAt: incAt(10 * time.Minute)},
		Actor{Name: "operator"}, incAt(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Reporters) != 1 || inc.Reporters[0].Name != hostile || inc.Reporters[0].AddedBy != "operator" {
		t.Fatalf("reporters %+v", inc.Reporters)
	}
	md := RenderMarkdown(inc)
	_, ack, _ := strings.Cut(md, "## User and community acknowledgment")
	for _, bad := range []string{"](https://", "<img", "**bold**", "[Nym official fix]"} {
		if strings.Contains(ack, bad) {
			t.Errorf("acknowledgment carries %q live:\n%s", bad, ack)
		}
	}
	if !strings.Contains(ack, `\[Nym official fix\]`) || !strings.Contains(ack, "via Discord, at 2026-11-25T10:10:00.123Z") {
		t.Errorf("acknowledgment:\n%s", ack)
	}
	if slices.Contains(inc.Report.Unfilled(), "acknowledgments") {
		t.Errorf("acknowledgments still listed as unfilled")
	}
	// Bad input is refused and loses nothing.
	for _, r := range []NewReporter{
		{Name: "", Channel: "discord", ReportedAt: incAt(0)},
		{Name: "a", Channel: "carrier-pigeon", ReportedAt: incAt(0)},
		{Name: "a", Channel: "x"},
		{Name: "a", Channel: "x", ReportedAt: incAt(0), Link: "javascript:alert(1)"},
		{Name: "two\nlines", Channel: "x", ReportedAt: incAt(0)},
	} {
		if _, err := e.svc.AddReporter(t.Context(), id, r, Actor{}, incAt(3*time.Hour)); !errors.As(err, new(*InvalidError)) {
			t.Errorf("reporter %+v: %v", r, err)
		}
	}
	// A human's acknowledgment text wins.
	text := "Thanks to everyone on Discord."
	if _, err := e.svc.Edit(t.Context(), id, map[string]*string{"acknowledgments": &text}, Actor{Name: "operator"}, incAt(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, id); got.Report.Acknowledgments != text {
		t.Errorf("human text replaced: %q", got.Report.Acknowledgments)
	}
}

func TestLifecycleAPI(t *testing.T) {
	e := newReadAuthEnv(t, false, nil)
	id := e.draft(t)
	base := "/api/v1/incidents/" + id
	if r := e.do(t, "POST", base+"/reporters", incBearer, "application/json", strings.NewReader(`{"name":"a","channel":"discord","reported_at":"2026-11-25T10:00:00Z"}`)); r.status != http.StatusConflict {
		t.Errorf("reporter on a draft: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", base+"/confirm", incBearer, "", nil); r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	writes := []struct{ path, body string }{
		{base + "/channels/Status%20page", `{"done":true,"note":"posted"}`},
		{base + "/followups", `{"title":"Rotate the API keys","due_at":"2026-11-27T00:00:00Z"}`},
		{base + "/followups/1", `{"done":true}`},
		{base + "/reporters", `{"name":"@alice","channel":"telegram","reported_at":"2026-11-25T10:05:00Z","link":"https://t.me/nym/1"}`},
	}
	for _, w := range writes {
		for _, c := range []struct {
			name, auth string
			want       int
		}{
			{"anonymous", "", http.StatusUnauthorized},
			{"viewer", "Bearer " + incViewer, http.StatusForbidden},
		} {
			if r := e.do(t, "POST", w.path, c.auth, "application/json", strings.NewReader(w.body)); r.status != c.want {
				t.Errorf("POST %s as %s: %d, want %d", w.path, c.name, r.status, c.want)
			}
		}
		if r := e.do(t, "POST", w.path, incBearer, "application/json", strings.NewReader(w.body)); r.status != http.StatusOK {
			t.Errorf("POST %s: %d %s", w.path, r.status, r.body)
		}
	}
	r := e.do(t, "GET", base, incBearer, "", nil)
	m := r.json(t)
	chs, _ := m["channels"].([]any)
	fus, _ := m["follow_ups"].([]any)
	rs, _ := m["reporters"].([]any)
	if len(chs) != 6 || len(fus) != 7 || len(rs) != 1 {
		t.Fatalf("full view: %d channels %d follow-ups %d reporters", len(chs), len(fus), len(rs))
	}
	if c := chs[2].(map[string]any); c["name"] != "Status page" || c["done"] != true || c["done_by"] != "operator" {
		t.Errorf("channel %v", c)
	}
	if f := fus[6].(map[string]any); f["title"] != "Rotate the API keys" || f["due_at"] != "2026-11-27T00:00:00.000Z" || f["phase"] != "custom" {
		t.Errorf("custom follow-up %v", f)
	}
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{base + "/channels/Fax", `{"done":true}`, http.StatusNotFound},
		{base + "/followups/99", `{"done":true}`, http.StatusNotFound},
		{base + "/followups/x", `{"done":true}`, http.StatusBadRequest},
		{base + "/followups/2", `{}`, http.StatusBadRequest},
		{base + "/followups", `{"title":""}`, http.StatusBadRequest},
		{base + "/reporters", `{"name":"a","channel":"fax","reported_at":"2026-11-25T10:05:00Z"}`, http.StatusBadRequest},
		{base + "/close", ``, http.StatusConflict},
		{"/api/v1/incidents/INC-19990101-0001/close", ``, http.StatusNotFound},
	} {
		if r := e.do(t, "POST", c.path, incBearer, "application/json", strings.NewReader(c.body)); r.status != c.want {
			t.Errorf("POST %s %s: %d, want %d: %s", c.path, c.body, r.status, c.want, r.body)
		}
	}
	if r := e.do(t, "POST", base+"/resolve", incBearer, "", nil); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
	if r := e.do(t, "POST", base+"/close", incBearer, "", nil); r.status != http.StatusOK || r.json(t)["state"] != "closed" || r.json(t)["closed_at"] == nil {
		t.Errorf("close: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/incidents?state=closed", incBearer, "", nil); !strings.Contains(string(r.body), id) {
		t.Errorf("?state=closed: %s", r.body)
	}
}

// Resolving an incident whose dated follow-ups are all done closes it.
func TestLifecycleResolveClosesWhenFollowUpsDone(t *testing.T) {
	e, _, id := newLCEnv(t, sqliteBackend)
	op := Actor{Name: "operator"}
	for seq := 1; seq <= 4; seq++ {
		inc, err := e.svc.SetFollowUp(t.Context(), id, seq, true, "", op, incAt(2*time.Hour))
		if err != nil || inc.State != StateConfirmed {
			t.Fatalf("follow-up %d on a confirmed incident: %v %v", seq, inc, err)
		}
	}
	inc, err := e.svc.Resolve(t.Context(), id, op, incAt(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if inc.State != StateClosed {
		t.Errorf("state %s after resolving with every dated follow-up done", inc.State)
	}
	if got := incActions(inc); !slices.Equal(got[len(got)-2:], []string{"resolved", "closed"}) {
		t.Errorf("audit %v", got)
	}
}
