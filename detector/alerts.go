package detector

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Alert statuses, as Alertmanager spells them.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is one Alertmanager alert as the webhook accepted it, classified.
// The sink stores it (keyed by Key) and hands it to Detector.ObserveAlerts.
type Alert struct {
	// Fingerprint is Alertmanager's (a hash of the labels); computed from
	// the sorted labels the same way when the payload has none.
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"` // firing | resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"` // zero while firing, usually
	GeneratorURL string            `json:"generator_url,omitempty"`
	// Class is the alert's class: its `class` label, else the Classify rule,
	// else the webhook's DefaultClass. ClassSource says which
	// ("label", "rule" or "default").
	Class       Class     `json:"class"`
	ClassSource string    `json:"class_source"`
	Receiver    string    `json:"receiver,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
}

// Resolved reports whether Alertmanager says the alert has ended.
func (a *Alert) Resolved() bool { return a.Status == AlertResolved }

// Name is the alert's alertname label.
func (a *Alert) Name() string { return a.Labels[model.AlertNameLabel] }

// Key identifies one firing of one alert: fingerprint and start time.
// Alertmanager re-sends an alert at every repeat_interval and on retries,
// so durable storage upserts on Key.
func (a *Alert) Key() string {
	return a.Fingerprint + "@" + strconv.FormatInt(a.StartsAt.UnixMilli(), 10)
}

// Fingerprint computes Alertmanager's fingerprint of a label set (FNV-1a over
// the sorted names and values), for payloads that carry none.
func Fingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// alertState is a firing alert the detector holds.
type alertState struct {
	Alert     Alert  `json:"alert"`
	Component string `json:"component"`
}

var (
	unsafeName  = regexp.MustCompile(`[^A-Za-z0-9_.:-]+`)
	probeCompRe = regexp.MustCompile(`^(entry_gateways|exit_gateways|standby_nodes|mixnodes_layer[1-3]|country/[A-Z]{2}|node/[0-9]{1,10}|service/[A-Za-z0-9_.:-]{1,100})$`)
)

// maxNameLen bounds names taken from labels into component ids.
const maxNameLen = 100

func safeName(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	s = strings.Trim(s, "_")
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	return s
}

// alertComponent is an alert's natural group: a probe component named by
// its `component` label (the alert lands on that component's anomaly), else
// any other `component` label, else its alertname. Many instances of one
// alertname are one group, never one anomaly each.
func alertComponent(a *Alert) string {
	c := a.Labels["component"]
	if probeCompRe.MatchString(c) {
		return c
	}
	name := safeName(c)
	if name == "" {
		name = safeName(a.Name())
	}
	if name == "" {
		name = "unnamed"
	}
	return alertPrefix + name
}

// alertArchitecture: the `architecture` label wins; then a probe component
// says its side; then a `service` label means a centralized service; else
// def (the team's Prometheus mostly watches the team's own services).
func alertArchitecture(a *Alert, component string, def Architecture) Architecture {
	switch Architecture(a.Labels["architecture"]) {
	case ArchCentralized:
		return ArchCentralized
	case ArchDecentralized:
		return ArchDecentralized
	}
	if !strings.HasPrefix(component, alertPrefix) {
		return componentArch(component)
	}
	if a.Labels["service"] != "" {
		return ArchCentralized
	}
	return def
}

// componentArch is the architecture side of a probe component.
func componentArch(component string) Architecture {
	if strings.HasPrefix(component, svcPrefix) || component == compVantage {
		return ArchCentralized
	}
	return ArchDecentralized
}

// recentKeep is how long resolved alert keys are remembered, so that a
// duplicate delivery of a resolved alert does not record it twice.
const recentKeep = 48 * time.Hour

