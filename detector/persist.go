package detector

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Incremental persistence. The detector remembers which targets changed
// (or went) since the last TakeChanges; a save copies only those under the
// lock and encodes them outside it, and StateSaver writes only the rows
// that differ from what it last wrote, in one transaction. Anomalies,
// components and meta are few: they are encoded under the lock and
// compared with the last written bytes. The stored rows are those of a
// full Snapshot, so Load and Restore are unchanged and a database written
// by either path restores the same.

// markDirty notes that a target's persisted state changed.
func (d *Detector) markDirty(id string) {
	d.dirty[id] = struct{}{}
	delete(d.gone, id)
	d.ix.pending[id] = struct{}{}
}

// markGone notes that a target's state was dropped.
func (d *Detector) markGone(id string) {
	delete(d.dirty, id)
	d.gone[id] = struct{}{}
}

// sameTarget reports whether a directory refresh left a descriptor as it was.
func sameTarget(a, b any) bool { return reflect.DeepEqual(a, b) }

// Changes is what changed in the detector since the previous TakeChanges:
// copies of the changed targets (encoded later, outside the lock), the
// targets dropped, and the encoded anomalies, components and meta.
type Changes struct {
	SavedAt time.Time

	full       bool // every target, and the rows replace the stored ones
	targets    []targetState
	gone       []string
	anomalies  []anomalyRow
	components []compRow
	meta       map[string]string
}

// Len is how many target rows the changes write or delete.
func (c *Changes) Len() int { return len(c.targets) + len(c.gone) }

// TakeChanges returns what changed since the previous call (every target
// with full) and forgets it: pass the result to StateSaver.Save, which
// gives it back (Requeue) if the write fails.
func (d *Detector) TakeChanges(now time.Time, full bool) (Changes, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := Changes{SavedAt: fromMs(toMs(now.UTC())), full: full, meta: map[string]string{}}
	if full {
		c.targets = make([]targetState, 0, len(d.targets))
		for _, ts := range d.targets {
			c.targets = append(c.targets, ts.persistCopy())
		}
	} else {
		c.targets = make([]targetState, 0, len(d.dirty))
		for id := range d.dirty {
			if ts := d.targets[id]; ts != nil {
				c.targets = append(c.targets, ts.persistCopy())
			}
		}
		for id := range d.gone {
			c.gone = append(c.gone, id)
		}
	}
	clear(d.dirty)
	clear(d.gone)
	for comp, st := range d.anoms {
		b, err := json.Marshal(st)
		if err != nil {
			return Changes{}, fmt.Errorf("detector: encode anomaly %s: %w", st.A.ID, err)
		}
		c.anomalies = append(c.anomalies, anomalyRow{ID: st.A.ID, Component: comp, Class: string(st.A.Class),
			LastHealthy: toMs(st.A.LastHealthy), FirstSeen: toMs(st.A.FirstSeen), Detected: toMs(st.A.DetectedAt), State: b})
	}
	for comp, cs := range d.comps {
		b, err := json.Marshal(cs)
		if err != nil {
			return Changes{}, fmt.Errorf("detector: encode component %s: %w", comp, err)
		}
		c.components = append(c.components, compRow{Component: comp, State: b})
	}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("detector: encode %s: %w", k, err)
		}
		c.meta[k] = string(b)
		return nil
	}
	c.meta[metaVersion] = strconv.Itoa(snapshotVersion)
	c.meta[metaSavedAt] = strconv.FormatInt(toMs(c.SavedAt), 10)
	if err := errors.Join(put(metaVantage, d.vantage), put(metaLastIDs, d.lastIDs), put(metaDirectory, d.directory),
		put(metaOrphans, d.orphans)); err != nil {
		return Changes{}, err
	}
	if len(d.peers) > 0 {
		if err := put(metaPeers, d.peers); err != nil {
			return Changes{}, err
		}
	}
	return c, nil
}

// persistCopy copies what the persisted form holds, so that it can be
// encoded without the lock. Target descriptors are replaced, never
// modified in place, so the pointer is shared.
func (ts *targetState) persistCopy() targetState {
	c := *ts
	c.Trans = append([]transition(nil), ts.Trans...)
	c.Missed = append([]episode(nil), ts.Missed...)
	if ts.Q != nil {
		q := *ts.Q
		q.Witnesses = append([]witness(nil), ts.Q.Witnesses...)
		c.Q = &q
	}
	return c
}

// Requeue gives back the target changes of a save that failed, so the
// next TakeChanges carries them again (unless changed since).
func (d *Detector) Requeue(c Changes) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range c.targets {
		id := c.targets[i].Target.ID
		if _, gone := d.gone[id]; !gone && d.targets[id] != nil {
			d.dirty[id] = struct{}{}
		}
	}
	for _, id := range c.gone {
		if d.targets[id] == nil {
			d.markGone(id)
		}
	}
}

// StateSaver writes the detector's changes to a StateStore. Its first save
// replaces the stored state (whatever an earlier run left); later ones
// write only what differs. Not safe for concurrent use: the caller
// serialises saves.
type StateSaver struct {
	det    *Detector
	store  *StateStore
	synced bool
	// What was last written, by key: a hash of the row, so that an
	// unchanged anomaly, component or meta value is not written again.
	anoms map[string][32]byte
	comps map[string][32]byte
	meta  map[string][32]byte
}

// NewStateSaver returns a saver of det's state into st.
func NewStateSaver(det *Detector, st *StateStore) *StateSaver {
	return &StateSaver{det: det, store: st}
}

// Take takes the detector's changes (everything until a save succeeded).
func (s *StateSaver) Take(now time.Time) (Changes, error) {
	return s.det.TakeChanges(now, !s.synced)
}

