package detector

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nymwatch/nymwatch/internal/store"
)

// snapshotVersion is the version of the persisted form; Restore refuses
// another one rather than misreading it.
const snapshotVersion = 1

// Snapshot is the detector's whole state at one moment (targets' streaks,
// open anomalies, baselines, held alerts, vantage point), already encoded:
// it is immutable and safe to hand to another goroutine for saving.
type Snapshot struct {
	SavedAt time.Time

	version    int
	targets    []targetRow
	anomalies  []anomalyRow
	components []compRow
	alerts     []alertRow
	meta       map[string]string
}

// Empty reports whether the snapshot holds no state (nothing saved yet).
func (s *Snapshot) Empty() bool {
	return len(s.targets) == 0 && len(s.anomalies) == 0 && len(s.components) == 0 &&
		len(s.alerts) == 0 && len(s.meta) == 0
}

type targetRow struct {
	ID                         string
	Failing                    bool
	Since, LastHealthy, LastAt int64
	State                      []byte
}

type anomalyRow struct {
	ID, Component, Class             string
	LastHealthy, FirstSeen, Detected int64
	State                            []byte
}

type compRow struct {
	Component string
	State     []byte
}

type alertRow struct {
	Fingerprint, Component string
	StartsAt, EndsAt       int64 // EndsAt != 0: a resolved alert remembered for idempotency
	State                  []byte
}

// Meta keys.
const (
	metaVersion   = "version"
	metaSavedAt   = "saved_at_ms"
	metaVantage   = "vantage"
	metaLastIDs   = "last_ids"
	metaDirectory = "directory"
	metaRecent    = "recent_alert_keys"
	metaOrphans   = "orphan_alerts"
	metaPeers     = "cluster_peers"
)

// Snapshot captures the state at now (recorded as SavedAt).
func (d *Detector) Snapshot(now time.Time) (Snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Snapshot{SavedAt: fromMs(toMs(now.UTC())), version: snapshotVersion, meta: map[string]string{}}
	for id, ts := range d.targets {
		b, err := json.Marshal(ts)
		if err != nil {
			return Snapshot{}, fmt.Errorf("detector: encode target %s: %w", id, err)
		}
		s.targets = append(s.targets, targetRow{ID: id, Failing: ts.Failing, Since: ts.Since,
			LastHealthy: ts.LastHealthy, LastAt: ts.LastAt, State: b})
	}
	for comp, st := range d.anoms {
		b, err := json.Marshal(st)
		if err != nil {
			return Snapshot{}, fmt.Errorf("detector: encode anomaly %s: %w", st.A.ID, err)
		}
		s.anomalies = append(s.anomalies, anomalyRow{ID: st.A.ID, Component: comp, Class: string(st.A.Class),
			LastHealthy: toMs(st.A.LastHealthy), FirstSeen: toMs(st.A.FirstSeen), Detected: toMs(st.A.DetectedAt), State: b})
	}
	for comp, c := range d.comps {
		b, err := json.Marshal(c)
		if err != nil {
			return Snapshot{}, fmt.Errorf("detector: encode component %s: %w", comp, err)
		}
		s.components = append(s.components, compRow{Component: comp, State: b})
	}
	// Alerts are not in the snapshot: each POST saves its own rows
	// (SaveAlerts), so a snapshot costs the same with 0 or 5,000 held.
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("detector: encode %s: %w", k, err)
		}
		s.meta[k] = string(b)
		return nil
	}
	s.meta[metaVersion] = strconv.Itoa(snapshotVersion)
	s.meta[metaSavedAt] = strconv.FormatInt(toMs(s.SavedAt), 10)
	if err := errors.Join(put(metaVantage, d.vantage), put(metaLastIDs, d.lastIDs), put(metaDirectory, d.directory),
		put(metaOrphans, d.orphans)); err != nil {
		return Snapshot{}, err
	}
	if len(d.peers) > 0 {
		if err := put(metaPeers, d.peers); err != nil {
			return Snapshot{}, err
		}
	}
	return s, nil
}