// ObserveAlerts takes alerts from the webhook. Firing alerts become (or
// join) anomalies at the next Evaluate; resolved ones resolve them, with
// resolved_at = endsAt. Re-deliveries are idempotent. New firing alerts
// beyond Options.AlertMaxFiring are not kept: they are returned in
// AlertChanges.Rejected. The changes are what StateStore.SaveAlerts
// persists: only the rows of the alerts given, whatever is held already.
func (d *Detector) ObserveAlerts(alerts []Alert, now time.Time) AlertChanges {
	d.mu.Lock()
	defer d.mu.Unlock()
	nowMs := unixms.From(now.UTC())
	ch := AlertChanges{MaxFiring: d.o.AlertMaxFiring}
	orphans := len(d.orphans)
	for i := range alerts {
		a := normalizeAlert(alerts[i])
		fp := a.Fingerprint
		if !a.Resolved() {
			if _, done := d.recent[a.Key()]; done {
				ch.Accepted++ // a late copy of an instance already resolved
				continue
			}
			st := d.alerts[fp]
			if st == nil {
				if !d.admit(&a) {
					ch.Rejected = append(ch.Rejected, a)
					continue
				}
				st = &alertState{Alert: a, Component: d.groupFor(&a)}
				d.alerts[fp] = st
				d.alertGroups[st.Component]++
			} else {
				st.Alert = a // its group stays, so the anomaly does not move
			}
			delete(d.alertEnds, fp)
			ch.Accepted++
			ch.firing = append(ch.firing, st.row())
			continue
		}
		ch.Accepted++
		end := unixms.From(a.EndsAt)
		if end == 0 {
			end = nowMs
		}
		if st := d.alerts[fp]; st != nil && !st.Alert.StartsAt.After(a.StartsAt) {
			delete(d.alerts, fp)
			d.leaveGroup(st.Component)
			d.alertEnds[fp] = end
			d.groupEnds[st.Component] = max(d.groupEnds[st.Component], end)
			d.recent[a.Key()] = nowMs
			ch.ended = append(ch.ended, AlertRow{Fingerprint: fp, Component: st.Component, StartsAt: unixms.From(a.StartsAt), EndsAt: end})
			if d.anoms[st.Component] == nil {
				// No anomaly has it: it fired and resolved between two
				// evaluations (or before the first after a restart). It is
				// recorded as opened and resolved, under the ID its anomaly
				// would have had.
				d.orphans = append(d.orphans, alertState{Alert: a, Component: st.Component})
			}
			continue
		} else if st != nil {
			continue // ends an older firing of an alert that fires again
		}
		// Not held: already recorded, or never seen firing. Its row is
		// written either way, so a retry after a failed save stores it.
		ch.ended = append(ch.ended, AlertRow{Fingerprint: fp, Component: alertComponent(&a), StartsAt: unixms.From(a.StartsAt), EndsAt: end})
		if _, seen := d.recent[a.Key()]; seen {
			continue
		}
		d.recent[a.Key()] = nowMs
		d.orphans = append(d.orphans, alertState{Alert: a, Component: alertComponent(&a)})
	}
	for k, at := range d.recent {
		if nowMs-at > recentKeep.Milliseconds() {
			delete(d.recent, k)
		}
	}
	for k, at := range d.alertEnds {
		if nowMs-at > recentKeep.Milliseconds() {
			delete(d.alertEnds, k)
		}
	}
	for k, at := range d.groupEnds {
		if nowMs-at > recentKeep.Milliseconds() && d.alertGroups[k] == 0 {
			delete(d.groupEnds, k)
		}
	}
	if len(d.orphans) != orphans {
		if b, err := json.Marshal(d.orphans); err == nil {
			ch.orphans = new(string(b))
		}
	}
	return ch
}

// AlertChanges is what one ObserveAlerts did: the rows to persist
// (StateStore.SaveAlerts) and the alerts it refused.
type AlertChanges struct {
	// Accepted counts the alerts taken (held, resolved or recognised as
	// duplicates); Rejected are the new firing alerts over MaxFiring.
	Accepted  int
	Rejected  []Alert
	MaxFiring int

	firing, ended []AlertRow
	orphans       *string // the pending orphan list, when it changed
}

// Err is an *AlertsRejectedError when alerts were refused, else nil.
func (c *AlertChanges) Err() error {
	if len(c.Rejected) == 0 {
		return nil
	}
	return &AlertsRejectedError{Rejected: c.Rejected, Accepted: c.Accepted, Limit: c.MaxFiring}
}

// admit reports whether a new firing alert may be held: below the limit,
// or a security alert within the reserve above it (a flood of lesser
// alerts must not crowd out the one the policy pages for first).
func (d *Detector) admit(a *Alert) bool {
	n, limit := len(d.alerts), d.o.AlertMaxFiring
	if n < limit {
		return true
	}
	return a.Class == ClassSecurity && n < limit+max(limit/10, 10)
}

// alertOverflow is the prefix of the groups that collect alerts of groups
// beyond Options.AlertMaxGroups, one per class ("~" is never in a name).
const alertOverflow = alertPrefix + "~others-"

