package detector

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Why a contributor left an anomaly.
const (
	leftRecovered = "recovered"
	leftForgotten = "forgotten"
	leftMoved     = "moved"
	leftVantage   = "vantage"
	leftAlert     = "alert_moved"
	// Cluster (quorum.go).
	leftQuorum     = "quorum"
	leftUnreported = "unreported"
	leftRemoved    = "removed"
)

// reconcile applies one component's finding to its anomaly: open, update,
// promote, resolve. It returns the anomaly state touched (nil if none).
func (d *Detector) reconcile(f *finding, now int64) *anomState {
	// Active contributors (Recovered == 0) and short episodes already
	// over, by index into f.Contribs: copying the contributors was most
	// of an Evaluate's garbage with a thousand targets failing.
	var active, missed []int
	for i := range f.Contribs {
		if f.Contribs[i].Recovered != 0 {
			missed = append(missed, i)
		} else {
			active = append(active, i)
		}
	}
	st := d.anoms[f.Component]
	if st != nil && d.rebase(st, f, now) {
		st = nil // retired: the outage opens afresh with an honest first_seen
	}
	crossed := crossing(st, f, now)
	isNew := false
	if st == nil {
		if len(active) == 0 && len(missed) == 0 {
			return nil
		}
		if f.NeedDisclosable && !f.Class.Disclosable() {
			return nil
		}
		first, lh := d.front(f.Contribs, crossed)
		id := anomalyID(f.Component, first)
		if d.lastIDs[f.Component] == id {
			id += "-" + strings.TrimPrefix(anomalyID("", now), "@")
		}
		st = &anomState{
			A: Anomaly{ID: id, Component: f.Component, Class: f.Class, Architecture: f.Arch, Source: f.Source,
				Title: f.Title, LastHealthy: unixms.Time(lh), FirstSeen: unixms.Time(first), DetectedAt: unixms.Time(now)},
			Kind:     f.Kind,
			Contribs: map[string]contribInfo{},
			dirty:    true,
			Crossed:  crossed,
		}
		d.anoms[f.Component] = st
		isNew = true
		d.o.Metrics.transition(st.A.Class, "opened")
		if st.A.Class.Disclosable() {
			d.o.Metrics.delay(&st.A)
		}
	}
	a := &st.A

	// first_seen is the first failing observation of the earliest
	// contributor that is not background; a late-crossing contributor may
	// move it earlier (the ID stays).
	if first, lh := d.front(f.Contribs, crossed); first != 0 && first < unixms.From(a.FirstSeen) {
		a.FirstSeen, a.LastHealthy = unixms.Time(first), unixms.Time(lh)
		st.dirty = true
	}

	activeIDs := make(map[string]bool, len(active))
	for _, i := range active {
		activeIDs[f.Contribs[i].ID] = true
	}
	var batchRecovered int64
	left := map[string]int{}
	for _, id := range slices.Sorted(maps.Keys(st.Contribs)) {
		if activeIDs[id] {
			continue
		}
		t, why := d.leave(f.Component, id, st.Contribs[id], now)
		if why == leftRecovered {
			batchRecovered = max(batchRecovered, t)
		} else {
			left[why]++
		}
		delete(st.Contribs, id)
	}
	for _, i := range missed {
		batchRecovered = max(batchRecovered, f.Contribs[i].Recovered)
	}
	st.LastRecovery = max(st.LastRecovery, batchRecovered)
	for _, i := range active {
		c := &f.Contribs[i]
		st.Contribs[c.ID] = contribInfo{Since: c.Since}
	}
	nbg := 0
	for i, c := range f.Contribs {
		ev := c.Ev
		if d.background(&f.Contribs[i], crossed) {
			ev = markBackground(ev)
			if c.Recovered == 0 {
				nbg++
			}
		}
		if addEvidence(a, ev) {
			st.dirty = true
		}
		if addAffected(a, c.Ev.TargetID) {
			st.dirty = true
		}
	}

	if f.Count > st.Peak {
		st.Peak, st.PeakOf, st.PeakAt = f.Count, f.Of, now
	}
	if len(active) > 0 || isNew {
		why := f.Why
		if st.Peak > f.Count && f.TitleOf != "" {
			// Shrinking: say how large it was at its worst.
			f.Title = fmt.Sprintf("%s: %d of %d unreachable (at worst %d of %d)", f.TitleOf, f.Count, f.Of, st.Peak, st.PeakOf)
			f.Frags = append(slices.Clone(f.Frags), fmt.Sprintf("at worst %d of %d (%s) at %s",
				st.Peak, st.PeakOf, pct(float64(st.Peak)/float64(max(st.PeakOf, 1))), unixms.Time(st.PeakAt).Format("2006-01-02T15:04:05Z")))
		}
		if rank(a.Class) > rank(f.Class) {
			why = []string{fmt.Sprintf("still %s (decided %s): an anomaly keeps its highest class until it is resolved",
				a.Class, a.DetectedAt.Format("2006-01-02T15:04:05Z"))}
		}
		parts := d.markUnverified(st, f, slices.Clone(f.Frags), maxClass(a.Class, f.Class).Disclosable())
		if nbg > 0 {
			parts = append(parts, d.backgroundNote(nbg, crossed))
		}
		parts = append(parts, why...)
		text := renderReason(parts, now-unixms.From(a.FirstSeen))
		if rank(f.Class) > rank(a.Class) {
			a.Promotions = append(a.Promotions, Promotion{At: unixms.Time(now), From: a.Class, To: f.Class, Reason: text})
			d.o.Metrics.transition(f.Class, "promoted")
			a.Class = f.Class
			a.DetectedAt = unixms.Time(now)
			if st.Crossed == 0 && a.Class.Disclosable() {
				st.Crossed = now
			}
			if a.Class.Disclosable() {
				d.o.Metrics.delay(a)
			}
			st.dirty = true
		}
		sig := string(a.Class) + "\x00" + f.Title + "\x00" + strings.Join(parts, "\x00")
		if sig != st.Sig {
			st.Sig = sig
			a.Reason = text
			a.Title = f.Title
			st.dirty = true
		}
		if f.Labels != nil && !maps.Equal(f.Labels, a.Labels) {
			a.Labels = cloneMap(f.Labels)
			st.dirty = true
		}
	}

	if len(active) == 0 {
		res := st.LastRecovery
		vanished := batchRecovered == 0 && len(left) > 0
		if vanished || res == 0 {
			res = now
		}
		res = max(res, unixms.From(a.FirstSeen))
		a.ResolvedAt = unixms.Time(res)
		a.Reason = joinFrags([]string{a.Reason, maintResolutionNote(st, resolutionNote(a, left, vanished))})
		st.dirty = true
		d.o.Metrics.transition(a.Class, "resolved")
	}
	return st
}

