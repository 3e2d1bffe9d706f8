package nymapi

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/store"
)

// dtOpenStore opens a real SQLite store under dir (closed at test end).
func dtOpenStore(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(dir, "nymwatch.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// dtFixtureDirectory builds the fixture directory without HTTP.
func dtFixtureDirectory(t testing.TB, at time.Time) Directory {
	t.Helper()
	desc, err := DecodeDescribed(dtFixture(t, "nym-api_v2_nym-nodes_described.json"))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := DecodeSkimmed(dtFixture(t, "nym-api_v2_unstable_nym-nodes_skimmed.json"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := DecodeRewardedSet(dtFixture(t, "nym-api_v1_nym-nodes_rewarded-set.json"))
	if err != nil {
		t.Fatal(err)
	}
	bonds, err := DecodeBonded(dtFixture(t, "nym-api_v1_nym-nodes_bonded.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := buildDirectory(dirInputs{described: desc, skimmed: &sk, rewarded: &rs, bonded: bonds, bondedKnown: true})
	d.FetchedAt = at
	d.Source = "https://nym-api.test/api" + PathDescribedV2
	return d
}

func TestDirectoryStoreRoundTrip(t *testing.T) {
	db := dtOpenStore(t, t.TempDir())
	s := NewDirectoryStore(db, func() time.Time { return dtT0 })
	ctx := t.Context()

	if _, ok, err := s.Load(ctx); err != nil || ok {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	at := dtT0.Add(123456789 * time.Nanosecond) // sub-millisecond part is dropped
	d := dtFixtureDirectory(t, at)
	d.Unavailable = []string{"bonded: test"}
	if err := s.Save(ctx, d); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, ok, err := s.Load(ctx)
	if err != nil || !ok {
		t.Fatalf("Load: ok=%v err=%v", ok, err)
	}
	if !got.FetchedAt.Equal(at.Truncate(time.Millisecond)) || got.FetchedAt.Location() != time.UTC {
		t.Errorf("fetched_at = %v, want %v UTC", got.FetchedAt, at.Truncate(time.Millisecond))
	}
	if !reflect.DeepEqual(got.Nodes, d.Nodes) {
		t.Errorf("nodes differ after round trip:\n got %+v\nwant %+v", got.Nodes, d.Nodes)
	}
	if got.Source != d.Source || got.RoleSource != d.RoleSource || got.EpochID != d.EpochID ||
		!reflect.DeepEqual(got.Bonded, d.Bonded) || !reflect.DeepEqual(got.Unavailable, d.Unavailable) {
		t.Errorf("meta differs: got %+v", got)
	}
}

func TestDirectoryStoreNeverRollsBack(t *testing.T) {
	db := dtOpenStore(t, t.TempDir())
	s := NewDirectoryStore(db, nil)
	ctx := t.Context()
	newer := dtFixtureDirectory(t, dtT0.Add(time.Minute))
	older := dtFixtureDirectory(t, dtT0)
	older.Nodes = older.Nodes[:1]
	if err := s.Save(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, older); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.FetchedAt.Equal(newer.FetchedAt) || len(got.Nodes) != len(newer.Nodes) {
		t.Errorf("an older snapshot replaced a newer one: fetched %v, %d nodes", got.FetchedAt, len(got.Nodes))
	}
	// Same fetch time (a duplicate run) is idempotent.
	if err := s.Save(ctx, newer); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM directory_snapshot`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows = %d, err %v", rows, err)
	}
}

func TestDirectoryStoreRejectsBadInput(t *testing.T) {
	db := dtOpenStore(t, t.TempDir())
	s := NewDirectoryStore(db, nil)
	ctx := t.Context()
	if err := s.Save(ctx, Directory{FetchedAt: dtT0}); err == nil {
		t.Error("saved an empty directory")
	}
	d := dtFixtureDirectory(t, time.Time{})
	if err := s.Save(ctx, d); err == nil {
		t.Error("saved a directory without fetch time")
	}

	for _, tc := range []struct {
		name, sql, want string
	}{
		{"corrupt body", `UPDATE directory_snapshot SET body = CAST('{"nodes":[' AS BLOB)`, "decode"},
		{"unknown format", `UPDATE directory_snapshot SET format = 99`, "unknown snapshot format 99"},
		{"count mismatch", `UPDATE directory_snapshot SET node_count = 1`, "row says 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Save(ctx, dtFixtureDirectory(t, dtT0.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			if _, err := db.W.ExecContext(ctx, tc.sql); err != nil {
				t.Fatal(err)
			}
			_, ok, err := s.Load(ctx)
			if err == nil || ok || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: ok=%v err=%v, want error containing %q", ok, err, tc.want)
			}
			if _, err := db.W.ExecContext(ctx, `DELETE FROM directory_snapshot`); err != nil {
				t.Fatal(err)
			}
		})
	}
}
