package detector

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// ClusterOptions make several nymwatch instances (vantage points) agree by
// quorum before a target counts as failing. With no Peers the detector is a
// single instance and everything here is ignored: behaviour is exactly that
// of a lone monitor.
type ClusterOptions struct {
	// Self is this instance's name (cluster.name).
	Self string
	// Peers are the other vantage points' names (cluster.peers[].name).
	Peers []string
	// Quorum is how many vantage points, this one included, that currently
	// report must see a target failing for it to count as failing
	// (cluster.quorum). Default: a majority of 1+len(Peers).
	Quorum int
	// StaleAfter: a peer whose last successful view is older than this no
	// longer counts, and is recorded as unreachable. Default 90s (three
	// pulls at the default interval).
	StaleAfter time.Duration
	// Wait: how long a failure seen by fewer than Quorum vantage points
	// must last (from its first failing observation, or from the end of a
	// quorum failure of the same target) before it is recorded as a path
	// problem of the vantage points that see it: the others' verdicts lag
	// behind (their own hysteresis, the pull interval). Default 3m.
	Wait time.Duration
}

// Defaults of ClusterOptions.
const (
	DefaultClusterStaleAfter = 90 * time.Second
	DefaultClusterWait       = 3 * time.Minute
)

func (c *ClusterOptions) enabled() bool { return len(c.Peers) > 0 }

func (c ClusterOptions) validate() error {
	if len(c.Peers) == 0 {
		return nil
	}
	var errs []error
	if c.Self == "" {
		errs = append(errs, errors.New("Cluster.Self: required with peers"))
	}
	seen := map[string]bool{c.Self: true}
	for _, p := range c.Peers {
		switch {
		case p == "" || strings.ContainsAny(p, "/\x00"):
			errs = append(errs, fmt.Errorf("Cluster.Peers: %q is not a valid name", p))
		case seen[p]:
			errs = append(errs, fmt.Errorf("Cluster.Peers: %q is listed twice or is Self", p))
		}
		seen[p] = true
	}
	if strings.ContainsAny(c.Self, "/\x00") {
		errs = append(errs, fmt.Errorf("Cluster.Self: %q is not a valid name", c.Self))
	}
	if n := 1 + len(c.Peers); c.Quorum < 0 || c.Quorum > n {
		errs = append(errs, fmt.Errorf("Cluster.Quorum: %d is not from 1 to %d", c.Quorum, n))
	}
	if c.StaleAfter < 0 {
		errs = append(errs, fmt.Errorf("Cluster.StaleAfter: %s is negative", c.StaleAfter))
	}
	if c.Wait < 0 {
		errs = append(errs, fmt.Errorf("Cluster.Wait: %s is negative", c.Wait))
	}
	return errors.Join(errs...)
}

func (c ClusterOptions) withDefaults() ClusterOptions {
	c.Peers = slices.Clone(c.Peers)
	if !c.enabled() {
		return c
	}
	n := 1 + len(c.Peers)
	if c.Quorum <= 0 {
		c.Quorum = n/2 + 1
	}
	c.Quorum = min(c.Quorum, n)
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultClusterStaleAfter
	}
	if c.Wait <= 0 {
		c.Wait = DefaultClusterWait
	}
	if c.Self == "" {
		c.Self = "self"
	}
	return c
}

// ViewState is a target's state as one vantage point sees it.
type ViewState string

const (
	ViewHealthy ViewState = "healthy"
	ViewFailing ViewState = "failing"
	// ViewUnknown: not observed yet, or the vantage point cannot tell (it
	// is cut off itself).
	ViewUnknown ViewState = "unknown"
)

// Valid reports whether s is one of the three states.
func (s ViewState) Valid() bool { return s == ViewHealthy || s == ViewFailing || s == ViewUnknown }

