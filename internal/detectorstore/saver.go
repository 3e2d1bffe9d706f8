package detectorstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

// StateSaver writes the detector's changes to a StateStore. Its first save
// replaces the stored state (whatever an earlier run left); later ones
// write only what differs. Not safe for concurrent use: the caller
// serialises saves.
type StateSaver struct {
	det    *detector.Detector
	store  *StateStore
	synced bool
	// What was last written, by key: a hash of the row, so that an
	// unchanged anomaly, component or meta value is not written again.
	anoms map[string][32]byte
	comps map[string][32]byte
	meta  map[string][32]byte
}

// NewStateSaver returns a saver of det's state into st.
func NewStateSaver(det *detector.Detector, st *StateStore) *StateSaver {
	return &StateSaver{det: det, store: st}
}

// Take takes the detector's changes (everything until a save succeeded).
func (s *StateSaver) Take(now time.Time) (detector.Changes, error) {
	return s.det.TakeChanges(now, !s.synced)
}

// Save writes c in one transaction; on failure the changes go back to the
// detector and the next save retries them.
func (s *StateSaver) Save(ctx context.Context, c detector.Changes) error {
	return s.SaveWith(ctx, c, nil)
}

// SaveWith is Save, with also (if not nil) run in the same transaction:
// what the caller must store at the same instant as the state (the
// daemon's emissions not yet recorded) commits with it or not at all.
func (s *StateSaver) SaveWith(ctx context.Context, c detector.Changes, also func(*sql.Tx) error) error {
	var err error
	if c.Full {
		err = s.saveFull(ctx, c, also)
	} else {
		err = s.saveIncremental(ctx, c, also)
	}
	if err != nil {
		s.det.Requeue(c)
		return err
	}
	return nil
}

func rowHash(parts ...string) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func anomHash(r *detector.AnomalyRow) [32]byte {
	return rowHash(r.ID, r.Component, r.Class, strconv.FormatInt(r.LastHealthy, 10),
		strconv.FormatInt(r.FirstSeen, 10), strconv.FormatInt(r.Detected, 10), string(r.State))
}

func (s *StateSaver) saveFull(ctx context.Context, c detector.Changes, also func(*sql.Tx) error) error {
	rows, err := c.TargetRows()
	if err != nil {
		return err
	}
	snap := detector.Snapshot{SavedAt: c.SavedAt, Version: detector.StateVersion, Targets: rows,
		Anomalies: c.Anomalies, Components: c.Components, Meta: c.Meta}
	if err := s.store.save(ctx, snap, also); err != nil {
		return err
	}
	s.anoms, s.comps, s.meta = map[string][32]byte{}, map[string][32]byte{}, map[string][32]byte{}
	for i := range c.Anomalies {
		s.anoms[c.Anomalies[i].ID] = anomHash(&c.Anomalies[i])
	}
	for _, r := range c.Components {
		s.comps[r.Component] = rowHash(string(r.State))
	}
	for k, v := range c.Meta {
		s.meta[k] = rowHash(v)
	}
	s.synced = true
	return nil
}

