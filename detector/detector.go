package detector

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
	"github.com/nymwatch/nymwatch/probes"
)

// Detector turns results and alerts into anomalies. It is pure logic over
// the times it is given (Result.At, the now of Evaluate / ObserveAlerts) and
// safe for concurrent use (one mutex; every method is short).
type Detector struct {
	mu sync.Mutex
	o  Options

	targets map[string]*targetState
	comps   map[string]*compState
	anoms   map[string]*anomState // open anomalies by component
	lastIDs map[string]string     // component → ID of its last resolved anomaly

	alerts    map[string]*alertState // firing, by fingerprint
	alertEnds map[string]int64       // resolved fingerprint → endsAt
	recent    map[string]int64       // Alert.Key of resolved alerts seen → when
	orphans   []alertState           // resolved alerts never seen firing

	vantage   vantageState
	directory bool             // SetTargets has been called: unknown node results are stale
	holds     map[string]int64 // component → when its operational decision began waiting for controls

	// Cluster (Options.Cluster with peers); see quorum.go.
	peers        map[string]*peerState
	clusterStart int64                     // first Evaluate since start or a change of peers (warm-up)
	minority     map[string][]minorityVote // last Evaluate: per vantage point, failures too few others see
	status       ClusterStatus

	maint []MaintenanceWindow // SetMaintenance; see maintenance.go
	// unverified describes a near-total failure seen without control
	// targets at the last Evaluate ("" if none); see unverified.go.
	unverified string
	// retired are anomalies closed by a rebase this Evaluate (see
	// lookback.go), emitted with the others.
	retired []Anomaly
	// seen: the targets' latest observations as the holds need them,
	// taken at the start of each Evaluate.
	seen        seenState
	alertGroups map[string]int   // component → firing alerts in it (alerts.go)
	groupEnds   map[string]int64 // component → latest endsAt of its resolved alerts
	// Targets whose persisted state changed, or that were dropped, since
	// the last TakeChanges (persist.go).
	dirty map[string]struct{}
	gone  map[string]struct{}
	// ix: aggregates over the targets, kept up to date as they change, so
	// that Evaluate costs what changed (index.go); fullEval walks every
	// target instead (the reference of the equivalence test).
	ix       *evalIndex
	fullEval bool
}

// anomState is an open anomaly and what the detector needs to carry it on.
type anomState struct {
	A            Anomaly                `json:"anomaly"`
	Kind         string                 `json:"kind"`
	Contribs     map[string]contribInfo `json:"contribs"` // contributing now
	Sig          string                 `json:"sig"`      // last material state
	LastRecovery int64                  `json:"last_recovery"`
	// Peak is the most failing members seen at once (PeakOf the group's
	// size then, PeakAt when): a report states the scale of the outage,
	// not only its last sample before recovery.
	Peak   int   `json:"peak,omitempty"`
	PeakOf int   `json:"peak_of,omitempty"`
	PeakAt int64 `json:"peak_at,omitempty"`
	dirty  bool
	// Maint: the maintenance window the anomaly was recorded under.
	Maint *maintMark `json:"maint,omitempty"`
	// Unverified: decided (or carried on) as disclosable while nymwatch,
	// without control targets, could not rule out its own cut-off: what
	// it saw then. Kept for the anomaly's life, so the page and the report
	// carry it for a human.
	Unverified string `json:"unverified,omitempty"`
	// Crossed is when the anomaly first became disclosable (0: not yet);
	// contributors failing for longer than PromotionLookback before it are
	// background (lookback.go).
	Crossed int64 `json:"crossed,omitempty"`
}

type contribInfo struct {
	Since int64 `json:"since"`
}

// New returns a detector with opts (zero fields take their defaults).
func New(opts Options) *Detector {
	d := &Detector{o: opts.withDefaults()}
	d.reset()
	d.syncPeers()
	return d
}

func (d *Detector) reset() {
	d.targets = map[string]*targetState{}
	d.comps = map[string]*compState{}
	d.anoms = map[string]*anomState{}
	d.lastIDs = map[string]string{}
	d.alerts = map[string]*alertState{}
	d.alertEnds = map[string]int64{}
	d.recent = map[string]int64{}
	d.orphans = nil
	d.vantage = vantageState{}
	d.directory = false
	d.holds = map[string]int64{}
	d.peers = map[string]*peerState{}
	d.clusterStart = 0
	d.minority = nil
	d.status = ClusterStatus{}
	d.alertGroups = map[string]int{}
	d.groupEnds = map[string]int64{}
	d.dirty = map[string]struct{}{}
	d.gone = map[string]struct{}{}
	d.ix = newEvalIndex()
}

