package detector

import (
	"container/heap"
	"maps"
	"slices"
	"strings"
)

// Incremental evaluation. Evaluate used to walk every target several times
// a second (vantage check, baselines, group findings, security findings,
// short episodes, nymwatch_targets): at 10,000 nodes that was the largest
// share of the daemon's CPU. The index below keeps what those walks
// computed as aggregates that are updated per target when it changes: every
// change of a target's state already goes through markDirty (for the
// persistence), which also queues the target here, and syncIndex applies
// the queue before the aggregates are read. Each target remembers what it
// contributed (ixEntry), so an update takes out its old contribution and
// adds the new one.
//
// What depends on time alone (held decisions, service_failure_for,
// degradation_sustain, {dur}, maintenance windows, the lookback) is still
// decided at every Evaluate, for every component that has a finding: those
// are few. Detector.fullEval keeps the old walks (the reference of the
// equivalence test). Invariant: whatever changes a target in a way the
// index reads calls markDirty (or, for a target dropped, ix.remove).

// unitKey is a unit of the vantage check: a node (whatever its ports) or
// any other target by its id.
type unitKey struct {
	node   uint32
	id     string // "" for a node
	isNode bool
}

// ixEntry is what one target contributes to the index.
type ixEntry struct {
	in             bool
	group, country string
	node           uint32 // its node, for a node target (isNode)
	isNode         bool
	other          bool // counted in the vantage check (observed, not staging, identity, refused or control)
	control        bool // a control target for the vantage check (observed or not)
	unit           unitKey
	unitFail       bool
	counted        bool // in nymwatch_targets (observed)
	tk             targetsKey
	hot            bool  // may contribute to a group finding
	missed         bool  // has short episodes to record
	sec            bool  // security signal or refused address
	heap           int   // position in the oldest-observation heap (others only)
	lastAt         int64 // its key there
	// In its group's baseline sample (observed, not tainted, not staging
	// unless a service): whether good, its latency (µs) and observation.
	sIn, sGood bool
	sLat, sAt  int64
}

// groupIx is one group's (or country's) members.
type groupIx struct {
	members map[string]*targetState
	nodes   map[uint32]int // node targets per node
	hot     map[string]*targetState
	// The baseline sample's inputs (groups only, see sample): members in
	// it, good ones, their latencies sorted, the newest observation
	// (recomputed when its holder leaves).
	sTotal, sGood int
	sLats         []int64
	sMaxAt        int64
	sMaxStale     bool
}

// sampleMaxAt is the newest observation of the members in the sample.
func (g *groupIx) sampleMaxAt() int64 {
	if g.sMaxStale {
		g.sMaxAt, g.sMaxStale = 0, false
		for _, ts := range g.members {
			if ts.ix.sIn {
				g.sMaxAt = max(g.sMaxAt, ts.ix.sAt)
			}
		}
	}
	return g.sMaxAt
}