// TargetView is one target as one vantage point sees it, after its own
// hysteresis (failure and recovery thresholds). Times are UTC, millisecond
// precision, zero when unknown.
type TargetView struct {
	ID    string
	State ViewState
	// FirstSeen (failing): first failing observation of this failure.
	FirstSeen time.Time
	// LastHealthy: failing, the last good observation before FirstSeen;
	// healthy, the latest good observation.
	LastHealthy time.Time
	// RecoveredAt (healthy): first good observation after its last failure.
	RecoveredAt time.Time
	// LastObserved is the latest observation, good or not.
	LastObserved time.Time
	// Reason and Detail (failing) say how it fails.
	Reason string
	Detail string
}

// View is what one vantage point sees of every target it probes: the
// content of GET /api/v1/cluster/view.
type View struct {
	Instance    string
	GeneratedAt time.Time
	Targets     []TargetView
}

// View returns this vantage point's own per-target view at now (control
// targets excluded: they are each instance's own). It reflects this
// instance's observations only, never the merged quorum, so views never
// echo each other.
func (d *Detector) View(now time.Time) View {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := View{Instance: d.o.Cluster.Self, GeneratedAt: unixms.Time(unixms.From(now.UTC())), Targets: make([]TargetView, 0, len(d.targets))}
	for _, ts := range d.targets {
		if ts.isControl() {
			continue
		}
		sv := d.selfVote(ts)
		tv := TargetView{ID: ts.Target.ID, State: sv.state.viewState(), LastObserved: unixms.Time(ts.LastAt)}
		switch sv.state {
		case voteFailing:
			tv.FirstSeen, tv.LastHealthy, tv.Reason, tv.Detail = unixms.Time(sv.since), unixms.Time(sv.lastHealthy), sv.reason, sv.detail
		case voteHealthy:
			tv.LastHealthy, tv.RecoveredAt = unixms.Time(sv.lastHealthy), unixms.Time(sv.recovered)
		}
		v.Targets = append(v.Targets, tv)
	}
	sort.Slice(v.Targets, func(i, j int) bool { return v.Targets[i].ID < v.Targets[j].ID })
	return v
}

// PeerView records a peer's view received at at (local clock). Views of
// names not in Options.Cluster.Peers are ignored.
func (d *Detector) PeerView(peer string, v View, at time.Time) {
	votes := make(map[string]vote, len(v.Targets))
	for i := range v.Targets {
		tv := &v.Targets[i]
		votes[tv.ID] = voteFromView(tv)
	}
	atMs := unixms.From(at.UTC())
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.peers[peer]
	if p == nil || atMs <= 0 {
		return
	}
	p.votes = votes
	if p.FailSince != 0 || p.OKSince == 0 {
		p.OKSince = atMs
	}
	p.FailSince, p.LastErr = 0, ""
	p.LastOK = max(p.LastOK, atMs)
}

// PeerFailed records that a peer's view could not be had at at: it was
// unreachable, or sent something that is not a valid view. Its last good
// view keeps counting until it is older than StaleAfter; the failure is
// never evidence about the network.
func (d *Detector) PeerFailed(peer string, err error, at time.Time) {
	atMs := unixms.From(at.UTC())
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.peers[peer]
	if p == nil || atMs <= 0 {
		return
	}
	if p.FailSince == 0 {
		p.FailSince = atMs
	}
	if err != nil {
		p.LastErr = clip(err.Error(), maxDetail)
	}
}

// PeerStatus is one peer as the last Evaluate saw it.
type PeerStatus struct {
	Name string
	// Up: its view is fresh and counts toward the quorum.
	Up           bool
	LastOK       time.Time // last successful pull
	FailingSince time.Time // first failed pull since then (zero while ok)
	LastError    string
}

