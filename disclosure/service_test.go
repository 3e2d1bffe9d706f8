package disclosure

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// incT0 has milliseconds on purpose: they must survive every round trip.
var incT0 = time.Date(2026, 11, 25, 10, 0, 0, 123_000_000, time.UTC)

func incAt(d time.Duration) time.Time { return incT0.Add(d) }

// incFakePages records pages. Like the real outbox it writes inside the
// caller's transaction (into kv), so only committed pages count, and a
// second Opened for one incident fails on the primary key.
type incFakePages struct {
	mu    sync.Mutex
	calls []incPageCall
	err   error
}

type incPageCall struct {
	Kind string
	S    page.Subject
	Now  time.Time
}

func (f *incFakePages) record(ctx context.Context, tx *sql.Tx, kind string, s page.Subject, now time.Time) error {
	if tx == nil {
		return errors.New("fake pages: nil tx")
	}
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	key := "testpage/" + kind + "/" + s.IncidentID
	if kind == "opened" && s.Class == "security" {
		key += "/security" // a draft raised to security is paged again
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO kv (key, value, updated_ms) VALUES ($1, $2, $3)",
		key, []byte(s.State), unixms.From(now)); err != nil {
		return fmt.Errorf("fake pages: %w", err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, incPageCall{Kind: kind, S: s, Now: now})
	f.mu.Unlock()
	return nil
}

func (f *incFakePages) Opened(ctx context.Context, tx *sql.Tx, s page.Subject, now time.Time) error {
	return f.record(ctx, tx, "opened", s, now)
}

func (f *incFakePages) Ended(ctx context.Context, tx *sql.Tx, s page.Subject, now time.Time) error {
	return f.record(ctx, tx, "ended", s, now)
}

// kinds returns the subjects of the recorded calls of one kind.
func (f *incFakePages) kinds(kind string) []page.Subject {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []page.Subject
	for _, c := range f.calls {
		if c.Kind == kind {
			out = append(out, c.S)
		}
	}
	return out
}

func (f *incFakePages) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// committed counts the pages of a kind that were committed.
func incCommittedPages(t *testing.T, db *store.DB, kind string) []string {
	t.Helper()
	rows, err := db.R.Query("SELECT key FROM kv WHERE key LIKE $1 ORDER BY key", "testpage/"+kind+"/%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.TrimPrefix(k, "testpage/"+kind+"/"))
	}
	return ids
}

type incEnv struct {
	db     *store.DB
	openDB func(t *testing.T) *store.DB
	svc    *Service
	pages  *incFakePages
	reg    *prometheus.Registry
	clock  *testutil.Clock
}

// newIncEnv is a service over SQLite.
func newIncEnv(t *testing.T) *incEnv {
	t.Helper()
	return newIncEnvOn(t, sqliteBackend)
}

// newIncEnvOn is a service over a fresh database of backend b.
func newIncEnvOn(t *testing.T, b testBackend) *incEnv {
	t.Helper()
	e := &incEnv{openDB: b.fresh(t), pages: &incFakePages{}, clock: testutil.NewClock(incT0)}
	e.open(t)
	return e
}

func (e *incEnv) open(t *testing.T) {
	t.Helper()
	db := e.openDB(t)
	e.db = db
	e.reg = prometheus.NewRegistry()
	var err error
	e.svc, err = NewService(t.Context(), ServiceOptions{DB: db, Pages: e.pages, Registerer: e.reg, Now: e.clock.Now})
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
}

func (e *incEnv) reopen(t *testing.T) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

func (e *incEnv) apply(t *testing.T, a detector.Anomaly, now time.Time) {
	t.Helper()
	if err := e.svc.ApplyAnomaly(t.Context(), a, now); err != nil {
		t.Fatalf("apply %s: %v", a.ID, err)
	}
}

func (e *incEnv) all(t *testing.T) []*Incident {
	t.Helper()
	incs, err := e.svc.List(t.Context(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

func (e *incEnv) get(t *testing.T, id string) *Incident {
	t.Helper()
	inc, err := e.svc.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return inc
}

func (e *incEnv) only(t *testing.T) *Incident {
	t.Helper()
	incs := e.all(t)
	if len(incs) != 1 {
		t.Fatalf("want 1 incident, have %d: %v", len(incs), incIDs(incs))
	}
	return e.get(t, incs[0].ID)
}

func incIDs(incs []*Incident) []string {
	var out []string
	for _, i := range incs {
		out = append(out, i.ID)
	}
	return out
}

func incActions(inc *Incident) []string {
	var out []string
	for _, a := range inc.Audit {
		out = append(out, a.Action)
	}
	return out
}

// gateways builds a gateway anomaly with n failing nodes from firstNode.
func incGateways(component string, class detector.Class, firstSeen time.Time, firstNode uint32, n int) detector.Anomaly {
	role := ""
	if strings.HasSuffix(component, "_gateways") {
		role = strings.TrimSuffix(component, "s")
	}
	a := detector.Anomaly{
		ID:           component + "@" + firstSeen.Format(time.RFC3339Nano),
		Component:    component,
		Class:        class,
		Architecture: detector.ArchDecentralized,
		Title:        strings.ToUpper(component[:1]) + strings.ReplaceAll(component[1:], "_", " ") + " unreachable",
		Reason:       fmt.Sprintf("%d of 10 %s unreachable (threshold 20%%)", n, strings.ReplaceAll(component, "_", " ")),
		Source:       "probe",
		LastHealthy:  firstSeen.Add(-30 * time.Second),
		FirstSeen:    firstSeen,
		DetectedAt:   firstSeen.Add(90 * time.Second),
	}
	countries := []string{"DE", "FR", "NL"}
	for i := range n {
		node := firstNode + uint32(i)
		target := fmt.Sprintf("node/%d/node_http", node)
		a.Affected = append(a.Affected, target)
		a.Evidence = append(a.Evidence, detector.Evidence{
			TargetID: target, NodeID: node, Role: role, Country: countries[i%len(countries)],
			Reason: "timeout", Detail: "GET /api/v1/health: context deadline exceeded", Since: firstSeen.Add(time.Duration(i) * time.Second),
		})
	}
	return a
}

func incService(name string, class detector.Class, firstSeen time.Time) detector.Anomaly {
	return detector.Anomaly{
		ID:           "service/" + name + "@" + firstSeen.Format(time.RFC3339Nano),
		Component:    "service/" + name,
		Class:        class,
		Architecture: detector.ArchCentralized,
		Title:        name + " failing",
		Reason:       name + " answered 503 for 3 consecutive probes",
		Source:       "probe",
		Affected:     []string{"service/" + name},
		Evidence: []detector.Evidence{{
			TargetID: "service/" + name, Reason: "http_status", Detail: "GET /public/v1/health: 503", Since: firstSeen,
		}},
		LastHealthy: firstSeen.Add(-30 * time.Second),
		FirstSeen:   firstSeen,
		DetectedAt:  firstSeen.Add(time.Minute),
	}
}

var incIDPattern = regexp.MustCompile(`^INC-\d{8}-\d{4}$`)

func TestIncidentNewDisclosableAnomalyOpensDraftAndPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		a := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
		e.apply(t, a, incAt(2*time.Minute))

		inc := e.only(t)
		if !incIDPattern.MatchString(inc.ID) || !strings.HasPrefix(inc.ID, "INC-20261125-") {
			t.Errorf("id %q: want INC-20261125-NNNN", inc.ID)
		}
		if inc.State != StateDraft || inc.Class != detector.ClassOperational || inc.Architecture != detector.ArchDecentralized {
			t.Errorf("state/class/arch = %s/%s/%s", inc.State, inc.Class, inc.Architecture)
		}
		if !inc.FirstSeen.Equal(a.FirstSeen) || !inc.LastHealthy.Equal(a.LastHealthy) || !inc.DetectedAt.Equal(a.DetectedAt) {
			t.Errorf("times: first_seen %v last_healthy %v detected_at %v", inc.FirstSeen, inc.LastHealthy, inc.DetectedAt)
		}
		if !inc.AcknowledgedAt.IsZero() || !inc.ResolvedAt.IsZero() {
			t.Errorf("acknowledged_at/resolved_at should be unknown: %v %v", inc.AcknowledgedAt, inc.ResolvedAt)
		}
		if !slices.Equal(inc.Affected, a.Affected) || inc.Component != "entry_gateways" || inc.Reason != a.Reason {
			t.Errorf("affected %v component %q reason %q", inc.Affected, inc.Component, inc.Reason)
		}
		if got := incActions(inc); !slices.Equal(got, []string{"opened"}) || inc.Audit[0].Actor != SystemActorName {
			t.Errorf("audit %v", inc.Audit)
		}
		if len(e.pages.calls) != 1 || e.pages.calls[0].Kind != "opened" {
			t.Fatalf("pages %+v", e.pages.calls)
		}
		s := e.pages.calls[0].S
		if s.IncidentID != inc.ID || s.State != "draft" || s.Class != "operational" || s.Component != "entry_gateways" ||
			!s.FirstSeen.Equal(a.FirstSeen) || !s.CreatedAt.Equal(incAt(2*time.Minute)) || !strings.Contains(s.Summary, "entry gateways") {
			t.Errorf("subject %+v", s)
		}
		if !e.pages.calls[0].Now.Equal(incAt(2 * time.Minute)) {
			t.Errorf("page time %v", e.pages.calls[0].Now)
		}
	})
}

func TestIncidentIDsArePerDayCounters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		day2 := time.Date(2026, 11, 26, 0, 0, 1, 0, time.UTC)
		e.apply(t, incService("a", detector.ClassOperational, incAt(0)), incAt(time.Minute))
		e.apply(t, incService("b", detector.ClassInternal, incAt(time.Second)), incAt(time.Minute))
		e.apply(t, incService("c", detector.ClassOperational, day2), day2)
		got := incIDs(e.all(t))
		slices.Sort(got)
		want := []string{"INC-20261125-0001", "INC-20261125-0002", "INC-20261126-0001"}
		if !slices.Equal(got, want) {
			t.Errorf("ids %v, want %v", got, want)
		}
	})
}

func TestIncidentReapplyIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		a := incGateways("exit_gateways", detector.ClassOperational, incAt(0), 200, 2)
		e.apply(t, a, incAt(time.Minute))
		e.apply(t, a, incAt(time.Minute))
		// A duplicated scheduler run: the same emission applied concurrently.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() { errs <- e.svc.ApplyAnomaly(context.Background(), a, incAt(2*time.Minute)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		inc := e.only(t)
		if got := incActions(inc); !slices.Equal(got, []string{"opened"}) {
			t.Errorf("audit %v, want only opened", got)
		}
		if len(inc.Anomalies) != 1 || len(incCommittedPages(t, e.db, "opened")) != 1 {
			t.Errorf("anomalies %d, pages %v", len(inc.Anomalies), incCommittedPages(t, e.db, "opened"))
		}
		if !inc.UpdatedAt.Equal(incAt(time.Minute)) {
			t.Errorf("identical re-emission changed updated_at to %v", inc.UpdatedAt)
		}
	})
}

func TestIncidentGrouping(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		tests := []struct {
			name      string
			anomalies []detector.Anomaly
			prepare   func(t *testing.T, e *incEnv, first string) // between first and second anomaly
			want      int                                         // incidents
			wantPages int
		}{
			{
				name: "entry and exit gateways within window: one incident",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(4*time.Minute), 200, 2),
				},
				want: 1, wantPages: 1,
			},
			{
				name: "second anomaly started earlier, still within window",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(5*time.Minute), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(-4*time.Minute), 200, 2),
				},
				want: 1, wantPages: 1,
			},
			{
				name: "exactly at the window edge: one incident",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(10*time.Minute), 200, 2),
				},
				want: 1, wantPages: 1,
			},
			{
				name: "outside window: two incidents",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(10*time.Minute+time.Millisecond), 200, 2),
				},
				want: 2, wantPages: 2,
			},
			{
				name: "centralized and decentralized: two incidents",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incService("nymvpn-api", detector.ClassOperational, incAt(time.Minute)),
				},
				want: 2, wantPages: 2,
			},
			{
				name: "joins a confirmed incident",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(3*time.Minute), 200, 2),
				},
				prepare: func(t *testing.T, e *incEnv, first string) {
					if _, err := e.svc.Confirm(t.Context(), first, Actor{Name: "operator"}, incAt(2*time.Minute)); err != nil {
						t.Fatal(err)
					}
				},
				want: 1, wantPages: 1,
			},
			{
				name: "not into a dismissed incident",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(3*time.Minute), 200, 2),
				},
				prepare: func(t *testing.T, e *incEnv, first string) {
					if _, err := e.svc.Dismiss(t.Context(), first, "probe bug", Actor{Name: "operator"}, incAt(2*time.Minute)); err != nil {
						t.Fatal(err)
					}
				},
				want: 2, wantPages: 2,
			},
			{
				name: "not into an incident whose service was restored",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("exit_gateways", detector.ClassOperational, incAt(3*time.Minute), 200, 2),
				},
				prepare: func(t *testing.T, e *incEnv, first string) {
					a := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
					a.ResolvedAt = incAt(2 * time.Minute)
					e.apply(t, a, incAt(2*time.Minute))
				},
				want: 2, wantPages: 2,
			},
			{
				name: "internal anomalies do not join drafts",
				anomalies: []detector.Anomaly{
					incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3),
					incGateways("node/300", detector.ClassInternal, incAt(time.Minute), 300, 1),
				},
				want: 2, wantPages: 1,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newIncEnvOn(t, b)
				e.apply(t, tt.anomalies[0], incAt(6*time.Minute))
				if tt.prepare != nil {
					tt.prepare(t, e, e.only(t).ID)
				}
				e.apply(t, tt.anomalies[1], incAt(12*time.Minute))
				incs := e.all(t)
				if len(incs) != tt.want {
					t.Fatalf("%d incidents %v, want %d", len(incs), incIDs(incs), tt.want)
				}
				if got := len(incCommittedPages(t, e.db, "opened")); got != tt.wantPages {
					t.Errorf("%d pages, want %d", got, tt.wantPages)
				}
				if tt.want != 1 {
					return
				}
				inc := e.get(t, incs[0].ID)
				a, b := tt.anomalies[0], tt.anomalies[1]
				first := a
				if b.FirstSeen.Before(a.FirstSeen) {
					first = b
				}
				if !inc.FirstSeen.Equal(first.FirstSeen) || !inc.LastHealthy.Equal(first.LastHealthy) {
					t.Errorf("first_seen %v last_healthy %v, want %v %v", inc.FirstSeen, inc.LastHealthy, first.FirstSeen, first.LastHealthy)
				}
				wantAffected := slices.Sorted(slices.Values(append(slices.Clone(a.Affected), b.Affected...)))
				if !slices.Equal(inc.Affected, wantAffected) {
					t.Errorf("affected %v, want %v", inc.Affected, wantAffected)
				}
				if inc.Component != a.Component || !slices.Equal(inc.Components, []string{a.Component, b.Component}) {
					t.Errorf("component %q components %v", inc.Component, inc.Components)
				}
				if len(inc.Anomalies) != 2 || !slices.Contains(incActions(inc), "joined") {
					t.Errorf("anomalies %d audit %v", len(inc.Anomalies), incActions(inc))
				}
				if !strings.Contains(inc.Title, "and 1 related component") {
					t.Errorf("title %q", inc.Title)
				}
			})
		}
	})
}

