package detector

import (
	"fmt"
	"strings"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Honest first_seen. A group anomaly opens with its first failing target
// and is promoted in place when the group crosses a threshold. A target
// that had been failing for longer than Options.PromotionLookback when the
// anomaly became disclosable ("crossed") is background: one gateway down
// for two days says nothing about when users began to suffer from the
// outage of eight more today. It stays in the evidence, marked, with its
// own since, but first_seen (and so the anomaly's ID and the incident's
// date) is the earliest failure among the contributors that began within
// the lookback. If every contributor is background, they are the outage:
// first_seen stays theirs.

// background reports whether c had been failing for longer than the
// lookback when its anomaly crossed (crossed 0: not yet, nothing is).
func (d *Detector) background(c *contributor, crossed int64) bool {
	return crossed != 0 && c.Since != 0 && crossed-c.Since > d.o.PromotionLookback.Milliseconds()
}

// front is earliest over the contributors that are not background, or over
// all of them if every one is.
func (d *Detector) front(cs []contributor, crossed int64) (first, lastHealthy int64) {
	for i := range cs {
		c := &cs[i]
		if c.Since != 0 && !d.background(c, crossed) && (first == 0 || c.Since < first) {
			first, lastHealthy = c.Since, c.LastHealthy
		}
	}
	if first == 0 {
		return earliest(cs)
	}
	return first, lastHealthy
}

// crossing is the moment st's anomaly became disclosable, or now if f is
// about to make it so, or 0.
func crossing(st *anomState, f *finding, now int64) int64 {
	switch {
	case st != nil && st.Crossed != 0:
		return st.Crossed
	case st != nil && st.A.Class.Disclosable():
		return unixms.From(st.A.DetectedAt) // saved before Crossed existed
	case f.Class.Disclosable():
		return now
	}
	return 0
}

// rebase retires st's anomaly when f is about to promote it and its
// first_seen is older than the lookback while some current contributor
// began within it: the new, disclosable anomaly opens with an honest
// first_seen (reconcile does that once st is gone). The retired record is
// resolved now, saying why, and emitted by this Evaluate. It reports
// whether it retired st.
func (d *Detector) rebase(st *anomState, f *finding, now int64) bool {
	if st.Crossed != 0 || st.A.Class.Disclosable() || !f.Class.Disclosable() {
		return false
	}
	lb := d.o.PromotionLookback.Milliseconds()
	if now-unixms.From(st.A.FirstSeen) <= lb {
		return false // promoted within the lookback: first_seen stands
	}
	first, _ := d.front(f.Contribs, now)
	if first == 0 || now-first > lb {
		return false // every contributor is background: they are the outage
	}
	a := &st.A
	next := anomalyID(f.Component, first)
	a.ResolvedAt = unixms.Time(now)
	a.Reason = joinFrags([]string{a.Reason, fmt.Sprintf(
		"closed without a recovery: the component crossed its user-impact threshold at %s and the outage is recorded as %s, first seen %s; "+
			"failures that began more than %s (promotion_lookback) before that are listed there as background",
		clock(now), next, clock(first), d.o.PromotionLookback)})
	st.dirty = false
	d.o.Metrics.transition(a.Class, "resolved")
	d.retired = append(d.retired, copyAnomaly(a))
	d.lastIDs[f.Component] = a.ID
	delete(d.anoms, f.Component)
	return true
}

// markBackground marks a background contributor's evidence.
func markBackground(ev Evidence) Evidence {
	ev.Background = true
	ev.Detail = strings.TrimSuffix("background, failing before this outage began; "+ev.Detail, "; ")
	return ev
}

// backgroundNote is the reason fragment for n background contributors.
func (d *Detector) backgroundNote(n int, crossed int64) string {
	return fmt.Sprintf("%d target(s) failing since before %s are background (failing for longer than promotion_lookback %s before the threshold was crossed): listed in the evidence, not counted in first_seen",
		n, clock(crossed-d.o.PromotionLookback.Milliseconds()), d.o.PromotionLookback)
}