// ClusterStatus is the quorum's state at the last Evaluate (for metrics
// and the API); the zero value means a single instance.
type ClusterStatus struct {
	Enabled bool
	Self    string
	Quorum  int
	// Reporting counts the vantage points whose views count now, this one
	// included.
	Reporting int
	// Warming: just started; the saved quorum state stands until every peer
	// has sent a view or StaleAfter has passed.
	Warming bool
	Peers   []PeerStatus
	// Failing counts the targets failing by quorum.
	Failing int
	// Disagreements counts, per vantage point (this one included), the
	// targets that it sees failing and too few others do.
	Disagreements map[string]int
}

// ClusterStatus returns the state computed by the last Evaluate.
func (d *Detector) ClusterStatus() ClusterStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.status
	s.Peers = slices.Clone(s.Peers)
	s.Disagreements = maps.Clone(s.Disagreements)
	return s
}

type voteState uint8

const (
	voteUnknown voteState = iota
	voteHealthy
	voteFailing
)

func (s voteState) viewState() ViewState {
	switch s {
	case voteHealthy:
		return ViewHealthy
	case voteFailing:
		return ViewFailing
	}
	return ViewUnknown
}

// vote is one vantage point's verdict on one target (times in ms).
type vote struct {
	state       voteState
	since       int64 // failing: first failing observation
	lastHealthy int64 // failing: last good before since; healthy: latest good
	recovered   int64 // healthy: first good observation after its last failure
	reason      string
	detail      string
}

func voteFromView(tv *TargetView) vote {
	v := vote{lastHealthy: unixms.From(tv.LastHealthy)}
	switch tv.State {
	case ViewFailing:
		v.state, v.since, v.reason, v.detail = voteFailing, unixms.From(tv.FirstSeen), tv.Reason, tv.Detail
		if v.since == 0 {
			v.state = voteUnknown // a failure without a start says nothing usable
		}
	case ViewHealthy:
		v.state, v.recovered = voteHealthy, unixms.From(tv.RecoveredAt)
	}
	return v
}

// selfVote is this vantage point's verdict: its own hysteresis state, or
// unknown while it is cut off or the failure is attributed to that.
func (d *Detector) selfVote(ts *targetState) vote {
	switch {
	case ts.LastAt == 0 || ts.Tainted || d.vantage.CutOff:
		return vote{}
	case ts.Failing:
		return vote{state: voteFailing, since: ts.Since, lastHealthy: ts.LastHealthy, reason: ts.Reason, detail: ts.Detail}
	}
	return vote{state: voteHealthy, lastHealthy: ts.LastGoodAt, recovered: ts.RecoveredAt}
}

// peerState is what the detector knows of one peer. Exported fields are
// persisted (snapshot meta); the view itself is not: it is pulled again.
type peerState struct {
	LastOK    int64  `json:"last_ok"`    // last successful pull (local clock)
	OKSince   int64  `json:"ok_since"`   // first successful pull of the current streak
	FailSince int64  `json:"fail_since"` // first failed pull since the last success
	LastErr   string `json:"last_err,omitempty"`

	votes map[string]vote // its latest view; nil until one arrives after a start
	up    bool            // fresh at the last Evaluate
}

func (p *peerState) fresh(now int64, staleAfter time.Duration) bool {
	return p != nil && p.votes != nil && p.LastOK > 0 && now-p.LastOK <= staleAfter.Milliseconds()
}

// witness is a vantage point whose failing vote holds a quorum failure.
type witness struct {
	Name        string `json:"name"`
	Since       int64  `json:"since"`
	LastHealthy int64  `json:"last_healthy"`
}

// quorumState is a target's failure as the quorum sees it (persisted with
// the target, so first_seen and the witnesses survive a restart).
type quorumState struct {
	Failing     bool      `json:"failing"`
	Since       int64     `json:"since"`        // earliest first failing observation of the agreeing vantage points
	LastHealthy int64     `json:"last_healthy"` // that vantage point's last good observation before it
	Reason      string    `json:"reason"`
	Detail      string    `json:"detail"`
	Witnesses   []witness `json:"witnesses,omitempty"`
	RecoveredAt int64     `json:"recovered_at"` // when fewer than the quorum saw it failing any more
}

