package detector

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
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

// alertComponent: an alert labelled with a probe component lands on that
// component's anomaly; any other alert is grouped by its alertname.
func alertComponent(a *Alert) string {
	if c := a.Labels["component"]; probeCompRe.MatchString(c) {
		return c
	}
	name := safeName(a.Name())
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
// resolved_at = endsAt. Re-deliveries are idempotent.
func (d *Detector) ObserveAlerts(alerts []Alert, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	nowMs := toMs(now.UTC())
	for i := range alerts {
		a := normalizeAlert(alerts[i])
		comp := alertComponent(&a)
		if !a.Resolved() {
			d.alerts[a.Fingerprint] = &alertState{Alert: a, Component: comp}
			delete(d.alertEnds, a.Fingerprint)
			continue
		}
		end := toMs(a.EndsAt)
		if end == 0 {
			end = nowMs
		}
		if st := d.alerts[a.Fingerprint]; st != nil {
			delete(d.alerts, a.Fingerprint)
			d.alertEnds[a.Fingerprint] = end
			d.recent[a.Key()] = nowMs
			continue
		}
		if _, seen := d.recent[a.Key()]; seen {
			continue
		}
		d.recent[a.Key()] = nowMs
		d.orphans = append(d.orphans, alertState{Alert: a, Component: comp})
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
}

func normalizeAlert(a Alert) Alert {
	a.Labels = cloneMap(a.Labels)
	a.Annotations = cloneMap(a.Annotations)
	if a.Fingerprint == "" {
		a.Fingerprint = Fingerprint(a.Labels)
	}
	a.StartsAt = fromMs(toMs(a.StartsAt))
	a.EndsAt = fromMs(toMs(a.EndsAt))
	a.ReceivedAt = fromMs(toMs(a.ReceivedAt))
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

func alertContributor(st *alertState) contributor {
	a := &st.Alert
	id := alertPrefix + a.Fingerprint
	detail := alertSummary(a)
	src := fmt.Sprintf("class %s from %s", a.Class, a.ClassSource)
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
		Since: toMs(a.StartsAt),
		Ev:    Evidence{TargetID: id, Reason: clip(name, maxNameLen), Detail: detail, Since: a.StartsAt},
	}
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

func sortedAlertStates(m map[string]*alertState) []*alertState {
	out := make([]*alertState, 0, len(m))
	for _, st := range m {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alert.Fingerprint < out[j].Alert.Fingerprint })
	return out
}