func TestIncidentGroupingWindowOption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		db := b.fresh(t)(t)
		svc, err := NewService(t.Context(), ServiceOptions{DB: db, GroupingWindow: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []detector.Anomaly{
			incGateways("entry_gateways", detector.ClassOperational, incAt(0), 1, 1),
			incGateways("exit_gateways", detector.ClassOperational, incAt(2*time.Minute), 2, 1),
		} {
			if err := svc.ApplyAnomaly(t.Context(), a, incAt(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		incs, err := svc.List(t.Context(), Filter{})
		if err != nil || len(incs) != 2 {
			t.Fatalf("with a 1m window: %d incidents (%v), want 2", len(incs), err)
		}
		if _, err := NewService(t.Context(), ServiceOptions{DB: db, GroupingWindow: -time.Second}); err == nil {
			t.Error("negative window accepted")
		}
	})
}

func TestIncidentSecurityAnomalyRaisesClass(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
		sec := detector.Anomaly{
			ID: "alert/ZkNymIssuanceCompromised@1", Component: "alert/ZkNymIssuanceCompromised", Class: detector.ClassSecurity,
			Architecture: detector.ArchCentralized, Title: "zk-nym issuance compromised", Reason: "alert labelled class=security",
			Source: "alertmanager", Labels: map[string]string{"alertname": "ZkNymIssuanceCompromised", "class": "security"},
			FirstSeen: incAt(time.Minute), DetectedAt: incAt(time.Minute),
		}
		e.apply(t, sec, incAt(2*time.Minute))
		inc := e.only(t)
		if inc.Class != detector.ClassSecurity || inc.Reason != sec.Reason || inc.Component != "service/nym-api" {
			t.Errorf("class %s reason %q component %q", inc.Class, inc.Reason, inc.Component)
		}
		if !slices.Equal(incActions(inc), []string{"opened", "joined", "reclassified"}) {
			t.Errorf("audit %v", incActions(inc))
		}
		// The draft is paged again, now as security.
		opened := e.pages.kinds("opened")
		if len(opened) != 2 || opened[0].Class != "operational" || opened[1].Class != "security" {
			t.Errorf("pages %+v, want an operational open then a security one", opened)
		}
		// A later emission with a lower class does not lower the incident's.
		sec.Class = detector.ClassOperational
		e.apply(t, sec, incAt(3*time.Minute))
		if inc := e.only(t); inc.Class != detector.ClassSecurity {
			t.Errorf("class lowered to %s", inc.Class)
		}
		if n := len(e.pages.kinds("opened")); n != 2 {
			t.Errorf("%d opened pages after a lower emission, want still 2", n)
		}
	})
}

