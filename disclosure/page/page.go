// Package page delivers nymwatch's pages: the Page type, the Pager
// interface and its two implementations (Alertmanager API v2, generic
// webhook). It knows nothing of incidents: disclosure decides what page an
// incident deserves and queues it; a Pager only delivers it.
package page

import "time"

// Page is one notification about one incident, as queued in the outbox and
// delivered by every configured Pager. The same incident always produces the
// same Labels, so an Alertmanager cluster deduplicates pages from several
// nymwatch instances.
type Page struct {
	// Key is unique per due send (e.g. "<incident>/<kind>/<seq>"): the outbox
	// upserts on it, so a duplicated scheduler run cannot enqueue a page twice.
	Key        string            `json:"key"`
	IncidentID string            `json:"incident_id"`
	Labels     map[string]string `json:"labels"`      // alertname, incident_id, class, component, severity
	Annot      map[string]string `json:"annotations"` // summary, description, incident_url
	StartsAt   time.Time         `json:"starts_at"`   // the incident's first_seen
	EndsAt     time.Time         `json:"ends_at"`     // pushed forward on re-sends; now when a human acts
	Resolved   bool              `json:"resolved"`    // true when the page ends the alert
	CreatedAt  time.Time         `json:"created_at"`
	// Round is the incident's paging round the page belongs to (see
	// Subject.Round): an end page ends its own round only.
	Round int `json:"round,omitempty"`
}

// Subject is what paging needs to know of an incident.
type Subject struct {
	IncidentID   string    `json:"incident_id"`
	Class        string    `json:"class"` // security|operational
	State        string    `json:"state"` // draft|confirmed|dismissed|resolved|closed
	Component    string    `json:"component"`
	Architecture string    `json:"architecture"`
	Title        string    `json:"title"`
	Summary      string    `json:"summary"` // headline summary, one paragraph
	FirstSeen    time.Time `json:"first_seen"`
	DetectedAt   time.Time `json:"detected_at"`
	CreatedAt    time.Time `json:"created_at"` // when the draft was opened
	ResolvedAt   time.Time `json:"resolved_at"`
	// PagingSince, when set, is when the current paging round began (the
	// incident was reopened, or a confirmed incident's security change
	// waits for acknowledgement): the origin of resends and escalation
	// instead of DetectedAt.
	PagingSince time.Time `json:"paging_since"`
	// Round numbers the paging rounds of the incident (0 first): an incident
	// whose page was ended is paged again under new keys in a new round.
	Round int `json:"round"`
}

// timeLayout writes timestamps in UTC with milliseconds, as Prometheus
// does in the alerts it posts.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime is t as pages write it: RFC 3339, UTC, milliseconds.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
