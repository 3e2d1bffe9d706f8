package disclosure

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/internal/store"
	nwtest "github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/disclosure/page/pagetest"
)

// pagerTestFastRetry keeps a pager's quick retries short in tests.
var pagerTestFastRetry = page.HTTPOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}

// outboxTestDrafts is a DraftSource backed by a slice.
type outboxTestDrafts struct {
	mu       sync.Mutex
	subjects []page.Subject
}

func (d *outboxTestDrafts) PendingDrafts(context.Context) ([]page.Subject, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.subjects), nil
}

func (d *outboxTestDrafts) set(s ...page.Subject) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.subjects = s
}

type outboxTestEnv struct {
	t      *testing.T
	openDB func(t *testing.T) *store.DB
	db     *store.DB
	ob     *Outbox
	drafts *outboxTestDrafts
	reg    *prometheus.Registry
	log    *nwtest.Buffer
	pagers []page.Pager
	opts   OutboxOptions
}

// newOutboxTestEnv is an outbox over SQLite.
func newOutboxTestEnv(t *testing.T, pagers []page.Pager, opts OutboxOptions) *outboxTestEnv {
	t.Helper()
	return newOutboxTestEnvOn(t, sqliteBackend, pagers, opts)
}

// newOutboxTestEnvOn is an outbox over a fresh database of backend b.
func newOutboxTestEnvOn(t *testing.T, b testBackend, pagers []page.Pager, opts OutboxOptions) *outboxTestEnv {
	t.Helper()
	e := &outboxTestEnv{t: t, openDB: b.fresh(t), drafts: &outboxTestDrafts{},
		log: &nwtest.Buffer{}, pagers: pagers, opts: opts}
	e.db = e.openDB(t)
	e.build()
	return e
}

// build (re)creates the outbox over e.db, as a restarted daemon would.
func (e *outboxTestEnv) build() {
	e.t.Helper()
	e.reg = prometheus.NewPedanticRegistry()
	logger := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ob, err := NewOutbox(e.db, e.pagers, e.drafts, e.opts, e.reg, logger)
	if err != nil {
		e.t.Fatal(err)
	}
	ob.jitter = func(d time.Duration) time.Duration { return d } // deterministic backoff
	e.ob = ob
}

func (e *outboxTestEnv) restart() {
	e.t.Helper()
	if err := e.db.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.db = e.openDB(e.t)
	e.build()
}