func TestIncidentInternalAnomalyIsRecordedWithoutPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		a := incGateways("node/1399", detector.ClassInternal, incAt(0), 1399, 1)
		e.apply(t, a, incAt(time.Minute))
		inc := e.only(t)
		if inc.State != StateInternal || inc.Class != detector.ClassInternal || inc.State.Disclosure() != "internal" {
			t.Errorf("state %s class %s", inc.State, inc.Class)
		}
		if len(e.pages.calls) != 0 {
			t.Errorf("internal anomaly paged: %+v", e.pages.calls)
		}
		a.ResolvedAt = incAt(3 * time.Minute)
		e.apply(t, a, incAt(3*time.Minute))
		if inc := e.only(t); !inc.ResolvedAt.Equal(a.ResolvedAt) || inc.State != StateInternal {
			t.Errorf("internal record: resolved_at %v state %s", inc.ResolvedAt, inc.State)
		}
		drafts, err := e.svc.PendingDrafts(t.Context())
		if err != nil || len(drafts) != 0 {
			t.Errorf("pending drafts %v %v", drafts, err)
		}
	})
}

func TestIncidentPromotionInPlaceKeepsFirstSeen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		a := incGateways("entry_gateways", detector.ClassInternal, incAt(0), 100, 1)
		e.apply(t, a, incAt(time.Minute))
		id := e.only(t).ID

		a = incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
		a.Promotions = []detector.Promotion{{At: incAt(4 * time.Minute), From: detector.ClassInternal, To: detector.ClassOperational, Reason: "threshold crossed"}}
		e.apply(t, a, incAt(4*time.Minute+time.Second))
		e.apply(t, a, incAt(5*time.Minute)) // re-emitted: nothing more

		inc := e.only(t)
		if inc.ID != id || inc.State != StateDraft || inc.Class != detector.ClassOperational {
			t.Fatalf("after promotion: %s %s %s (was %s)", inc.ID, inc.State, inc.Class, id)
		}
		if !inc.FirstSeen.Equal(incAt(0)) {
			t.Errorf("first_seen %v, want %v", inc.FirstSeen, incAt(0))
		}
		if !inc.DetectedAt.Equal(incAt(4 * time.Minute)) {
			t.Errorf("detected_at %v, want the promotion time %v", inc.DetectedAt, incAt(4*time.Minute))
		}
		if len(inc.Affected) != 3 {
			t.Errorf("affected %v", inc.Affected)
		}
		if !slices.Equal(incActions(inc), []string{"opened", "promoted"}) {
			t.Errorf("audit %v", incActions(inc))
		}
		if p := incCommittedPages(t, e.db, "opened"); !slices.Equal(p, []string{id}) {
			t.Errorf("pages %v", p)
		}
		if s := e.pages.calls[0].S; !s.FirstSeen.Equal(incAt(0)) || s.State != "draft" {
			t.Errorf("subject %+v", s)
		}
	})
}

