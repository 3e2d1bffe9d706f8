package detector

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// contributor is one reason a component is in trouble: a failing target, a
// slow service, a component's degradation, a firing alert, or a short
// failure that already recovered (Recovered != 0).
type contributor struct {
	ID          string
	Since       int64
	LastHealthy int64
	Ev          Evidence
	Recovered   int64

	target *targetState
	slow   bool
}

// finding is what one Evaluate sees of one component.
type finding struct {
	Component       string
	Kind            string
	Arch            Architecture
	Source          string
	Class           Class
	Contribs        []contributor
	Frags           []string // what is seen; "{dur}" becomes the anomaly's age
	Why             []string // why this class (policy wording)
	Title           string
	Count, Of       int    // failing members of the group and its size, for groups
	TitleOf         string // Title without the count, for groups
	Labels          map[string]string
	NeedDisclosable bool // opened only once disclosable (country groupings)

	// maint: covered by an active maintenance window (maintenance.go).
	maint *maintMark
}

// componentKind is the bounded metric label for a component.
func componentKind(c string) string {
	if k, ok := securityComponentKind(c); ok {
		return k
	}
	switch {
	case c == compEntry, c == compExit, c == compVantage:
		return c
	case strings.HasPrefix(c, peerPfx):
		return compVantage
	case strings.HasPrefix(c, pathPfx):
		return "path"
	case c == compStandby:
		return "standby"
	case strings.HasPrefix(c, mixPrefix):
		return "mixnodes"
	case strings.HasPrefix(c, countryPfx):
		return "country"
	case strings.HasPrefix(c, svcPrefix):
		return "service"
	case strings.HasPrefix(c, nodePrefix):
		return "node"
	default:
		return "alert"
	}
}

func rank(c Class) int {
	switch c {
	case ClassSecurity:
		return 2
	case ClassOperational:
		return 1
	}
	return 0
}

