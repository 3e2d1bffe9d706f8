package detector

import (
	"fmt"
	"math"
)

// Without control targets nymwatch cannot tell its own cut-off from a
// near-total outage of what it watches. Taking every such failure for a
// cut-off (as it once did) made a real total outage silent; the policy
// cannot accept that, so it is paged as the rules decide, marked
// "unverified" for the human who confirms it.

// unverifiedNote is the mark's fixed wording, in titles and reasons.
const (
	unverifiedTitle = "Unverified: "
	unverifiedWhy   = "unverified: nymwatch cannot rule out its own cut-off; configure control_targets"
)

// nearTotal describes a near-total failure of the others (the n non-control
// targets with an observation, uf of ut units of them failing) at now, or
// returns "" if there is none, or if a cluster's quorum already rules out
// one monitor's cut-off.
func (d *Detector) nearTotal(n, uf, ut int, now int64) string {
	if d.o.Cluster.enabled() && d.o.Cluster.Quorum >= 2 {
		// A failure counts only when at least two vantage points at
		// different places see it: a cut-off of this one alone becomes
		// path/<self> (internal), never a disclosable group failure.
		return ""
	}
	if n < d.o.VantageFallbackMinTargets {
		return ""
	}
	r := float64(uf) / float64(ut)
	if r < d.o.VantageFallbackRatio-1e-9 {
		return ""
	}
	return fmt.Sprintf("%d of %d nodes and services (%s) failing at once at %s, no control targets configured, threshold %s",
		uf, ut, pct(r), clock(now), pct(d.o.VantageFallbackRatio))
}

// markUnverified applies the mark to an anomaly's title and reason parts:
// from the first time it is open and disclosable while d.unverified is
// set, to its end.
func (d *Detector) markUnverified(st *anomState, f *finding, parts []string, disclosable bool) []string {
	if st.Unverified == "" && d.unverified != "" && f.Source == "probe" && disclosable {
		st.Unverified = d.unverified
	}
	if st.Unverified == "" {
		return parts
	}
	f.Title = unverifiedTitle + f.Title
	return append(parts, unverifiedWhy, st.Unverified)
}

// whyHeldRound is whyHeld without control targets.
const whyHeldRound = "operational decision held: waiting for an observation of every target made after the failures began, " +
	"to know whether the failure is near-total (no control targets configured)"

// seenState is what one Evaluate's holds need of all targets, taken once
// by evalVantage.
type seenState struct {
	controls    bool  // control targets configured (not staging)
	lastControl int64 // latest observation of any of them
	oldest      int64 // oldest latest observation of the other targets observed at all
}

// roundSince is the oldest latest observation among the targets observed at
// all (not staging, not controls): every one of them has been observed
// since. With a cluster whose quorum rules out one monitor's cut-off there
// is no near-total mark to wait for, and nothing is held.
func (d *Detector) roundSince() int64 {
	if d.o.Cluster.enabled() && d.o.Cluster.Quorum >= 2 {
		return math.MaxInt64
	}
	return d.seen.oldest
}
