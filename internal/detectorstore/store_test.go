package detectorstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/probes"
)

// restored loads what is stored into a new detector.
func restored(t *testing.T, ctx context.Context, db *store.DB, o detector.Options) *detector.Detector {
	t.Helper()
	snap, err := NewStateStore(db).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := detector.New(o)
	if err := d.Restore(snap); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestIncrementalRestoreEquivalence drives detectors with random sequences
// of observations, directory changes, forgotten targets, alerts and
// evaluations (fake clock), saving incrementally at random moments (some
// saves fail, as a full disk or a kill mid-write would), and checks after
// every successful save that a detector restored from the database has
// exactly the state of the one that saved. A restart in the middle carries
// on from the restored detector, as the daemon does.
func TestIncrementalRestoreEquivalence(t *testing.T) {
	seeds := 12
	steps := 400
	if testing.Short() {
		seeds, steps = 3, 150
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			incrementalRun(t, uint64(seed), steps)
		})
	}
}

func incrementalRun(t *testing.T, seed uint64, steps int) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 13))
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "nymwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o := detector.Options{}
	all := join(gateways(100, 8, probes.RoleEntryGateway, "DE"), gateways(200, 6, probes.RoleExitGateway, "FR"),
		mixnodes(300, 3, 1), mixnodes(310, 3, 2), []*probes.Target{svcT("nym-api"), svcT("vpn-api"), ctrlT("example.org")})
	// Some nodes fail for long stretches, some flap, the rest are up.
	mode := map[string]int{}
	for _, tg := range all {
		mode[tg.ID] = rng.IntN(4)
	}
	listed := func() []*probes.Target {
		var out []*probes.Target
		for _, tg := range all {
			if tg.Node == nil || rng.IntN(10) > 0 {
				out = append(out, tg)
			}
		}
		return out
	}
	d := detector.New(o)
	sv := NewStateSaver(d, NewStateStore(db))
	at := t0
	d.SetTargets(listed())
	saves, restarts := 0, 0
	for step := range steps {
		at = at.Add(time.Duration(5+rng.IntN(30)) * time.Second)
		switch r := rng.IntN(100); {
		case r < 60: // a round of probes, in random order
			for _, i := range rng.Perm(len(all)) {
				tg := all[i]
				ok := true
				switch mode[tg.ID] {
				case 1:
					ok = rng.IntN(10) < 2
				case 2:
					ok = rng.IntN(2) == 0
				case 3:
					ok = (step/20)%2 == 0
				}
				res := probes.Result{Target: tg, OK: ok, Latency: time.Duration(20+rng.IntN(200)) * time.Millisecond,
					At: at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)}
				if !ok {
					res.Reason, res.Detail = probes.ReasonTimeout, fmt.Sprint("timeout ", rng.IntN(3))
				}
				d.Observe(res)
			}
		case r < 65:
			d.SetTargets(listed())
		case r < 67:
			d.Forget([]string{all[len(all)-1-rng.IntN(3)].ID})
		case r < 70:
			d.ObserveAlerts([]detector.Alert{{Status: detector.AlertFiring, Labels: map[string]string{"alertname": fmt.Sprint("A", rng.IntN(3))},
				StartsAt: at.Add(-time.Minute), Class: detector.ClassInternal, ClassSource: "label"}}, at)
		case r < 72:
			mode[all[rng.IntN(len(all))].ID] = rng.IntN(4)
		default:
			d.Evaluate(at)
		}
		if rng.IntN(5) != 0 {
			continue
		}
		// A save: some fail (cancelled), and must be carried by the next.
		ch, err := sv.Take(at)
		if err != nil {
			t.Fatal(err)
		}
		sctx := ctx
		fail := rng.IntN(6) == 0
		if fail {
			c, cancel := context.WithCancel(ctx)
			cancel()
			sctx = c
		}
		if err := sv.Save(sctx, ch); err != nil != fail {
			t.Fatalf("step %d: save failed=%v, want %v (%v)", step, err != nil, fail, err)
		}
		if fail {
			continue
		}
		saves++
		want, err := d.Snapshot(at)
		if err != nil {
			t.Fatal(err)
		}
		d2 := restored(t, ctx, db, o)
		got, err := d2.Snapshot(at)
		if err != nil {
			t.Fatal(err)
		}
		if diff := snapDiff(want, got); diff != "" {
			t.Fatalf("step %d: restored state differs: %s", step, diff)
		}
		if rng.IntN(8) == 0 { // restart: carry on from the restored detector
			restarts++
			d = d2
			sv = NewStateSaver(d, NewStateStore(db))
		}
	}
	if saves < 10 {
		t.Fatalf("only %d saves: the sequence tests nothing", saves)
	}
	t.Logf("%d saves, %d restarts", saves, restarts)
}

