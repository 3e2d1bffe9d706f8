package detector

import (
	"fmt"
	"sort"
)

// vantageState says whether the monitor itself is cut off.
type vantageState struct {
	CutOff bool `json:"cut_off"`
	// Boundary is the last moment the vantage point was known good (the
	// latest good observation of what failed with it): failures that began
	// after it are attributed to the vantage point.
	Boundary int64  `json:"boundary"`
	Since    int64  `json:"since"`
	Desc     string `json:"desc"` // the counts when it was detected
}

// evalVantage decides whether the vantage point is cut off, from the
// latest raw observation of each target (not hysteresis, so it reacts on
// the first failed round, before any target crosses FailureThreshold).
//
// With control targets: ≥ VantageControlFailureRatio of them failing and
// ≥ VantageNetworkFailureRatio of everything else failing.
//
// Without control targets nymwatch cannot tell its own cut-off from a
// near-total outage, and staying silent on the second is the worse error:
// it is never cut off then. ≥ VantageFallbackRatio of all targets (services
// included, at least VantageFallbackMinTargets) failing at once only sets
// d.unverified, and the anomalies decided meanwhile are paged marked
// unverified (see unverified.go).
//
// While cut off, failures that began after the boundary are tainted (not
// counted anywhere, reset on their next observation after the cut-off) and
// Evaluate freezes every probe anomaly.
func (d *Detector) evalVantage(now int64) *finding {
	if !d.fullEval {
		return d.evalVantageIndexed(now)
	}
	var controls []*targetState
	others := make([]*targetState, 0, len(d.targets))
	controlsKnown := false
	d.seen = seenState{}
	for _, ts := range d.targets {
		if ts.staging() || ts.outsideGroups() {
			continue // identity checks and refused addresses say nothing of our path
		}
		if ts.isControl() {
			controlsKnown = true
		}
		if ts.LastAt == 0 {
			continue
		}
		if ts.isControl() {
			controls = append(controls, ts)
			d.seen.lastControl = max(d.seen.lastControl, ts.LastAt)
		} else {
			others = append(others, ts)
			if d.seen.oldest == 0 || ts.LastAt < d.seen.oldest {
				d.seen.oldest = ts.LastAt
			}
		}
	}
	d.seen.controls = controlsKnown
	uf, ut := failingUnits(others)
	return d.decideVantage(now, controlsKnown, controls, len(others), uf, ut, func() []*targetState { return failed(others) })
}

func failed(list []*targetState) []*targetState {
	var out []*targetState
	for _, ts := range list {
		if !ts.LastGood {
			out = append(out, ts)
		}
	}
	return out
}

// evalVantageIndexed is evalVantage from the index's aggregates: only the
// control targets are walked, and every target only once cut off.
func (d *Detector) evalVantageIndexed(now int64) *finding {
	d.syncIndex()
	d.seen = seenState{controls: len(d.ix.controls) > 0, oldest: d.ix.oldestSeen()}
	var controls []*targetState
	for _, ts := range d.ix.controls {
		if ts.LastAt != 0 {
			controls = append(controls, ts)
			d.seen.lastControl = max(d.seen.lastControl, ts.LastAt)
		}
	}
	return d.decideVantage(now, d.seen.controls, controls, len(d.ix.oldest), d.ix.failing, len(d.ix.units), func() []*targetState {
		var out []*targetState
		for _, ts := range d.ix.oldest { // the others
			if !ts.LastGood {
				out = append(out, ts)
			}
		}
		return out
	})
}

// decideVantage is the decision of evalVantage: controls are the observed
// control targets, nOthers the other observed targets, uf of ut units of
// them failing; failedOthers lists the failing others (asked only when
// cut off).
func (d *Detector) decideVantage(now int64, controlsKnown bool, controls []*targetState, nOthers, uf, ut int,
	failedOthers func() []*targetState,
) *finding {
	var cut bool
	var set []*targetState
	var desc string
	if controlsKnown {
		fc := failed(controls)
		set = fc
		if len(controls) > 0 && nOthers > 0 {
			rc := float64(len(fc)) / float64(len(controls))
			ro := float64(uf) / float64(ut)
			cut = rc >= d.o.VantageControlFailureRatio-1e-9 && ro >= d.o.VantageNetworkFailureRatio-1e-9
			desc = fmt.Sprintf("%d of %d control targets (%s) and %d of %d nodes and services (%s) failing at once; thresholds %s and %s",
				len(fc), len(controls), pct(rc), uf, ut, pct(ro),
				pct(d.o.VantageControlFailureRatio), pct(d.o.VantageNetworkFailureRatio))
		}
	} else {
		d.unverified = d.nearTotal(nOthers, uf, ut, now)
	}
	if controlsKnown {
		d.unverified = ""
	}
	if !cut {
		d.vantage.CutOff = false
		return nil
	}
	if !d.vantage.CutOff {
		v := vantageState{CutOff: true, Desc: desc}
		for _, ts := range set {
			if v.Since == 0 || ts.RunSince < v.Since {
				v.Since = ts.RunSince
			}
			v.Boundary = max(v.Boundary, ts.RunPrevGood)
		}
		d.vantage = v
	}
	for _, ts := range failedOthers() {
		if ts.RunSince > d.vantage.Boundary && !ts.Tainted {
			ts.Tainted = true
			d.markDirty(ts.Target.ID)
		}
	}
	f := &finding{Component: compVantage, Kind: compVantage, Arch: ArchCentralized, Source: "probe",
		Class: ClassInternal, Title: "Monitor vantage point cut off"}
	sort.Slice(set, func(i, j int) bool { return set[i].Target.ID < set[j].Target.ID })
	for _, ts := range set {
		f.Contribs = append(f.Contribs, contributor{ID: ts.Target.ID, Since: ts.RunSince, LastHealthy: ts.RunPrevGood,
			Ev: ts.evidence(ts.FailReason, ts.FailDetail, ts.RunSince)})
	}
	f.Frags = []string{d.vantage.Desc}
	f.Why = []string{"internal: the monitor's own vantage point is cut off: not an incident of the network, never paged for disclosure",
		"anomalies of targets that failed with it are suppressed while it lasts"}
	return f
}

// failingUnits counts nodes and services with a failing latest observation:
// a node counts once, failing if any of its targets fails. Counting ports
// instead would let a cut-off hide behind probes that cannot fail that
// way (a mix port that accepts and then hears nothing looks alive to TCP)
// and weigh gateways, which have more ports, above mix nodes.
func failingUnits(list []*targetState) (failed, total int) {
	// A node is one unit whatever its ports; anything else is its own.
	// A struct key: this runs over every target every second, and a
	// built string per target was a visible share of the daemon's CPU.
	type unit struct {
		node   uint32
		id     string // "" for a node
		isNode bool
	}
	units := make(map[unit]bool, len(list))
	for _, ts := range list {
		k := unit{id: ts.Target.ID}
		if n := ts.Target.Node; n != nil {
			k = unit{node: n.NodeID, isNode: true}
		}
		if !ts.LastGood {
			units[k] = true
		} else if _, seen := units[k]; !seen {
			units[k] = false
		}
	}
	for _, f := range units {
		if f {
			failed++
		}
	}
	return failed, len(units)
}
