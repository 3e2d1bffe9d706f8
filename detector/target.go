package detector

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
	"github.com/nymwatch/nymwatch/probes"
)

// Times inside the detector are UTC unix milliseconds (0 = unknown,
// internal/unixms): the storage precision, so a restored state compares
// equal to the saved one.
func msDur(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// maxDetail bounds a probe's detail kept as evidence.
const maxDetail = 300

// maxMissed bounds the short episodes one target keeps between two
// Evaluate calls (only the latest matter for the record).
const maxMissed = 8

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// transition is one raw state change of a target (good→failed or back).
type transition struct {
	At     int64 `json:"at"`
	ToFail bool  `json:"to_fail"`
	Prev   int64 `json:"prev"` // the previous observation, in the other state
}

// episode is a failure (or slowness) that began and ended between two
// Evaluate calls; it is still recorded, as resolved before user impact.
type episode struct {
	Since       int64  `json:"since"`
	LastHealthy int64  `json:"last_healthy"`
	RecoveredAt int64  `json:"recovered_at"`
	Reason      string `json:"reason"`
	Detail      string `json:"detail"`
	Slow        bool   `json:"slow,omitempty"`
}

// targetState is one target's hysteresis state. Exported fields are the
// persisted form (snapshot); see Options for the thresholds.
type targetState struct {
	Target *probes.Target `json:"target"`

	LastAt        int64 `json:"last_at,omitempty"`   // latest observation
	LastGood      bool  `json:"last_good,omitempty"` // latest observation was not a failure
	LastLatencyUS int64 `json:"last_latency_us,omitempty"`
	LastGoodAt    int64 `json:"last_good_at,omitempty"` // latest good observation

	ConsecFail  int    `json:"consec_fail,omitempty"`
	ConsecGood  int    `json:"consec_good,omitempty"`
	RunSince    int64  `json:"run_since,omitempty"`     // first failed observation of the current failed run
	RunPrevGood int64  `json:"run_prev_good,omitempty"` // last good observation before RunSince
	GoodRun     int64  `json:"good_run,omitempty"`      // first good observation of the current good run
	FailReason  string `json:"fail_reason,omitempty"`   // latest failure's reason
	FailDetail  string `json:"fail_detail,omitempty"`

	Failing     bool         `json:"failing,omitempty"`
	Since       int64        `json:"since,omitempty"`        // first failing observation of this failing episode
	LastHealthy int64        `json:"last_healthy,omitempty"` // last good observation before Since
	Reason      string       `json:"reason,omitempty"`       // evidence: reason of the episode (latest distinct)
	Detail      string       `json:"detail,omitempty"`
	RecoveredAt int64        `json:"recovered_at,omitempty"` // first good observation of the recovery streak
	Flapping    bool         `json:"flapping,omitempty"`
	Trans       []transition `json:"trans,omitempty"`

	// Slowness (ReasonSlow): answered correctly but over its latency limit.
	SlowRun         int    `json:"slow_run,omitempty"`
	SlowRunStart    int64  `json:"slow_run_start,omitempty"`
	SlowRunPrevFast int64  `json:"slow_run_prev_fast,omitempty"`
	FastRun         int    `json:"fast_run,omitempty"`
	FastRunStart    int64  `json:"fast_run_start,omitempty"`
	LastFastAt      int64  `json:"last_fast_at,omitempty"`
	Slow            bool   `json:"slow,omitempty"`
	SlowSince       int64  `json:"slow_since,omitempty"`
	SlowLastHealthy int64  `json:"slow_last_healthy,omitempty"`
	SlowRecoveredAt int64  `json:"slow_recovered_at,omitempty"`
	SlowDetail      string `json:"slow_detail,omitempty"`

	// Tainted: its current failure began while the vantage point was cut
	// off, so it says nothing about the target; reset on its next
	// observation after the cut-off.
	Tainted bool `json:"tainted,omitempty"`

	// Reported: an Evaluate has seen the current failing (slow) episode.
	Reported     bool      `json:"reported,omitempty"`
	SlowReported bool      `json:"slow_reported,omitempty"`
	Missed       []episode `json:"missed,omitempty"`

	// Q is the target's failure as the cluster's quorum sees it (nil on a
	// single instance, and until it first fails by quorum).
	Q *quorumState `json:"q,omitempty"`
	// qMinority: the last Evaluate recorded it as a path problem (so it
	// does not go back to waiting for the others' verdict).
	qMinority bool

	group   string // component by role (derived from Target, not persisted)
	country string // "country/XX" for active gateways, else ""
	// tkey: its nymwatch_targets labels (derived from Target, not
	// persisted), so that the per-Evaluate count builds no strings.
	tkey targetsKey

	// First-hand security signal (security.go): the current episode's
	// first observation, the last good one before it, reason and detail;
	// SecClearedAt is the good observation that ended the last episode.
	SecSince     int64  `json:"sec_since,omitempty"`
	SecHealthy   int64  `json:"sec_healthy,omitempty"`
	SecReason    string `json:"sec_reason,omitempty"`
	SecDetail    string `json:"sec_detail,omitempty"`
	SecClearedAt int64  `json:"sec_cleared_at,omitempty"`
	// NonPublic: the latest observation refused a non-public address.
	NonPublic          bool   `json:"non_public,omitempty"`
	NonPublicSince     int64  `json:"non_public_since,omitempty"`
	NonPublicDetail    string `json:"non_public_detail,omitempty"`
	NonPublicClearedAt int64  `json:"non_public_cleared_at,omitempty"`

	// ix: what it contributes to the evaluation index (index.go).
	ix ixEntry
}

func (ts *targetState) isControl() bool { return ts.Target.Kind == probes.KindControl }
func (ts *targetState) isNode() bool {
	switch ts.Target.Kind {
	case probes.KindNodeHTTP, probes.KindMixPort, probes.KindWSPort, probes.KindIdentity:
		return true
	}
	return false
}

func (ts *targetState) staging() bool {
	return ts.Target.Staging || (ts.Target.Node != nil && ts.Target.Node.Staging)
}

// nodeID returns the node's id from the descriptor or, failing that, from
// the target id "node/<id>/<kind>".
func (ts *targetState) nodeID() uint32 {
	if ts.Target.Node != nil {
		return ts.Target.Node.NodeID
	}
	rest, ok := strings.CutPrefix(ts.Target.ID, "node/")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// Component names of the probe-derived groups.
const (
	compEntry    = "entry_gateways"
	compExit     = "exit_gateways"
	compStandby  = "standby_nodes"
	compVantage  = "vantage_point"
	mixPrefix    = "mixnodes_layer"
	nodePrefix   = "node/"
	svcPrefix    = "service/"
	countryPfx   = "country/"
	alertPrefix  = "alert/"
	degradeKey   = "degradation/" // contributor id prefix for a component's degradation
	slowKey      = "slow/"        // contributor id prefix for a slow service
	vantageNetID = "vantage/network"
)

// classify derives the target's groups from its descriptor. Staging nodes
// and nodes of unknown role are their own component ("node/<id>"): never
// counted toward a group's threshold.
func (ts *targetState) classify() {
	ts.group, ts.country = "", ""
	t := ts.Target
	ts.tkey = targetsKeyOf(t, false)
	switch {
	case t.Kind == probes.KindControl, ts.outsideGroups():
		return // security.go judges these on their own
	case t.Kind == probes.KindService:
		if strings.HasPrefix(t.ID, svcPrefix) {
			ts.group = t.ID
		} else if t.Service != nil && t.Service.Name != "" {
			ts.group = svcPrefix + t.Service.Name
		} else {
			ts.group = svcPrefix + t.ID
		}
		return
	}
	nodeComp := fmt.Sprintf("%s%d", nodePrefix, ts.nodeID())
	n := t.Node
	if n == nil || ts.staging() {
		ts.group = nodeComp
		return
	}
	active := true
	switch n.Role {
	case probes.RoleEntryGateway:
		ts.group = compEntry
	case probes.RoleExitGateway:
		ts.group = compExit
	case probes.RoleMixnode:
		if n.Layer >= 1 && n.Layer <= 3 {
			ts.group = fmt.Sprintf("%s%d", mixPrefix, n.Layer)
		} else {
			ts.group = nodeComp
			active = false
		}
	case probes.RoleStandby, probes.RoleInactive:
		ts.group = compStandby
		active = false
	default:
		ts.group = nodeComp
		active = false
	}
	// Country groups count gateways only: a user chooses a country by its
	// gateways, and healthy mix nodes there must not dilute their outage
	// (mix nodes are judged by layer).
	if active && (ts.group == compEntry || ts.group == compExit) {
		if cc := countryCode(n.Country); cc != "" {
			ts.country = countryPfx + cc
		}
	}
}

// countryCode accepts an ISO 3166 alpha-2 code only, so a directory cannot
// make up components.
func countryCode(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return ""
	}
	return s
}

// cloneTarget copies a descriptor so the caller may reuse its own.
func cloneTarget(t *probes.Target) *probes.Target {
	c := *t
	if t.Node != nil {
		n := *t.Node
		n.Hosts = append([]string(nil), t.Node.Hosts...)
		n.HTTPPorts = append([]uint16(nil), t.Node.HTTPPorts...)
		c.Node = &n
	}
	if t.Service != nil {
		s := *t.Service
		c.Service = &s
	}
	return &c
}

// resetFailure forgets the current failure (used for observations made
// while the vantage point was cut off).
func (ts *targetState) resetFailure() {
	ts.ConsecFail, ts.RunSince, ts.RunPrevGood = 0, 0, 0
	ts.Failing, ts.Since, ts.LastHealthy, ts.Flapping = false, 0, 0, false
	ts.Reason, ts.Detail = "", ""
	ts.Trans = nil
	ts.SlowRun, ts.SlowRunStart, ts.Slow, ts.SlowSince = 0, 0, false, 0
	ts.Reported, ts.SlowReported = false, false
	ts.Missed = nil
	ts.Tainted = false
}

// observe applies one result (at is already in ms and newer than LastAt).
func (ts *targetState) observe(o *Options, r *probes.Result, at int64, skipTransition bool) {
	slow := r.Reason == probes.ReasonSlow
	failed := !r.OK && !slow
	good := !failed

	// Flap bookkeeping: raw state changes within the window.
	if !skipTransition && ts.LastAt != 0 && ts.LastGood != good {
		ts.Trans = append(ts.Trans, transition{At: at, ToFail: failed, Prev: ts.LastAt})
	}
	cut := at - o.FlapWindow.Milliseconds()
	i := 0
	for i < len(ts.Trans) && ts.Trans[i].At < cut {
		i++
	}
	if extra := len(ts.Trans) - i - o.FlapTransitions; extra > 0 {
		i += extra
	}
	if i > 0 {
		ts.Trans = append(ts.Trans[:0], ts.Trans[i:]...)
	}
	flapping := len(ts.Trans) >= o.FlapTransitions
	ts.Flapping = flapping

	if failed {
		ts.ConsecFail++
		ts.ConsecGood = 0
		if ts.ConsecFail == 1 {
			ts.RunSince, ts.RunPrevGood = at, ts.LastGoodAt
		}
		ts.FailReason = string(r.Reason)
		if ts.FailReason == "" {
			ts.FailReason = "failed"
		}
		ts.FailDetail = clip(r.Detail, maxDetail)
		if ts.Failing && ts.FailReason != ts.Reason {
			ts.Reason, ts.Detail = ts.FailReason, ts.FailDetail
		}
		if !ts.Failing && ts.ConsecFail >= o.FailureThreshold {
			ts.startFailing(ts.RunSince, ts.RunPrevGood)
		}
	} else {
		ts.ConsecGood++
		ts.ConsecFail = 0
		if ts.ConsecGood == 1 {
			ts.GoodRun = at
		}
		ts.LastGoodAt = at
	}
	if flapping && !ts.Failing {
		// Held failing from its first failure within the window that came
		// after its last recovery (an anomaly already closed stays closed).
		for _, tr := range ts.Trans {
			if tr.ToFail && tr.At > ts.RecoveredAt {
				ts.startFailing(tr.At, tr.Prev)
				break
			}
		}
	}
	if good && ts.Failing && !flapping && ts.ConsecGood >= o.RecoveryThreshold {
		ts.Failing = false
		ts.RecoveredAt = ts.GoodRun
		if !ts.Reported && !ts.Tainted { // a tainted failure was the vantage point's
			ts.addMissed(episode{Since: ts.Since, LastHealthy: ts.LastHealthy,
				RecoveredAt: ts.RecoveredAt, Reason: ts.Reason, Detail: ts.Detail})
		}
		ts.Reported = false
	}

	// Slowness has its own hysteresis; a hard failure neither continues nor
	// ends a slow run's recovery (the failure is reported on its own).
	switch {
	case slow:
		ts.SlowRun++
		ts.FastRun = 0
		if ts.SlowRun == 1 {
			ts.SlowRunStart, ts.SlowRunPrevFast = at, ts.LastFastAt
		}
		ts.SlowDetail = clip(r.Detail, maxDetail)
		if !ts.Slow && ts.SlowRun >= o.FailureThreshold {
			ts.Slow, ts.SlowSince, ts.SlowLastHealthy = true, ts.SlowRunStart, ts.SlowRunPrevFast
		}
	case good:
		ts.FastRun++
		ts.SlowRun = 0
		if ts.FastRun == 1 {
			ts.FastRunStart = at
		}
		ts.LastFastAt = at
		if ts.Slow && ts.FastRun >= o.RecoveryThreshold {
			ts.Slow = false
			ts.SlowRecoveredAt = ts.FastRunStart
			if !ts.SlowReported && !ts.Tainted {
				ts.addMissed(episode{Since: ts.SlowSince, LastHealthy: ts.SlowLastHealthy,
					RecoveredAt: ts.SlowRecoveredAt, Reason: string(probes.ReasonSlow), Detail: ts.SlowDetail, Slow: true})
			}
			ts.SlowReported = false
		}
	default:
		ts.FastRun = 0
	}

	ts.LastAt = at
	ts.LastGood = good
	ts.LastLatencyUS = r.Latency.Microseconds()
}

func (ts *targetState) addMissed(ep episode) {
	ts.Missed = append(ts.Missed, ep)
	if len(ts.Missed) > maxMissed {
		ts.Missed = append(ts.Missed[:0], ts.Missed[len(ts.Missed)-maxMissed:]...)
	}
}

func (ts *targetState) startFailing(since, lastHealthy int64) {
	ts.Failing = true
	ts.Since, ts.LastHealthy = since, lastHealthy
	ts.Reason, ts.Detail = ts.FailReason, ts.FailDetail
	ts.Reported = false
}

// evidence describes the target's current failure.
func (ts *targetState) evidence(reason, detail string, since int64) Evidence {
	ev := Evidence{TargetID: ts.Target.ID, Reason: reason, Detail: detail, Since: unixms.Time(since)}
	if n := ts.Target.Node; n != nil {
		ev.NodeID, ev.Role, ev.Country = n.NodeID, string(n.Role), n.Country
		if n.Role == probes.RoleMixnode && n.Layer > 0 {
			ev.Role = fmt.Sprintf("%s_layer%d", n.Role, n.Layer)
		}
	}
	if ts.Flapping {
		ev.Detail = strings.TrimSuffix("flapping; "+ev.Detail, "; ")
	}
	return ev
}