func (s *StateSaver) saveIncremental(ctx context.Context, c detector.Changes, also func(*sql.Tx) error) error {
	rows, err := c.TargetRows()
	if err != nil {
		return err
	}
	// In key order, the upserts walk the table's B-tree once instead of
	// jumping between pages that the page cache may have dropped.
	slices.SortFunc(rows, func(a, b detector.TargetRow) int { return strings.Compare(a.ID, b.ID) })
	// What to write, against what was last written.
	anoms := make(map[string][32]byte, len(c.Anomalies))
	var anomUp []int
	for i := range c.Anomalies {
		h := anomHash(&c.Anomalies[i])
		anoms[c.Anomalies[i].ID] = h
		if s.anoms[c.Anomalies[i].ID] != h {
			anomUp = append(anomUp, i)
		}
	}
	var anomDel []string
	for id := range s.anoms {
		if _, ok := anoms[id]; !ok {
			anomDel = append(anomDel, id)
		}
	}
	comps := make(map[string][32]byte, len(c.Components))
	var compUp []int
	for i, r := range c.Components {
		h := rowHash(string(r.State))
		comps[r.Component] = h
		if s.comps[r.Component] != h {
			compUp = append(compUp, i)
		}
	}
	var compDel []string
	for k := range s.comps {
		if _, ok := comps[k]; !ok {
			compDel = append(compDel, k)
		}
	}
	meta := make(map[string][32]byte, len(c.Meta))
	var metaUp, metaDel []string
	for k, v := range c.Meta {
		h := rowHash(v)
		meta[k] = h
		// Orphan alerts are also written by SaveAlerts: always rewritten.
		if s.meta[k] != h || k == detector.MetaOrphanAlerts {
			metaUp = append(metaUp, k)
		}
	}
	for k := range s.meta {
		if _, ok := meta[k]; !ok {
			metaDel = append(metaDel, k)
		}
	}

	err = s.store.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM detector_alerts WHERE ends_at_ms < $1`,
			c.SavedAt.UnixMilli()-detector.ResolvedAlertKeep.Milliseconds()); err != nil {
			return fmt.Errorf("prune alerts: %w", err)
		}
		if len(rows) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO detector_targets
				(target_id, failing, since_ms, last_healthy_ms, last_at_ms, state) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (target_id) DO UPDATE SET failing = excluded.failing, since_ms = excluded.since_ms,
					last_healthy_ms = excluded.last_healthy_ms, last_at_ms = excluded.last_at_ms, state = excluded.state`)
			if err != nil {
				return fmt.Errorf("prepare targets: %w", err)
			}
			defer st.Close()
			for _, r := range rows {
				if _, err := st.ExecContext(ctx, r.ID, r.Failing, nullMs(r.Since), nullMs(r.LastHealthy), nullMs(r.LastAt), string(r.State)); err != nil {
					return fmt.Errorf("upsert target %s: %w", r.ID, err)
				}
			}
		}
		for _, id := range c.Gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_targets WHERE target_id = $1`, id); err != nil {
				return fmt.Errorf("delete target %s: %w", id, err)
			}
		}
		// Resolved anomalies go first: a component's next anomaly may
		// open in the same save.
		for _, id := range anomDel {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_anomalies WHERE id = $1`, id); err != nil {
				return fmt.Errorf("delete anomaly %s: %w", id, err)
			}
		}
		for _, i := range anomUp {
			r := c.Anomalies[i]
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_anomalies WHERE component = $1 AND id <> $2`, r.Component, r.ID); err != nil {
				return fmt.Errorf("replace anomaly %s: %w", r.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_anomalies
				(id, component, class, last_healthy_ms, first_seen_ms, detected_at_ms, state) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (id) DO UPDATE SET component = excluded.component, class = excluded.class,
					last_healthy_ms = excluded.last_healthy_ms, first_seen_ms = excluded.first_seen_ms,
					detected_at_ms = excluded.detected_at_ms, state = excluded.state`,
				r.ID, r.Component, r.Class, nullMs(r.LastHealthy), r.FirstSeen, r.Detected, string(r.State)); err != nil {
				return fmt.Errorf("upsert anomaly %s: %w", r.ID, err)
			}
		}
		for _, k := range compDel {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_components WHERE component = $1`, k); err != nil {
				return fmt.Errorf("delete component %s: %w", k, err)
			}
		}
		for _, i := range compUp {
			r := c.Components[i]
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_components (component, state) VALUES ($1, $2)
				ON CONFLICT (component) DO UPDATE SET state = excluded.state`, r.Component, string(r.State)); err != nil {
				return fmt.Errorf("upsert component %s: %w", r.Component, err)
			}
		}
		for _, k := range metaDel {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_meta WHERE key = $1`, k); err != nil {
				return fmt.Errorf("delete meta %s: %w", k, err)
			}
		}
		for _, k := range metaUp {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_meta (key, value) VALUES ($1, $2)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, c.Meta[k]); err != nil {
				return fmt.Errorf("upsert meta %s: %w", k, err)
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("detectorstore: save state changes: %w", err)
	}
	s.anoms, s.comps, s.meta = anoms, comps, meta
	return nil
}
