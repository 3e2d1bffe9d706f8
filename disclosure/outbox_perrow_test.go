package disclosure

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/disclosure/page/pagetest"
)

// outboxSelectiveAM is an Alertmanager that answers 503 to every alert of
// the incidents in failFor and 200 to the others, recording what it took.
type outboxSelectiveAM struct {
	srv     *httptest.Server
	mu      sync.Mutex
	failFor map[string]bool
	got     []map[string]any // accepted alerts
	refused int
}

func newOutboxSelectiveAM(t *testing.T, failFor ...string) *outboxSelectiveAM {
	t.Helper()
	am := &outboxSelectiveAM{failFor: map[string]bool{}}
	for _, id := range failFor {
		am.failFor[id] = true
	}
	am.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var alerts []map[string]any
		if err := json.Unmarshal(b, &alerts); err != nil || len(alerts) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		labels, _ := alerts[0]["labels"].(map[string]any)
		id, _ := labels["incident_id"].(string)
		am.mu.Lock()
		defer am.mu.Unlock()
		if am.failFor[id] {
			am.refused++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		am.got = append(am.got, alerts[0])
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(am.srv.Close)
	return am
}

func (am *outboxSelectiveAM) accepted(id string) []map[string]any {
	am.mu.Lock()
	defer am.mu.Unlock()
	var out []map[string]any
	for _, a := range am.got {
		if l, _ := a["labels"].(map[string]any); l["incident_id"] == id {
			out = append(out, a)
		}
	}
	return out
}

func (am *outboxSelectiveAM) refusals() int {
	am.mu.Lock()
	defer am.mu.Unlock()
	return am.refused
}

// TestOutboxFailingRowDoesNotBlockPager reproduces issue 11.1: an end page
// that keeps getting 5xx held back every later page of the same pager, a
// security draft included. Backoff is per row now: the security draft goes
// out on the next pass, and the failing row is retried on its own capped,
// persisted schedule.
func TestOutboxFailingRowDoesNotBlockPager(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk testBackend) {
		am := newOutboxSelectiveAM(t, "INC-1")
		p, err := page.NewAlertmanagerPager(am.srv.URL, page.HTTPOptions{RetryMax: -1})
		if err != nil {
			t.Fatal(err)
		}
		e := newOutboxTestEnvOn(t, bk, []page.Pager{p}, OutboxOptions{})
		inc1 := outboxTestSubject("INC-1", outboxT0)
		e.opened(inc1, outboxT0)
		e.tick(outboxT0)
		// A human confirms INC-1: its end page is queued, and keeps failing.
		inc1.State = "confirmed"
		e.ended(inc1, outboxT0.Add(time.Second))
		e.tick(outboxT0.Add(2 * time.Second))
		if am.refusals() < 1 {
			t.Fatalf("INC-1 was never refused")
		}

		sec := outboxTestSubject("INC-2", outboxT0.Add(3*time.Second))
		sec.Class = "security"
		e.opened(sec, outboxT0.Add(3*time.Second))
		e.drafts.set(sec)
		e.tick(outboxT0.Add(4 * time.Second))
		got := am.accepted("INC-2")
		if len(got) != 1 {
			t.Fatalf("security draft delivered %d times on the next pass, want 1 (INC-1 refused %d times)", len(got), am.refusals())
		}
		if sev := got[0]["labels"].(map[string]any)["severity"]; sev != page.SeverityCritical {
			t.Errorf("security page severity %v, want critical", sev)
		}

		// The failing end page backs off on its own: attempts spaced by the
		// capped exponential backoff, while INC-2's re-sends keep flowing.
		end := "INC-1/end/" + page.Fingerprint(page.Labels(inc1, page.SeverityWarning))
		before := e.row(end, p.Name())
		now := outboxT0.Add(4 * time.Second)
		for ; now.Before(outboxT0.Add(30 * time.Minute)); now = now.Add(5 * time.Second) {
			e.tick(now)
		}
		after := e.row(end, p.Name())
		if after.outcome != "" {
			t.Fatalf("end page finished as %q, want still retried", after.outcome)
		}
		// 30 min at 5s ticks is 360 passes; 5s, 10s, ... capped at 5m is ~11.
		if n := after.attempts - before.attempts; n < 5 || n > 15 {
			t.Errorf("end page attempted %d times in 30m, want per-row capped backoff (5-15)", n)
		}
		if gap := after.next.Sub(now); gap > 5*time.Minute {
			t.Errorf("next attempt in %s, want capped at 5m", gap)
		}
		if n := len(am.accepted("INC-2")); n < 25 {
			t.Errorf("INC-2 delivered %d times in 30m, want its re-sends every minute", n)
		}

		// The schedule is in the database: a restart keeps it (no attempt
		// before next_attempt_ms), and a restart does not reset it.
		e.restart()
		refused := am.refusals()
		e.tick(after.next.Add(-time.Second))
		if am.refusals() != refused {
			t.Errorf("restarted outbox retried the failing row before its persisted next attempt")
		}
		e.tick(after.next)
		if r := e.row(end, p.Name()); r.attempts != after.attempts+1 {
			t.Errorf("attempts %d after restart, want %d", r.attempts, after.attempts+1)
		}
	})
}

// TestOutboxPermanentRejectionCounted: a 4xx drops the row (logged and
// counted in nymwatch_pages_rejected_total) and never holds back others.
func TestOutboxPermanentRejectionCounted(t *testing.T) {
	srv := pagetest.NewServer(t)
	srv.SetStatus(http.StatusBadRequest)
	am, err := page.NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	e := newOutboxTestEnv(t, []page.Pager{am}, OutboxOptions{})
	e.opened(outboxTestSubject("INC-1", outboxT0), outboxT0)
	e.opened(outboxTestSubject("INC-2", outboxT0), outboxT0)
	e.tick(outboxT0)
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want both rows tried in one pass", n)
	}
	if got := e.metric("nymwatch_pages_rejected_total", "pager_kind", "alertmanager"); got != 2 {
		t.Errorf("rejected_total = %v, want 2", got)
	}
}