func resolutionNote(a *Anomaly, left map[string]int, vanished bool) string {
	var notes []string
	if left[leftForgotten] > 0 {
		notes = append(notes, "targets no longer in the directory (not a failure: the monitor stopped watching them)")
	}
	if left[leftMoved] > 0 {
		notes = append(notes, "targets changed role or group in the directory")
	}
	if left[leftVantage] > 0 {
		notes = append(notes, "failures attributed to the monitor's own vantage point")
	}
	if left[leftAlert] > 0 {
		notes = append(notes, "alerts moved to another component")
	}
	if left[leftQuorum] > 0 {
		notes = append(notes, "failures confirmed by a quorum of vantage points: now counted as failures of the network")
	}
	if left[leftUnreported] > 0 {
		notes = append(notes, "the vantage point no longer reports on them")
	}
	if left[leftRemoved] > 0 {
		notes = append(notes, "vantage point removed from the cluster")
	}
	var s string
	if vanished {
		s = "resolved without a recovery: " + strings.Join(notes, ", ")
	} else {
		s = "resolved: recovered"
		if len(notes) > 0 {
			s += " (also: " + strings.Join(notes, ", ") + ")"
		}
	}
	if a.Class == ClassInternal && len(a.Promotions) == 0 && a.Component != compVantage && !strings.HasPrefix(a.Component, alertPrefix) &&
		!clusterComponent(a.Component) {
		s += "; resolved before user impact: it never crossed the user-impact threshold"
	}
	return s
}