// Restore replaces the detector's state with s (thresholds stay those of
// New / Reconfigure); an empty snapshot changes nothing. Open anomalies keep their IDs and first_seen, and are
// emitted once more by the next Evaluate (consumers upsert by ID, and this
// covers a crash between Evaluate and the consumer's write). On error the
// state is unchanged.
func (d *Detector) Restore(s Snapshot) error {
	if s.Empty() {
		return nil // nothing saved yet: keep what we have
	}
	if s.version != snapshotVersion {
		return fmt.Errorf("detector: snapshot version %d, want %d", s.version, snapshotVersion)
	}
	n := &Detector{}
	n.reset()
	for _, r := range s.targets {
		ts := &targetState{}
		if err := json.Unmarshal(r.State, ts); err != nil {
			return fmt.Errorf("detector: decode target %s: %w", r.ID, err)
		}
		if ts.Target == nil || ts.Target.ID != r.ID {
			return fmt.Errorf("detector: target %s: descriptor missing or mismatched", r.ID)
		}
		ts.classify()
		n.targets[r.ID] = ts
	}
	for _, r := range s.anomalies {
		st := &anomState{}
		if err := json.Unmarshal(r.State, st); err != nil {
			return fmt.Errorf("detector: decode anomaly %s: %w", r.ID, err)
		}
		// The INTEGER columns are authoritative for the timestamps.
		st.A.ID, st.A.Component, st.A.Class = r.ID, r.Component, Class(r.Class)
		st.A.LastHealthy, st.A.FirstSeen, st.A.DetectedAt = fromMs(r.LastHealthy), fromMs(r.FirstSeen), fromMs(r.Detected)
		st.A.ResolvedAt = time.Time{}
		if st.Contribs == nil {
			st.Contribs = map[string]contribInfo{}
		}
		st.dirty = true
		n.anoms[r.Component] = st
	}
	for _, r := range s.components {
		c := &compState{}
		if err := json.Unmarshal(r.State, c); err != nil {
			return fmt.Errorf("detector: decode component %s: %w", r.Component, err)
		}
		n.comps[r.Component] = c
	}
	for _, r := range s.alerts {
		if r.EndsAt != 0 {
			// A resolved alert: remembered so that a late copy stays a
			// duplicate (its key when the row says when it started).
			n.alertEnds[r.Fingerprint] = r.EndsAt
			if r.Component != "" {
				n.groupEnds[r.Component] = max(n.groupEnds[r.Component], r.EndsAt)
			}
			if r.StartsAt != 0 {
				n.recent[r.Fingerprint+"@"+strconv.FormatInt(r.StartsAt, 10)] = r.EndsAt
			}
			continue
		}
		st := &alertState{}
		if err := json.Unmarshal(r.State, st); err != nil {
			return fmt.Errorf("detector: decode alert %s: %w", r.Fingerprint, err)
		}
		n.alerts[r.Fingerprint] = st
		n.alertGroups[st.Component]++
	}
	get := func(k string, v any) error {
		raw, ok := s.meta[k]
		if !ok {
			return nil
		}
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			return fmt.Errorf("detector: decode %s: %w", k, err)
		}
		return nil
	}
	peers := map[string]*peerState{}
	// metaRecent is read for state saved before alerts had their own rows.
	recent := n.recent
	if err := errors.Join(get(metaVantage, &n.vantage), get(metaLastIDs, &n.lastIDs), get(metaDirectory, &n.directory),
		get(metaRecent, &n.recent), get(metaOrphans, &n.orphans), get(metaPeers, &peers)); err != nil {
		return err
	}
	if n.recent == nil {
		n.recent = map[string]int64{}
	}
	for k, v := range recent {
		n.recent[k] = v
	}
	if n.lastIDs == nil {
		n.lastIDs = map[string]string{}
	}
	if n.recent == nil {
		n.recent = map[string]int64{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.targets, d.comps, d.anoms, d.lastIDs = n.targets, n.comps, n.anoms, n.lastIDs
	d.alerts, d.alertEnds, d.recent, d.orphans = n.alerts, n.alertEnds, n.recent, n.orphans
	d.alertGroups, d.groupEnds = n.alertGroups, n.groupEnds
	d.dirty, d.gone = n.dirty, n.gone
	d.vantage, d.directory, d.holds = n.vantage, n.directory, n.holds
	d.rebuildIndex()
	// Peers' link state survives; their views are pulled again, and until
	// they arrive the restored quorum state stands (warm-up).
	d.peers, d.clusterStart, d.minority, d.status = map[string]*peerState{}, 0, nil, ClusterStatus{}
	d.syncPeers()
	for name, p := range peers {
		if cur := d.peers[name]; cur != nil && p != nil {
			*cur = peerState{LastOK: p.LastOK, OKSince: p.OKSince, FailSince: p.FailSince, LastErr: p.LastErr}
		}
	}
	d.o.Metrics.record(d.anoms)
	return nil
}

// StateStore persists Snapshots in the detector_* tables (0003_detector.sql).
type StateStore struct{ db *store.DB }

// NewStateStore returns a StateStore over db.
func NewStateStore(db *store.DB) *StateStore { return &StateStore{db: db} }

// Save replaces the stored state with s in one transaction.
func (s *StateStore) Save(ctx context.Context, snap Snapshot) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// detector_alerts is written by SaveAlerts, row by row; here only
		// resolved alerts past their retention go.
		if _, err := tx.ExecContext(ctx, `DELETE FROM detector_alerts WHERE ends_at_ms < ?`,
			toMs(snap.SavedAt)-recentKeep.Milliseconds()); err != nil {
			return fmt.Errorf("prune alerts: %w", err)
		}
		for _, t := range []string{"detector_targets", "detector_anomalies", "detector_components", "detector_meta"} {
			// Table names are constants of this package.
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil { //nolint:gosec // t is one of the constants above
				return fmt.Errorf("clear %s: %w", t, err)
			}
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO detector_targets
			(target_id, failing, since_ms, last_healthy_ms, last_at_ms, state) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare targets: %w", err)
		}
		defer ins.Close()
		for _, r := range snap.targets {
			if _, err := ins.ExecContext(ctx, r.ID, r.Failing, nullMs(r.Since), nullMs(r.LastHealthy), nullMs(r.LastAt), string(r.State)); err != nil {
				return fmt.Errorf("insert target %s: %w", r.ID, err)
			}
		}
		for _, r := range snap.anomalies {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_anomalies
				(id, component, class, last_healthy_ms, first_seen_ms, detected_at_ms, state) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				r.ID, r.Component, r.Class, nullMs(r.LastHealthy), r.FirstSeen, r.Detected, string(r.State)); err != nil {
				return fmt.Errorf("insert anomaly %s: %w", r.ID, err)
			}
		}
		for _, r := range snap.components {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_components (component, state) VALUES (?, ?)`,
				r.Component, string(r.State)); err != nil {
				return fmt.Errorf("insert component %s: %w", r.Component, err)
			}
		}
		for k, v := range snap.meta {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_meta (key, value) VALUES (?, ?)`, k, v); err != nil {
				return fmt.Errorf("insert meta %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("detector: save state: %w", err)
	}
	return nil
}