func TestIncidentPromotionJoinsTheEventsDraft(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		entry := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
		exit := incGateways("exit_gateways", detector.ClassInternal, incAt(time.Minute), 200, 1)
		e.apply(t, entry, incAt(2*time.Minute))
		e.apply(t, exit, incAt(2*time.Minute))
		if n := len(e.all(t)); n != 2 {
			t.Fatalf("%d incidents before promotion", n)
		}
		exit = incGateways("exit_gateways", detector.ClassOperational, incAt(time.Minute), 200, 3)
		e.apply(t, exit, incAt(3*time.Minute))

		drafts, err := e.svc.List(t.Context(), Filter{State: StateDraft})
		if err != nil || len(drafts) != 1 {
			t.Fatalf("drafts %v %v", incIDs(drafts), err)
		}
		draft := e.get(t, drafts[0].ID)
		internal, err := e.svc.List(t.Context(), Filter{State: StateInternal})
		if err != nil || len(internal) != 1 {
			t.Fatalf("internal %v %v", incIDs(internal), err)
		}
		rec := e.get(t, internal[0].ID)
		if len(draft.Anomalies) != 2 || len(draft.Affected) != 6 {
			t.Errorf("draft has %d anomalies, affected %v", len(draft.Anomalies), draft.Affected)
		}
		if rec.SupersededBy != draft.ID || len(rec.Anomalies) != 0 || !slices.Equal(incActions(rec), []string{"opened", "promoted"}) {
			t.Errorf("internal record: superseded_by %q anomalies %d audit %v", rec.SupersededBy, len(rec.Anomalies), incActions(rec))
		}
		if len(incCommittedPages(t, e.db, "opened")) != 1 {
			t.Errorf("pages %v: one event, one page", incCommittedPages(t, e.db, "opened"))
		}
		// Updates of the moved anomaly go to the draft.
		exit.ResolvedAt = incAt(20 * time.Minute)
		entry.ResolvedAt = incAt(15 * time.Minute)
		e.apply(t, exit, incAt(20*time.Minute))
		e.apply(t, entry, incAt(21*time.Minute))
		if d := e.get(t, draft.ID); !d.ResolvedAt.Equal(incAt(20 * time.Minute)) {
			t.Errorf("resolved_at %v", d.ResolvedAt)
		}
	})
}

func TestIncidentResolvedAtPropagation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		entry := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
		exit := incGateways("exit_gateways", detector.ClassOperational, incAt(time.Minute), 200, 2)
		e.apply(t, entry, incAt(2*time.Minute))
		e.apply(t, exit, incAt(2*time.Minute))

		exit.ResolvedAt = incAt(30*time.Minute + 456*time.Millisecond)
		e.apply(t, exit, incAt(31*time.Minute))
		if inc := e.only(t); !inc.ResolvedAt.IsZero() {
			t.Fatalf("resolved_at %v while entry gateways still fail", inc.ResolvedAt)
		}
		entry.ResolvedAt = incAt(20 * time.Minute)
		e.apply(t, entry, incAt(32*time.Minute))
		inc := e.only(t)
		if !inc.ResolvedAt.Equal(exit.ResolvedAt) {
			t.Errorf("resolved_at %v, want the latest %v", inc.ResolvedAt, exit.ResolvedAt)
		}
		if inc.State != StateDraft {
			t.Errorf("state %s: a human still decides", inc.State)
		}
		if !slices.Equal(incActions(inc), []string{"opened", "joined", "restored"}) {
			t.Errorf("audit %v", incActions(inc))
		}
		// A stale emission without resolution does not reopen anything.
		stale := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
		e.apply(t, stale, incAt(33*time.Minute))
		inc = e.only(t)
		if !inc.ResolvedAt.Equal(exit.ResolvedAt) {
			t.Errorf("stale emission changed resolved_at to %v", inc.ResolvedAt)
		}
		for _, a := range inc.Anomalies {
			if a.ResolvedAt.IsZero() {
				t.Errorf("anomaly %s reopened", a.ID)
			}
		}
		// Still pending: the policy wants same-day disclosure even of short outages.
		drafts, err := e.svc.PendingDrafts(t.Context())
		if err != nil || len(drafts) != 1 || !drafts[0].ResolvedAt.Equal(exit.ResolvedAt) {
			t.Errorf("pending drafts %+v %v", drafts, err)
		}
	})
}