func renderReason(frags []string, ageMs int64) string {
	return strings.ReplaceAll(joinFrags(frags), "{dur}", roundDur(msDur(max(ageMs, 0))))
}

// earliest returns the earliest contribution's first failing observation
// and the last good observation before it.
func earliest(cs []contributor) (first, lastHealthy int64) {
	for _, c := range cs {
		if c.Since != 0 && (first == 0 || c.Since < first) {
			first, lastHealthy = c.Since, c.LastHealthy
		}
	}
	return first, lastHealthy
}

// leave says when and why a contributor stopped contributing.
func (d *Detector) leave(component, id string, ci contribInfo, now int64) (int64, string) {
	if t, why, ok := d.leaveSecurity(id, ci); ok {
		return t, why
	}
	if clusterComponent(component) {
		return d.leaveCluster(component, id, ci, now)
	}
	switch {
	case strings.HasPrefix(id, alertPrefix):
		return d.alertLeave(component, id, ci)
	case strings.HasPrefix(id, degradeKey):
		if c := d.comps[component]; c != nil && !c.Degraded && c.DegResolvedAt >= ci.Since {
			return c.DegResolvedAt, leftRecovered
		}
		return now, leftRecovered
	case component == compVantage:
		if ts := d.targets[id]; ts != nil && ts.LastGood && ts.GoodRun > 0 {
			return ts.GoodRun, leftRecovered
		}
		return now, leftRecovered
	case strings.HasPrefix(id, slowKey):
		ts := d.targets[strings.TrimPrefix(id, slowKey)]
		switch {
		case ts == nil:
			return 0, leftForgotten
		case ts.Tainted:
			return 0, leftVantage
		case !ts.Slow && ts.SlowRecoveredAt >= ci.Since:
			return ts.SlowRecoveredAt, leftRecovered
		}
		return 0, leftMoved
	}
	ts := d.targets[id]
	switch {
	case ts == nil:
		return 0, leftForgotten
	case d.o.Cluster.enabled():
		q := ts.Q
		switch {
		case q != nil && !q.Failing && q.RecoveredAt >= ci.Since && q.RecoveredAt > 0:
			return q.RecoveredAt, leftRecovered
		case q != nil && !q.Failing && q.RecoveredAt == 0:
			return 0, leftRemoved
		}
		return 0, leftMoved
	case ts.Tainted:
		return 0, leftVantage
	case !ts.Failing && ts.RecoveredAt >= ci.Since && ts.RecoveredAt > 0:
		return ts.RecoveredAt, leftRecovered
	}
	return 0, leftMoved
}

// evKey: one evidence entry per target for its failures, and one each for
// its slowness and its component's degradation.
func evKey(ev *Evidence) string {
	switch ev.Reason {
	case "slow", "degradation":
		return ev.TargetID + "\x00" + ev.Reason
	}
	return ev.TargetID
}

// addEvidence keeps one evidence entry per target (its latest failure),
// sorted by target id; it reports whether anything changed.
func addEvidence(a *Anomaly, ev Evidence) bool {
	k := evKey(&ev)
	i := sort.Search(len(a.Evidence), func(i int) bool { return evKey(&a.Evidence[i]) >= k })
	if i < len(a.Evidence) && evKey(&a.Evidence[i]) == k {
		if a.Evidence[i] == ev {
			return false
		}
		a.Evidence[i] = ev
		return true
	}
	a.Evidence = slices.Insert(a.Evidence, i, ev)
	return true
}

// addAffected keeps every target that contributed during the anomaly's
// life, sorted.
func addAffected(a *Anomaly, id string) bool {
	i, found := slices.BinarySearch(a.Affected, id)
	if found {
		return false
	}
	a.Affected = slices.Insert(a.Affected, i, id)
	return true
}
