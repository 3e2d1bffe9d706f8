package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// StateVersion is the version of the persisted form; Restore refuses
// another one rather than misreading it.
const StateVersion = 1

const snapshotVersion = StateVersion

// Snapshot is the detector's whole state at one moment (targets' streaks,
// open anomalies, baselines, held alerts, vantage point), already encoded
// as the rows a store keeps (internal/detectorstore): it is immutable and
// safe to hand to another goroutine for saving. The State of each row is
// the detector's own encoding; a store keeps it as it is.
type Snapshot struct {
	SavedAt time.Time

	Version    int
	Targets    []TargetRow
	Anomalies  []AnomalyRow
	Components []ComponentRow
	Alerts     []AlertRow
	Meta       map[string]string
}

// Empty reports whether the snapshot holds no state (nothing saved yet).
func (s *Snapshot) Empty() bool {
	return len(s.Targets) == 0 && len(s.Anomalies) == 0 && len(s.Components) == 0 &&
		len(s.Alerts) == 0 && len(s.Meta) == 0
}

// TargetRow is one target's persisted state; the columns besides State
// are for a human reading the database.
type TargetRow struct {
	ID                         string
	Failing                    bool
	Since, LastHealthy, LastAt int64 // unix ms, 0 = none
	State                      []byte
}

// AnomalyRow is one open anomaly. Its timestamp columns are
// authoritative over State (Restore takes them).
type AnomalyRow struct {
	ID, Component, Class             string
	LastHealthy, FirstSeen, Detected int64 // unix ms, 0 = none
	State                            []byte
}

// ComponentRow is one component's baseline and degradation state.
type ComponentRow struct {
	Component string
	State     []byte
}

// AlertRow is one Alertmanager alert: firing (EndsAt 0, State its
// encoding), or resolved and remembered for idempotency (EndsAt set, no
// State).
type AlertRow struct {
	Fingerprint, Component string
	StartsAt, EndsAt       int64 // EndsAt != 0: a resolved alert remembered for idempotency
	State                  []byte
}

// Meta keys a store needs to know: the version and save time of the
// stored state, and the orphan alert list (also written with alerts).
const (
	MetaVersion      = metaVersion
	MetaSavedAt      = metaSavedAt
	MetaOrphanAlerts = metaOrphans
)

// ResolvedAlertKeep is how long a store keeps resolved alert rows.
const ResolvedAlertKeep = recentKeep

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
	s := Snapshot{SavedAt: unixms.Time(unixms.From(now.UTC())), Version: snapshotVersion, Meta: map[string]string{}}
	for id, ts := range d.targets {
		b, err := json.Marshal(ts)
		if err != nil {
			return Snapshot{}, fmt.Errorf("detector: encode target %s: %w", id, err)
		}
		s.Targets = append(s.Targets, TargetRow{ID: id, Failing: ts.Failing, Since: ts.Since,
			LastHealthy: ts.LastHealthy, LastAt: ts.LastAt, State: b})
	}
	for comp, st := range d.anoms {
		b, err := json.Marshal(st)
		if err != nil {
			return Snapshot{}, fmt.Errorf("detector: encode anomaly %s: %w", st.A.ID, err)
		}
		s.Anomalies = append(s.Anomalies, AnomalyRow{ID: st.A.ID, Component: comp, Class: string(st.A.Class),
			LastHealthy: unixms.From(st.A.LastHealthy), FirstSeen: unixms.From(st.A.FirstSeen), Detected: unixms.From(st.A.DetectedAt), State: b})
	}
	for comp, c := range d.comps {
		b, err := json.Marshal(c)
		if err != nil {
			return Snapshot{}, fmt.Errorf("detector: encode component %s: %w", comp, err)
		}
		s.Components = append(s.Components, ComponentRow{Component: comp, State: b})
	}
	// Alerts are not in the snapshot: each POST saves its own rows
	// (SaveAlerts), so a snapshot costs the same with 0 or 5,000 held.
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("detector: encode %s: %w", k, err)
		}
		s.Meta[k] = string(b)
		return nil
	}
	s.Meta[metaVersion] = strconv.Itoa(snapshotVersion)
	s.Meta[metaSavedAt] = strconv.FormatInt(unixms.From(s.SavedAt), 10)
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
	if s.Version != snapshotVersion {
		return fmt.Errorf("detector: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	n := &Detector{}
	n.reset()
	for _, r := range s.Targets {
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
	for _, r := range s.Anomalies {
		st := &anomState{}
		if err := json.Unmarshal(r.State, st); err != nil {
			return fmt.Errorf("detector: decode anomaly %s: %w", r.ID, err)
		}
		// The INTEGER columns are authoritative for the timestamps.
		st.A.ID, st.A.Component, st.A.Class = r.ID, r.Component, Class(r.Class)
		st.A.LastHealthy, st.A.FirstSeen, st.A.DetectedAt = unixms.Time(r.LastHealthy), unixms.Time(r.FirstSeen), unixms.Time(r.Detected)
		st.A.ResolvedAt = time.Time{}
		if st.Contribs == nil {
			st.Contribs = map[string]contribInfo{}
		}
		st.dirty = true
		n.anoms[r.Component] = st
	}
	for _, r := range s.Components {
		c := &compState{}
		if err := json.Unmarshal(r.State, c); err != nil {
			return fmt.Errorf("detector: decode component %s: %w", r.Component, err)
		}
		n.comps[r.Component] = c
	}
	for _, r := range s.Alerts {
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
		raw, ok := s.Meta[k]
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