// SaveAlerts persists what one ObserveAlerts changed, in one transaction:
// an upsert per alert of the POST, nothing else, so a POST costs what is
// in it. Rows are guarded by startsAt, so a late or retried copy never
// undoes a newer firing or resolution.
func (s *StateStore) SaveAlerts(ctx context.Context, ch AlertChanges) error {
	if len(ch.firing) == 0 && len(ch.ended) == 0 && ch.orphans == nil {
		return nil
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if len(ch.firing) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO detector_alerts
				(fingerprint, component, starts_at_ms, ends_at_ms, state) VALUES (?, ?, ?, NULL, ?)
				ON CONFLICT (fingerprint) DO UPDATE SET component = excluded.component,
					starts_at_ms = excluded.starts_at_ms, ends_at_ms = NULL, state = excluded.state
				WHERE detector_alerts.ends_at_ms IS NULL OR detector_alerts.starts_at_ms < excluded.starts_at_ms`)
			if err != nil {
				return fmt.Errorf("prepare firing alerts: %w", err)
			}
			defer st.Close()
			for _, r := range ch.firing {
				if _, err := st.ExecContext(ctx, r.Fingerprint, r.Component, r.StartsAt, string(r.State)); err != nil {
					return fmt.Errorf("upsert alert %s: %w", r.Fingerprint, err)
				}
			}
		}
		if len(ch.ended) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO detector_alerts
				(fingerprint, component, starts_at_ms, ends_at_ms, state) VALUES (?, ?, ?, ?, '{}')
				ON CONFLICT (fingerprint) DO UPDATE SET component = excluded.component,
					starts_at_ms = excluded.starts_at_ms, ends_at_ms = excluded.ends_at_ms, state = '{}'
				WHERE detector_alerts.starts_at_ms <= excluded.starts_at_ms`)
			if err != nil {
				return fmt.Errorf("prepare resolved alerts: %w", err)
			}
			defer st.Close()
			for _, r := range ch.ended {
				if _, err := st.ExecContext(ctx, r.Fingerprint, r.Component, r.StartsAt, r.EndsAt); err != nil {
					return fmt.Errorf("upsert resolved alert %s: %w", r.Fingerprint, err)
				}
			}
		}
		if ch.orphans != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaOrphans, *ch.orphans); err != nil {
				return fmt.Errorf("save orphan alerts: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("detector: save alerts: %w", err)
	}
	return nil
}

