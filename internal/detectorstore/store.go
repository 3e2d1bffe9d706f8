// Package detectorstore keeps the detector's state in the detector_*
// tables of the local SQLite database (internal/store, migration
// 0003_detector.sql), so that a restart or a kill -9 resumes where the
// detector was: targets' streaks, open anomalies with their first_seen,
// baselines, held alerts. The detector itself knows no SQL: it hands over
// rows (detector.Snapshot, detector.Changes, detector.AlertChanges) and
// takes a Snapshot back.
package detectorstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
)

// StateStore persists detector.Snapshots in the detector_* tables (0003_detector.sql).
type StateStore struct{ db *store.DB }

// NewStateStore returns a StateStore over db.
func NewStateStore(db *store.DB) *StateStore { return &StateStore{db: db} }

// Save replaces the stored state with s in one transaction.
func (s *StateStore) Save(ctx context.Context, snap detector.Snapshot) error {
	return s.save(ctx, snap, nil)
}

func (s *StateStore) save(ctx context.Context, snap detector.Snapshot, also func(*sql.Tx) error) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// detector_alerts is written by SaveAlerts, row by row; here only
		// resolved alerts past their retention go.
		if _, err := tx.ExecContext(ctx, `DELETE FROM detector_alerts WHERE ends_at_ms < $1`,
			snap.SavedAt.UnixMilli()-detector.ResolvedAlertKeep.Milliseconds()); err != nil {
			return fmt.Errorf("prune alerts: %w", err)
		}
		for _, t := range []string{"detector_targets", "detector_anomalies", "detector_components", "detector_meta"} {
			// Table names are constants of this package.
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil { //nolint:gosec // t is one of the constants above
				return fmt.Errorf("clear %s: %w", t, err)
			}
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO detector_targets
			(target_id, failing, since_ms, last_healthy_ms, last_at_ms, state) VALUES ($1, $2, $3, $4, $5, $6)`)
		if err != nil {
			return fmt.Errorf("prepare targets: %w", err)
		}
		defer ins.Close()
		for _, r := range snap.Targets {
			if _, err := ins.ExecContext(ctx, r.ID, r.Failing, nullMs(r.Since), nullMs(r.LastHealthy), nullMs(r.LastAt), string(r.State)); err != nil {
				return fmt.Errorf("insert target %s: %w", r.ID, err)
			}
		}
		for _, r := range snap.Anomalies {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_anomalies
				(id, component, class, last_healthy_ms, first_seen_ms, detected_at_ms, state) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				r.ID, r.Component, r.Class, nullMs(r.LastHealthy), r.FirstSeen, r.Detected, string(r.State)); err != nil {
				return fmt.Errorf("insert anomaly %s: %w", r.ID, err)
			}
		}
		for _, r := range snap.Components {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_components (component, state) VALUES ($1, $2)`,
				r.Component, string(r.State)); err != nil {
				return fmt.Errorf("insert component %s: %w", r.Component, err)
			}
		}
		for k, v := range snap.Meta {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_meta (key, value) VALUES ($1, $2)`, k, v); err != nil {
				return fmt.Errorf("insert meta %s: %w", k, err)
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("detectorstore: save state: %w", err)
	}
	return nil
}

// SaveAlerts persists what one ObserveAlerts changed, in one transaction:
// an upsert per alert of the POST, nothing else, so a POST costs what is
// in it. Rows are guarded by startsAt, so a late or retried copy never
// undoes a newer firing or resolution.
func (s *StateStore) SaveAlerts(ctx context.Context, ch detector.AlertChanges) error {
	orphans, orphansChanged := ch.Orphans()
	if len(ch.Firing()) == 0 && len(ch.Ended()) == 0 && !orphansChanged {
		return nil
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if len(ch.Firing()) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO detector_alerts
				(fingerprint, component, starts_at_ms, ends_at_ms, state) VALUES ($1, $2, $3, NULL, $4)
				ON CONFLICT (fingerprint) DO UPDATE SET component = excluded.component,
					starts_at_ms = excluded.starts_at_ms, ends_at_ms = NULL, state = excluded.state
				WHERE detector_alerts.ends_at_ms IS NULL OR detector_alerts.starts_at_ms < excluded.starts_at_ms`)
			if err != nil {
				return fmt.Errorf("prepare firing alerts: %w", err)
			}
			defer st.Close()
			for _, r := range ch.Firing() {
				if _, err := st.ExecContext(ctx, r.Fingerprint, r.Component, r.StartsAt, string(r.State)); err != nil {
					return fmt.Errorf("upsert alert %s: %w", r.Fingerprint, err)
				}
			}
		}
		if len(ch.Ended()) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO detector_alerts
				(fingerprint, component, starts_at_ms, ends_at_ms, state) VALUES ($1, $2, $3, $4, '{}')
				ON CONFLICT (fingerprint) DO UPDATE SET component = excluded.component,
					starts_at_ms = excluded.starts_at_ms, ends_at_ms = excluded.ends_at_ms, state = '{}'
				WHERE detector_alerts.starts_at_ms <= excluded.starts_at_ms`)
			if err != nil {
				return fmt.Errorf("prepare resolved alerts: %w", err)
			}
			defer st.Close()
			for _, r := range ch.Ended() {
				if _, err := st.ExecContext(ctx, r.Fingerprint, r.Component, r.StartsAt, r.EndsAt); err != nil {
					return fmt.Errorf("upsert resolved alert %s: %w", r.Fingerprint, err)
				}
			}
		}
		if orphansChanged {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_meta (key, value) VALUES ($1, $2)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, detector.MetaOrphanAlerts, orphans); err != nil {
				return fmt.Errorf("save orphan alerts: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("detectorstore: save alerts: %w", err)
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
// detector.Snapshot (Restore of it starts fresh).
func (s *StateStore) Load(ctx context.Context) (detector.Snapshot, error) {
	var snap detector.Snapshot
	if err := s.load(ctx, &snap); err != nil {
		return detector.Snapshot{}, fmt.Errorf("detectorstore: load state: %w", err)
	}
	return snap, nil
}

func (s *StateStore) load(ctx context.Context, snap *detector.Snapshot) error {
	snap.Meta = map[string]string{}
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
		snap.Meta[k] = v
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	if _, ok := snap.Meta[detector.MetaVersion]; !ok {
		// Nothing snapshotted yet, but SaveAlerts may have written alert
		// rows (and pending orphans): they are of this version.
		snap.Version = detector.StateVersion
		if len(snap.Meta) == 0 {
			snap.Meta = nil
		}
	} else {
		v, err := strconv.Atoi(snap.Meta[detector.MetaVersion])
		if err != nil {
			return fmt.Errorf("bad stored version %q", snap.Meta[detector.MetaVersion])
		}
		snap.Version = v
		if ms, err := strconv.ParseInt(snap.Meta[detector.MetaSavedAt], 10, 64); err == nil {
			snap.SavedAt = time.UnixMilli(ms).UTC()
		}
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT target_id, failing, since_ms, last_healthy_ms, last_at_ms, state FROM detector_targets`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r detector.TargetRow
		var since, lh, last sql.NullInt64
		var state string
		if err := rows.Scan(&r.ID, &r.Failing, &since, &lh, &last, &state); err != nil {
			rows.Close()
			return err
		}
		r.Since, r.LastHealthy, r.LastAt, r.State = since.Int64, lh.Int64, last.Int64, []byte(state)
		snap.Targets = append(snap.Targets, r)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT id, component, class, last_healthy_ms, first_seen_ms, detected_at_ms, state FROM detector_anomalies`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r detector.AnomalyRow
		var lh sql.NullInt64
		var state string
		if err := rows.Scan(&r.ID, &r.Component, &r.Class, &lh, &r.FirstSeen, &r.Detected, &state); err != nil {
			rows.Close()
			return err
		}
		r.LastHealthy, r.State = lh.Int64, []byte(state)
		snap.Anomalies = append(snap.Anomalies, r)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT component, state FROM detector_components`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r detector.ComponentRow
		var state string
		if err := rows.Scan(&r.Component, &state); err != nil {
			rows.Close()
			return err
		}
		r.State = []byte(state)
		snap.Components = append(snap.Components, r)
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = s.db.R.QueryContext(ctx, `SELECT fingerprint, component, starts_at_ms, ends_at_ms, state FROM detector_alerts`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r detector.AlertRow
		var ends sql.NullInt64
		var state string
		if err := rows.Scan(&r.Fingerprint, &r.Component, &r.StartsAt, &ends, &state); err != nil {
			rows.Close()
			return err
		}
		r.EndsAt, r.State = ends.Int64, []byte(state)
		snap.Alerts = append(snap.Alerts, r)
	}
	return closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	return errors.Join(err, rows.Close())
}