// Reconfigure changes the thresholds (SIGHUP) and keeps all state: open
// anomalies keep their IDs and classes; new thresholds apply from the next
// observation and Evaluate.
//
// Turning the cluster on or off starts the quorum state afresh; a change
// of peers starts a warm-up (see ClusterOptions), and a removed peer's
// anomalies resolve.
func (d *Detector) Reconfigure(opts Options) {
	d.mu.Lock()
	defer d.mu.Unlock()
	was := d.o.Cluster.enabled()
	d.o = opts.withDefaults()
	if was != d.o.Cluster.enabled() {
		for id, ts := range d.targets {
			if ts.Q != nil {
				d.markDirty(id)
			}
			ts.Q, ts.qMinority = nil, false
		}
		d.clusterStart = 0
		d.status = ClusterStatus{}
	}
	if d.syncPeers() {
		d.clusterStart = 0
	}
}

// Observe records one probe result. Results older than (or as old as) the
// target's latest one are ignored, so a duplicated probe run counts once.
// A result for a node target that the directory no longer lists is dropped.
func (d *Detector) Observe(r probes.Result) {
	if r.Target == nil || r.Target.ID == "" {
		return
	}
	at := unixms.From(r.At.UTC())
	if at <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := d.targets[r.Target.ID]
	if ts == nil {
		ts = &targetState{Target: cloneTarget(r.Target)}
		ts.classify()
		if ts.isNode() && d.directory {
			return // late result for a node the directory dropped
		}
		d.targets[r.Target.ID] = ts
	} else if !ts.isNode() {
		// Services and controls come from config, not the directory.
		ts.Target = cloneTarget(r.Target)
		ts.classify()
	}
	d.markDirty(r.Target.ID)
	if at <= ts.LastAt {
		return
	}
	skip := false
	if ts.Tainted && !d.vantage.CutOff {
		ts.resetFailure()
		skip = true
	}
	ts.observe(&d.o, &r, at, skip)
	ts.observeSecurity(&r, at)
	if sampled(ts.group) {
		d.comp(ts.group).Fresh = true
	}
}

func (d *Detector) comp(name string) *compState {
	c := d.comps[name]
	if c == nil {
		c = &compState{}
		d.comps[name] = c
	}
	return c
}

// sampled reports whether a component keeps a performance baseline.
func sampled(group string) bool {
	return group == compEntry || group == compExit || strings.HasPrefix(group, mixPrefix) ||
		strings.HasPrefix(group, svcPrefix)
}

// SetTargets gives the directory's current view. Node targets not in it are
// forgotten (not down: their state is dropped, and an anomaly left without
// targets is resolved saying so). Service and control targets in it are
// registered or updated but never dropped by it: use Forget for those.
// Pass the whole list on every refresh; do not call it when a refresh
// failed (a failed directory load is a Result on "service/nym-api-directory").
func (d *Detector) SetTargets(targets []*probes.Target) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		if t == nil || t.ID == "" {
			continue
		}
		seen[t.ID] = true
		c := cloneTarget(t)
		if ts := d.targets[t.ID]; ts != nil {
			if !sameTarget(ts.Target, c) {
				d.markDirty(t.ID)
			}
			ts.Target = c
			ts.classify()
		} else {
			ts := &targetState{Target: c}
			ts.classify()
			d.targets[t.ID] = ts
			d.markDirty(t.ID)
		}
	}
	for id, ts := range d.targets {
		if ts.isNode() && !seen[id] {
			d.ix.remove(ts)
			delete(d.targets, id)
			d.markGone(id)
		}
	}
	d.directory = true
}

// Forget drops the state of the given targets (any kind), e.g. services
// removed from config on reload. Their anomalies resolve at the next
// Evaluate if no other target keeps them open.
func (d *Detector) Forget(ids []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if ts := d.targets[id]; ts != nil {
			d.ix.remove(ts)
			delete(d.targets, id)
			d.markGone(id)
		}
	}
}

// Open returns the open anomalies, sorted by component.
func (d *Detector) Open() []Anomaly {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Anomaly, 0, len(d.anoms))
	for _, st := range d.anoms {
		out = append(out, copyAnomaly(&st.A))
	}
	sortAnomalies(out)
	return out
}

func sortAnomalies(as []Anomaly) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Component != as[j].Component {
			return as[i].Component < as[j].Component
		}
		return as[i].ID < as[j].ID
	})
}

func copyAnomaly(a *Anomaly) Anomaly {
	c := *a
	c.Affected = append([]string(nil), a.Affected...)
	c.Evidence = append([]Evidence(nil), a.Evidence...)
	c.Promotions = append([]Promotion(nil), a.Promotions...)
	c.Labels = cloneMap(a.Labels)
	return c
}