func nullMs(ms int64) any {
	if ms == 0 {
		return nil
	}
	return ms
}

// Load reads the stored state; with nothing stored it returns an empty
// Snapshot (Restore of it starts fresh).
func (s *StateStore) Load(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	if err := s.load(ctx, &snap); err != nil {
		return Snapshot{}, fmt.Errorf("detector: load state: %w", err)
	}
	return snap, nil
}

func (s *StateStore) load(ctx context.Context, snap *Snapshot) error {
	snap.meta = map[string]string{}
	rows, err := s.db.R.QueryContext(ctx, `SELECT key, value FROM detector_meta`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		snap.meta[k] = v
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	if _, ok := snap.meta[metaVersion]; !ok {
		// Nothing snapshotted yet, but SaveAlerts may have written alert
		// rows (and pending orphans): they are of this version.
		snap.version = snapshotVersion
		if len(snap.meta) == 0 {
			snap.meta = nil
		}
	} else {
		v, err := strconv.Atoi(snap.meta[metaVersion])
		if err != nil {
			return fmt.Errorf("bad stored version %q", snap.meta[metaVersion])
		}
		snap.version = v
		if ms, err := strconv.ParseInt(snap.meta[metaSavedAt], 10, 64); err == nil {
			snap.SavedAt = fromMs(ms)
		}
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT target_id, failing, since_ms, last_healthy_ms, last_at_ms, state FROM detector_targets`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r targetRow
		var since, lh, last sql.NullInt64
		var state string
		if err := rows.Scan(&r.ID, &r.Failing, &since, &lh, &last, &state); err != nil {
			rows.Close()
			return err
		}
		r.Since, r.LastHealthy, r.LastAt, r.State = since.Int64, lh.Int64, last.Int64, []byte(state)
		snap.targets = append(snap.targets, r)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT id, component, class, last_healthy_ms, first_seen_ms, detected_at_ms, state FROM detector_anomalies`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r anomalyRow
		var lh sql.NullInt64
		var state string
		if err := rows.Scan(&r.ID, &r.Component, &r.Class, &lh, &r.FirstSeen, &r.Detected, &state); err != nil {
			rows.Close()
			return err
		}
		r.LastHealthy, r.State = lh.Int64, []byte(state)
		snap.anomalies = append(snap.anomalies, r)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT component, state FROM detector_components`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r compRow
		var state string
		if err := rows.Scan(&r.Component, &state); err != nil {
			rows.Close()
			return err
		}
		r.State = []byte(state)
		snap.components = append(snap.components, r)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT fingerprint, component, starts_at_ms, ends_at_ms, state FROM detector_alerts`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r alertRow
		var ends sql.NullInt64
		var state string
		if err := rows.Scan(&r.Fingerprint, &r.Component, &r.StartsAt, &ends, &state); err != nil {
			rows.Close()
			return err
		}
		r.EndsAt, r.State = ends.Int64, []byte(state)
		snap.alerts = append(snap.alerts, r)
	}
	return closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	return errors.Join(err, rows.Close())
}