func maxClass(a, b Class) Class {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func joinFrags(f []string) string {
	var out []string
	for _, s := range f {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

func pct(r float64) string { return fmt.Sprintf("%.0f%%", 100*r) }

func clock(ms int64) string { return unixms.Time(ms).Format("2006-01-02T15:04:05Z") }

func roundDur(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Policy wording of each class decision (section II / VI).
const (
	whyGateway     = "operational: NymVPN connectivity problems or gateway unavailability (policy II)"
	whyMix         = "operational: network performance degradation (policy II)"
	whyDegradation = "operational: network performance degradation (policy II)"
	whyCountry     = "operational: correlated failure of one country's nodes, a third-party infrastructure failure affecting service (policy II)"
	whyService     = "operational: API or infrastructure outage preventing connections (policy II)"
	whySlow        = "operational: performance degradation of a centralized service (policy II)"
	whyLocalized   = "internal: below the user-impact threshold; network node issues are localized to specific operators (policy VI)"
	whyStandby     = "internal: standby and inactive nodes carry no user traffic (not in the active set), so their failure is never disclosable on its own"
	whyStaging     = "internal: staging / pre-production target, fixed pre-production; never counted toward user-impact thresholds"
	whyNoRole      = "internal: node without an active role in the directory; localized to its operator (policy VI)"
	whyHeld        = "operational decision held: waiting for a control-target observation made after the failures began, to rule out the monitor's own connectivity"
)

// whyCountryAllDown takes the country code.
const whyCountryAllDown = "operational: no gateway in %[1]s answers, so no user can connect through %[1]s at all: NymVPN connectivity problems or gateway unavailability, a correlated failure beyond a single node (policy II)"

func classWhy(c Class, src string) string {
	switch c {
	case ClassSecurity:
		return "security: " + src + " (policy II: compromise of user data, privacy or cryptographic systems)"
	case ClassOperational:
		return "operational: " + src + " (policy II)"
	}
	return "internal: " + src
}

type groupAgg struct {
	name    string
	nodes   map[uint32][]*targetState
	targets []*targetState
	// indexed: built from the index, with only the members that may
	// contribute (hotAgg); total is then the group's size in nodes.
	indexed bool
	total   int
}

func (g *groupAgg) add(ts *targetState) {
	if g.nodes == nil {
		g.nodes = map[uint32][]*targetState{}
	}
	g.targets = append(g.targets, ts)
	if ts.isNode() {
		id := ts.nodeID()
		g.nodes[id] = append(g.nodes[id], ts)
	}
}

// groupSpec is how a node group is judged.
type groupSpec struct {
	noun, title string
	ratio       float64 // 0: never operational on its own
	min         int
	opWhy       string
	intWhy      string
	country     bool
	// allDownMin > 0: every member failing, with at least allDownMin
	// members, is operational whatever ratio and min say (a small
	// country's gateways).
	allDownMin int
	allDownWhy string
}

func (d *Detector) findings(now int64, frozen bool) map[string]*finding {
	out := map[string]*finding{}
	if !frozen && !d.fullEval {
		d.syncIndex()
		for name, g := range d.ix.groups {
			if len(g.hot) == 0 && !d.degraded(name) {
				continue // no member failing: no finding
			}
			var f *finding
			agg := d.ix.hotAgg(name, g)
			switch {
			case strings.HasPrefix(name, svcPrefix):
				f = d.serviceFinding(agg, now)
			default:
				f = d.nodeGroupFinding(agg, now, d.spec(name, agg))
			}
			if f != nil {
				out[name] = f
			}
		}
		for name, g := range d.ix.countries {
			if len(g.hot) == 0 && !d.degraded(name) {
				continue
			}
			agg := d.ix.hotAgg(name, g)
			if f := d.nodeGroupFinding(agg, now, d.spec(name, agg)); f != nil {
				out[name] = f
			}
		}
	}
	if !frozen && d.fullEval {
		groups := map[string]*groupAgg{}
		countries := map[string]*groupAgg{}
		ids := make([]string, 0, len(d.targets))
		for id := range d.targets {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			ts := d.targets[id]
			if ts.group == "" {
				continue
			}
			g := groups[ts.group]
			if g == nil {
				g = &groupAgg{name: ts.group}
				groups[ts.group] = g
			}
			g.add(ts)
			if ts.country != "" {
				c := countries[ts.country]
				if c == nil {
					c = &groupAgg{name: ts.country}
					countries[ts.country] = c
				}
				c.add(ts)
			}
		}
		for name, g := range groups {
			var f *finding
			switch {
			case strings.HasPrefix(name, svcPrefix):
				f = d.serviceFinding(g, now)
			default:
				f = d.nodeGroupFinding(g, now, d.spec(name, g))
			}
			if f != nil {
				out[name] = f
			}
		}
		for name, g := range countries {
			if f := d.nodeGroupFinding(g, now, d.spec(name, g)); f != nil {
				out[name] = f
			}
		}
	}
	d.alertFindings(out, frozen)
	return out
}

// degraded reports whether a component's baseline says it is degraded.
func (d *Detector) degraded(name string) bool {
	c := d.comps[name]
	return c != nil && c.Degraded
}

func (d *Detector) spec(name string, g *groupAgg) groupSpec {
	o := &d.o
	switch {
	case name == compEntry:
		return groupSpec{noun: "entry gateways", title: "Entry gateways", ratio: o.GatewayFailureRatio,
			min: o.MinFailingGateways, opWhy: whyGateway, intWhy: whyLocalized}
	case name == compExit:
		return groupSpec{noun: "exit gateways", title: "Exit gateways", ratio: o.GatewayFailureRatio,
			min: o.MinFailingGateways, opWhy: whyGateway, intWhy: whyLocalized}
	case strings.HasPrefix(name, mixPrefix):
		l := strings.TrimPrefix(name, mixPrefix)
		return groupSpec{noun: "layer " + l + " mix nodes", title: "Mix nodes, layer " + l,
			ratio: o.MixnodeFailureRatio, min: o.MinFailingMixnodes, opWhy: whyMix, intWhy: whyLocalized}
	case strings.HasPrefix(name, countryPfx):
		cc := strings.TrimPrefix(name, countryPfx)
		return groupSpec{noun: "gateways in " + cc, title: "Gateways in " + cc, ratio: o.CountryFailureRatio,
			min: o.CountryMinNodes, opWhy: whyCountry,
			intWhy: "internal: below the country threshold; localized to specific operators (policy VI)", country: true,
			allDownMin: o.MinFailingGateways, allDownWhy: fmt.Sprintf(whyCountryAllDown, cc)}
	case name == compStandby:
		return groupSpec{noun: "standby/inactive nodes", title: "Standby nodes", intWhy: whyStandby}
	default: // node/<id>
		why := whyNoRole
		for _, ts := range g.targets {
			if ts.staging() {
				why = whyStaging
			}
		}
		return groupSpec{noun: "targets of " + name, title: "Node " + strings.TrimPrefix(name, nodePrefix), intWhy: why}
	}
}

// held: with control targets configured, an operational decision waits for
// a control observation made at or after the latest failure it rests on, at
// most VantageConfirmWithin from when the wait began (so broken control
// probes delay disclosure, never prevent it). Without control targets it
// waits, as long at most, for an observation of every target made at or
// after that failure (see roundSince), so whether the failure is near-total
// is known when it is decided and a first page already carries the mark.
func (d *Detector) held(component string, latestSince, now int64) bool {
	// d.seen is taken once per Evaluate (evalVantage): asking every
	// target for every finding cost seconds with 10,000 of them.
	lastCtrl := d.seen.lastControl
	if !d.seen.controls {
		lastCtrl = d.roundSince()
	}
	if lastCtrl >= latestSince {
		delete(d.holds, component)
		return false
	}
	start, ok := d.holds[component]
	if !ok {
		start = now
		d.holds[component] = now
	}
	return now-start < d.o.VantageConfirmWithin.Milliseconds()
}

func (d *Detector) nodeGroupFinding(g *groupAgg, now int64, sp groupSpec) *finding {
	f := &finding{Component: g.name, Kind: componentKind(g.name), Arch: ArchDecentralized, Source: "probe",
		Class: ClassInternal, Title: sp.title, NeedDisclosable: sp.country}
	n, flapping := 0, 0
	missed := map[string]bool{}
	if g.indexed {
		f.Contribs = make([]contributor, 0, len(g.targets)+1) // every member given may contribute
	}
	var latest int64
	for _, tss := range g.nodes {
		failing := false
		for _, ts := range tss {
			if fl, ok := d.failure(ts); ok {
				failing = true
				if ts.Flapping {
					flapping++
				}
				latest = max(latest, fl.since)
				f.Contribs = append(f.Contribs, contributor{ID: ts.Target.ID, Since: fl.since,
					LastHealthy: fl.lastHealthy, Ev: ts.evidence(fl.reason, fl.detail, fl.since), target: ts})
			}
			if sp.country || d.o.Cluster.enabled() {
				// Short episodes are recorded on the role groups; with a
				// cluster they are one vantage point's view only.
				continue
			}
			for _, ep := range ts.Missed {
				if ep.Slow {
					continue
				}
				missed[ts.Target.ID] = true
				f.Contribs = append(f.Contribs, contributor{ID: ts.Target.ID, Since: ep.Since,
					LastHealthy: ep.LastHealthy, Recovered: ep.RecoveredAt,
					Ev: ts.evidence(ep.Reason, ep.Detail, ep.Since), target: ts})
			}
		}
		if failing {
			n++
		}
	}
	total := len(g.nodes)
	if g.indexed {
		total = g.total
	}
	var why []string
	if n > 0 {
		r := float64(n) / float64(max(total, 1))
		if sp.ratio > 0 {
			f.Frags = append(f.Frags, fmt.Sprintf("%d of %d %s (%s) unreachable for {dur}; threshold %s and at least %d",
				n, total, sp.noun, pct(r), pct(sp.ratio), sp.min))
			switch {
			case n >= sp.min && r >= sp.ratio-1e-9:
				f.Class = ClassOperational
				why = append(why, sp.opWhy)
			case sp.allDownMin > 0 && n == total && total >= sp.allDownMin:
				f.Frags = append(f.Frags, fmt.Sprintf("all of its %d gateways down: a country with at least %d gateways, all failing, is operational whatever the ratio",
					total, sp.allDownMin))
				f.Class = ClassOperational
				why = append(why, sp.allDownWhy)
			}
		} else {
			f.Frags = append(f.Frags, fmt.Sprintf("%d of %d %s unreachable for {dur}", n, total, sp.noun))
		}
		f.Title = fmt.Sprintf("%s: %d of %d unreachable", sp.title, n, total)
		f.Count, f.Of, f.TitleOf = n, total, sp.title
	} else if len(missed) > 0 {
		f.Frags = append(f.Frags, fmt.Sprintf("%d of %d %s failed and recovered between two evaluations",
			len(missed), total, sp.noun))
		f.Title = fmt.Sprintf("%s: brief failure", sp.title)
	}
	if flapping > 0 {
		f.Frags = append(f.Frags, fmt.Sprintf("%d flapping target(s) held open (%d or more state changes within %s) until stable",
			flapping, d.o.FlapTransitions, d.o.FlapWindow))
	}
	if c := d.comps[g.name]; c != nil && c.Degraded {
		latest = max(latest, c.DegSince)
		f.Contribs = append(f.Contribs, d.degradationContributor(g.name, c))
		f.Frags = append(f.Frags, fmt.Sprintf("%s degraded since %s: %s", sp.noun, clock(c.DegSince), c.Why))
		if now-c.DegSince >= d.o.DegradationSustain.Milliseconds() {
			f.Class = ClassOperational
			why = append(why, whyDegradation)
		} else {
			f.Frags = append(f.Frags, fmt.Sprintf("degradation not yet sustained for %s", d.o.DegradationSustain))
		}
		if f.Title == sp.title {
			f.Title = sp.title + ": degraded"
		}
	}
	if len(f.Contribs) == 0 {
		return nil
	}
	d.finishClass(f, why, sp.intWhy, latest, now)
	return f
}

// finishClass adds the class rationale and applies the vantage hold.
func (d *Detector) finishClass(f *finding, why []string, intWhy string, latest, now int64) {
	if !f.Class.Disclosable() {
		delete(d.holds, f.Component)
	} else if d.held(f.Component, latest, now) {
		f.Class = ClassInternal
		f.Why = []string{whyHeld}
		if !d.seen.controls {
			f.Why = []string{whyHeldRound}
		}
		return
	}
	if f.Class.Disclosable() {
		f.Why = dedup(why)
	} else {
		f.Why = []string{intWhy}
	}
}

func dedup(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func (d *Detector) degradationContributor(comp string, c *compState) contributor {
	return contributor{ID: degradeKey + comp, Since: c.DegSince, LastHealthy: c.DegHealthy,
		Ev: Evidence{TargetID: comp, Reason: "degradation", Detail: c.Why, Since: unixms.Time(c.DegSince)}}
}

func (d *Detector) serviceFinding(g *groupAgg, now int64) *finding {
	name := strings.TrimPrefix(g.name, svcPrefix)
	f := &finding{Component: g.name, Kind: "service", Arch: ArchCentralized, Source: "probe",
		Class: ClassInternal, Title: "Service " + name}
	staging := len(g.targets) > 0
	var why []string
	var latest int64
	intWhy := ""
	for _, ts := range g.targets {
		if !ts.staging() {
			staging = false
		}
	}
	for _, ts := range g.targets {
		if fl, ok := d.failure(ts); ok {
			latest = max(latest, fl.since)
			f.Contribs = append(f.Contribs, contributor{ID: ts.Target.ID, Since: fl.since, LastHealthy: fl.lastHealthy,
				Ev: ts.evidence(fl.reason, fl.detail, fl.since), target: ts})
			detail := fl.reason
			if fl.detail != "" {
				detail += ": " + fl.detail
			}
			f.Frags = append(f.Frags, fmt.Sprintf("%s failing for {dur} (%s)", name, detail))
			f.Title = "Service " + name + " unavailable"
			if ts.Flapping {
				f.Frags = append(f.Frags, fmt.Sprintf("flapping (%d or more state changes within %s), held open until stable",
					d.o.FlapTransitions, d.o.FlapWindow))
			}
			switch {
			case staging:
			case now-fl.since >= d.o.ServiceFailureFor.Milliseconds():
				f.Class = ClassOperational
				why = append(why, whyService)
			default:
				intWhy = fmt.Sprintf("operational once it has failed for %s (service_failure_for)", d.o.ServiceFailureFor)
			}
		}
		if ts.Slow && !ts.Tainted {
			latest = max(latest, ts.SlowSince)
			f.Contribs = append(f.Contribs, contributor{ID: slowKey + ts.Target.ID, Since: ts.SlowSince,
				LastHealthy: ts.SlowLastHealthy, slow: true, target: ts,
				Ev: ts.evidence("slow", ts.SlowDetail, ts.SlowSince)})
			f.Frags = append(f.Frags, fmt.Sprintf("%s answering over its latency limit since %s", name, clock(ts.SlowSince)))
			if f.Title == "Service "+name {
				f.Title = "Service " + name + " slow"
			}
			switch {
			case staging:
			case now-ts.SlowSince >= d.o.DegradationSustain.Milliseconds():
				f.Class = ClassOperational
				why = append(why, whySlow)
			default:
				intWhy = joinFrags([]string{intWhy, fmt.Sprintf("slowness operational once sustained for %s", d.o.DegradationSustain)})
			}
		}
		if d.o.Cluster.enabled() {
			continue // short episodes: one vantage point's view only
		}
		for _, ep := range ts.Missed {
			id := ts.Target.ID
			if ep.Slow {
				id = slowKey + id
			}
			f.Contribs = append(f.Contribs, contributor{ID: id, Since: ep.Since, LastHealthy: ep.LastHealthy,
				Recovered: ep.RecoveredAt, slow: ep.Slow, target: ts, Ev: ts.evidence(ep.Reason, ep.Detail, ep.Since)})
		}
	}
	if c := d.comps[g.name]; c != nil && c.Degraded && !staging {
		latest = max(latest, c.DegSince)
		f.Contribs = append(f.Contribs, d.degradationContributor(g.name, c))
		f.Frags = append(f.Frags, fmt.Sprintf("%s degraded since %s: %s", name, clock(c.DegSince), c.Why))
		if f.Title == "Service "+name {
			f.Title = "Service " + name + " degraded"
		}
		if now-c.DegSince >= d.o.DegradationSustain.Milliseconds() {
			f.Class = ClassOperational
			why = append(why, whySlow)
		} else {
			intWhy = joinFrags([]string{intWhy, fmt.Sprintf("degradation operational once sustained for %s", d.o.DegradationSustain)})
		}
	}
	if len(f.Contribs) == 0 {
		return nil
	}
	if len(f.Frags) == 0 {
		f.Frags = append(f.Frags, name+" failed and recovered between two evaluations")
		f.Title = "Service " + name + ": brief failure"
	}
	switch {
	case staging:
		intWhy = whyStaging
	case intWhy == "":
		intWhy = "internal: recovered before user impact"
	default:
		intWhy = "internal: " + intWhy
	}
	d.finishClass(f, why, intWhy, latest, now)
	return f
}

func classSourceText(src string) string {
	switch src {
	case "label":
		return "its class label"
	case "rule":
		return "a classification rule"
	}
	return "the default alert class"
}

func alertTitle(a *Alert, n int) string {
	name := a.Name()
	if name == "" {
		name = "alert"
	}
	t := "Alert " + clip(name, maxNameLen)
	if s := strings.TrimSpace(a.Annotations["summary"]); s != "" {
		t += ": " + clip(s, 120)
	}
	if n > 1 {
		t += fmt.Sprintf(" (%d alerts)", n)
	}
	return t
}