// sampleMedian is the median latency (ms) of the good members in the
// sample, as median() computes it.
func (g *groupIx) sampleMedian() (float64, bool) {
	n := len(g.sLats)
	if n == 0 {
		return 0, false
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if n%2 == 1 {
		return ms(g.sLats[n/2]), true
	}
	return (ms(g.sLats[n/2-1]) + ms(g.sLats[n/2])) / 2, true
}

type unitCount struct{ members, failing int }

type evalIndex struct {
	pending   map[string]struct{}
	groups    map[string]*groupIx
	countries map[string]*groupIx
	units     map[unitKey]*unitCount
	failing   int // units with a failing member
	controls  map[string]*targetState
	oldest    lastAtHeap // the others, by latest observation
	missed    map[string]*targetState
	sec       map[string]*targetState
	counts    map[targetsKey]int
}

func newEvalIndex() *evalIndex {
	return &evalIndex{pending: map[string]struct{}{}, groups: map[string]*groupIx{}, countries: map[string]*groupIx{},
		units: map[unitKey]*unitCount{}, controls: map[string]*targetState{}, missed: map[string]*targetState{},
		sec: map[string]*targetState{}, counts: map[targetsKey]int{}}
}

// syncIndex applies the targets changed since the last call.
func (d *Detector) syncIndex() {
	for id := range d.ix.pending {
		if ts := d.targets[id]; ts != nil {
			d.ix.remove(ts)
			d.ix.add(ts)
		}
	}
	clear(d.ix.pending)
}

// rebuildIndex indexes every target afresh (Restore).
func (d *Detector) rebuildIndex() {
	d.ix = newEvalIndex()
	for _, ts := range d.targets {
		d.ix.add(ts)
	}
}

func (x *evalIndex) add(ts *targetState) {
	e := ixEntry{in: true, group: ts.group, country: ts.country, heap: -1}
	if ts.isNode() {
		e.isNode, e.node = true, ts.nodeID()
	}
	outside := ts.staging() || ts.outsideGroups()
	e.control = !outside && ts.isControl()
	e.other = !outside && !ts.isControl() && ts.LastAt != 0
	if e.other {
		e.unit = unitKey{id: ts.Target.ID}
		if n := ts.Target.Node; n != nil {
			e.unit = unitKey{node: n.NodeID, isNode: true}
		}
		e.unitFail = !ts.LastGood
		u := x.units[e.unit]
		if u == nil {
			u = &unitCount{}
			x.units[e.unit] = u
		}
		u.members++
		if e.unitFail {
			if u.failing == 0 {
				x.failing++
			}
			u.failing++
		}
	}
	if e.control {
		x.controls[ts.Target.ID] = ts
	}
	if ts.LastAt != 0 && ts.Target != nil {
		e.counted, e.tk = true, ts.tkey
		e.tk.up = ts.LastGood
		x.counts[e.tk]++
	}
	e.hot = ts.Failing || ts.Slow || len(ts.Missed) > 0 || (ts.Q != nil && ts.Q.Failing)
	e.missed = len(ts.Missed) > 0
	e.sec = ts.SecSince != 0 || ts.NonPublic
	if e.missed {
		x.missed[ts.Target.ID] = ts
	}
	if e.sec {
		x.sec[ts.Target.ID] = ts
	}
	if e.group != "" {
		e.sIn = !ts.Tainted && ts.LastAt != 0 && !(ts.staging() && !strings.HasPrefix(e.group, svcPrefix))
		e.sGood, e.sLat, e.sAt = ts.LastGood, ts.LastLatencyUS, ts.LastAt
		x.join(x.groups, e.group, ts, &e, true)
		if e.country != "" {
			x.join(x.countries, e.country, ts, &e, false)
		}
	}
	ts.ix = e
	if e.other {
		ts.ix.lastAt = ts.LastAt // the heap's key, fixed until the next update
		heap.Push(&x.oldest, ts)
	}
}

func (x *evalIndex) join(m map[string]*groupIx, name string, ts *targetState, e *ixEntry, sampled bool) {
	g := m[name]
	if g == nil {
		g = &groupIx{members: map[string]*targetState{}, nodes: map[uint32]int{}, hot: map[string]*targetState{}}
		m[name] = g
	}
	g.members[ts.Target.ID] = ts
	if e.isNode {
		g.nodes[e.node]++
	}
	if e.hot {
		g.hot[ts.Target.ID] = ts
	}
	if sampled && e.sIn {
		g.sTotal++
		g.sMaxAt = max(g.sMaxAt, e.sAt)
		if e.sGood {
			g.sGood++
			i, _ := slices.BinarySearch(g.sLats, e.sLat)
			g.sLats = slices.Insert(g.sLats, i, e.sLat)
		}
	}
}

func (x *evalIndex) leave(m map[string]*groupIx, name string, id string, e *ixEntry, sampled bool) {
	g := m[name]
	if g == nil {
		return
	}
	delete(g.members, id)
	delete(g.hot, id)
	if sampled && e.sIn {
		g.sTotal--
		if e.sAt >= g.sMaxAt {
			g.sMaxStale = true
		}
		if e.sGood {
			g.sGood--
			if i, ok := slices.BinarySearch(g.sLats, e.sLat); ok {
				g.sLats = slices.Delete(g.sLats, i, i+1)
			}
		}
	}
	if e.isNode {
		if g.nodes[e.node]--; g.nodes[e.node] <= 0 {
			delete(g.nodes, e.node)
		}
	}
	if len(g.members) == 0 {
		delete(m, name)
	}
}

// remove takes out ts's contribution (before a change, or when it goes).
func (x *evalIndex) remove(ts *targetState) {
	e := &ts.ix
	if !e.in {
		return
	}
	id := ts.Target.ID
	if e.other {
		u := x.units[e.unit]
		u.members--
		if e.unitFail {
			if u.failing--; u.failing == 0 {
				x.failing--
			}
		}
		if u.members == 0 {
			delete(x.units, e.unit)
		}
		if e.heap >= 0 {
			heap.Remove(&x.oldest, e.heap)
		}
	}
	if e.control {
		delete(x.controls, id)
	}
	if e.counted {
		if x.counts[e.tk]--; x.counts[e.tk] <= 0 {
			delete(x.counts, e.tk)
		}
	}
	if e.missed {
		delete(x.missed, id)
	}
	if e.sec {
		delete(x.sec, id)
	}
	if e.group != "" {
		x.leave(x.groups, e.group, id, e, true)
		if e.country != "" {
			x.leave(x.countries, e.country, id, e, false)
		}
	}
	*e = ixEntry{heap: -1}
}

// oldestSeen is the oldest latest observation of the others (0: none).
func (x *evalIndex) oldestSeen() int64 {
	if len(x.oldest) == 0 {
		return 0
	}
	return x.oldest[0].ix.lastAt
}

// hotAgg is a group's members that may contribute to its finding, in
// target id order, as findings expects them; all members for the small
// groups whose spec looks at every member (services, node/<id>).
func (x *evalIndex) hotAgg(name string, g *groupIx) *groupAgg {
	src := g.hot
	if strings.HasPrefix(name, svcPrefix) || strings.HasPrefix(name, nodePrefix) {
		src = g.members
	}
	agg := &groupAgg{name: name, indexed: true, total: len(g.nodes)}
	for _, id := range slices.Sorted(maps.Keys(src)) {
		agg.add(src[id])
	}
	return agg
}

// lastAtHeap is a min-heap of targets by latest observation.
type lastAtHeap []*targetState

func (h lastAtHeap) Len() int           { return len(h) }
func (h lastAtHeap) Less(i, j int) bool { return h[i].ix.lastAt < h[j].ix.lastAt }
func (h lastAtHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].ix.heap, h[j].ix.heap = i, j
}
func (h *lastAtHeap) Push(v any) {
	ts := v.(*targetState)
	ts.ix.heap = len(*h)
	*h = append(*h, ts)
}
func (h *lastAtHeap) Pop() any {
	old := *h
	ts := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	ts.ix.heap = -1
	return ts
}