// incStateOf drives a fresh incident to the given state.
func incStateOf(t *testing.T, e *incEnv, s State) string {
	t.Helper()
	class := detector.ClassOperational
	if s == StateInternal {
		class = detector.ClassInternal
	}
	e.apply(t, incService("nym-api", class, incAt(0)), incAt(time.Minute))
	id := e.only(t).ID
	op := Actor{Name: "operator", RemoteAddr: "192.0.2.1:1234"}
	var err error
	switch s {
	case StateConfirmed:
		_, err = e.svc.Confirm(t.Context(), id, op, incAt(10*time.Minute))
	case StateDismissed:
		_, err = e.svc.Dismiss(t.Context(), id, "false positive", op, incAt(10*time.Minute))
	case StateResolved:
		if _, err = e.svc.Confirm(t.Context(), id, op, incAt(10*time.Minute)); err == nil {
			_, err = e.svc.Resolve(t.Context(), id, op, incAt(20*time.Minute))
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIncidentTransitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		legal := map[State]map[string]State{
			StateDraft:     {"confirm": StateConfirmed, "dismiss": StateDismissed},
			StateConfirmed: {"resolve": StateResolved},
		}
		op := Actor{Name: "operator:alice", RemoteAddr: "192.0.2.7:5555"}
		for _, from := range []State{StateInternal, StateDraft, StateConfirmed, StateDismissed, StateResolved} {
			for _, action := range []string{"confirm", "dismiss", "resolve"} {
				t.Run(string(from)+"/"+action, func(t *testing.T) {
					e := newIncEnvOn(t, b)
					id := incStateOf(t, e, from)
					before := e.get(t, id)
					pagesBefore := len(e.pages.calls)
					now := incAt(time.Hour)
					var inc *Incident
					var err error
					switch action {
					case "confirm":
						inc, err = e.svc.Confirm(t.Context(), id, op, now)
					case "dismiss":
						inc, err = e.svc.Dismiss(t.Context(), id, "  monitoring glitch  ", op, now)
					case "resolve":
						inc, err = e.svc.Resolve(t.Context(), id, op, now)
					}
					want, ok := legal[from][action]
					if !ok {
						var conflict *ConflictError
						if !errors.As(err, &conflict) {
							t.Fatalf("err %v, want ConflictError", err)
						}
						if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), string(from)) {
							t.Errorf("message %q should name the incident and its state", err)
						}
						if after := e.get(t, id); after.State != from || len(after.Audit) != len(before.Audit) {
							t.Errorf("refused transition changed the incident: %s, audit %v", after.State, incActions(after))
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if inc.State != want {
						t.Fatalf("state %s, want %s", inc.State, want)
					}
					last := inc.Audit[len(inc.Audit)-1]
					if last.Action != pastTense(action) || last.Actor != op.Name || last.RemoteAddr != op.RemoteAddr || !last.At.Equal(now) {
						t.Errorf("audit %+v", last)
					}
					switch action {
					case "confirm", "dismiss":
						if !inc.AcknowledgedAt.Equal(now) {
							t.Errorf("acknowledged_at %v", inc.AcknowledgedAt)
						}
						if len(e.pages.calls) != pagesBefore+1 || e.pages.calls[pagesBefore].Kind != "ended" ||
							e.pages.calls[pagesBefore].S.State != string(want) {
							t.Errorf("pages %+v", e.pages.calls[pagesBefore:])
						}
					case "resolve":
						if !inc.AcknowledgedAt.Equal(before.AcknowledgedAt) || !inc.ResolvedAt.Equal(now) {
							t.Errorf("acknowledged_at %v resolved_at %v", inc.AcknowledgedAt, inc.ResolvedAt)
						}
						if len(e.pages.calls) != pagesBefore {
							t.Errorf("resolve paged: %+v", e.pages.calls[pagesBefore:])
						}
					}
					if action == "dismiss" {
						if inc.DismissReason != "monitoring glitch" || inc.Class != detector.ClassOperational || inc.State.Disclosure() != "internal" {
							t.Errorf("dismissed: reason %q class %s", inc.DismissReason, inc.Class)
						}
					}
				})
			}
		}
	})
}

func TestIncidentTransitionEdgeCases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		op := Actor{Name: "operator"}
		if _, err := e.svc.Confirm(t.Context(), "INC-20990101-0001", op, incAt(0)); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown incident: %v", err)
		}
		id := incStateOf(t, e, StateDraft)
		for _, reason := range []string{"", "   \n", strings.Repeat("x", maxDismissReasonRunes+1), "\xff"} {
			var invalid *InvalidError
			if _, err := e.svc.Dismiss(t.Context(), id, reason, op, incAt(0)); !errors.As(err, &invalid) {
				t.Errorf("dismiss reason %.10q: %v, want InvalidError", reason, err)
			}
		}
		// Restored before the human resolved: the monitor's time is kept.
		a := incService("nym-api", detector.ClassOperational, incAt(0))
		a.ResolvedAt = incAt(5 * time.Minute)
		e.apply(t, a, incAt(5*time.Minute))
		if _, err := e.svc.Confirm(t.Context(), id, op, incAt(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		inc, err := e.svc.Resolve(t.Context(), id, op, incAt(20*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !inc.ResolvedAt.Equal(incAt(5*time.Minute)) || !inc.AcknowledgedAt.Equal(incAt(10*time.Minute)) {
			t.Errorf("resolved_at %v acknowledged_at %v", inc.ResolvedAt, inc.AcknowledgedAt)
		}
	})
}

func TestIncidentPageFailureRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		e.pages.setErr(errors.New("outbox full"))
		a := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 3)
		if err := e.svc.ApplyAnomaly(t.Context(), a, incAt(time.Minute)); err == nil || !strings.Contains(err.Error(), "outbox full") {
			t.Fatalf("err %v", err)
		}
		if n := len(e.all(t)); n != 0 {
			t.Fatalf("%d incidents committed without their page", n)
		}
		e.pages.setErr(nil)
		e.apply(t, a, incAt(2*time.Minute))
		inc := e.only(t)
		// The failed attempt's ID was rolled back too.
		if inc.ID != "INC-20261125-0001" {
			t.Errorf("id %s", inc.ID)
		}
		e.pages.setErr(errors.New("outbox full"))
		if _, err := e.svc.Confirm(t.Context(), inc.ID, Actor{Name: "operator"}, incAt(3*time.Minute)); err == nil {
			t.Fatal("confirm succeeded without ending its page")
		}
		if got := e.get(t, inc.ID); got.State != StateDraft || !got.AcknowledgedAt.IsZero() {
			t.Errorf("state %s acknowledged_at %v after failed confirm", got.State, got.AcknowledgedAt)
		}
	})
}

