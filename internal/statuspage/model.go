package statuspage

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// The two sides of section VI, the page's components.
const (
	componentDecentralized = "decentralized"
	componentCentralized   = "centralized"
)

var components = []struct {
	id, name, description string
	arch                  detector.Architecture
}{
	{componentDecentralized, "Decentralized Nym network", "Gateways and mix nodes run by independent operators", detector.ArchDecentralized},
	{componentCentralized, "Centralized services", "Nym's APIs: nym-api, the NymVPN API, accounts and payments", detector.ArchCentralized},
}

// Impacts, in the Statuspage vocabulary, lowest first.
const (
	impactNone     = "none"
	impactMinor    = "minor"
	impactMajor    = "major"
	impactCritical = "critical"
)

func impactRank(s string) int {
	return slices.Index([]string{impactNone, impactMinor, impactMajor, impactCritical}, s)
}

// impactOf maps a published incident to a Statuspage impact: security is
// critical; operational is major when it reaches users' way in (a
// centralized service, or entry/exit gateways as a whole) and minor when
// it is narrower (a mix layer, one country's gateways).
func impactOf(p disclosure.Publication) string {
	if p.Class == detector.ClassSecurity {
		return impactCritical
	}
	if p.Architecture == detector.ArchCentralized {
		return impactMajor
	}
	for _, c := range p.Components {
		switch {
		case c == "entry_gateways", c == "exit_gateways", c == "gateways", strings.HasPrefix(c, "service/"):
			return impactMajor
		}
	}
	return impactMinor
}

// componentStatus is the status of a side given the worst impact of its
// unresolved incidents.
func componentStatus(impact string) string {
	switch impact {
	case impactCritical:
		return "major_outage"
	case impactMajor:
		return "partial_outage"
	case impactMinor:
		return "degraded_performance"
	}
	return "operational"
}

func indicatorDescription(impact string) string {
	switch impact {
	case impactCritical:
		return "Major System Outage"
	case impactMajor:
		return "Partial System Outage"
	case impactMinor:
		return "Minor Service Outage"
	}
	return "All Systems Operational"
}

// view is everything the page shows, computed once per request from the
// published incidents only.
type view struct {
	Name       string
	URL        string
	UpdatedAt  time.Time
	Indicator  string
	Status     string
	Components []componentView
	Open       []incidentView
	History    []incidentView
	all        []incidentView
}

type componentView struct {
	ID, Name, Description, Status string
	UpdatedAt                     time.Time
}

type incidentView struct {
	ID           string
	Name         string
	Status       string // investigating|identified|monitoring|resolved
	Impact       string
	Component    string // component id
	CreatedAt    time.Time
	UpdatedAt    time.Time
	StartedAt    time.Time
	MonitoringAt time.Time
	ResolvedAt   time.Time
	Updates      []updateView // newest first, as Statuspage lists them
}

type updateView struct {
	ID     string
	Status string
	Body   string
	At     time.Time
}

func (iv incidentView) resolved() bool { return iv.Status == string(disclosure.UpdateResolved) }

func buildView(name, base string, pubs []disclosure.PublishedIncident, created time.Time) view {
	v := view{Name: name, URL: base, UpdatedAt: created}
	worst := map[string]string{}
	updated := map[string]time.Time{}
	for _, p := range pubs {
		iv := incidentView{
			ID: p.ID, Name: p.Publication.Title, Status: string(p.Status()), Impact: impactOf(p.Publication),
			CreatedAt: p.Publication.PublishedAt, UpdatedAt: p.Publication.PublishedAt, StartedAt: p.Publication.FirstSeen,
			Component: componentDecentralized,
		}
		if p.Publication.Architecture == detector.ArchCentralized {
			iv.Component = componentCentralized
		}
		for _, u := range p.Updates {
			iv.Updates = append([]updateView{{
				ID: fmt.Sprintf("%s-%d", p.ID, u.Seq), Status: string(u.Status), Body: u.Body, At: u.At,
			}}, iv.Updates...)
			iv.UpdatedAt = maxTime(iv.UpdatedAt, u.At)
			if u.Status == disclosure.UpdateMonitoring && iv.MonitoringAt.IsZero() {
				iv.MonitoringAt = u.At
			}
		}
		if iv.resolved() {
			iv.ResolvedAt = iv.Updates[0].At
		}
		v.UpdatedAt = maxTime(v.UpdatedAt, iv.UpdatedAt)
		updated[iv.Component] = maxTime(updated[iv.Component], iv.UpdatedAt)
		v.all = append(v.all, iv)
		if iv.resolved() {
			v.History = append(v.History, iv)
			continue
		}
		v.Open = append(v.Open, iv)
		if impactRank(iv.Impact) > impactRank(worst[iv.Component]) {
			worst[iv.Component] = iv.Impact
		}
	}
	overall := impactNone
	for _, c := range components {
		imp := worst[c.id]
		if impactRank(imp) > impactRank(overall) {
			overall = imp
		}
		v.Components = append(v.Components, componentView{
			ID: c.id, Name: c.name, Description: c.description, Status: componentStatus(imp),
			UpdatedAt: maxTime(created, updated[c.id]),
		})
	}
	v.Indicator, v.Status = overall, indicatorDescription(overall)
	return v
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