// failureView is a target's failure as classification counts it.
type failureView struct {
	since, lastHealthy int64
	reason, detail     string
}

// failure returns the target's failure as classification counts it: its
// own (single instance) or the quorum's (cluster).
func (d *Detector) failure(ts *targetState) (failureView, bool) {
	if d.o.Cluster.enabled() {
		if q := ts.Q; q != nil && q.Failing {
			return failureView{q.Since, q.LastHealthy, q.Reason, q.Detail}, true
		}
		return failureView{}, false
	}
	if !ts.Failing || ts.Tainted {
		return failureView{}, false
	}
	return failureView{ts.Since, ts.LastHealthy, ts.Reason, ts.Detail}, true
}

// Component prefixes of the cluster's internal anomalies.
const (
	peerPfx = "vantage/" // vantage/<peer>: a peer unreachable
	pathPfx = "path/"    // path/<vantage point>: failures only it sees
)

func clusterComponent(c string) bool {
	return strings.HasPrefix(c, peerPfx) || strings.HasPrefix(c, pathPfx)
}

// minorityVote is a target one vantage point sees failing and too few
// others do.
type minorityVote struct {
	ts      *targetState
	v       vote
	healthy []string // vantage points that saw it working after it began failing
}

type namedVote struct {
	name string
	v    vote
}

// syncPeers makes d.peers match the options, keeping known peers' state.
// It reports whether the set changed.
func (d *Detector) syncPeers() bool {
	changed := false
	want := map[string]bool{}
	for _, name := range d.o.Cluster.Peers {
		want[name] = true
		if d.peers[name] == nil {
			d.peers[name] = &peerState{}
			changed = true
		}
	}
	for name := range d.peers {
		if !want[name] {
			delete(d.peers, name)
			changed = true
		}
	}
	return changed
}

// warming reports whether the detector just started (or its peers
// changed): until every peer has sent a view, or StaleAfter has passed, the
// quorum state restored from the snapshot stands, so a restart neither
// resolves nor opens anything for want of the peers' views.
func (d *Detector) warming(now int64) bool {
	if d.clusterStart == 0 {
		d.clusterStart = now
	}
	if now-d.clusterStart >= d.o.Cluster.StaleAfter.Milliseconds() {
		return false
	}
	for _, p := range d.peers {
		if p.votes == nil {
			return true
		}
	}
	return false
}

// evalQuorum merges this vantage point's observations with its peers'
// fresh views into each target's quorum state, and collects the minority
// views (path problems).
func (d *Detector) evalQuorum(now int64) {
	c := &d.o.Cluster
	type source struct {
		name string
		p    *peerState // nil: this instance
	}
	srcs := []source{{name: c.Self}}
	for _, name := range c.Peers {
		p := d.peers[name]
		p.up = p.fresh(now, c.StaleAfter)
		if p.up {
			srcs = append(srcs, source{name: name, p: p})
		}
	}
	d.minority = map[string][]minorityVote{}
	failing := 0
	votes := make([]namedVote, 0, len(srcs))
	for _, ts := range d.targets {
		if ts.isControl() {
			if ts.Q != nil {
				ts.Q = nil
				d.markDirty(ts.Target.ID)
			}
			continue
		}
		if ts.Q != nil {
			d.markDirty(ts.Target.ID) // its quorum state may change below
		}
		votes = votes[:0]
		for _, s := range srcs {
			var v vote
			if s.p == nil {
				v = d.selfVote(ts)
			} else {
				v = s.p.votes[ts.Target.ID] // missing: unknown
			}
			votes = append(votes, namedVote{s.name, v})
		}
		if d.quorumTarget(ts, votes, now) {
			failing++
		}
		if ts.Q != nil {
			d.markDirty(ts.Target.ID)
		}
	}
	d.status = ClusterStatus{Enabled: true, Self: c.Self, Quorum: c.Quorum, Reporting: len(srcs),
		Failing: failing, Disagreements: map[string]int{c.Self: 0}}
	for _, name := range c.Peers {
		d.status.Disagreements[name] = 0
	}
	for vp, ms := range d.minority {
		d.status.Disagreements[vp] = len(ms)
	}
	d.status.Peers = d.peerStatuses()
}

