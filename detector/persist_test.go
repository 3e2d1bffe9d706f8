package detector

import (
	"bytes"
	"fmt"
	"sort"
)

// The restore-equivalence and incremental-save tests moved with the SQL
// store to internal/detectorstore.

// snapDiff compares two snapshots row by row (sorted), "" if equal.
func snapDiff(a, b Snapshot) string {
	if a.Version != b.Version || !a.SavedAt.Equal(b.SavedAt) {
		return fmt.Sprintf("version/saved_at %d %v != %d %v", a.Version, a.SavedAt, b.Version, b.SavedAt)
	}
	sortSnap(&a)
	sortSnap(&b)
	if len(a.Targets) != len(b.Targets) {
		return fmt.Sprintf("%d targets != %d", len(a.Targets), len(b.Targets))
	}
	for i := range a.Targets {
		x, y := a.Targets[i], b.Targets[i]
		if x.ID != y.ID || x.Failing != y.Failing || x.Since != y.Since || x.LastHealthy != y.LastHealthy ||
			x.LastAt != y.LastAt || !bytes.Equal(x.State, y.State) {
			return fmt.Sprintf("target %s:\n%s\n!=\n%s", x.ID, x.State, y.State)
		}
	}
	if len(a.Anomalies) != len(b.Anomalies) {
		return fmt.Sprintf("%d anomalies != %d", len(a.Anomalies), len(b.Anomalies))
	}
	for i := range a.Anomalies {
		x, y := a.Anomalies[i], b.Anomalies[i]
		if x.ID != y.ID || x.Component != y.Component || x.Class != y.Class || x.LastHealthy != y.LastHealthy ||
			x.FirstSeen != y.FirstSeen || x.Detected != y.Detected || !bytes.Equal(x.State, y.State) {
			return fmt.Sprintf("anomaly %s:\n%s\n!=\n%s", x.ID, x.State, y.State)
		}
	}
	if len(a.Components) != len(b.Components) {
		return fmt.Sprintf("%d components != %d", len(a.Components), len(b.Components))
	}
	for i := range a.Components {
		if a.Components[i].Component != b.Components[i].Component || !bytes.Equal(a.Components[i].State, b.Components[i].State) {
			return fmt.Sprintf("component %s:\n%s\n!=\n%s", a.Components[i].Component, a.Components[i].State, b.Components[i].State)
		}
	}
	if fmt.Sprint(a.Meta) != fmt.Sprint(b.Meta) {
		return fmt.Sprintf("meta %v != %v", a.Meta, b.Meta)
	}
	return ""
}

func sortSnap(s *Snapshot) {
	s.Targets = append([]TargetRow(nil), s.Targets...)
	s.Anomalies = append([]AnomalyRow(nil), s.Anomalies...)
	s.Components = append([]ComponentRow(nil), s.Components...)
	sort.Slice(s.Targets, func(i, j int) bool { return s.Targets[i].ID < s.Targets[j].ID })
	sort.Slice(s.Anomalies, func(i, j int) bool { return s.Anomalies[i].ID < s.Anomalies[j].ID })
	sort.Slice(s.Components, func(i, j int) bool { return s.Components[i].Component < s.Components[j].Component })
}