// groupFor is the component a new firing alert joins: its natural group,
// unless that group has no anomaly yet and AlertMaxGroups groups already
// fire, in which case it joins its class's overflow group. Probe
// components count too: `component: node/N` labels are as many as the
// sender likes.
func (d *Detector) groupFor(a *Alert) string {
	comp := alertComponent(a)
	if d.alertGroups[comp] > 0 || d.anoms[comp] != nil {
		return comp
	}
	n := 0
	for c := range d.alertGroups {
		if !strings.HasPrefix(c, alertOverflow) {
			n++
		}
	}
	if n < d.o.AlertMaxGroups {
		return comp
	}
	return alertOverflow + string(a.Class)
}

func (d *Detector) leaveGroup(comp string) {
	if d.alertGroups[comp] <= 1 {
		delete(d.alertGroups, comp)
		return
	}
	d.alertGroups[comp]--
}

func (st *alertState) row() AlertRow {
	b, err := json.Marshal(st)
	if err != nil {
		b = []byte("{}") // maps of strings and times always encode
	}
	return AlertRow{Fingerprint: st.Alert.Fingerprint, Component: st.Component, StartsAt: unixms.From(st.Alert.StartsAt), State: b}
}

func normalizeAlert(a Alert) Alert {
	a.Labels = cloneMap(a.Labels)
	a.Annotations = cloneMap(a.Annotations)
	if a.Fingerprint == "" {
		a.Fingerprint = Fingerprint(a.Labels)
	}
	a.StartsAt = unixms.Time(unixms.From(a.StartsAt))
	a.EndsAt = unixms.Time(unixms.From(a.EndsAt))
	a.ReceivedAt = unixms.Time(unixms.From(a.ReceivedAt))
	if !a.Class.Valid() {
		a.Class = ClassOperational
		a.ClassSource = "default"
	}
	if a.Status != AlertResolved {
		a.Status = AlertFiring
	}
	return a
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// alertSummary is the alert's one-line description for evidence.
func alertSummary(a *Alert) string {
	for _, k := range []string{"summary", "description", "message"} {
		if s := strings.TrimSpace(a.Annotations[k]); s != "" {
			return clip(s, maxDetail)
		}
	}
	return ""
}

func alertContributor(st *alertState, common map[string]string) contributor {
	a := &st.Alert
	id := alertPrefix + a.Fingerprint
	detail := alertSummary(a)
	src := fmt.Sprintf("class %s from %s", a.Class, a.ClassSource)
	if own := ownLabels(a.Labels, common); own != "" {
		src = own + "; " + src
	}
	if detail != "" {
		detail += "; " + src
	} else {
		detail = src
	}
	name := a.Name()
	if name == "" {
		name = "alert"
	}
	return contributor{
		ID:    id,
		Since: unixms.From(a.StartsAt),
		Ev:    Evidence{TargetID: id, Reason: clip(name, maxNameLen), Detail: clip(detail, maxDetail), Since: a.StartsAt},
	}
}

// ownLabels names what tells an instance from the rest of its group: its
// labels that are not common to the group (at most 3, clipped).
func ownLabels(labels, common map[string]string) string {
	var keys []string
	for k := range labels {
		if _, ok := common[k]; !ok && k != "class" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for i, k := range keys {
		if i == 3 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, clip(k, 40)+"="+strconv.Quote(clip(labels[k], 80)))
	}
	return strings.Join(parts, " ")
}

// Bounds on what one alert anomaly lists, whatever the number of alerts.
const (
	maxAlertEvidence = 10 // instances listed as evidence over an anomaly's life
	maxAlertNames    = 10 // alertnames and class reasons named in the reason
	// alertRestID is the contributor standing for a group's unlisted
	// instances ("~" is never in a fingerprint).
	alertRestID = alertPrefix + "~more"
)

// alertFindings adds firing alerts to their components' findings. A group
// lists at most maxAlertEvidence instances over its anomaly's life (the
// earliest first, so first_seen is always among them); the others are one
// contributor with their count.
func (d *Detector) alertFindings(out map[string]*finding, frozen bool) {
	byComp := map[string][]*alertState{}
	for _, st := range d.alerts {
		byComp[st.Component] = append(byComp[st.Component], st)
	}
	for comp, as := range byComp {
		if frozen && !strings.HasPrefix(comp, alertPrefix) {
			continue
		}
		sort.Slice(as, func(i, j int) bool {
			if !as[i].Alert.StartsAt.Equal(as[j].Alert.StartsAt) {
				return as[i].Alert.StartsAt.Before(as[j].Alert.StartsAt)
			}
			return as[i].Alert.Fingerprint < as[j].Alert.Fingerprint
		})
		common := commonLabels(as)
		f := out[comp]
		if f == nil {
			title := alertTitle(&as[0].Alert, len(as))
			if strings.HasPrefix(comp, alertOverflow) {
				title = fmt.Sprintf("%d %s alert(s) beyond alerts.max_groups", len(as), as[0].Alert.Class)
			}
			f = &finding{Component: comp, Kind: componentKind(comp), Class: ClassInternal, Source: "alertmanager",
				Arch: alertArchitecture(&as[0].Alert, comp, d.o.AlertArchitecture), Title: title}
			out[comp] = f
		}
		listed := d.listedAlerts(comp)
		budget := maxAlertEvidence - len(listed)
		probeClass, hadProbe := f.Class, len(f.Contribs) > 0
		var names bounded
		whys := map[Class]*bounded{}
		seen := map[[3]string]bool{} // (name, class, source): each why is built once
		var rest []*alertState
		for _, st := range as {
			a := &st.Alert
			f.Class = maxClass(f.Class, a.Class)
			if k := [3]string{a.Name(), string(a.Class), a.ClassSource}; !seen[k] {
				seen[k] = true
				names.add(quoteName(a.Name()))
				if whys[a.Class] == nil {
					whys[a.Class] = &bounded{}
				}
				whys[a.Class].add(classWhy(a.Class, "alert "+quoteName(a.Name())+" classified by "+classSourceText(a.ClassSource)))
			}
			if listed[a.Fingerprint] || budget > 0 {
				if !listed[a.Fingerprint] {
					budget--
				}
				f.Contribs = append(f.Contribs, alertContributor(st, common))
				continue
			}
			rest = append(rest, st)
		}
		if len(rest) > 0 {
			f.Contribs = append(f.Contribs, restContributor(rest))
		}
		f.Frags = append(f.Frags, fmt.Sprintf("Alertmanager: %d alert(s) firing: %s", len(as), names.String()))
		if !hadProbe || rank(f.Class) > rank(probeClass) {
			f.Why = whys[f.Class].list() // the alerts decide the class
		} else {
			f.Why = append(f.Why, whys[f.Class].list()...)
		}
		f.Labels = common
	}
}

// listedAlerts is the set of fingerprints comp's open anomaly lists as
// evidence.
func (d *Detector) listedAlerts(comp string) map[string]bool {
	st := d.anoms[comp]
	if st == nil {
		return nil
	}
	out := map[string]bool{}
	for i := range st.A.Evidence {
		id := st.A.Evidence[i].TargetID
		if strings.HasPrefix(id, alertPrefix) && id != alertRestID {
			out[strings.TrimPrefix(id, alertPrefix)] = true
		}
	}
	return out
}

// restContributor stands for a group's instances not listed one by one.
func restContributor(rest []*alertState) contributor {
	since := unixms.From(rest[0].Alert.StartsAt) // rest is sorted by startsAt
	return contributor{
		ID:    alertRestID,
		Since: since,
		Ev: Evidence{TargetID: alertRestID, Reason: "more alerts",
			Detail: fmt.Sprintf("%d more firing alert(s) of this group, not listed one by one (at most %d are)", len(rest), maxAlertEvidence),
			Since:  unixms.Time(since)},
	}
}

// alertLeave says when and why an alert contributor stopped contributing:
// an instance by its endsAt, the unlisted rest by the latest endsAt in its
// group.
func (d *Detector) alertLeave(component, id string, ci contribInfo) (int64, string) {
	if id == alertRestID {
		if end, ok := d.groupEnds[component]; ok && end >= ci.Since {
			return end, leftRecovered
		}
		return 0, leftAlert
	}
	if end, ok := d.alertEnds[strings.TrimPrefix(id, alertPrefix)]; ok {
		return end, leftRecovered
	}
	return 0, leftAlert
}

// bounded collects distinct strings, keeping the first maxAlertNames and
// counting the rest.
type bounded struct {
	seen  map[string]bool
	items []string
	more  int
}

func (b *bounded) add(s string) {
	if b.seen[s] {
		return
	}
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	b.seen[s] = true
	if len(b.items) < maxAlertNames {
		b.items = append(b.items, s)
		return
	}
	b.more++
}

func (b *bounded) list() []string {
	if b == nil {
		return nil
	}
	out := slices.Clone(b.items)
	if b.more > 0 {
		out = append(out, fmt.Sprintf("and %d more", b.more))
	}
	return out
}

func (b *bounded) String() string { return strings.Join(b.list(), ", ") }

// orphanAnomalies records resolved alerts never seen firing as anomalies
// opened and resolved at once, one per group (at most AlertMaxGroups groups
// per evaluation, then one per class). Their ID is derived from component
// and earliest startsAt, so a re-delivery after a restart upserts the same
// record. An orphan whose group is open is kept as that anomaly's evidence.
func (d *Detector) orphanAnomalies(now int64) []Anomaly {
	byComp := map[string][]*alertState{}
	var order []string
	for i := range d.orphans {
		st := &d.orphans[i]
		comp := st.Component
		if byComp[comp] == nil && d.anoms[comp] == nil && len(order) >= d.o.AlertMaxGroups {
			comp = alertOverflow + string(st.Alert.Class)
		}
		if open := d.anoms[comp]; open != nil {
			if len(d.listedAlerts(comp)) < maxAlertEvidence && addEvidence(&open.A, alertContributor(st, nil).Ev) {
				open.dirty = true
			}
			continue
		}
		if byComp[comp] == nil {
			order = append(order, comp)
		}
		byComp[comp] = append(byComp[comp], st)
	}
	d.orphans = nil
	out := make([]Anomaly, 0, len(order))
	for _, comp := range order {
		as := byComp[comp]
		sort.Slice(as, func(i, j int) bool { return as[i].Alert.StartsAt.Before(as[j].Alert.StartsAt) })
		common := commonLabels(as)
		var first, res int64
		class := ClassInternal
		var names bounded
		var evs []Evidence
		var affected []string
		for i, st := range as {
			a := &st.Alert
			s, e := unixms.From(a.StartsAt), unixms.From(a.EndsAt)
			if i == 0 || s < first {
				first = s
			}
			res = max(res, e)
			class = maxClass(class, a.Class)
			names.add(quoteName(a.Name()))
			if i < maxAlertEvidence {
				c := alertContributor(st, common)
				evs = append(evs, c.Ev)
				affected = append(affected, c.ID)
			}
		}
		if len(as) > maxAlertEvidence {
			c := restContributor(as[maxAlertEvidence:])
			evs = append(evs, c.Ev)
			affected = append(affected, c.ID)
		}
		res = max(res, first)
		a0 := &as[0].Alert
		for _, st := range as {
			if st.Alert.Class == class {
				a0 = &st.Alert // the alert that decides the class explains it
				break
			}
		}
		title := alertTitle(a0, len(as))
		if strings.HasPrefix(comp, alertOverflow) {
			title = fmt.Sprintf("%d %s alert(s) beyond alerts.max_groups", len(as), class)
		}
		sort.Slice(evs, func(i, j int) bool { return evKey(&evs[i]) < evKey(&evs[j]) })
		sort.Strings(affected)
		an := Anomaly{
			ID:           anomalyID(comp, first),
			Component:    comp,
			Class:        class,
			Architecture: alertArchitecture(a0, comp, d.o.AlertArchitecture),
			Title:        title,
			Reason: joinFrags([]string{
				fmt.Sprintf("Alertmanager: %d alert(s) arrived already resolved: %s", len(as), names.String()),
				classWhy(class, "alert "+quoteName(a0.Name())+" classified by "+classSourceText(a0.ClassSource)),
			}),
			Source:     "alertmanager",
			Affected:   affected,
			Evidence:   evs,
			Labels:     common,
			FirstSeen:  unixms.Time(first),
			DetectedAt: unixms.Time(now),
			ResolvedAt: unixms.Time(res),
		}
		d.o.Metrics.transition(an.Class, "opened")
		d.o.Metrics.delay(&an)
		d.o.Metrics.transition(an.Class, "resolved")
		out = append(out, an)
	}
	return out
}

// commonLabels returns the labels every alert shares.
func commonLabels(as []*alertState) map[string]string {
	if len(as) == 0 {
		return nil
	}
	out := cloneMap(as[0].Alert.Labels)
	for _, st := range as[1:] {
		for k, v := range out {
			if st.Alert.Labels[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// Firing is the rows of the alerts this POST holds firing (to upsert,
// unless a newer firing or resolution is stored).
func (c *AlertChanges) Firing() []AlertRow { return c.firing }

// Ended is the rows of the alerts this POST resolved (kept for
// ResolvedAlertKeep, so that a late copy stays a duplicate).
func (c *AlertChanges) Ended() []AlertRow { return c.ended }

// Orphans is the encoded orphan alert list (meta MetaOrphanAlerts), when
// this POST changed it.
func (c *AlertChanges) Orphans() (string, bool) {
	if c.orphans == nil {
		return "", false
	}
	return *c.orphans, true
}
