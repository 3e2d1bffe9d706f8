package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Incremental persistence. The detector remembers which targets changed
// (or went) since the last TakeChanges; a save copies only those under the
// lock and encodes them outside it (Changes.TargetRows), and the store
// (internal/detectorstore) writes only the rows that differ from what it
// last wrote, in one transaction. Anomalies, components and meta are few:
// they are encoded under the lock and compared there with the last
// written bytes. The rows are those of a full Snapshot, so Restore is
// unchanged and a database written by either path restores the same.

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

	Full       bool     // every target, and the rows replace the stored ones
	Gone       []string // targets dropped
	Anomalies  []AnomalyRow
	Components []ComponentRow
	Meta       map[string]string

	targets []targetState // copies, encoded by TargetRows
}

// Len is how many target rows the changes write or delete.
func (c *Changes) Len() int { return len(c.targets) + len(c.Gone) }

// TargetRows encodes the changed targets (outside the detector's lock).
func (c *Changes) TargetRows() ([]TargetRow, error) {
	rows := make([]TargetRow, 0, len(c.targets))
	for i := range c.targets {
		t := &c.targets[i]
		b, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("detector: encode target %s: %w", t.Target.ID, err)
		}
		rows = append(rows, TargetRow{ID: t.Target.ID, Failing: t.Failing, Since: t.Since,
			LastHealthy: t.LastHealthy, LastAt: t.LastAt, State: b})
	}
	return rows, nil
}

// TakeChanges returns what changed since the previous call (every target
// with full) and forgets it: pass the result to StateSaver.Save, which
// gives it back (Requeue) if the write fails.
func (d *Detector) TakeChanges(now time.Time, full bool) (Changes, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := Changes{SavedAt: unixms.Time(unixms.From(now.UTC())), Full: full, Meta: map[string]string{}}
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
			c.Gone = append(c.Gone, id)
		}
	}
	clear(d.dirty)
	clear(d.gone)
	for comp, st := range d.anoms {
		b, err := json.Marshal(st)
		if err != nil {
			return Changes{}, fmt.Errorf("detector: encode anomaly %s: %w", st.A.ID, err)
		}
		c.Anomalies = append(c.Anomalies, AnomalyRow{ID: st.A.ID, Component: comp, Class: string(st.A.Class),
			LastHealthy: unixms.From(st.A.LastHealthy), FirstSeen: unixms.From(st.A.FirstSeen), Detected: unixms.From(st.A.DetectedAt), State: b})
	}
	for comp, cs := range d.comps {
		b, err := json.Marshal(cs)
		if err != nil {
			return Changes{}, fmt.Errorf("detector: encode component %s: %w", comp, err)
		}
		c.Components = append(c.Components, ComponentRow{Component: comp, State: b})
	}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("detector: encode %s: %w", k, err)
		}
		c.Meta[k] = string(b)
		return nil
	}
	c.Meta[metaVersion] = strconv.Itoa(snapshotVersion)
	c.Meta[metaSavedAt] = strconv.FormatInt(unixms.From(c.SavedAt), 10)
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
	for _, id := range c.Gone {
		if d.targets[id] == nil {
			d.markGone(id)
		}
	}
}