// TestIncidentInvalidAnomaly runs on SQLite only: validation happens before
// the database is touched.
func TestIncidentInvalidAnomaly(t *testing.T) {
	good := incService("x", detector.ClassOperational, incAt(0))
	tests := map[string]func(a *detector.Anomaly){
		"empty id":          func(a *detector.Anomaly) { a.ID = " " },
		"bad class":         func(a *detector.Anomaly) { a.Class = "urgent" },
		"bad architecture":  func(a *detector.Anomaly) { a.Architecture = "cloud" },
		"empty component":   func(a *detector.Anomaly) { a.Component = "" },
		"zero first_seen":   func(a *detector.Anomaly) { a.FirstSeen = time.Time{} },
		"empty class value": func(a *detector.Anomaly) { a.Class = "" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			e := newIncEnv(t)
			a := good
			mutate(&a)
			if err := e.svc.ApplyAnomaly(t.Context(), a, incAt(0)); !errors.Is(err, ErrInvalidAnomaly) {
				t.Errorf("err %v, want ErrInvalidAnomaly", err)
			}
		})
	}
}

func TestIncidentRestartKeepsTimestamps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		a := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 100, 2)
		a.LastHealthy = incAt(-7*time.Second - 1*time.Millisecond)
		a.DetectedAt = incAt(61*time.Second + 999*time.Millisecond)
		e.apply(t, a, incAt(2*time.Minute+5*time.Millisecond))
		id := e.only(t).ID
		if _, err := e.svc.Confirm(t.Context(), id, Actor{Name: "operator"}, incAt(3*time.Minute+7*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		a.ResolvedAt = incAt(9*time.Minute + 11*time.Millisecond)
		e.apply(t, a, incAt(10*time.Minute))
		before := e.get(t, id)

		e.reopen(t)
		after := e.get(t, id)
		for name, pair := range map[string][2]time.Time{
			"last_healthy":    {before.LastHealthy, a.LastHealthy},
			"first_seen":      {before.FirstSeen, a.FirstSeen},
			"detected_at":     {before.DetectedAt, a.DetectedAt},
			"acknowledged_at": {before.AcknowledgedAt, incAt(3*time.Minute + 7*time.Millisecond)},
			"resolved_at":     {before.ResolvedAt, a.ResolvedAt},
			"created_at":      {before.CreatedAt, incAt(2*time.Minute + 5*time.Millisecond)},
		} {
			if !pair[0].Equal(pair[1]) {
				t.Errorf("%s before restart %v, want %v", name, pair[0], pair[1])
			}
		}
		mb, _ := before.MarshalJSON()
		ma, _ := after.MarshalJSON()
		if string(mb) != string(ma) {
			t.Errorf("incident changed across restart:\nbefore %s\nafter  %s", mb, ma)
		}
		if after.ResolvedAt.Location() != time.UTC || after.ResolvedAt.Nanosecond() != 134_000_000 {
			t.Errorf("resolved_at %v: want UTC with milliseconds", after.ResolvedAt)
		}
		// The per-day counter survives too.
		e.apply(t, incService("y", detector.ClassOperational, incAt(time.Hour)), incAt(time.Hour))
		if got := incIDs(e.all(t)); !slices.Contains(got, "INC-20261125-0002") {
			t.Errorf("ids after restart %v", got)
		}
	})
}

func TestIncidentAuditIsAppendOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
		for _, q := range []string{
			"UPDATE incident_audit SET actor = 'mallory'",
			"DELETE FROM incident_audit",
			"DELETE FROM incidents",
		} {
			if _, err := e.db.W.Exec(q); err == nil || (!strings.Contains(err.Error(), "append-only") && !strings.Contains(err.Error(), "never deleted")) {
				t.Errorf("%s: err %v, want refused by trigger", q, err)
			}
		}
		if inc := e.only(t); len(inc.Audit) != 1 || inc.Audit[0].Actor != SystemActorName {
			t.Errorf("audit %+v", inc.Audit)
		}
	})
}

func TestIncidentEditReportFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		id := incStateOf(t, e, StateConfirmed)
		op := Actor{Name: "operator:bob", RemoteAddr: "192.0.2.9:1"}
		generated := e.get(t, id).Report.Remediation
		ack := "Thanks to @alice on Telegram for the first report."
		title := "NymVPN API outage"
		inc, err := e.svc.Edit(t.Context(), id, map[string]*string{"acknowledgments": &ack, "title": &title}, op, incAt(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if inc.Report.Acknowledgments != ack || inc.Title != title || !slices.Equal(inc.Edited, []string{"title", "acknowledgments"}) {
			t.Errorf("after edit: ack %q title %q edited %v", inc.Report.Acknowledgments, inc.Title, inc.Edited)
		}
		edits := inc.Audit[len(inc.Audit)-2:]
		if edits[0].Action != "edited" || edits[0].Actor != op.Name ||
			string(edits[0].Detail) != `{"field":"title","new":"NymVPN API outage","old":"nym-api failing"}` {
			t.Errorf("audit %s %s", edits[0].Action, edits[0].Detail)
		}
		if string(edits[1].Detail) != `{"field":"acknowledgments","new":"Thanks to @alice on Telegram for the first report.","old":""}` {
			t.Errorf("audit %s", edits[1].Detail)
		}
		if !strings.Contains(inc.Report.Summary, "centralized NymVPN services") {
			t.Errorf("summary %q", inc.Report.Summary)
		}

		rem := "- Immediate fixes deployed: restarted the API."
		if _, err := e.svc.Edit(t.Context(), id, map[string]*string{"remediation": &rem}, op, incAt(time.Hour)); err != nil {
			t.Fatal(err)
		}
		inc, err = e.svc.Edit(t.Context(), id, map[string]*string{"remediation": nil}, op, incAt(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if inc.Report.Remediation != generated || slices.Contains(inc.Edited, "remediation") {
			t.Errorf("revert: %q edited %v", inc.Report.Remediation, inc.Edited)
		}
		if d := string(inc.Audit[len(inc.Audit)-1].Detail); !strings.Contains(d, `"reverted":true`) || !strings.Contains(d, `"old":"- Immediate fixes deployed: restarted the API."`) {
			t.Errorf("revert audit %s", d)
		}

		empty := ""
		long := strings.Repeat("x", maxFieldBytes+1)
		for name, changes := range map[string]map[string]*string{
			"unknown field":  {"severity": &ack},
			"no fields":      {},
			"empty title":    {"title": &empty},
			"huge field":     {"summary": &long},
			"two-line title": {"title": func() *string { s := "a\nb"; return &s }()},
		} {
			var invalid *InvalidError
			if _, err := e.svc.Edit(t.Context(), id, changes, op, incAt(3*time.Hour)); !errors.As(err, &invalid) {
				t.Errorf("%s: err %v, want InvalidError", name, err)
			}
		}
		if _, err := e.svc.Edit(t.Context(), "nope", map[string]*string{"title": &title}, op, incAt(0)); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown incident: %v", err)
		}
	})
}

func TestIncidentListFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		e := newIncEnvOn(t, b)
		e.apply(t, incService("a", detector.ClassOperational, incAt(0)), incAt(1*time.Minute))
		e.apply(t, incGateways("node/1", detector.ClassInternal, incAt(0), 1, 1), incAt(2*time.Minute))
		e.apply(t, incGateways("entry_gateways", detector.ClassOperational, incAt(0), 10, 3), incAt(3*time.Minute))
		sec := incService("accounts", detector.ClassSecurity, incAt(time.Hour))
		e.apply(t, sec, incAt(4*time.Minute))
		all := e.all(t)
		if len(all) != 4 {
			t.Fatalf("%d incidents", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].CreatedAt.After(all[i-1].CreatedAt) {
				t.Errorf("not newest first: %v", incIDs(all))
			}
		}
		id := func(comp string) string {
			for _, inc := range all {
				if inc.Component == comp {
					return inc.ID
				}
			}
			t.Fatalf("no incident of %s", comp)
			return ""
		}
		if _, err := e.svc.Confirm(t.Context(), id("entry_gateways"), Actor{Name: "operator"}, incAt(time.Hour)); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			f    Filter
			want []string
		}{
			{Filter{State: StateDraft}, []string{id("service/accounts"), id("service/a")}},
			{Filter{State: StateConfirmed}, []string{id("entry_gateways")}},
			{Filter{Class: detector.ClassInternal}, []string{id("node/1")}},
			{Filter{Class: detector.ClassSecurity, State: StateDraft}, []string{id("service/accounts")}},
			{Filter{Class: detector.ClassOperational, State: StateDismissed}, nil},
			{Filter{Limit: 1}, []string{id("service/accounts")}},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%+v", tt.f), func(t *testing.T) {
				got, err := e.svc.List(t.Context(), tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(incIDs(got), tt.want) {
					t.Errorf("got %v, want %v", incIDs(got), tt.want)
				}
			})
		}
		var invalid *InvalidError
		if _, err := e.svc.List(t.Context(), Filter{State: "open"}); !errors.As(err, &invalid) {
			t.Errorf("bad state: %v", err)
		}
		if _, err := e.svc.List(t.Context(), Filter{Class: "bad"}); !errors.As(err, &invalid) {
			t.Errorf("bad class: %v", err)
		}
	})
}
