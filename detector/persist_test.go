package detector

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/probes"
)

// snapDiff compares two snapshots row by row (sorted), "" if equal.
func snapDiff(a, b Snapshot) string {
	if a.version != b.version || !a.SavedAt.Equal(b.SavedAt) {
		return fmt.Sprintf("version/saved_at %d %v != %d %v", a.version, a.SavedAt, b.version, b.SavedAt)
	}
	sortSnap(&a)
	sortSnap(&b)
	if len(a.targets) != len(b.targets) {
		return fmt.Sprintf("%d targets != %d", len(a.targets), len(b.targets))
	}
	for i := range a.targets {
		x, y := a.targets[i], b.targets[i]
		if x.ID != y.ID || x.Failing != y.Failing || x.Since != y.Since || x.LastHealthy != y.LastHealthy ||
			x.LastAt != y.LastAt || !bytes.Equal(x.State, y.State) {
			return fmt.Sprintf("target %s:\n%s\n!=\n%s", x.ID, x.State, y.State)
		}
	}
	if len(a.anomalies) != len(b.anomalies) {
		return fmt.Sprintf("%d anomalies != %d", len(a.anomalies), len(b.anomalies))
	}
	for i := range a.anomalies {
		x, y := a.anomalies[i], b.anomalies[i]
		if x.ID != y.ID || x.Component != y.Component || x.Class != y.Class || x.LastHealthy != y.LastHealthy ||
			x.FirstSeen != y.FirstSeen || x.Detected != y.Detected || !bytes.Equal(x.State, y.State) {
			return fmt.Sprintf("anomaly %s:\n%s\n!=\n%s", x.ID, x.State, y.State)
		}
	}
	if len(a.components) != len(b.components) {
		return fmt.Sprintf("%d components != %d", len(a.components), len(b.components))
	}
	for i := range a.components {
		if a.components[i].Component != b.components[i].Component || !bytes.Equal(a.components[i].State, b.components[i].State) {
			return fmt.Sprintf("component %s:\n%s\n!=\n%s", a.components[i].Component, a.components[i].State, b.components[i].State)
		}
	}
	if fmt.Sprint(a.meta) != fmt.Sprint(b.meta) {
		return fmt.Sprintf("meta %v != %v", a.meta, b.meta)
	}
	return ""
}

func sortSnap(s *Snapshot) {
	sort.Slice(s.targets, func(i, j int) bool { return s.targets[i].ID < s.targets[j].ID })
	sort.Slice(s.anomalies, func(i, j int) bool { return s.anomalies[i].ID < s.anomalies[j].ID })
	sort.Slice(s.components, func(i, j int) bool { return s.components[i].Component < s.components[j].Component })
}

// restored loads what is stored into a new detector.
func restored(t *testing.T, ctx context.Context, db *store.DB, o Options) *Detector {
	t.Helper()
	snap, err := NewStateStore(db).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := New(o)
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
	o := Options{}
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
	d := New(o)
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
			d.ObserveAlerts([]Alert{{Status: AlertFiring, Labels: map[string]string{"alertname": fmt.Sprint("A", rng.IntN(3))},
				StartsAt: at.Add(-time.Minute), Class: ClassInternal, ClassSource: "label"}}, at)
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
	d := New(Options{})
	d.SetTargets(targets)
	for _, tg := range targets {
		d.Observe(probes.Result{Target: tg, OK: true, Latency: time.Millisecond, At: t0})
	}
	d.Evaluate(t0)
	sv := NewStateSaver(d, NewStateStore(db))
	save := func(at time.Time) Changes {
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
	if ch := save(t0); !ch.full || ch.Len() != 50 {
		t.Fatalf("first save: full=%v rows=%d, want full with 50", ch.full, ch.Len())
	}
	if ch := save(t0.Add(time.Second)); ch.full || ch.Len() != 0 {
		t.Fatalf("nothing changed: full=%v rows=%d, want 0", ch.full, ch.Len())
	}
	d.SetTargets(targets) // the same directory again: nothing changed
	if ch := save(t0.Add(2 * time.Second)); ch.Len() != 0 {
		t.Fatalf("same directory: %d rows, want 0", ch.Len())
	}
	d.Observe(probes.Result{Target: targets[3], OK: false, Reason: probes.ReasonTimeout, At: t0.Add(30 * time.Second)})
	d.SetTargets(targets[:49])
	if ch := save(t0.Add(31 * time.Second)); ch.Len() != 2 || len(ch.gone) != 1 || ch.gone[0] != targets[49].ID {
		t.Fatalf("one observation, one dropped: %d rows, gone %v", ch.Len(), ch.gone)
	}
	var n int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM detector_targets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 49 {
		t.Fatalf("%d target rows stored, want 49", n)
	}
}
