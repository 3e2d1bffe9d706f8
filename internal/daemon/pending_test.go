package daemon

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
)

func TestPendingKeepsANewerEmission(t *testing.T) {
	p := newPendingSet()
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	p.add(detector.Anomaly{ID: "b", FirstSeen: t0.Add(time.Second)}, detector.Anomaly{ID: "a", FirstSeen: t0})
	batch := p.batch()
	if len(batch) != 2 || batch[0].a.ID != "a" {
		t.Fatalf("batch not oldest first: %+v", batch)
	}
	// While "a" was being recorded, the detector emitted a newer version
	// (e.g. its resolution): recording the old one must not drop it.
	p.add(detector.Anomaly{ID: "a", FirstSeen: t0, ResolvedAt: t0.Add(time.Minute)})
	p.done(batch[0])
	p.done(batch[1])
	left := p.list()
	if len(left) != 1 || left[0].ID != "a" || left[0].ResolvedAt.IsZero() {
		t.Fatalf("pending after done: %+v", left)
	}
}

// An emission not yet recorded survives a restart through the local store.
func TestPendingSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nymwatch.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := loadPending(ctx, db); err != nil || len(got) != 0 {
		t.Fatalf("fresh store: %v %v", got, err)
	}
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	want := []detector.Anomaly{{ID: "exit_gateways@1", Component: "exit_gateways", Class: detector.ClassOperational,
		FirstSeen: t0, ResolvedAt: t0.Add(3 * time.Minute), Affected: []string{"node/1/http"}}}
	if err := savePending(ctx, db, want, t0); err != nil {
		t.Fatal(err)
	}
	if err := savePending(ctx, db, want, t0.Add(time.Second)); err != nil { // upsert
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := loadPending(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != want[0].ID || !got[0].ResolvedAt.Equal(want[0].ResolvedAt) || got[0].Affected[0] != "node/1/http" {
		t.Errorf("after restart: %+v", got)
	}
}