func (d *Detector) peerStatuses() []PeerStatus {
	out := make([]PeerStatus, 0, len(d.peers))
	for _, name := range d.o.Cluster.Peers {
		p := d.peers[name]
		out = append(out, PeerStatus{Name: name, Up: p.up, LastOK: unixms.Time(p.LastOK), FailingSince: unixms.Time(p.FailSince), LastError: p.LastErr})
	}
	return out
}

// quorumTarget updates one target's quorum state from the votes of the
// vantage points reporting now, and reports whether it fails by quorum.
//
// A vote changes only on evidence: a witness of an open quorum failure
// that stops reporting (unreachable, stale, cut off) keeps its failing
// vote until it reports the target healthy; a vantage point that does not
// report never helps to open one.
func (d *Detector) quorumTarget(ts *targetState, votes []namedVote, now int64) bool {
	q := d.o.Cluster.Quorum
	var nFailing int
	var first *namedVote
	for i := range votes {
		if v := &votes[i]; v.v.state == voteFailing {
			nFailing++
			if first == nil || v.v.since < first.v.since {
				first = v
			}
		}
	}
	lookup := func(name string) vote {
		for _, v := range votes {
			if v.name == name {
				return v.v
			}
		}
		return vote{} // not reporting
	}

	if qs := ts.Q; qs != nil && qs.Failing {
		holders := make([]witness, 0, len(qs.Witnesses)+nFailing)
		for _, v := range votes {
			if v.v.state == voteFailing {
				holders = append(holders, witness{v.name, v.v.since, v.v.lastHealthy})
			}
		}
		var recovered []int64
		for _, w := range qs.Witnesses {
			if w.Name != d.o.Cluster.Self && d.peers[w.Name] == nil {
				continue // removed from the cluster: its vote goes with it
			}
			v := lookup(w.Name)
			switch v.state {
			case voteFailing:
			case voteHealthy:
				rec := v.recovered
				if rec < w.Since {
					rec = max(v.lastHealthy, w.Since)
				}
				recovered = append(recovered, rec)
			default:
				holders = append(holders, w) // silent: its vote stands
			}
		}
		if len(holders) >= q {
			sort.Slice(holders, func(i, j int) bool { return holders[i].Name < holders[j].Name })
			qs.Witnesses = holders
			for _, w := range holders {
				if w.Since != 0 && w.Since < qs.Since {
					qs.Since, qs.LastHealthy = w.Since, w.LastHealthy // first_seen only moves earlier
				}
			}
			if first != nil {
				qs.Reason, qs.Detail = first.v.reason, quorumDetail(holders, first.v.detail)
			}
			ts.qMinority = false
			return true
		}
		qs.Failing = false
		qs.RecoveredAt = 0 // no recovery seen: its witnesses left the cluster
		if len(recovered) > 0 {
			qs.RecoveredAt = max(quorumBreak(len(holders), recovered, q), qs.Since)
		}
		qs.Witnesses = nil
	}

	if nFailing >= q {
		ws := make([]witness, 0, nFailing)
		for _, v := range votes {
			if v.v.state == voteFailing {
				ws = append(ws, witness{v.name, v.v.since, v.v.lastHealthy})
			}
		}
		sort.Slice(ws, func(i, j int) bool { return ws[i].Name < ws[j].Name })
		ts.Q = &quorumState{Failing: true, Since: first.v.since, LastHealthy: first.v.lastHealthy,
			Reason: first.v.reason, Detail: quorumDetail(ws, first.v.detail), Witnesses: ws}
		ts.qMinority = false
		return true
	}
	if nFailing == 0 {
		ts.qMinority = false
		return false
	}

	// Fewer than the quorum see it failing: a path problem of those that
	// do, once it has lasted Wait. Until then the others' verdicts may
	// still be on their way (vantage points probe at different moments,
	// each with its own hysteresis, and views arrive once per pull).
	wait := d.o.Cluster.Wait.Milliseconds()
	switch {
	case ts.qMinority:
	case now-first.v.since < wait:
		return false
	case ts.Q != nil && ts.Q.RecoveredAt > 0 && now-ts.Q.RecoveredAt < wait:
		return false // a quorum failure just ended: the last ones to see it recover lag behind
	}
	var healthy []string
	for _, v := range votes {
		if v.v.state == voteHealthy && v.v.lastHealthy > first.v.since {
			healthy = append(healthy, v.name) // saw it working after it began failing
		}
	}
	ts.qMinority = true
	for _, v := range votes {
		if v.v.state == voteFailing {
			d.minority[v.name] = append(d.minority[v.name], minorityVote{ts: ts, v: v.v, healthy: healthy})
		}
	}
	return false
}

