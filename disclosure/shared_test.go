package disclosure

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// Tests of several nymwatch instances sharing incident state in one
// PostgreSQL database (storage.driver: postgres). Each instance is its own
// store.DB (own pool, own session lock connection), Service and Outbox, as
// separate processes would have.

type sharedInstance struct {
	name  string
	db    *store.DB
	svc   *Service
	ob    *Outbox
	pager *outboxTestPager
	reg   *prometheus.Registry
}

func newSharedInstance(t *testing.T, name string, open func(t *testing.T) *store.DB) *sharedInstance {
	t.Helper()
	in := &sharedInstance{name: name, db: open(t), pager: &outboxTestPager{name: "am-1"}, reg: prometheus.NewPedanticRegistry()}
	var err error
	// Same pager configuration on every instance: pager names are the
	// outbox rows' identity.
	in.ob, err = NewOutbox(in.db, []page.Pager{in.pager}, nil, OutboxOptions{}, in.reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	in.ob.jitter = func(d time.Duration) time.Duration { return d }
	in.svc, err = NewService(t.Context(), ServiceOptions{DB: in.db, Pages: in.ob, Registerer: in.reg})
	if err != nil {
		t.Fatal(err)
	}
	in.ob.SetDraftSource(in.svc)
	return in
}

func (in *sharedInstance) leader(t *testing.T) float64 {
	t.Helper()
	return testutil.ToFloat64(in.ob.m.leader)
}

// TestSharedInstancesOpenOneIncidentPerEvent: two instances apply the same
// anomalies of one event at the same time, each several times (their
// detectors see the same outage; gocron may run twice); every event ends
// up as exactly one incident with one page, and incident IDs stay unique
// and gapless across instances.
func TestSharedInstancesOpenOneIncidentPerEvent(t *testing.T) {
	open := postgresBackend.fresh(t)
	a, b := newSharedInstance(t, "a", open), newSharedInstance(t, "b", open)
	const events = 24
	for i := range events {
		fs := incAt(time.Duration(i) * 30 * time.Minute) // 30m apart: never one event
		var x, y detector.Anomaly
		if i%2 == 0 {
			x = incGateways("entry_gateways", detector.ClassOperational, fs, 100, 3)
			y = incGateways("exit_gateways", detector.ClassOperational, fs.Add(2*time.Minute), 200, 2)
		} else {
			x = incService("nym-api", detector.ClassOperational, fs)
			y = incService("nymvpn-api", detector.ClassOperational, fs.Add(time.Minute))
		}
		now := fs.Add(5 * time.Minute)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for _, in := range []*sharedInstance{a, b, a, b} {
			for _, an := range []detector.Anomaly{x, y} {
				wg.Go(func() {
					<-start
					errs <- in.svc.ApplyAnomaly(t.Context(), an, now)
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	}

	for _, in := range []*sharedInstance{a, b} {
		incs, err := in.svc.List(t.Context(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		ids := incIDs(incs)
		slices.Sort(ids)
		want := make([]string, events)
		for i := range want {
			want[i] = fmt.Sprintf("INC-20261125-%04d", i+1)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("instance %s sees incidents %v, want exactly one per event: %v", in.name, ids, want)
		}
	}
	incs, _ := b.svc.List(t.Context(), Filter{})
	for _, inc := range incs {
		full, err := b.svc.Get(t.Context(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := incActions(full); !slices.Equal(got, []string{"opened", "joined"}) || len(full.Anomalies) != 2 {
			t.Errorf("%s: audit %v, %d anomalies: want opened+joined, 2", inc.ID, got, len(full.Anomalies))
		}
	}
	var pages int
	if err := a.db.R.QueryRowContext(t.Context(), `SELECT count(*) FROM page_outbox WHERE page_key LIKE '%/open'`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != events {
		t.Errorf("%d open pages queued, want %d (one per incident)", pages, events)
	}
}

// TestSharedHumanDecidesOnce: the same draft confirmed (or dismissed) on
// two instances at once: one decision wins, the other is told it is too
// late, and the audit trail and the page's end are written once.
func TestSharedHumanDecidesOnce(t *testing.T) {
	open := postgresBackend.fresh(t)
	a, b := newSharedInstance(t, "a", open), newSharedInstance(t, "b", open)
	for i := range 10 {
		fs := incAt(time.Duration(i) * time.Hour)
		if err := a.svc.ApplyAnomaly(t.Context(), incService("nym-api", detector.ClassOperational, fs), fs.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		drafts, err := b.svc.List(t.Context(), Filter{State: StateDraft})
		if err != nil || len(drafts) != 1 {
			t.Fatalf("instance b sees drafts %v %v, want the one a opened", incIDs(drafts), err)
		}
		id := drafts[0].ID
		now := fs.Add(10 * time.Minute)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, errs[0] = a.svc.Confirm(t.Context(), id, Actor{Name: "operator:alice"}, now)
		})
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				_, errs[1] = b.svc.Confirm(t.Context(), id, Actor{Name: "operator:bob"}, now)
			} else {
				_, errs[1] = b.svc.Dismiss(t.Context(), id, "duplicate report", Actor{Name: "operator:bob"}, now)
			}
		})
		close(start)
		wg.Wait()
		var ok, conflicts int
		for _, err := range errs {
			if _, isConflict := errors.AsType[*ConflictError](err); isConflict {
				conflicts++
			} else if err == nil {
				ok++
			} else {
				t.Fatalf("decision on %s: %v", id, err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("%s: %d decisions took effect, %d refused: want 1 and 1", id, ok, conflicts)
		}
		inc, err := a.svc.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(slices.DeleteFunc(incActions(inc), func(s string) bool { return s != "confirmed" && s != "dismissed" })); n != 1 {
			t.Errorf("%s: %d decisions in the audit trail %v", id, n, incActions(inc))
		}
		var ends int
		if err := a.db.R.QueryRowContext(t.Context(), `SELECT count(*) FROM page_outbox WHERE incident_id = $1 AND resolved = 1`, id).Scan(&ends); err != nil || ends != 1 {
			t.Errorf("%s: %d end pages (%v), want 1", id, ends, err)
		}
	}
}

// TestSharedJoinDoesNotUndoDecision: an anomaly joining a draft on one
// instance while a human confirms it on another never puts the incident
// back to draft (the join re-derives the incident from a locked, current
// row, not a stale copy).
func TestSharedJoinDoesNotUndoDecision(t *testing.T) {
	open := postgresBackend.fresh(t)
	a, b := newSharedInstance(t, "a", open), newSharedInstance(t, "b", open)
	for i := range 12 {
		fs := incAt(time.Duration(i) * time.Hour)
		entry := incGateways("entry_gateways", detector.ClassOperational, fs, 100, 3)
		if err := a.svc.ApplyAnomaly(t.Context(), entry, fs.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		incs, err := b.svc.List(t.Context(), Filter{State: StateDraft})
		if err != nil || len(incs) != 1 {
			t.Fatalf("drafts %v %v", incIDs(incs), err)
		}
		id := incs[0].ID
		exit := incGateways("exit_gateways", detector.ClassOperational, fs.Add(time.Minute), 200, 2)
		var wg sync.WaitGroup
		var confirmErr, applyErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, confirmErr = b.svc.Confirm(t.Context(), id, Actor{Name: "operator"}, fs.Add(3*time.Minute))
		})
		wg.Go(func() {
			<-start
			applyErr = a.svc.ApplyAnomaly(t.Context(), exit, fs.Add(3*time.Minute))
		})
		close(start)
		wg.Wait()
		if err := errors.Join(confirmErr, applyErr); err != nil {
			t.Fatal(err)
		}
		inc, err := a.svc.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if inc.State != StateConfirmed || len(inc.Anomalies) != 2 || inc.AcknowledgedAt.IsZero() {
			t.Fatalf("%s after a concurrent join and confirm: state %s, %d anomalies, acknowledged %v",
				id, inc.State, len(inc.Anomalies), inc.AcknowledgedAt)
		}
		// Close it so the next round's anomalies are a new event.
		if _, err := a.svc.Resolve(t.Context(), id, Actor{Name: "operator"}, fs.Add(4*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
}

// lockHolderPID is the backend process holding the session lock name.
func lockHolderPID(t *testing.T, db *store.DB, name string) int {
	t.Helper()
	k := uint64(store.LockKey("session/" + name))
	var pid int
	err := db.R.QueryRowContext(t.Context(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1`,
		int64(k>>32), int64(k&0xffffffff)).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestSharedOutboxOneDrainer: both instances tick the shared outbox, only
// the lock holder delivers, each page once. When the holder dies with a
// page it failed to deliver, the other takes over at its next tick and
// delivers it, once; the old holder, back, stands by.
func TestSharedOutboxOneDrainer(t *testing.T) {
	open := postgresBackend.fresh(t)
	a, b := newSharedInstance(t, "a", open), newSharedInstance(t, "b", open)
	ctx := t.Context()
	const incidents = 20
	subjects := make([]page.Subject, incidents)
	for i := range incidents {
		subjects[i] = outboxTestSubject(fmt.Sprintf("INC-%d", i), outboxT0)
		in := []*sharedInstance{a, b}[i%2] // both instances enqueue
		if err := in.db.Tx(ctx, func(tx *sql.Tx) error { return in.ob.Opened(ctx, tx, subjects[i], outboxT0) }); err != nil {
			t.Fatal(err)
		}
	}
	tickBoth := func(now time.Time) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, in := range []*sharedInstance{a, b} {
			wg.Go(func() { errs[i] = in.ob.Tick(ctx, now) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		tickBoth(outboxT0)
	}
	all := append(a.pager.keys(), b.pager.keys()...)
	outboxAssertNoDuplicates(t, all)
	if len(all) != incidents {
		t.Fatalf("%d pages delivered, want %d", len(all), incidents)
	}
	var leader, standby *sharedInstance
	switch {
	case len(a.pager.keys()) == incidents && len(b.pager.keys()) == 0:
		leader, standby = a, b
	case len(b.pager.keys()) == incidents && len(a.pager.keys()) == 0:
		leader, standby = b, a
	default:
		t.Fatalf("both instances drained: a sent %v, b sent %v", a.pager.keys(), b.pager.keys())
	}
	if leader.leader(t) != 1 || standby.leader(t) != 0 {
		t.Fatalf("leader gauges: %s=%v %s=%v", leader.name, leader.leader(t), standby.name, standby.leader(t))
	}

	// The leader's receiver goes down; the standby ends an incident (as a
	// human's confirm there would), queueing an end page; the leader's
	// attempt to deliver it fails.
	leader.pager.setFail(page.NewError(page.ReasonNetwork, false, "connection refused"))
	s := subjects[0]
	if err := standby.db.Tx(ctx, func(tx *sql.Tx) error { return standby.ob.Ended(ctx, tx, s, outboxT0.Add(time.Minute)) }); err != nil {
		t.Fatal(err)
	}
	t1 := outboxT0.Add(time.Minute)
	tickBoth(t1)
	if got := append(a.pager.keys(), b.pager.keys()...); len(got) != incidents {
		t.Fatalf("delivered %v while the leader's receiver is down", got)
	}

	// The leader crashes: the server ends its lock session.
	pid := lockHolderPID(t, standby.db, "page-outbox")
	if pid == 0 {
		t.Fatal("no outbox lock holder")
	}
	var done bool
	if err := standby.db.R.QueryRowContext(ctx, "SELECT pg_terminate_backend($1, 30000)", pid).Scan(&done); err != nil || !done {
		t.Fatalf("terminate the leader's session %d: %v %v", pid, done, err)
	}
	// Only the standby ticks now (the leader is gone), past the backoff.
	t2 := t1.Add(10 * time.Minute)
	if err := standby.ob.Tick(ctx, t2); err != nil {
		t.Fatal(err)
	}
	if standby.leader(t) != 1 {
		t.Fatal("the standby did not take the outbox over")
	}
	ended := slices.DeleteFunc(standby.pager.pages(), func(p page.Page) bool { return !p.Resolved })
	if len(ended) != 1 || ended[0].IncidentID != s.IncidentID {
		t.Fatalf("standby delivered end pages %+v, want the one the dead leader failed to send", ended)
	}
	// The old leader comes back: it finds its session gone and stands by.
	leader.pager.setFail(nil)
	for range 3 {
		tickBoth(t2.Add(time.Minute))
	}
	if leader.leader(t) != 0 || standby.leader(t) != 1 {
		t.Fatalf("after restart: %s=%v %s=%v", leader.name, leader.leader(t), standby.name, standby.leader(t))
	}
	all = append(a.pager.keys(), b.pager.keys()...)
	outboxAssertNoDuplicates(t, all)
	for _, p := range leader.pager.pages() {
		if p.Resolved {
			t.Errorf("old leader delivered %s after losing the lock", p.Key)
		}
	}
	var pending int
	if err := a.db.R.QueryRowContext(ctx, "SELECT count(*) FROM page_outbox WHERE done_ms IS NULL").Scan(&pending); err != nil || pending != 0 {
		t.Errorf("%d pages still pending (%v)", pending, err)
	}
}
