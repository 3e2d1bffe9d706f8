package disclosure

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/testutil"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// secEnv is a service paging through a real outbox to a test pager, and
// the HTTP API over the same service.
type secEnv struct {
	*incAPIEnv
	ob    *Outbox
	pager *outboxTestPager
}

func newSecEnv(t *testing.T, b testBackend) *secEnv {
	t.Helper()
	e := &incEnv{openDB: b.fresh(t), pages: &incFakePages{}, clock: testutil.NewClock(incT0)}
	e.db = e.openDB(t)
	p := &outboxTestPager{name: "am"}
	ob, err := NewOutbox(e.db, []page.Pager{p}, nil, OutboxOptions{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ob.jitter = func(d time.Duration) time.Duration { return d }
	e.svc, err = NewService(t.Context(), ServiceOptions{DB: e.db, Pages: ob, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ob.SetDraftSource(e.svc)
	api, err := NewAPI(APIOptions{Service: e.svc, OperatorToken: []byte(incToken), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &secEnv{incAPIEnv: &incAPIEnv{incEnv: e, srv: srv}, ob: ob, pager: p}
}

func (e *secEnv) tick(t *testing.T, now time.Time) {
	t.Helper()
	if err := e.ob.Tick(t.Context(), now); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

// pagesOf are the pages delivered for incident id since index from.
func (e *secEnv) pagesOf(id string, from int) []page.Page {
	var out []page.Page
	for _, p := range e.pager.pages()[from:] {
		if p.IncidentID == id {
			out = append(out, p)
		}
	}
	return out
}

// act drives a human's transition through the service or the HTTP API.
func (e *secEnv) act(t *testing.T, via, id, action string, now time.Time) int {
	t.Helper()
	e.clock.Set(now)
	if via == "http" {
		body := ""
		if action == "dismiss" {
			body = `{"reason":"not user-visible"}`
		}
		return e.do(t, http.MethodPost, "/api/v1/incidents/"+id+"/"+action, incBearer, "application/json", strings.NewReader(body)).status
	}
	var err error
	actor := Actor{Name: "operator"}
	switch action {
	case "confirm":
		_, err = e.svc.Confirm(t.Context(), id, actor, now)
	case "dismiss":
		_, err = e.svc.Dismiss(t.Context(), id, "not user-visible", actor, now)
	case "resolve":
		_, err = e.svc.Resolve(t.Context(), id, actor, now)
	}
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, new(*ConflictError)):
		return http.StatusConflict
	default:
		t.Fatalf("%s: %v", action, err)
		return 0
	}
}

// unackSince reads security_unacknowledged_since from the incident JSON.
func (e *secEnv) unackSince(t *testing.T, id string) any {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/v1/incidents/"+id, incBearer, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("get %s: %d", id, r.status)
	}
	m := r.json(t)
	v, ok := m["security_unacknowledged_since"]
	if !ok {
		t.Fatalf("incident JSON has no security_unacknowledged_since: %s", r.body)
	}
	return v
}

func secHasKey(pages []page.Page, suffix string) bool {
	return slices.ContainsFunc(pages, func(p page.Page) bool { return strings.HasSuffix(p.Key, suffix) })
}

// TestSecurityAlwaysPages (issue 10.1): an anomaly of an incident that turns
// security pages at critical whatever the incident's state; dismissed and
// resolved incidents are reopened as drafts, confirmed ones stay confirmed
// and are paged until a human acknowledges with confirm.
func TestSecurityAlwaysPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		for _, via := range []string{"service", "http"} {
			for _, start := range []State{StateDraft, StateConfirmed, StateDismissed, StateResolved} {
				t.Run(via+"/"+string(start), func(t *testing.T) {
					testSecurityAlwaysPages(t, b, via, start)
				})
			}
		}
	})
}

func testSecurityAlwaysPages(t *testing.T, b testBackend, via string, start State) {
	e := newSecEnv(t, b)
	a := incService("nym-api", detector.ClassOperational, incAt(0))
	e.apply(t, a, incAt(time.Minute))
	id := e.only(t).ID
	e.tick(t, incAt(time.Minute))
	switch start {
	case StateConfirmed:
		e.act(t, via, id, "confirm", incAt(2*time.Minute))
	case StateDismissed:
		e.act(t, via, id, "dismiss", incAt(2*time.Minute))
	case StateResolved:
		e.act(t, via, id, "confirm", incAt(2*time.Minute))
		e.act(t, via, id, "resolve", incAt(3*time.Minute))
	}
	e.tick(t, incAt(4*time.Minute))
	if got := e.get(t, id).State; got != start {
		t.Fatalf("set up: state %s, want %s", got, start)
	}
	before := len(e.pager.pages())

	// The anomaly turns security (e.g. an Alertmanager alert relabelled).
	sec := a
	sec.Class = detector.ClassSecurity
	sec.Reason = "TLS certificate of nym-api failed verification: possible interception"
	at := incAt(10 * time.Minute)
	e.apply(t, sec, at)
	inc := e.get(t, id)
	if inc.Class != detector.ClassSecurity {
		t.Fatalf("class %s, want security", inc.Class)
	}
	wantState := StateDraft
	if start == StateConfirmed {
		wantState = StateConfirmed
	}
	if inc.State != wantState {
		t.Fatalf("state %s after turning security from %s, want %s", inc.State, start, wantState)
	}
	actions := incActions(inc)
	switch start {
	case StateDismissed, StateResolved:
		if !slices.Contains(actions, "reopened") {
			t.Errorf("audit %v: want reopened", actions)
		}
		for _, en := range inc.Audit {
			if en.Action == "reopened" && !strings.Contains(string(en.Detail), "turned security") {
				t.Errorf("reopened without the reason: %s", en.Detail)
			}
		}
		if !inc.ResolvedAt.IsZero() {
			t.Errorf("reopened incident keeps resolved_at %v while its anomaly fails", inc.ResolvedAt)
		}
	case StateConfirmed:
		if !slices.Contains(actions, "security_unacknowledged") {
			t.Errorf("audit %v: want security_unacknowledged", actions)
		}
		if v := e.unackSince(t, id); v != FormatTime(at) {
			t.Errorf("security_unacknowledged_since = %v, want %s", v, FormatTime(at))
		}
	}

	// Paged at critical on the next pass.
	e.tick(t, at)
	pages := e.pagesOf(id, before)
	crit := slices.IndexFunc(pages, func(p page.Page) bool { return !p.Resolved && p.Labels["severity"] == page.SeverityCritical })
	if crit < 0 {
		t.Fatalf("no critical page after turning security from %s: %+v", start, pages)
	}
	if p := pages[crit]; p.Labels["class"] != "security" || strings.Contains(p.Annot["description"], "Escalated") {
		t.Errorf("security page %+v", p)
	}
	if start == StateConfirmed && !strings.Contains(pages[crit].Annot["summary"], "Confirmed incident turned security") {
		t.Errorf("confirmed incident's page summary %q", pages[crit].Annot["summary"])
	}
	// It keeps firing (re-sent) while nobody acts.
	e.tick(t, at.Add(time.Minute))
	if !slices.ContainsFunc(e.pagesOf(id, before), func(p page.Page) bool {
		return strings.Contains(p.Key, "/resend/") && p.Labels["severity"] == page.SeverityCritical
	}) {
		t.Errorf("security page not re-sent: %v", e.pager.keys()[before:])
	}

	// The human acts: confirm (the acknowledgement, for a confirmed one).
	if st := e.act(t, via, id, "confirm", at.Add(2*time.Minute)); st != http.StatusOK {
		t.Fatalf("confirm after the security change: %d", st)
	}
	inc = e.get(t, id)
	if inc.State != StateConfirmed || !inc.SecurityUnacknowledgedSince.IsZero() {
		t.Errorf("after confirm: state %s, unacknowledged since %v", inc.State, inc.SecurityUnacknowledgedSince)
	}
	if start == StateConfirmed {
		if !slices.Contains(incActions(inc), "security_acknowledged") {
			t.Errorf("audit %v: want security_acknowledged", incActions(inc))
		}
		if v := e.unackSince(t, id); v != nil {
			t.Errorf("security_unacknowledged_since = %v after acknowledgement, want null", v)
		}
		// Acknowledged once: a second confirm is a conflict again.
		if st := e.act(t, via, id, "confirm", at.Add(3*time.Minute)); st != http.StatusConflict {
			t.Errorf("second confirm: %d, want 409", st)
		}
	}
	mark := len(e.pager.pages())
	e.tick(t, at.Add(2*time.Minute))
	if !slices.ContainsFunc(e.pagesOf(id, mark), func(p page.Page) bool { return p.Resolved && p.Labels["severity"] == page.SeverityCritical }) {
		t.Errorf("security page not ended after the human acted: %v", e.pager.keys()[mark:])
	}
	mark = len(e.pager.pages())
	e.tick(t, at.Add(10*time.Minute))
	for _, p := range e.pagesOf(id, mark) {
		if !p.Resolved {
			t.Errorf("still paging after the human acted: %s", p.Key)
		}
	}
}

// TestSecurityJoinsConfirmedIncident: a new security anomaly that joins a
// confirmed incident (same side, within the grouping window) pages it too.
func TestSecurityJoinsConfirmedIncident(t *testing.T) {
	e := newSecEnv(t, sqliteBackend)
	e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	id := e.only(t).ID
	e.act(t, "service", id, "confirm", incAt(2*time.Minute))
	e.tick(t, incAt(2*time.Minute))
	before := len(e.pager.pages())
	alert := detector.Anomaly{
		ID: "alert/ZkNymIssuanceCompromised@1", Component: "alert/ZkNymIssuanceCompromised", Class: detector.ClassSecurity,
		Architecture: detector.ArchCentralized, Title: "zk-nym issuance compromised", Reason: "alert labelled class=security",
		Source: "alertmanager", FirstSeen: incAt(3 * time.Minute), DetectedAt: incAt(3 * time.Minute),
	}
	e.apply(t, alert, incAt(4*time.Minute))
	inc := e.only(t)
	if inc.State != StateConfirmed || inc.SecurityUnacknowledgedSince.IsZero() {
		t.Fatalf("state %s, unacknowledged since %v", inc.State, inc.SecurityUnacknowledgedSince)
	}
	e.tick(t, incAt(4*time.Minute))
	if !secHasKey(e.pagesOf(id, before), "/r1/open/security") {
		t.Errorf("joined security anomaly not paged: %v", e.pager.keys()[before:])
	}
}

// TestEscalationCountsFromDetectedAt (issue 10.6): a draft promoted from an
// internal record created hours earlier starts its escalation schedule at
// detected_at (the promotion), not at the record's creation.
func TestEscalationCountsFromDetectedAt(t *testing.T) {
	e := newSecEnv(t, sqliteBackend)
	a := incGateways("entry_gateways", detector.ClassInternal, incAt(0), 100, 1)
	e.apply(t, a, incAt(time.Minute)) // the internal record is created
	promoted := incAt(5 * time.Hour)
	a = incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
	a.Promotions = []detector.Promotion{{At: promoted, From: detector.ClassInternal, To: detector.ClassOperational, Reason: "threshold crossed"}}
	e.apply(t, a, promoted.Add(time.Second))
	inc := e.only(t)
	if inc.State != StateDraft || !inc.DetectedAt.Equal(promoted) {
		t.Fatalf("state %s detected_at %v", inc.State, inc.DetectedAt)
	}
	e.tick(t, promoted.Add(time.Second))
	pages := e.pager.pages()
	if len(pages) != 1 || !strings.HasSuffix(pages[0].Key, "/open") || pages[0].Labels["severity"] != page.SeverityWarning {
		t.Fatalf("first pages %v, want one warning open page", e.pager.keys())
	}
	d := pages[0].Annot["description"]
	if strings.Contains(d, "Escalated") || !strings.Contains(d, "pending 1s") {
		t.Errorf("first page of a promoted draft: %q", d)
	}
	// 14 minutes later: not escalated yet; at 15 minutes it is.
	e.tick(t, promoted.Add(14*time.Minute))
	if secHasKey(e.pager.pages(), "/escalate/1") {
		t.Errorf("escalated before 15m after detected_at: %v", e.pager.keys())
	}
	e.tick(t, promoted.Add(15*time.Minute))
	if !secHasKey(e.pager.pages(), "/escalate/1") {
		t.Errorf("not escalated 15m after detected_at: %v", e.pager.keys())
	}
}

// TestOutboxLaterRoundSupersedesStaleEnd: an end page of an earlier paging
// round still waiting (its receiver failed) is not sent after the incident
// is paged again in a new round with the same labels: sent late, it would
// end the new alert.
func TestOutboxLaterRoundSupersedesStaleEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		p := &outboxTestPager{name: "am"}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		s.Class = "security"
		e.opened(s, outboxT0)
		e.tick(outboxT0)
		p.setFail(page.NewError(page.ReasonHTTP5xx, false, "503"))
		s.State = "dismissed"
		e.ended(s, outboxT0.Add(time.Second))
		e.tick(outboxT0.Add(time.Second))
		end := "INC-1/end/" + page.Fingerprint(page.Labels(s, page.SeverityCritical))
		if r := e.row(end, "am"); r.outcome != "" || r.attempts != 1 {
			t.Fatalf("end row %+v, want pending after one failure", r)
		}

		// Reopened in round 1: the same label set fires again.
		s.State, s.Round, s.PagingSince = "draft", 1, outboxT0.Add(time.Minute)
		e.opened(s, outboxT0.Add(time.Minute))
		e.drafts.set(s)
		p.setFail(nil)
		e.tick(outboxT0.Add(time.Hour))
		if r := e.row(end, "am"); r.outcome != "superseded" {
			t.Errorf("stale end page of round 0: outcome %q, want superseded", r.outcome)
		}
		for _, pg := range p.pages() {
			if pg.Resolved {
				t.Errorf("stale end page delivered after the new round fired: %s", pg.Key)
			}
		}
		if !slices.ContainsFunc(p.pages(), func(pg page.Page) bool { return strings.HasPrefix(pg.Key, "INC-1/r1/") && !pg.Resolved }) {
			t.Errorf("round 1 not paged: %v", p.keys())
		}
	})
}

// TestDraftAgeCountsFromDetectedAt: the oldest-draft gauge of a draft
// promoted from an hours-old internal record starts at the promotion.
func TestDraftAgeCountsFromDetectedAt(t *testing.T) {
	e := newIncEnv(t)
	a := incGateways("entry_gateways", detector.ClassInternal, incAt(0), 100, 1)
	e.apply(t, a, incAt(time.Minute))
	promoted := incAt(5 * time.Hour)
	a = incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
	a.Promotions = []detector.Promotion{{At: promoted, From: detector.ClassInternal, To: detector.ClassOperational, Reason: "threshold crossed"}}
	e.apply(t, a, promoted.Add(time.Second))
	e.clock.Set(promoted.Add(10 * time.Second))
	if got := e.svc.metrics.oldestDraftAge(); got != 10 {
		t.Errorf("nymwatch_draft_oldest_age_seconds = %v, want 10 (since detected_at)", got)
	}
}