// quorumBreak is when fewer than q vantage points saw the target failing:
// holders still do; the others recovered at the given times (at least one).
func quorumBreak(holders int, recovered []int64, q int) int64 {
	slices.Sort(recovered)
	j := holders + len(recovered) - q // 0-based index of the recovery that broke it
	j = min(max(j, 0), len(recovered)-1)
	return recovered[j]
}

func quorumDetail(ws []witness, detail string) string {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Name
	}
	s := "seen failing from " + strings.Join(names, ", ")
	if detail != "" {
		s += ": " + detail
	}
	return clip(s, maxDetail)
}

// clusterFindings adds the cluster's internal anomalies: unreachable peers
// and path problems.
func (d *Detector) clusterFindings(out map[string]*finding, now int64) {
	c := &d.o.Cluster
	reporting := d.status.Reporting
	for _, name := range c.Peers {
		p := d.peers[name]
		if p.up {
			continue
		}
		since := p.FailSince
		if since == 0 {
			since = max(p.LastOK, d.clusterStart)
		}
		comp := peerPfx + name
		detail := p.LastErr
		if detail == "" {
			detail = "no view received"
			if p.LastOK != 0 {
				detail = "no view received since " + clock(p.LastOK)
			}
		}
		f := &finding{Component: comp, Kind: compVantage, Arch: ArchCentralized, Source: "cluster",
			Class: ClassInternal, Title: "Vantage point " + name + " unreachable"}
		f.Contribs = []contributor{{ID: comp, Since: since, LastHealthy: p.LastOK,
			Ev: Evidence{TargetID: comp, Reason: "unreachable", Detail: detail, Since: unixms.Time(since)}}}
		f.Frags = []string{fmt.Sprintf("vantage point %s unreachable for {dur}: %s", name, detail),
			fmt.Sprintf("its view no longer counts: %d of %d vantage points report, quorum %d", reporting, 1+len(c.Peers), c.Quorum)}
		if reporting < c.Quorum {
			f.Frags = append(f.Frags, "no target can reach the quorum until enough vantage points report again: failures are recorded as unconfirmed, never paged")
		}
		f.Why = []string{"internal: a vantage point of the monitor itself is unreachable: not evidence about the network, never paged for disclosure"}
		out[comp] = f
	}
	for vp, ms := range d.minority {
		out[pathPfx+vp] = d.pathFinding(vp, ms, reporting)
	}
}