// TestIncrementalSaveWritesOnlyChanges: with nothing observed between two
// saves, the second writes no target row; one observation writes one.
func TestIncrementalSaveWritesOnlyChanges(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "nymwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	targets := gateways(100, 50, probes.RoleEntryGateway, "DE")
	d := detector.New(detector.Options{})
	d.SetTargets(targets)
	for _, tg := range targets {
		d.Observe(probes.Result{Target: tg, OK: true, Latency: time.Millisecond, At: t0})
	}
	d.Evaluate(t0)
	sv := NewStateSaver(d, NewStateStore(db))
	save := func(at time.Time) detector.Changes {
		t.Helper()
		ch, err := sv.Take(at)
		if err != nil {
			t.Fatal(err)
		}
		if err := sv.Save(ctx, ch); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	if ch := save(t0); !ch.Full || ch.Len() != 50 {
		t.Fatalf("first save: full=%v rows=%d, want full with 50", ch.Full, ch.Len())
	}
	if ch := save(t0.Add(time.Second)); ch.Full || ch.Len() != 0 {
		t.Fatalf("nothing changed: full=%v rows=%d, want 0", ch.Full, ch.Len())
	}
	d.SetTargets(targets) // the same directory again: nothing changed
	if ch := save(t0.Add(2 * time.Second)); ch.Len() != 0 {
		t.Fatalf("same directory: %d rows, want 0", ch.Len())
	}
	d.Observe(probes.Result{Target: targets[3], OK: false, Reason: probes.ReasonTimeout, At: t0.Add(30 * time.Second)})
	d.SetTargets(targets[:49])
	if ch := save(t0.Add(31 * time.Second)); ch.Len() != 2 || len(ch.Gone) != 1 || ch.Gone[0] != targets[49].ID {
		t.Fatalf("one observation, one dropped: %d rows, gone %v", ch.Len(), ch.Gone)
	}
	var n int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM detector_targets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 49 {
		t.Fatalf("%d target rows stored, want 49", n)
	}
}

func TestRestartMidOutageKeepsIDAndFirstSeen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nymwatch.db")
	gws := gateways(100, 20, probes.RoleExitGateway, "FR")
	targets := join([]*probes.Target{svcT("nym-api")}, gws)
	outage := failing(append(nids(100, 101, 102), "service/nym-api")...)

	h := newHarness(t, detector.Options{}, targets)
	h.rounds(2, allUp)
	h.rounds(4, outage)
	held := h.d.ObserveAlerts([]detector.Alert{{Status: detector.AlertFiring, Labels: map[string]string{"alertname": "Held"},
		StartsAt: t0, Class: detector.ClassInternal, ClassSource: "label"}}, h.at)
	h.eval(h.at)
	before := h.d.Open()
	if len(before) != 3 {
		t.Fatalf("setup: %s", h.dump())
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := h.d.Snapshot(h.at)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewStateStore(db).Save(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if err := NewStateStore(db).SaveAlerts(ctx, held); err != nil { // as the webhook's sink does
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// "Restart": a new process, a new detector, the same database.
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loaded, err := NewStateStore(db).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.SavedAt.Equal(snap.SavedAt) {
		t.Errorf("saved_at %v != %v", loaded.SavedAt, snap.SavedAt)
	}
	d2 := detector.New(detector.Options{})
	if err := d2.Restore(loaded); err != nil {
		t.Fatal(err)
	}
	after := d2.Open()
	if len(after) != len(before) {
		t.Fatalf("restored %d anomalies, want %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.ID != b.ID || !a.FirstSeen.Equal(b.FirstSeen) || !a.LastHealthy.Equal(b.LastHealthy) ||
			!a.DetectedAt.Equal(b.DetectedAt) || a.Class != b.Class || a.Reason != b.Reason || len(a.Evidence) != len(b.Evidence) {
			t.Errorf("restored %+v\nwant %+v", a, b)
		}
	}
	// The daemon carries on with a directory refresh and more failures,
	// after a 2-minute gap.
	h2 := &harness{t: t, d: d2, targets: targets, at: h.at.Add(2 * time.Minute), byID: map[string]detector.Anomaly{}}
	d2.SetTargets(targets)
	h2.rounds(2, outage)
	ids := map[string]bool{}
	for _, a := range h2.log {
		ids[a.ID] = true
	}
	for _, b := range before {
		if !ids[b.ID] {
			t.Errorf("%s not re-emitted after restore", b.ID)
		}
		delete(ids, b.ID)
	}
	if len(ids) != 0 {
		t.Fatalf("duplicates opened after restart: %v\n%s", ids, h2.dump())
	}
	h2.rounds(2, allUp)
	for _, c := range []string{"exit_gateways", "service/nym-api"} {
		a := h2.one(c)
		if a.Open() || !a.FirstSeen.Equal(roundAt(2)) {
			t.Errorf("%s after recovery: open=%v first_seen %v", c, a.Open(), a.FirstSeen)
		}
	}
	// Saving a second time replaces the state (no leftovers).
	snap2, err := d2.Snapshot(h2.at)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewStateStore(db).Save(ctx, snap2); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM detector_anomalies`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 { // the alert is still firing
		t.Errorf("%d stored anomalies, want 1", n)
	}
}

// Alerts are persisted by their POST alone, and a restart (or kill -9:
// no snapshot ever saved) restores the firing ones, with the anomaly's
// first_seen.
func TestAlertRowsSurviveRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nymwatch.db")
	db := openStateDB(t, path)
	ss := NewStateStore(db)
	d := detector.New(detector.Options{})
	a1 := firingAlert("PaymentsDown", map[string]string{"instance": "a"}, t0, detector.ClassOperational)
	a2 := firingAlert("PaymentsDown", map[string]string{"instance": "b"}, t0.Add(time.Minute), detector.ClassOperational)
	gone := firingAlert("Blip", nil, t0, detector.ClassInternal)
	for _, batch := range [][]detector.Alert{{a1, a2, gone}, {resolvedCopy(gone, t0.Add(2*time.Minute))}} {
		if err := ss.SaveAlerts(ctx, d.ObserveAlerts(batch, t0.Add(3*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	before := d.Evaluate(t0.Add(3 * time.Minute))
	if err := db.Close(); err != nil { // "kill -9": no snapshot saved
		t.Fatal(err)
	}

	db = openStateDB(t, path)
	defer db.Close()
	ss = NewStateStore(db)
	snap, err := ss.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d2 := detector.New(detector.Options{})
	if err := d2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	after := d2.Evaluate(t0.Add(4 * time.Minute))
	var open []detector.Anomaly
	for _, a := range after {
		if a.Open() {
			open = append(open, a)
		}
	}
	if len(open) != 1 || open[0].Component != "alert/PaymentsDown" || !open[0].FirstSeen.Equal(t0) || !strings.Contains(open[0].Title, "(2 alerts)") {
		t.Fatalf("after restart: %+v (before: %+v)", after, before)
	}
	for _, a := range before {
		if a.Component == "alert/PaymentsDown" && a.ID != open[0].ID {
			t.Errorf("id changed across restart: %s → %s", a.ID, open[0].ID)
		}
	}
	// The resolved one is remembered: its late firing copy does not re-open it.
	if ch := d2.ObserveAlerts([]detector.Alert{gone}, t0.Add(5*time.Minute)); len(ch.Firing()) != 0 {
		t.Errorf("late firing copy of a resolved alert was kept: %+v", ch.Firing())
	}
	// A periodic snapshot save leaves the alert rows alone.
	s2, err := d2.Snapshot(t0.Add(5 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(s2.Alerts) != 0 {
		t.Errorf("snapshot carries %d alert rows; alerts are saved per POST", len(s2.Alerts))
	}
	if err := ss.Save(ctx, s2); err != nil {
		t.Fatal(err)
	}
	var firing int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM detector_alerts WHERE ends_at_ms IS NULL`).Scan(&firing); err != nil {
		t.Fatal(err)
	}
	if firing != 2 {
		t.Errorf("%d firing alert rows after a snapshot save, want 2", firing)
	}
}

func openStateDB(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// Loading from an empty database yields an empty snapshot, which Restore
// takes as "nothing saved yet".
func TestEmptyDatabaseLoadsEmpty(t *testing.T) {
	db := openStateDB(t, filepath.Join(t.TempDir(), "x.db"))
	defer db.Close()
	s, err := NewStateStore(db).Load(t.Context())
	if err != nil || !s.Empty() {
		t.Fatalf("empty load: %+v %v", s, err)
	}
}

// TestSnapshotRoundTrip: what Save writes, Load reads back row for row,
// cluster state (quorum failures, peers' link state) and held and
// resolved alerts included; so a detector restored from the database is
// the one restored from the snapshot (the detector's own tests restore
// snapshots directly).
func TestSnapshotRoundTrip(t *testing.T) {
	ctx := t.Context()
	db := openStateDB(t, filepath.Join(t.TempDir(), "nymwatch.db"))
	defer db.Close()
	ss := NewStateStore(db)
	o := detector.Options{Cluster: detector.ClusterOptions{Self: "a", Peers: []string{"b", "c"}, Quorum: 2}}
	targets := join(gateways(1, 10, probes.RoleExitGateway, "FR"), []*probes.Target{svcT("nym-api")})
	d := detector.New(o)
	d.SetTargets(targets)
	peer := detector.New(detector.Options{Cluster: detector.ClusterOptions{Self: "b"}})
	peer.SetTargets(targets)
	for r := range 6 {
		at := t0.Add(time.Duration(r) * step)
		for i, tg := range targets {
			res := probes.Result{Target: tg, OK: r < 2 || i >= 4, Reason: probes.ReasonTimeout, Latency: time.Millisecond, At: at}
			d.Observe(res)
			peer.Observe(res)
		}
		d.PeerView("b", peer.View(at), at)
		d.PeerFailed("c", fmt.Errorf("connection refused"), at)
		d.Evaluate(at.Add(time.Second))
	}
	if err := ss.SaveAlerts(ctx, d.ObserveAlerts([]detector.Alert{firingAlert("Held", nil, t0, detector.ClassInternal),
		resolvedCopy(firingAlert("Gone", nil, t0, detector.ClassInternal), t0.Add(time.Minute))}, t0.Add(3*time.Minute))); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(6 * step)
	d.Evaluate(at)
	snap, err := d.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	var quorum bool
	for _, r := range snap.Targets {
		quorum = quorum || strings.Contains(string(r.State), `"q":{"failing":true`)
	}
	if !quorum || len(snap.Anomalies) == 0 || snap.Meta["cluster_peers"] == "" {
		t.Fatalf("setup: no quorum failure, anomaly or peer state to save: %+v", snap.Meta)
	}
	if err := ss.Save(ctx, snap); err != nil {
		t.Fatal(err)
	}
	got, err := ss.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := snapDiff(snap, got); diff != "" {
		t.Fatalf("loaded state differs: %s", diff)
	}
	if len(got.Alerts) != 2 {
		t.Fatalf("%d alert rows loaded, want the held and the resolved one", len(got.Alerts))
	}
	d2 := detector.New(o)
	if err := d2.Restore(got); err != nil {
		t.Fatal(err)
	}
	d3 := detector.New(o)
	if err := d3.Restore(snap); err != nil {
		t.Fatal(err)
	}
	s2, err := d2.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := d3.Snapshot(at)
	if err != nil {
		t.Fatal(err)
	}
	if diff := snapDiff(s3, s2); diff != "" {
		t.Fatalf("restored from the database differs from restored from the snapshot: %s", diff)
	}
}

// BenchmarkSaveAlerts: the durable save of a one-alert POST with 0 or
// 5,000 alerts already held; it should not grow with what is held.
func BenchmarkSaveAlerts(b *testing.B) {
	for _, held := range []int{0, 5000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			db := openStateDB(b, filepath.Join(b.TempDir(), "nymwatch.db"))
			defer db.Close()
			ss := NewStateStore(db)
			d := detector.New(detector.Options{AlertMaxFiring: 10 * (held + b.N + 10)})
			var pre []detector.Alert
			for i := range held {
				pre = append(pre, firingAlert("Held", map[string]string{"instance": fmt.Sprint(i)}, t0, detector.ClassInternal))
			}
			if err := ss.SaveAlerts(b.Context(), d.ObserveAlerts(pre, t0)); err != nil {
				b.Fatal(err)
			}
			d.Evaluate(t0)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				a := firingAlert("Small", map[string]string{"n": fmt.Sprint(i)}, t0, detector.ClassInternal)
				if err := ss.SaveAlerts(b.Context(), d.ObserveAlerts([]detector.Alert{a}, t0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSaveWithIsOneTransaction: what the caller writes with the changes
// commits with them or not at all, and a failed save is carried by the
// next one.
func TestSaveWithIsOneTransaction(t *testing.T) {
	ctx := t.Context()
	db := openStateDB(t, filepath.Join(t.TempDir(), "nymwatch.db"))
	defer db.Close()
	targets := gateways(100, 5, probes.RoleEntryGateway, "DE")
	d := detector.New(detector.Options{})
	d.SetTargets(targets)
	sv := NewStateSaver(d, NewStateStore(db))
	write := func(v string) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO kv (key, value, updated_ms) VALUES ('t', $1, 0)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(v))
			return err
		}
	}
	kv := func() string {
		var v []byte
		if err := db.R.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = 't'`).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return string(v)
	}
	stored := func() int {
		snap, err := NewStateStore(db).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(snap.Targets)
	}
	for i, full := range []bool{true, false} {
		if !full {
			d.Observe(probes.Result{Target: targets[2], OK: false, Reason: probes.ReasonTimeout, At: t0.Add(time.Minute)})
		}
		ch, err := sv.Take(t0.Add(time.Duration(i) * time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if ch.Full != full {
			t.Fatalf("save %d: full=%v", i, ch.Full)
		}
		failing := func(tx *sql.Tx) error {
			if err := write("half")(tx); err != nil {
				return err
			}
			return errors.New("disk full")
		}
		if err := sv.SaveWith(ctx, ch, failing); err == nil {
			t.Fatalf("save %d: a failing write in the transaction did not fail the save", i)
		}
		if kv() == "half" || (full && stored() != 0) {
			t.Fatalf("save %d: a failed transaction left rows behind (kv %q, %d targets)", i, kv(), stored())
		}
		ch, err = sv.Take(t0.Add(time.Duration(i)*time.Minute + time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if ch.Full != full || ch.Len() == 0 {
			t.Fatalf("save %d: the failed changes were not carried (full=%v, %d rows)", i, ch.Full, ch.Len())
		}
		if err := sv.SaveWith(ctx, ch, write(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
		if kv() != fmt.Sprint("v", i) || stored() != len(targets) {
			t.Fatalf("save %d: kv %q, %d targets stored", i, kv(), stored())
		}
	}
	snap, err := NewStateStore(db).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range snap.Targets {
		if r.ID == targets[2].ID && r.LastAt != t0.Add(time.Minute).UnixMilli() {
			t.Fatalf("the retried incremental save lost the observation: %+v", r)
		}
	}
}

// BenchmarkSaveIncremental10k: one 5 s save at the daemon benchmark's
// shape: 10,000 node targets stored, 1/6 of them observed since the last
// save (a 30 s interval), in one transaction.
func BenchmarkSaveIncremental10k(b *testing.B) {
	db := openStateDB(b, filepath.Join(b.TempDir(), "nymwatch.db"))
	defer db.Close()
	targets := join(gateways(1, 6000, probes.RoleExitGateway, "FR"), mixnodes(10000, 4000, 2))
	d := detector.New(detector.Options{})
	d.SetTargets(targets)
	sv := NewStateSaver(d, NewStateStore(db))
	save := func(at time.Time) {
		ch, err := sv.Take(at)
		if err != nil {
			b.Fatal(err)
		}
		if err := sv.Save(b.Context(), ch); err != nil {
			b.Fatal(err)
		}
	}
	at := t0
	for _, tg := range targets {
		d.Observe(probes.Result{Target: tg, OK: true, Latency: time.Millisecond, At: at})
	}
	save(at)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(5 * time.Second)
		for range len(targets) / 6 {
			tg := targets[rng.IntN(len(targets))]
			d.Observe(probes.Result{Target: tg, OK: rng.IntN(10) > 0, Reason: probes.ReasonTimeout, Latency: time.Millisecond, At: at})
		}
		save(at)
	}
}