func (e *outboxTestEnv) opened(s page.Subject, now time.Time) {
	e.t.Helper()
	if err := e.db.Tx(e.t.Context(), func(tx *sql.Tx) error { return e.ob.Opened(e.t.Context(), tx, s, now) }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *outboxTestEnv) ended(s page.Subject, now time.Time) {
	e.t.Helper()
	if err := e.db.Tx(e.t.Context(), func(tx *sql.Tx) error { return e.ob.Ended(e.t.Context(), tx, s, now) }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *outboxTestEnv) tick(now time.Time) {
	e.t.Helper()
	if err := e.ob.Tick(e.t.Context(), now); err != nil {
		e.t.Fatalf("tick at %s: %v", now, err)
	}
}

type outboxTestRow struct {
	key, pager, outcome, lastErr string
	attempts                     int
	next, created                time.Time
	delivered                    bool
}

func (e *outboxTestEnv) rows() []outboxTestRow {
	e.t.Helper()
	rs, err := e.db.R.QueryContext(e.t.Context(), `SELECT page_key, pager, coalesce(outcome, ''), coalesce(last_error, ''),
		attempts, next_attempt_ms, created_ms, delivered_ms IS NOT NULL FROM page_outbox ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Close()
	var out []outboxTestRow
	for rs.Next() {
		var r outboxTestRow
		var next, created int64
		if err := rs.Scan(&r.key, &r.pager, &r.outcome, &r.lastErr, &r.attempts, &next, &created, &r.delivered); err != nil {
			e.t.Fatal(err)
		}
		r.next, r.created = unixms.Time(next), unixms.Time(created)
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *outboxTestEnv) row(key, pager string) outboxTestRow {
	e.t.Helper()
	for _, r := range e.rows() {
		if r.key == key && r.pager == pager {
			return r
		}
	}
	e.t.Fatalf("no row %s for %s", key, pager)
	return outboxTestRow{}
}

func (e *outboxTestEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// outboxTestPager is a controllable Pager.
type outboxTestPager struct {
	name string
	mu   sync.Mutex
	sent []page.Page
	fail error
}

func (p *outboxTestPager) Name() string { return p.name }
func (p *outboxTestPager) Send(_ context.Context, pg page.Page) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.sent = append(p.sent, pg)
	return nil
}

func (p *outboxTestPager) setFail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = err
}

func (p *outboxTestPager) keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, pg := range p.sent {
		out = append(out, pg.Key)
	}
	return out
}

func (p *outboxTestPager) pages() []page.Page {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

var outboxT0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func outboxTestSubject(id string, created time.Time) page.Subject {
	return page.Subject{
		IncidentID: id, Class: "operational", State: "draft",
		Component: "entry-gateways", Architecture: "decentralized",
		Title:     "Entry gateways unreachable",
		Summary:   "30% of entry gateways stopped accepting connections.",
		FirstSeen: created.Add(-2 * time.Minute), DetectedAt: created, CreatedAt: created.Add(time.Second),
	}
}

func outboxAssertNoDuplicates(t *testing.T, keys []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("page %s delivered twice", k)
		}
		seen[k] = true
	}
}

func TestOutboxEnqueueIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		a, b := &outboxTestPager{name: "a"}, &outboxTestPager{name: "b"}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{a, b}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		// The service enqueues twice (e.g. a duplicated scheduler run), and a
		// rolled-back transaction enqueues nothing.
		e.opened(s, outboxT0)
		e.opened(s, outboxT0.Add(time.Second))
		err := e.db.Tx(t.Context(), func(tx *sql.Tx) error {
			if err := e.ob.Opened(t.Context(), tx, outboxTestSubject("INC-2", outboxT0), outboxT0); err != nil {
				return err
			}
			return errors.New("incident write failed")
		})
		if err == nil {
			t.Fatal("want the rollback error")
		}
		rows := e.rows()
		if len(rows) != 2 || rows[0].key != "INC-1/open" || rows[0].pager != "a" || rows[1].key != "INC-1/open" || rows[1].pager != "b" {
			t.Fatalf("rows %+v, want INC-1/open once per pager", rows)
		}
		// Ticks at the same instant (gocron's duplicate run) add nothing twice.
		e.drafts.set(s)
		e.tick(outboxT0)
		e.tick(outboxT0)
		now := outboxT0.Add(90 * time.Second)
		e.tick(now)
		e.tick(now)
		e.tick(now.Add(10 * time.Second))
		if got, want := len(e.rows()), 4; got != want {
			t.Errorf("%d rows, want %d (open + resend/1, per pager)", got, want)
		}
		for _, p := range []*outboxTestPager{a, b} {
			if got := p.keys(); !slices.Equal(got, []string{"INC-1/open", "INC-1/resend/1/warning"}) {
				t.Errorf("pager %s got %v", p.name, got)
			}
		}
		if got := e.metric("nymwatch_pages_sent_total", "pager_kind", "other"); got != 4 {
			t.Errorf("sent_total = %v, want 4", got)
		}
		if got := e.metric("nymwatch_pages_queued"); got != 0 {
			t.Errorf("queued = %v, want 0", got)
		}
		if got := e.metric("nymwatch_page_delivery_delay_seconds"); got != 4 {
			t.Errorf("delay samples = %v, want 4", got)
		}
		// An internal incident is never paged.
		e.opened(page.Subject{IncidentID: "INC-3", Class: "internal", CreatedAt: outboxT0}, outboxT0)
		if got := len(e.rows()); got != 4 {
			t.Errorf("internal incident enqueued: %d rows", got)
		}
	})
}

func TestOutboxDeliversToAlertmanager(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		srv := pagetest.NewServer(t)
		am, err := page.NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
		if err != nil {
			t.Fatal(err)
		}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{am}, OutboxOptions{ExternalURL: "https://nymwatch.example"})
		s := outboxTestSubject("INC-20260310-0001", outboxT0)
		e.opened(s, outboxT0)
		e.drafts.set(s)
		sendAt := outboxT0.Add(5 * time.Second)
		e.tick(sendAt)

		alerts := srv.Alerts(t)
		if len(alerts) != 1 {
			t.Fatalf("%d alerts, want 1", len(alerts))
		}
		a := alerts[0]
		if got := slices.Sorted(maps.Keys(a)); !slices.Equal(got, []string{"annotations", "endsAt", "generatorURL", "labels", "startsAt"}) {
			t.Errorf("alert fields %v", got)
		}
		wantLabels := map[string]any{"alertname": "NymwatchDisclosurePending", "incident_id": "INC-20260310-0001",
			"class": "operational", "component": "entry-gateways", "severity": "warning"}
		if !maps.Equal(a["labels"].(map[string]any), wantLabels) {
			t.Errorf("labels %v", a["labels"])
		}
		if a["startsAt"] != "2026-03-10T11:58:00.000Z" {
			t.Errorf("startsAt %v, want first_seen", a["startsAt"])
		}
		// endsAt: the send time plus 4 resend intervals.
		if a["endsAt"] != "2026-03-10T12:04:05.000Z" {
			t.Errorf("endsAt %v", a["endsAt"])
		}
		const url = "https://nymwatch.example/incidents/INC-20260310-0001"
		if a["generatorURL"] != url {
			t.Errorf("generatorURL %v", a["generatorURL"])
		}
		ann := a["annotations"].(map[string]any)
		if got := slices.Sorted(maps.Keys(ann)); !slices.Equal(got, []string{"description", "incident_url", "summary"}) {
			t.Errorf("annotations %v", got)
		}
		if ann["incident_url"] != url || ann["summary"] != "Draft operational incident awaits a disclosure decision (warning): Entry gateways unreachable" {
			t.Errorf("annotations %v", ann)
		}
		for _, sub := range []string{"30% of entry gateways", "INC-20260310-0001 (entry-gateways, decentralized)",
			"Users first affected 2026-03-10T11:58:00.000Z", "same UTC day", url} {
			if !strings.Contains(ann["description"].(string), sub) {
				t.Errorf("description %q lacks %q", ann["description"], sub)
			}
		}
		r := e.row("INC-20260310-0001/open", am.Name())
		if r.outcome != "delivered" || !r.delivered || r.attempts != 1 {
			t.Errorf("row %+v", r)
		}

		// A re-send a minute later pushes endsAt forward; the alert is the same.
		e.tick(outboxT0.Add(time.Minute))
		alerts = srv.Alerts(t)
		if len(alerts) != 2 || alerts[1]["endsAt"] != "2026-03-10T12:05:00.000Z" ||
			!maps.Equal(alerts[1]["labels"].(map[string]any), wantLabels) {
			t.Fatalf("re-send %v", alerts)
		}

		// Ended: the alert is resolved with endsAt = now.
		s.State = "confirmed"
		e.drafts.set()
		e.ended(s, outboxT0.Add(90*time.Second))
		e.tick(outboxT0.Add(91 * time.Second))
		alerts = srv.Alerts(t)
		if len(alerts) != 3 || alerts[2]["endsAt"] != "2026-03-10T12:01:30.000Z" || alerts[2]["startsAt"] != "2026-03-10T11:58:00.000Z" ||
			!maps.Equal(alerts[2]["labels"].(map[string]any), wantLabels) {
			t.Fatalf("end %v", alerts)
		}
		if !strings.Contains(alerts[2]["annotations"].(map[string]any)["summary"].(string), "confirmed") {
			t.Errorf("end summary %v", alerts[2]["annotations"])
		}
		// Nothing more once ended.
		e.tick(outboxT0.Add(10 * time.Minute))
		if n := len(srv.Alerts(t)); n != 3 {
			t.Errorf("%d posts after the end, want 3", n)
		}
	})
}

// TestOutboxPagerDownThenUp: a receiver down for hours (fake time), then
// back: every alert state reaches it, no page twice, nothing left queued,
// and attempts while down were spaced by the capped backoff.
func TestOutboxPagerDownThenUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		p := &outboxTestPager{name: "am"}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		p.setFail(page.NewError(page.ReasonNetwork, false, "connection refused"))
		e.opened(s, outboxT0)
		e.drafts.set(s)
		now := outboxT0
		for ; now.Before(outboxT0.Add(2 * time.Hour)); now = now.Add(time.Minute) {
			e.tick(now)
		}
		failed := e.metric("nymwatch_pages_failed_total", "pager_kind", "other", "reason", "network")
		// Backoff is per alert (issue 11.1), not per pager: each label set
		// reached (warning; critical after 15m; page after 1h) backs off on
		// its own, 5s, 10s, ... capped at 5m (seen at 1m ticks), its re-sends
		// inheriting it: about 70 attempts in 2h, where retrying every due
		// row at every tick makes 225.
		if failed < 40 || failed > 100 {
			t.Errorf("%v attempts while down, want the backoff to space them (40-100)", failed)
		}
		if q := e.metric("nymwatch_pages_queued"); q < 1 || q > 3 {
			t.Errorf("queued = %v: superseded re-sends should not pile up", q)
		}
		if len(p.keys()) != 0 {
			t.Fatal("delivered while down")
		}

		p.setFail(nil)
		up := now
		for end := now.Add(10 * time.Minute); now.Before(end); now = now.Add(time.Minute) {
			e.tick(now)
		}
		keys := p.keys()
		outboxAssertNoDuplicates(t, keys)
		sev := map[string]bool{}
		for _, pg := range p.pages() {
			sev[pg.Labels["severity"]] = true
			// endsAt is set when the page leaves, not when it was queued.
			if pg.EndsAt.Before(up.Add(4 * time.Minute)) {
				t.Errorf("%s delivered with stale endsAt %s", pg.Key, pg.EndsAt)
			}
		}
		// By now the draft has climbed to page; every reached label set fires.
		if !sev["warning"] || !sev["critical"] || !sev["page"] {
			t.Errorf("severities delivered %v (keys %v)", sev, keys)
		}
		for _, r := range e.rows() {
			if r.outcome != "delivered" && r.outcome != "superseded" {
				t.Errorf("row %s outcome %q", r.key, r.outcome)
			}
		}
		if q := e.metric("nymwatch_pages_queued"); q != 0 {
			t.Errorf("queued = %v after recovery", q)
		}
	})
}

func TestOutboxRestartDeliversOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		srv := pagetest.NewServer(t)
		am, err := page.NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
		if err != nil {
			t.Fatal(err)
		}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{am}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		e.opened(s, outboxT0)

		// Crash before delivery: the page survives in the store.
		e.restart()
		e.drafts.set(s)
		e.tick(outboxT0.Add(time.Second))
		e.tick(outboxT0.Add(2 * time.Second))
		e.restart()
		e.tick(outboxT0.Add(3 * time.Second))
		if n := len(srv.Alerts(t)); n != 1 {
			t.Fatalf("%d posts, want exactly 1", n)
		}

		// A failure's attempt count and schedule survive a restart too.
		srv.SetStatus(500)
		e.tick(outboxT0.Add(time.Minute))
		r := e.row("INC-1/resend/1/warning", am.Name())
		if r.attempts != 1 || !r.next.Equal(outboxT0.Add(time.Minute+5*time.Second)) || !strings.Contains(r.lastErr, "500") {
			t.Fatalf("after failure: %+v", r)
		}
		e.restart()
		srv.SetStatus(0)
		e.tick(outboxT0.Add(time.Minute + 4*time.Second)) // not due yet
		r = e.row("INC-1/resend/1/warning", am.Name())
		if r.outcome != "" {
			t.Fatalf("delivered before its next attempt: %+v", r)
		}
		e.tick(outboxT0.Add(time.Minute + 5*time.Second))
		r = e.row("INC-1/resend/1/warning", am.Name())
		if r.outcome != "delivered" || r.attempts != 2 {
			t.Fatalf("after recovery: %+v", r)
		}
	})
}

func TestOutboxAlertmanagerCluster(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		srvs := []*pagetest.Server{pagetest.NewServer(t), pagetest.NewServer(t), pagetest.NewServer(t)}
		var urls []string
		for _, s := range srvs {
			urls = append(urls, s.URL)
		}
		pagers, err := page.NewAlertmanagerPagers(urls, pagerTestFastRetry)
		if err != nil {
			t.Fatal(err)
		}
		srvs[1].SetStatus(503) // one member down
		e := newOutboxTestEnvOn(t, bk, pagers, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		e.opened(s, outboxT0)
		e.drafts.set(s)
		e.tick(outboxT0)
		// Members 0 and 2 took the page; member 1 answered 503 to the attempt
		// and its two quick retries.
		for i, want := range []int{1, 3, 1} {
			if got := len(srvs[i].Alerts(t)); got != want {
				t.Errorf("member %d: %d posts, want %d", i, got, want)
			}
		}
		srvs[1].SetStatus(0)
		e.tick(outboxT0.Add(5 * time.Second))
		var labels []map[string]any
		for i, srv := range srvs {
			as := srv.Alerts(t)
			last := as[len(as)-1]
			labels = append(labels, last["labels"].(map[string]any))
			if i != 1 && len(as) != 1 {
				t.Errorf("member %d got %d posts, want 1", i, len(as))
			}
		}
		for i := range labels {
			if !maps.Equal(labels[i], labels[0]) {
				t.Errorf("member %d got labels %v, member 0 %v", i, labels[i], labels[0])
			}
		}
		for _, p := range pagers {
			if r := e.row("INC-1/open", p.Name()); r.outcome != "delivered" {
				t.Errorf("%s: %+v", p.Name(), r)
			}
		}
		if _, err := NewOutbox(e.db, append(pagers, pagers[0]), nil, OutboxOptions{}, nil, nil); err == nil {
			t.Error("duplicate pager accepted")
		}
	})
}

func TestOutboxRetryAfterCapped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		srv := pagetest.NewServer(t)
		srv.SetStatus(http.StatusTooManyRequests)
		srv.SetRetryAfter("3600")
		am, err := page.NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
		if err != nil {
			t.Fatal(err)
		}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{am}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		e.opened(s, outboxT0)
		e.tick(outboxT0)
		r := e.row("INC-1/open", am.Name())
		// Honoured (above the 5s backoff) but capped at MaxBackoff, not an hour.
		if want := outboxT0.Add(5 * time.Minute); !r.next.Equal(want) {
			t.Errorf("next attempt %s, want %s", r.next, want)
		}
		if r.attempts != 1 || !strings.Contains(r.lastErr, "429") {
			t.Errorf("row %+v", r)
		}
		// The pager did not sit on the hour inside Send either: one request.
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		// Before the capped time nothing is attempted.
		e.tick(outboxT0.Add(4 * time.Minute))
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests before the retry time", n)
		}
		srv.SetStatus(0)
		e.tick(outboxT0.Add(5 * time.Minute))
		if r := e.row("INC-1/open", am.Name()); r.outcome != "delivered" {
			t.Errorf("row %+v", r)
		}
	})
}

func TestOutboxBackoffSchedule(t *testing.T) {
	e := newOutboxTestEnv(t, nil, OutboxOptions{})
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := e.ob.backoff(i+1, 0); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := e.ob.backoff(1, 30*time.Second); got != 30*time.Second {
		t.Errorf("retry-after 30s: %s", got)
	}
	if got := e.ob.backoff(1, 100*time.Hour); got != 5*time.Minute {
		t.Errorf("retry-after 100h: %s, want capped", got)
	}
	for range 100 {
		if d := outboxEqualJitter(time.Minute); d < 30*time.Second || d > time.Minute {
			t.Fatalf("jitter %s outside [30s, 1m]", d)
		}
	}
}

// TestOutboxEndedSkipsFiring: pages queued while the receiver was down are
// not delivered after the incident ended; the end page is.
func TestOutboxEndedSkipsFiring(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		p := &outboxTestPager{name: "am"}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		p.setFail(page.NewError(page.ReasonHTTP5xx, false, "503"))
		e.opened(s, outboxT0)
		e.drafts.set(s)
		for now := outboxT0; now.Before(outboxT0.Add(20 * time.Minute)); now = now.Add(30 * time.Second) {
			e.tick(now)
		}
		// A human confirms; the draft source no longer lists it.
		end := outboxT0.Add(20 * time.Minute)
		s.State = "confirmed"
		e.drafts.set()
		e.ended(s, end)
		// A tick that read the draft list just before the end committed must
		// not re-open the alert either.
		e.drafts.set(outboxTestSubject("INC-1", outboxT0))
		e.tick(end.Add(time.Second))
		e.drafts.set()
		p.setFail(nil)
		e.tick(end.Add(10 * time.Minute))

		pages := p.pages()
		if len(pages) == 0 {
			t.Fatal("nothing delivered")
		}
		sevs := map[string]bool{}
		for _, pg := range pages {
			if !pg.Resolved || !strings.Contains(pg.Key, "/end/") {
				t.Errorf("firing page %s delivered after the end", pg.Key)
			}
			if !pg.EndsAt.Equal(end) {
				t.Errorf("%s endsAt %s, want %s", pg.Key, pg.EndsAt, end)
			}
			sevs[pg.Labels["severity"]] = true
		}
		// The draft had escalated to critical at 15m: both alerts end.
		if len(pages) != 2 || !sevs["warning"] || !sevs["critical"] {
			t.Errorf("end pages %v", sevs)
		}
		outboxAssertNoDuplicates(t, p.keys())
		for _, r := range e.rows() {
			want := "superseded"
			if strings.Contains(r.key, "/end/") {
				want = "delivered"
			}
			if r.outcome != want {
				t.Errorf("row %s: outcome %q, want %q", r.key, r.outcome, want)
			}
		}
		if got := e.metric("nymwatch_pages_superseded_total", "pager_kind", "other"); got < 1 {
			t.Errorf("superseded_total = %v", got)
		}
	})
}

// TestOutboxEndedAllLabelSets: a draft whose class changed while paged ends
// the alerts of both classes.
func TestOutboxEndedAllLabelSets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		p := &outboxTestPager{name: "am"}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{})
		s := outboxTestSubject("INC-1", outboxT0)
		e.opened(s, outboxT0)
		e.tick(outboxT0)
		s.Class = "security" // promoted
		e.drafts.set(s)
		e.tick(outboxT0.Add(time.Minute))
		s.State = "dismissed"
		e.ended(s, outboxT0.Add(2*time.Minute))
		e.tick(outboxT0.Add(2 * time.Minute))
		ended := map[string]bool{}
		for _, pg := range p.pages() {
			if pg.Resolved {
				ended[pg.Labels["class"]+"/"+pg.Labels["severity"]] = true
			}
		}
		want := map[string]bool{"operational/warning": true, "security/critical": true}
		if !maps.Equal(ended, want) {
			t.Errorf("ended %v, want %v", ended, want)
		}
	})
}

func TestOutboxRejectedNotRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		srv := pagetest.NewServer(t)
		srv.SetStatus(http.StatusBadRequest)
		srv.SetBody(`{"code":400,"message":"invalid label set"}`)
		am, err := page.NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
		if err != nil {
			t.Fatal(err)
		}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{am}, OutboxOptions{})
		e.opened(outboxTestSubject("INC-1", outboxT0), outboxT0)
		e.tick(outboxT0)
		e.tick(outboxT0.Add(time.Hour))
		r := e.row("INC-1/open", am.Name())
		if r.outcome != "rejected" || r.attempts != 1 || !strings.Contains(r.lastErr, "invalid label set") {
			t.Errorf("row %+v", r)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		if got := e.metric("nymwatch_pages_failed_total", "pager_kind", "alertmanager", "reason", "http_4xx"); got != 1 {
			t.Errorf("failed{http_4xx} = %v", got)
		}
		if !strings.Contains(e.log.String(), "page rejected") {
			t.Errorf("rejection not logged: %s", e.log.String())
		}
	})
}

func TestOutboxExpiresLoudly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		p := &outboxTestPager{name: "am"}
		p.setFail(page.NewError(page.ReasonTimeout, false, "deadline exceeded"))
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{MaxAge: time.Hour})
		e.opened(outboxTestSubject("INC-1", outboxT0), outboxT0) // no draft source entry: no re-sends
		for now := outboxT0; !now.After(outboxT0.Add(time.Hour)); now = now.Add(time.Minute) {
			e.tick(now)
		}
		r := e.row("INC-1/open", "am")
		if r.outcome != "expired" || r.delivered {
			t.Fatalf("row %+v", r)
		}
		if got := e.metric("nymwatch_pages_failed_total", "pager_kind", "other", "reason", "expired"); got != 1 {
			t.Errorf("failed{expired} = %v", got)
		}
		logs := e.log.String()
		if !strings.Contains(logs, "page given up") || !strings.Contains(logs, "INC-1/open") || !strings.Contains(logs, "deadline exceeded") {
			t.Errorf("expiry not logged with its last error: %s", logs)
		}
		n := len(e.rows())
		e.tick(outboxT0.Add(2 * time.Hour))
		if got := e.metric("nymwatch_pages_failed_total", "pager_kind", "other", "reason", "expired"); got != 1 {
			t.Errorf("expired twice: %v", got)
		}
		// Finished rows are pruned after the retention.
		e.tick(outboxT0.Add(8 * 24 * time.Hour))
		if got := len(e.rows()); got >= n {
			t.Errorf("%d rows after retention, had %d", got, n)
		}
	})
}

// TestOutboxSecretsNeverStored: a query-string secret in the Alertmanager
// URL reaches neither the outbox's last_error nor the logs.
func TestOutboxSecretsNeverStored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		const secret = "QSECRET-0123456789"
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := ln.Addr().String()
		ln.Close()
		srv := pagetest.NewServer(t)
		srv.SetStatus(500)
		srv.SetBody("upstream said token=" + secret)
		var pagers []page.Pager
		for _, u := range []string{"http://" + down + "/?token=" + secret, srv.URL + "/?token=" + secret} {
			p, err := page.NewAlertmanagerPager(u, pagerTestFastRetry)
			if err != nil {
				t.Fatal(err)
			}
			pagers = append(pagers, p)
		}
		e := newOutboxTestEnvOn(t, bk, pagers, OutboxOptions{MaxAge: time.Minute})
		e.opened(outboxTestSubject("INC-1", outboxT0), outboxT0)
		e.tick(outboxT0)
		e.tick(outboxT0.Add(2 * time.Minute)) // expiry logs the last error too
		rows := e.rows()
		if len(rows) != 2 {
			t.Fatalf("rows %+v", rows)
		}
		for _, r := range rows {
			if r.lastErr == "" || strings.Contains(r.lastErr, secret) || strings.Contains(r.pager, secret) {
				t.Errorf("row %+v", r)
			}
		}
		logs := e.log.String()
		if strings.Contains(logs, secret) {
			t.Errorf("logs leak the secret:\n%s", logs)
		}
		if !strings.Contains(logs, "REDACTED") {
			t.Errorf("want the echoed secret redacted in logs:\n%s", logs)
		}
	})
}

// TestOutboxOverlappingTicks: a tick that starts while another delivers
// returns at once, so a page goes out once.
func TestOutboxOverlappingTicks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		entered, release := make(chan struct{}), make(chan struct{})
		bp := &outboxBlockingPager{entered: entered, release: release}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{bp}, OutboxOptions{})
		e.opened(outboxTestSubject("INC-1", outboxT0), outboxT0)
		done := make(chan error, 1)
		go func() { done <- e.ob.Tick(t.Context(), outboxT0) }()
		<-entered
		if err := e.ob.Tick(t.Context(), outboxT0); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := bp.calls(); n != 1 {
			t.Errorf("%d sends, want 1", n)
		}
	})
}

type outboxBlockingPager struct {
	entered, release chan struct{}
	mu               sync.Mutex
	n                int
}

func (b *outboxBlockingPager) Name() string { return "blocking" }
func (b *outboxBlockingPager) Send(ctx context.Context, _ page.Page) error {
	b.mu.Lock()
	b.n++
	first := b.n == 1
	b.mu.Unlock()
	if first {
		close(b.entered)
		<-b.release
	}
	return nil
}

func (b *outboxBlockingPager) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// TestOutboxTickSchedule drives the whole loop with a fake clock: re-send
// cadence, escalations and the day-end page, each delivered once.
func TestOutboxTickSchedule(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		p := &outboxTestPager{name: "am"}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{ResendInterval: 5 * time.Minute,
			EscalationDelays: []time.Duration{15 * time.Minute, 30 * time.Minute}, DayEndWarning: time.Hour})
		created := time.Date(2026, 3, 10, 22, 40, 0, 0, time.UTC)
		s := outboxTestSubject("INC-9", created)
		e.opened(s, created)
		e.drafts.set(s)
		for now := created; now.Before(created.Add(40 * time.Minute)); now = now.Add(30 * time.Second) {
			e.tick(now)
			e.tick(now) // duplicated run
		}
		keys := p.keys()
		outboxAssertNoDuplicates(t, keys)
		type sent struct{ key, sev string }
		var got []sent
		for _, pg := range p.pages() {
			got = append(got, sent{strings.TrimPrefix(pg.Key, "INC-9/"), pg.Labels["severity"]})
		}
		// 22:40 open; 22:45 and 22:50 re-sends; 22:55 escalation 1 (critical)
		// with the warning re-send; 23:00 the day-end window (page) with the
		// lower re-sends; 23:05 re-sends; 23:10 escalation 2 (still page) with
		// the re-sends of lower severities; 23:15 re-sends.
		want := []sent{
			{"open", "warning"},
			{"resend/1/warning", "warning"},
			{"resend/2/warning", "warning"},
			{"resend/3/warning", "warning"}, {"escalate/1", "critical"},
			{"resend/4/warning", "warning"}, {"resend/4/critical", "critical"}, {"dayend/2026-03-10", "page"},
			{"resend/5/warning", "warning"}, {"resend/5/critical", "critical"}, {"resend/5/page", "page"},
			{"resend/6/warning", "warning"}, {"resend/6/critical", "critical"}, {"escalate/2", "page"},
			{"resend/7/warning", "warning"}, {"resend/7/critical", "critical"}, {"resend/7/page", "page"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("delivered\n got %v\nwant %v", got, want)
		}
		for _, pg := range p.pages() {
			if strings.Contains(pg.Key, "dayend") && !strings.Contains(pg.Annot["description"], "Same-day deadline: the UTC day ends at 2026-03-11T00:00:00.000Z, in 1h0m0s") {
				t.Errorf("day-end description %q", pg.Annot["description"])
			}
		}
	})
}

func TestOutboxMetricsLint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		am, err := page.NewAlertmanagerPager("http://127.0.0.1:9093", page.HTTPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{am}, OutboxOptions{})
		problems, err := testutil.GatherAndLint(e.reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
		// A lone instance drains its outbox, on either backend.
		e.tick(outboxT0)
		if got := e.metric("nymwatch_page_outbox_leader"); got != 1 {
			t.Errorf("leader = %v, want 1", got)
		}
		// pager_kind is bounded: the URL never becomes a label.
		if got := e.metric("nymwatch_pages_failed_total", "pager_kind", "alertmanager", "reason", "expired"); got != 0 {
			t.Errorf("expired = %v", got)
		}
		mfs, _ := e.reg.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if strings.Contains(l.GetValue(), "9093") {
						t.Errorf("%s has a URL label %v", mf.GetName(), l)
					}
				}
			}
		}
	})
}
