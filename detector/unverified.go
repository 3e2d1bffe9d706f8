package detector

import "fmt"

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

// nearTotal describes a near-total failure of others (the non-control
// targets with an observation) at now, or returns "" if there is none, or
// if a cluster's quorum already rules out one monitor's cut-off.
func (d *Detector) nearTotal(others []*targetState, now int64) string {
	if d.o.Cluster.enabled() && d.o.Cluster.Quorum >= 2 {
		// A failure counts only when at least two vantage points at
		// different places see it: a cut-off of this one alone becomes
		// path/<self> (internal), never a disclosable group failure.
		return ""
	}
	if len(others) < d.o.VantageFallbackMinTargets {
		return ""
	}
	uf, ut := failingUnits(others)
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