// Evaluate decides, at now, what the observations so far mean, and returns
// the anomalies that changed since the previous Evaluate: opened, updated
// (affected, evidence, reason, first_seen), promoted or resolved. Consumers
// upsert them by ID.
func (d *Detector) Evaluate(now time.Time) []Anomaly {
	d.mu.Lock()
	defer d.mu.Unlock()
	nowMs := unixms.From(now.UTC())
	changedByID := map[string]Anomaly{}
	emit := func(st *anomState) {
		if st.dirty {
			changedByID[st.A.ID] = copyAnomaly(&st.A)
			st.dirty = false
		}
	}

	vf := d.evalVantage(nowMs)
	if !d.vantage.CutOff {
		d.sample()
	}
	// Cut off, a lone monitor knows nothing of the network; in a cluster
	// only its own votes are unknown, and the peers carry on.
	cluster := d.o.Cluster.enabled()
	frozen := d.vantage.CutOff && !cluster
	warm := cluster && d.warming(nowMs)
	if cluster && !warm {
		d.evalQuorum(nowMs)
	}
	if warm {
		d.status.Enabled, d.status.Warming = true, true
		d.status.Self, d.status.Quorum = d.o.Cluster.Self, d.o.Cluster.Quorum
	} else {
		d.status.Warming = false
	}
	findings := d.findings(nowMs, frozen)
	d.securityFindings(findings)
	if vf != nil {
		findings[compVantage] = vf
	}
	if cluster && !warm {
		d.clusterFindings(findings, nowMs)
	}
	d.applyMaintenance(findings, nowMs)
	for c := range d.holds {
		if findings[c] == nil {
			delete(d.holds, c)
		}
	}

	comps := make([]string, 0, len(findings)+len(d.anoms))
	for c := range findings {
		comps = append(comps, c)
	}
	for c := range d.anoms {
		if findings[c] == nil {
			comps = append(comps, c)
		}
	}
	sort.Strings(comps)
	for _, c := range comps {
		if frozen && c != compVantage && !strings.HasPrefix(c, alertPrefix) && !securityComponent(c) {
			continue // cut off: what we see of the network says nothing
		}
		if warm && clusterComponent(c) {
			continue // warming up: the restored state stands
		}
		f := findings[c]
		if f == nil {
			f = &finding{Component: c}
		}
		st := d.reconcile(f, nowMs)
		if st == nil {
			continue
		}
		noteMaintenance(st, f)
		emit(st)
		if !st.A.Open() {
			delete(d.anoms, c)
			d.lastIDs[c] = st.A.ID
		}
	}
	if !frozen {
		d.markReported(findings)
	}
	for _, a := range d.retired {
		changedByID[a.ID] = a
	}
	d.retired = nil
	for _, a := range d.orphanAnomalies(nowMs) {
		changedByID[a.ID] = a
	}
	// Anomalies marked dirty elsewhere (Restore, orphan alerts) are emitted.
	for _, st := range d.anoms {
		emit(st)
	}
	changed := make([]Anomaly, 0, len(changedByID))
	for _, a := range changedByID {
		changed = append(changed, a)
	}
	sortAnomalies(changed)
	d.o.Metrics.record(d.anoms)
	if d.fullEval {
		d.o.Metrics.recordTargets(d.targets)
	} else {
		d.syncIndex()
		d.o.Metrics.recordTargetCounts(d.ix.counts)
	}
	return changed
}

// markReported notes which failures an Evaluate has seen, and drops the
// short episodes that have now been recorded.
func (d *Detector) markReported(findings map[string]*finding) {
	for _, f := range findings {
		for _, c := range f.Contribs {
			if c.target == nil || c.Recovered != 0 {
				continue
			}
			if c.slow {
				if !c.target.SlowReported {
					c.target.SlowReported = true
					d.markDirty(c.target.Target.ID)
				}
			} else if !c.target.Reported {
				c.target.Reported = true
				d.markDirty(c.target.Target.ID)
			}
		}
	}
	if !d.fullEval {
		// Only targets with short episodes (the index says which).
		d.syncIndex()
		for id, ts := range d.ix.missed {
			ts.Missed = nil
			d.markDirty(id)
		}
		return
	}
	for id, ts := range d.targets {
		if ts.Missed != nil {
			ts.Missed = nil
			d.markDirty(id)
		}
	}
}

// anomalyID is stable for an anomaly's life: its component and its
// first_seen when it opened (later first_seen corrections keep the ID).
func anomalyID(component string, firstSeen int64) string {
	return strings.ReplaceAll(component, "/", ":") + "@" + strconv.FormatInt(firstSeen, 10)
}

func quoteName(s string) string {
	if s == "" {
		return "(no alertname)"
	}
	return strconv.Quote(clip(s, maxNameLen))
}
