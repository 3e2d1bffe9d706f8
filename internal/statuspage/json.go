package statuspage

import (
	"time"

	"github.com/nymwatch/nymwatch/disclosure"
)

// The public JSON, in the shape of Atlassian Statuspage's public API v2
// (GET /api/v2/summary.json and friends), so existing widgets read it
// unchanged. docs/status-page.md lists the fields and how they are filled.

// PageID is the page.id and every page_id: one page per nymwatch.
const PageID = "nymwatch"

type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + disclosure.FormatTime(time.Time(t)) + `"`), nil
}

// Page is the page object.
type Page struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt stamp  `json:"updated_at"`
}

// Status is the overall indicator.
type Status struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

// Component is one side of the network.
type Component struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Status             string  `json:"status"`
	CreatedAt          stamp   `json:"created_at"`
	UpdatedAt          stamp   `json:"updated_at"`
	Position           int     `json:"position"`
	Description        string  `json:"description"`
	Showcase           bool    `json:"showcase"`
	StartDate          *string `json:"start_date"`
	GroupID            *string `json:"group_id"`
	PageID             string  `json:"page_id"`
	Group              bool    `json:"group"`
	OnlyShowIfDegraded bool    `json:"only_show_if_degraded"`
}

// IncidentUpdate is one published update.
type IncidentUpdate struct {
	ID                 string      `json:"id"`
	Status             string      `json:"status"`
	Body               string      `json:"body"`
	IncidentID         string      `json:"incident_id"`
	CreatedAt          stamp       `json:"created_at"`
	UpdatedAt          stamp       `json:"updated_at"`
	DisplayAt          stamp       `json:"display_at"`
	AffectedComponents []Component `json:"affected_components"`
}

// Incident is one published incident.
type Incident struct {
	ID              string           `json:"id"`
	Name            string           `json:"name"`
	Status          string           `json:"status"`
	Impact          string           `json:"impact"`
	CreatedAt       stamp            `json:"created_at"`
	UpdatedAt       stamp            `json:"updated_at"`
	MonitoringAt    stamp            `json:"monitoring_at"`
	ResolvedAt      stamp            `json:"resolved_at"`
	StartedAt       stamp            `json:"started_at"`
	Shortlink       string           `json:"shortlink"`
	PageID          string           `json:"page_id"`
	IncidentUpdates []IncidentUpdate `json:"incident_updates"`
	Components      []Component      `json:"components"`
}

// Summary is GET /api/v2/summary.json.
type Summary struct {
	Page                  Page        `json:"page"`
	Components            []Component `json:"components"`
	Incidents             []Incident  `json:"incidents"`
	ScheduledMaintenances []struct{}  `json:"scheduled_maintenances"`
	Status                Status      `json:"status"`
}

// Incidents is GET /api/v2/incidents.json and incidents/unresolved.json.
type Incidents struct {
	Page      Page       `json:"page"`
	Incidents []Incident `json:"incidents"`
}

// StatusDoc is GET /api/v2/status.json.
type StatusDoc struct {
	Page   Page   `json:"page"`
	Status Status `json:"status"`
}

func (v view) page() Page {
	return Page{ID: PageID, Name: v.Name, URL: v.URL, TimeZone: "Etc/UTC", UpdatedAt: stamp(v.UpdatedAt)}
}

func (v view) status() Status { return Status{Indicator: v.Indicator, Description: v.Status} }

func (v view) components(created time.Time) []Component {
	out := make([]Component, 0, len(v.Components))
	for i, c := range v.Components {
		out = append(out, Component{
			ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: stamp(created), UpdatedAt: stamp(c.UpdatedAt),
			Position: i + 1, Description: c.Description, PageID: PageID,
		})
	}
	return out
}

func (v view) incidents(list []incidentView, created time.Time) []Incident {
	comps := map[string]Component{}
	for _, c := range v.components(created) {
		comps[c.ID] = c
	}
	out := make([]Incident, 0, len(list))
	for _, iv := range list {
		comp := comps[iv.Component]
		if iv.resolved() {
			comp.Status = "operational"
		}
		inc := Incident{
			ID: iv.ID, Name: iv.Name, Status: iv.Status, Impact: iv.Impact,
			CreatedAt: stamp(iv.CreatedAt), UpdatedAt: stamp(iv.UpdatedAt), MonitoringAt: stamp(iv.MonitoringAt),
			ResolvedAt: stamp(iv.ResolvedAt), StartedAt: stamp(iv.StartedAt),
			Shortlink: v.URL + "#" + iv.ID, PageID: PageID,
			IncidentUpdates: []IncidentUpdate{}, Components: []Component{comp},
		}
		for _, u := range iv.Updates {
			inc.IncidentUpdates = append(inc.IncidentUpdates, IncidentUpdate{
				ID: u.ID, Status: u.Status, Body: u.Body, IncidentID: iv.ID,
				CreatedAt: stamp(u.At), UpdatedAt: stamp(u.At), DisplayAt: stamp(u.At),
				AffectedComponents: []Component{},
			})
		}
		out = append(out, inc)
	}
	return out
}