// Save writes c in one transaction; on failure the changes go back to the
// detector and the next save retries them.
func (s *StateSaver) Save(ctx context.Context, c Changes) error {
	var err error
	if c.full {
		err = s.saveFull(ctx, c)
	} else {
		err = s.saveIncremental(ctx, c)
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

func anomHash(r *anomalyRow) [32]byte {
	return rowHash(r.ID, r.Component, r.Class, strconv.FormatInt(r.LastHealthy, 10),
		strconv.FormatInt(r.FirstSeen, 10), strconv.FormatInt(r.Detected, 10), string(r.State))
}

// encodeTargets encodes the copied targets (outside the detector's lock).
func encodeTargets(ts []targetState) ([]targetRow, error) {
	rows := make([]targetRow, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		b, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("detector: encode target %s: %w", t.Target.ID, err)
		}
		rows = append(rows, targetRow{ID: t.Target.ID, Failing: t.Failing, Since: t.Since,
			LastHealthy: t.LastHealthy, LastAt: t.LastAt, State: b})
	}
	return rows, nil
}

func (s *StateSaver) saveFull(ctx context.Context, c Changes) error {
	rows, err := encodeTargets(c.targets)
	if err != nil {
		return err
	}
	snap := Snapshot{SavedAt: c.SavedAt, version: snapshotVersion, targets: rows,
		anomalies: c.anomalies, components: c.components, meta: c.meta}
	if err := s.store.Save(ctx, snap); err != nil {
		return err
	}
	s.anoms, s.comps, s.meta = map[string][32]byte{}, map[string][32]byte{}, map[string][32]byte{}
	for i := range c.anomalies {
		s.anoms[c.anomalies[i].ID] = anomHash(&c.anomalies[i])
	}
	for _, r := range c.components {
		s.comps[r.Component] = rowHash(string(r.State))
	}
	for k, v := range c.meta {
		s.meta[k] = rowHash(v)
	}
	s.synced = true
	return nil
}

func (s *StateSaver) saveIncremental(ctx context.Context, c Changes) error {
	rows, err := encodeTargets(c.targets)
	if err != nil {
		return err
	}
	// What to write, against what was last written.
	anoms := make(map[string][32]byte, len(c.anomalies))
	var anomUp []int
	for i := range c.anomalies {
		h := anomHash(&c.anomalies[i])
		anoms[c.anomalies[i].ID] = h
		if s.anoms[c.anomalies[i].ID] != h {
			anomUp = append(anomUp, i)
		}
	}
	var anomDel []string
	for id := range s.anoms {
		if _, ok := anoms[id]; !ok {
			anomDel = append(anomDel, id)
		}
	}
	comps := make(map[string][32]byte, len(c.components))
	var compUp []int
	for i, r := range c.components {
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
	meta := make(map[string][32]byte, len(c.meta))
	var metaUp, metaDel []string
	for k, v := range c.meta {
		h := rowHash(v)
		meta[k] = h
		// Orphan alerts are also written by SaveAlerts: always rewritten.
		if s.meta[k] != h || k == metaOrphans {
			metaUp = append(metaUp, k)
		}
	}
	for k := range s.meta {
		if _, ok := meta[k]; !ok {
			metaDel = append(metaDel, k)
		}
	}

	err = s.store.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM detector_alerts WHERE ends_at_ms < ?`,
			toMs(c.SavedAt)-recentKeep.Milliseconds()); err != nil {
			return fmt.Errorf("prune alerts: %w", err)
		}
		if len(rows) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO detector_targets
				(target_id, failing, since_ms, last_healthy_ms, last_at_ms, state) VALUES (?, ?, ?, ?, ?, ?)
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
		for _, id := range c.gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_targets WHERE target_id = ?`, id); err != nil {
				return fmt.Errorf("delete target %s: %w", id, err)
			}
		}
		// Resolved anomalies go first: a component's next anomaly may
		// open in the same save.
		for _, id := range anomDel {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_anomalies WHERE id = ?`, id); err != nil {
				return fmt.Errorf("delete anomaly %s: %w", id, err)
			}
		}
		for _, i := range anomUp {
			r := c.anomalies[i]
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_anomalies WHERE component = ? AND id <> ?`, r.Component, r.ID); err != nil {
				return fmt.Errorf("replace anomaly %s: %w", r.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_anomalies
				(id, component, class, last_healthy_ms, first_seen_ms, detected_at_ms, state) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET component = excluded.component, class = excluded.class,
					last_healthy_ms = excluded.last_healthy_ms, first_seen_ms = excluded.first_seen_ms,
					detected_at_ms = excluded.detected_at_ms, state = excluded.state`,
				r.ID, r.Component, r.Class, nullMs(r.LastHealthy), r.FirstSeen, r.Detected, string(r.State)); err != nil {
				return fmt.Errorf("upsert anomaly %s: %w", r.ID, err)
			}
		}
		for _, k := range compDel {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_components WHERE component = ?`, k); err != nil {
				return fmt.Errorf("delete component %s: %w", k, err)
			}
		}
		for _, i := range compUp {
			r := c.components[i]
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_components (component, state) VALUES (?, ?)
				ON CONFLICT (component) DO UPDATE SET state = excluded.state`, r.Component, string(r.State)); err != nil {
				return fmt.Errorf("upsert component %s: %w", r.Component, err)
			}
		}
		for _, k := range metaDel {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detector_meta WHERE key = ?`, k); err != nil {
				return fmt.Errorf("delete meta %s: %w", k, err)
			}
		}
		for _, k := range metaUp {
			if _, err := tx.ExecContext(ctx, `INSERT INTO detector_meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, c.meta[k]); err != nil {
				return fmt.Errorf("upsert meta %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("detector: save state changes: %w", err)
	}
	s.anoms, s.comps, s.meta = anoms, comps, meta
	return nil
}