func (d *Detector) pathFinding(vp string, ms []minorityVote, reporting int) *finding {
	c := &d.o.Cluster
	sort.Slice(ms, func(i, j int) bool { return ms[i].ts.Target.ID < ms[j].ts.Target.ID })
	comp := pathPfx + vp
	f := &finding{Component: comp, Kind: "path", Arch: ArchCentralized, Source: "cluster", Class: ClassInternal}
	healthyFrom := map[string]bool{}
	countries := map[string]bool{}
	for _, m := range ms {
		for _, h := range m.healthy {
			healthyFrom[h] = true
		}
		cc := ""
		if n := m.ts.Target.Node; n != nil {
			cc = countryCode(n.Country)
		}
		countries[cc] = true
		detail := m.v.detail
		if len(m.healthy) > 0 {
			detail = joinFrags([]string{detail, "healthy as seen from " + strings.Join(m.healthy, ", ")})
		} else {
			detail = joinFrags([]string{detail, "unconfirmed: no other vantage point has seen it since"})
		}
		ev := Evidence{TargetID: m.ts.Target.ID, Reason: m.v.reason, Detail: clip(detail, maxDetail), Since: unixms.Time(m.v.since)}
		if n := m.ts.Target.Node; n != nil {
			ev.NodeID, ev.Role, ev.Country = n.NodeID, string(n.Role), n.Country
		}
		f.Contribs = append(f.Contribs, contributor{ID: m.ts.Target.ID, Since: m.v.since, LastHealthy: m.v.lastHealthy,
			Ev: ev, target: m.ts})
	}
	what := fmt.Sprintf("%d targets", len(ms))
	switch {
	case len(ms) == 1:
		what = ms[0].ts.Target.ID
	case len(countries) == 1 && !countries[""]:
		for cc := range countries {
			what = fmt.Sprintf("%d targets in %s", len(ms), cc)
		}
	}
	if len(healthyFrom) > 0 {
		f.Title = "Path problem from " + vp + " to " + what
		f.Frags = append(f.Frags, fmt.Sprintf("%d target(s) seen failing from %s for {dur} while %s see(s) them working; quorum %d",
			len(ms), vp, strings.Join(slices.Sorted(maps.Keys(healthyFrom)), ", "), c.Quorum))
	} else {
		f.Title = "Unconfirmed failures seen from " + vp + ": " + what
		f.Frags = append(f.Frags, fmt.Sprintf("%d target(s) seen failing from %s for {dur}, confirmed by no other vantage point: %d of %d report, quorum %d",
			len(ms), vp, reporting, 1+len(c.Peers), c.Quorum))
	}
	f.Why = []string{fmt.Sprintf("internal: seen failing from fewer vantage points than the quorum (%d): a problem on the path from %s, not evidence about the network; never paged for disclosure", c.Quorum, vp)}
	return f
}

// leaveCluster says when and why a contributor of a cluster component
// (vantage/<peer>, path/<vp>) stopped contributing.
func (d *Detector) leaveCluster(component, id string, ci contribInfo, now int64) (int64, string) {
	if name, ok := strings.CutPrefix(component, peerPfx); ok {
		p := d.peers[name]
		if p == nil {
			return 0, leftRemoved
		}
		if p.up && p.OKSince > 0 {
			return max(p.OKSince, ci.Since), leftRecovered
		}
		return now, leftRecovered
	}
	vp := strings.TrimPrefix(component, pathPfx)
	ts := d.targets[id]
	if ts == nil {
		return 0, leftForgotten
	}
	if ts.Q != nil && ts.Q.Failing {
		return 0, leftQuorum
	}
	var v vote
	switch {
	case vp == d.o.Cluster.Self && d.o.Cluster.enabled():
		v = d.selfVote(ts)
	case d.peers[vp] != nil && d.peers[vp].up:
		v = d.peers[vp].votes[id]
	case d.peers[vp] == nil && vp != d.o.Cluster.Self:
		return 0, leftRemoved
	default:
		return 0, leftUnreported
	}
	if v.state == voteHealthy {
		if v.recovered >= ci.Since && v.recovered > 0 {
			return v.recovered, leftRecovered
		}
		return max(v.lastHealthy, ci.Since), leftRecovered
	}
	return 0, leftUnreported
}
