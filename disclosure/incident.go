// Package disclosure owns incidents: the store (anomalies grouped into
// incidents, one event one incident; SQLite, or PostgreSQL shared by
// several instances, see store.OpenPostgres), the section IV report draft, the
// state machine a human drives through the HTTP API or the `nymwatch
// incidents` CLI, the append-only audit trail, and paging through the outbox.
//
// Decisions worth knowing:
//   - Internal anomalies are recorded as incidents in state internal (the
//     internal knowledge base); they never page and have no workflow.
//   - A draft is either confirmed (public) or dismissed (not disclosed, with a
//     reason); it cannot be resolved directly. A dismissed incident keeps the
//     class it was detected with; its JSON "disclosure" field says "internal".
//   - resolved_at is "service restored": set from the anomalies when all have
//     recovered, or by a human's resolve if not known by then. Recovery never
//     changes the state: the policy wants even short outages disclosed.
//   - Classes only go up automatically (operational to security); lowering
//     is a human's call (dismiss).
//   - Several instances may share one PostgreSQL database. The database, not
//     timing, keeps one event one incident: anomalies of one architecture
//     side are applied one transaction at a time (an advisory transaction
//     lock), an anomaly's primary key keeps it in one incident, and rows a
//     transaction changes are read FOR UPDATE, so a human's decision and an
//     anomaly joining never overwrite each other. One instance at a time
//     delivers pages (see Outbox).
package disclosure

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// State is where an incident is in the disclosure workflow.
//
//	draft ──confirm──► confirmed ──resolve──► resolved ──close──► closed
//	  └────dismiss──► dismissed
//
// closed: every follow-up with a due date done, or a human's close (see
// lifecycle.go); a closed incident that turns security reopens as a
// resolved one does.
//
// Internal incidents (class internal, the internal knowledge base) are
// recorded in state internal and have no workflow. A draft cannot be resolved
// directly: a human first decides whether it is disclosed (confirm) or not
// (dismiss). A dismissed incident keeps the class it was detected with, so the
// record shows what the monitor saw; its Disclosure is "internal".
type State string

const (
	StateInternal  State = "internal"
	StateDraft     State = "draft"
	StateConfirmed State = "confirmed"
	StateDismissed State = "dismissed"
	StateResolved  State = "resolved"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case StateInternal, StateDraft, StateConfirmed, StateDismissed, StateResolved, StateClosed:
		return true
	}
	return false
}

// Disclosure says what the state means for publication: "pending" while a
// human has not decided, "public" once confirmed, "internal" for internal
// and dismissed incidents.
func (s State) Disclosure() string {
	switch s {
	case StateDraft:
		return "pending"
	case StateConfirmed, StateResolved, StateClosed:
		return "public"
	default:
		return "internal"
	}
}

// ErrNotFound is returned for an unknown incident ID.
var ErrNotFound = errors.New("incident not found")

// ErrInvalidAnomaly is wrapped by ApplyAnomaly for an anomaly it cannot record.
var ErrInvalidAnomaly = errors.New("invalid anomaly")

// ConflictError is an illegal state transition (HTTP 409).
type ConflictError struct {
	ID     string
	State  State
	Action string
	Hint   string
}

func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("cannot %s incident %s: it is %s", e.Action, e.ID, e.State)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// InvalidError is a bad request from a human (HTTP 400): empty dismiss
// reason, unknown report field, ...
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// Actor is who changed an incident, for the audit trail.
type Actor struct {
	Name       string // "nymwatch" for the daemon, "operator" or "operator:<name>" for humans
	RemoteAddr string
}

// SystemActorName is the audit actor of changes made by the daemon itself
// (anomalies from the detector).
const SystemActorName = "nymwatch"

// Incident is one event, as stored and served. Timestamps are UTC with
// millisecond precision; the zero time means "not known yet".
type Incident struct {
	ID    string
	Class detector.Class
	State State
	// Title is the effective title (a human's edit, else the generated one).
	Title string
	// Component is the component of the anomaly that opened the incident. It
	// never changes, so pages keep the same labels; Components lists all.
	Component    string
	Components   []string
	Architecture detector.Architecture
	Reason       string
	Affected     []string

	LastHealthy    time.Time
	FirstSeen      time.Time
	DetectedAt     time.Time
	AcknowledgedAt time.Time // first confirm or dismiss: "when the team became aware"
	ResolvedAt     time.Time // "when service was restored"
	CreatedAt      time.Time
	UpdatedAt      time.Time

	DismissReason string
	// SupersededBy is set on an internal record whose anomaly was promoted
	// and joined the disclosable incident of the same event.
	SupersededBy string

	// Report is the section IV report, generated fields overlaid with
	// human edits. Edited lists the fields (PATCH names) a human set.
	Report Report
	Edited []string

	// PageRound and PagingSince: the current paging round and when it
	// began (zero: round 0, paged from DetectedAt).
	PageRound   int
	PagingSince time.Time
	// SecurityUnacknowledgedSince is set while a confirmed incident's
	// security change waits for a human's acknowledgement (confirm); it is
	// paged until then.
	SecurityUnacknowledgedSince time.Time

	// Anomalies and Audit are loaded by Get, not by List.
	Anomalies []IncidentAnomaly
	Audit     []AuditEntry

	// Proposals maps a report field (PATCH name) to text nymwatch proposes
	// but does not assert (the privacy paragraphs): listed under
	// StillToFill until a human writes the field. Loaded by Get.
	Proposals map[string]string
	// Concurrent lists the incidents of the other architecture side that
	// overlapped this one in time, found when it was read. Loaded by Get.
	Concurrent []Related

	// PublishedAt is when a human published the incident (zero: not yet).
	// Publication (the frozen version 1) and Updates are loaded by Get.
	PublishedAt time.Time
	Publication *Publication
	Updates     []StatusUpdate
	// ClosedAt is when the incident was closed (state closed). Channels,
	// FollowUps and Reporters are loaded by Get (lifecycle.go).
	ClosedAt  time.Time
	Channels  []ChannelItem
	FollowUps []FollowUp
	Reporters []Reporter
}

// IncidentAnomaly is one anomaly of an incident, as last applied.
type IncidentAnomaly struct {
	detector.Anomaly
	JoinedAt time.Time
}

// AuditEntry is one row of the append-only audit trail.
type AuditEntry struct {
	Seq        int64
	At         time.Time
	Actor      string
	RemoteAddr string
	Action     string
	Detail     json.RawMessage
}

// Subject is the paging view of the incident.
func (inc *Incident) Subject() page.Subject {
	return page.Subject{
		IncidentID:   inc.ID,
		Class:        string(inc.Class),
		State:        string(inc.State),
		Component:    inc.Component,
		Architecture: string(inc.Architecture),
		Title:        inc.Title,
		Summary:      inc.Report.Summary,
		FirstSeen:    inc.FirstSeen,
		DetectedAt:   inc.DetectedAt,
		CreatedAt:    inc.CreatedAt,
		ResolvedAt:   inc.ResolvedAt,
		PagingSince:  inc.PagingSince,
		Round:        inc.PageRound,
	}
}

// TimeLayout is how every timestamp is written: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime writes t in TimeLayout, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// jsonTime marshals as TimeLayout, or null for the zero time.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + FormatTime(time.Time(t)) + `"`), nil
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = jsonTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	*t = jsonTime(v.UTC())
	return nil
}

// incidentJSON is the wire format of the HTTP API (docs/api.md). Anomalies, audit and report are omitted from list responses.
type incidentJSON struct {
	ID             string                `json:"id"`
	Class          detector.Class        `json:"class"`
	State          State                 `json:"state"`
	Disclosure     string                `json:"disclosure"`
	Title          string                `json:"title"`
	Component      string                `json:"component"`
	Components     []string              `json:"components"`
	Architecture   detector.Architecture `json:"architecture"`
	Reason         string                `json:"reason"`
	Affected       []string              `json:"affected"`
	LastHealthy    jsonTime              `json:"last_healthy"`
	FirstSeen      jsonTime              `json:"first_seen"`
	DetectedAt     jsonTime              `json:"detected_at"`
	AcknowledgedAt jsonTime              `json:"acknowledged_at"`
	ResolvedAt     jsonTime              `json:"resolved_at"`
	CreatedAt      jsonTime              `json:"created_at"`
	UpdatedAt      jsonTime              `json:"updated_at"`
	DismissReason  string                `json:"dismiss_reason,omitempty"`
	SupersededBy   string                `json:"superseded_by,omitempty"`
	Report         *Report               `json:"report,omitempty"`
	// Pointers: present (possibly empty) in the full view, absent in lists.
	ReportEdited   *[]string      `json:"report_edited,omitempty"`
	ReportUnfilled *[]string      `json:"report_unfilled,omitempty"`
	Anomalies      *[]anomalyJSON `json:"anomalies,omitempty"`
	Audit          *[]auditJSON   `json:"audit,omitempty"`
	// SecurityUnacknowledgedSince: a confirmed incident's security change
	// waits for acknowledgement (POST .../confirm) since then; null otherwise.
	SecurityUnacknowledgedSince jsonTime `json:"security_unacknowledged_since"`
	// Full view only: proposals for unfilled fields, and the concurrent
	// incidents of the other architecture side.
	ReportProposals map[string]string `json:"report_proposals,omitempty"`
	Concurrent      *[]relatedJSON    `json:"concurrent,omitempty"`
	// PublishedAt: null until published. Full view only: the frozen
	// published versions and the published updates.
	PublishedAt  jsonTime            `json:"published_at"`
	Published    *[]publicationJSON  `json:"published_versions,omitempty"`
	StatusUpdate *[]statusUpdateJSON `json:"updates,omitempty"`
	// closed_at, and in the full view the lifecycle (lifecycle_json.go).
	ClosedAt  jsonTime        `json:"closed_at"`
	Channels  *[]channelJSON  `json:"channels,omitempty"`
	FollowUps *[]followUpJSON `json:"follow_ups,omitempty"`
	Reporters *[]reporterJSON `json:"reporters,omitempty"`
}

type relatedJSON struct {
	ID           string                `json:"id"`
	Title        string                `json:"title"`
	Class        detector.Class        `json:"class"`
	State        State                 `json:"state"`
	Architecture detector.Architecture `json:"architecture"`
	FirstSeen    jsonTime              `json:"first_seen"`
	ResolvedAt   jsonTime              `json:"resolved_at"`
}

type evidenceJSON struct {
	TargetID string   `json:"target_id"`
	NodeID   uint32   `json:"node_id,omitempty"`
	Role     string   `json:"role,omitempty"`
	Country  string   `json:"country,omitempty"`
	Reason   string   `json:"reason"`
	Detail   string   `json:"detail,omitempty"`
	Since    jsonTime `json:"since"`
}

type promotionJSON struct {
	At     jsonTime       `json:"at"`
	From   detector.Class `json:"from"`
	To     detector.Class `json:"to"`
	Reason string         `json:"reason"`
}

type anomalyJSON struct {
	ID           string                `json:"id"`
	Component    string                `json:"component"`
	Class        detector.Class        `json:"class"`
	Architecture detector.Architecture `json:"architecture"`
	Title        string                `json:"title"`
	Reason       string                `json:"reason"`
	Source       string                `json:"source"`
	Affected     []string              `json:"affected"`
	Evidence     []evidenceJSON        `json:"evidence,omitempty"`
	Promotions   []promotionJSON       `json:"promotions,omitempty"`
	Labels       map[string]string     `json:"labels,omitempty"`
	LastHealthy  jsonTime              `json:"last_healthy"`
	FirstSeen    jsonTime              `json:"first_seen"`
	DetectedAt   jsonTime              `json:"detected_at"`
	ResolvedAt   jsonTime              `json:"resolved_at"`
	JoinedAt     jsonTime              `json:"joined_at"`
}

// auditToJSON is an audit trail (an incident's or a maintenance window's)
// as the API serves it.
func auditToJSON(entries []AuditEntry) []auditJSON {
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{Seq: e.Seq, At: jsonTime(e.At), Actor: e.Actor, RemoteAddr: e.RemoteAddr, Action: e.Action, Detail: e.Detail})
	}
	return out
}

type auditJSON struct {
	Seq        int64           `json:"seq"`
	At         jsonTime        `json:"at"`
	Actor      string          `json:"actor"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
	Action     string          `json:"action"`
	Detail     json.RawMessage `json:"detail"`
}

// MarshalJSON writes the API's incident format: timestamps as RFC 3339 UTC
// with milliseconds (null until known).
func (inc *Incident) MarshalJSON() ([]byte, error) {
	return json.Marshal(inc.toJSON(inc.Anomalies != nil || inc.Audit != nil))
}

func (inc *Incident) toJSON(full bool) incidentJSON {
	j := incidentJSON{
		ID:             inc.ID,
		Class:          inc.Class,
		State:          inc.State,
		Disclosure:     inc.State.Disclosure(),
		Title:          inc.Title,
		Component:      inc.Component,
		Components:     nonNil(inc.Components),
		Architecture:   inc.Architecture,
		Reason:         inc.Reason,
		Affected:       nonNil(inc.Affected),
		LastHealthy:    jsonTime(inc.LastHealthy),
		FirstSeen:      jsonTime(inc.FirstSeen),
		DetectedAt:     jsonTime(inc.DetectedAt),
		AcknowledgedAt: jsonTime(inc.AcknowledgedAt),
		ResolvedAt:     jsonTime(inc.ResolvedAt),
		CreatedAt:      jsonTime(inc.CreatedAt),
		UpdatedAt:      jsonTime(inc.UpdatedAt),
		DismissReason:  inc.DismissReason,
		SupersededBy:   inc.SupersededBy,

		SecurityUnacknowledgedSince: jsonTime(inc.SecurityUnacknowledgedSince),
		PublishedAt:                 jsonTime(inc.PublishedAt),
		ClosedAt:                    jsonTime(inc.ClosedAt),
	}
	if !full {
		return j
	}
	r := inc.Report
	j.Report = &r
	edited, unfilled := nonNil(inc.Edited), nonNil(inc.Report.Unfilled())
	j.ReportEdited, j.ReportUnfilled = &edited, &unfilled
	anomalies := make([]anomalyJSON, 0, len(inc.Anomalies))
	for _, a := range inc.Anomalies {
		aj := anomalyJSON{
			ID: a.ID, Component: a.Component, Class: a.Class, Architecture: a.Architecture,
			Title: a.Title, Reason: a.Reason, Source: a.Source, Affected: nonNil(a.Affected),
			Labels:      a.Labels,
			LastHealthy: jsonTime(a.LastHealthy), FirstSeen: jsonTime(a.FirstSeen),
			DetectedAt: jsonTime(a.DetectedAt), ResolvedAt: jsonTime(a.ResolvedAt),
			JoinedAt: jsonTime(a.JoinedAt),
		}
		for _, e := range a.Evidence {
			aj.Evidence = append(aj.Evidence, evidenceJSON{
				TargetID: e.TargetID, NodeID: e.NodeID, Role: e.Role, Country: e.Country,
				Reason: e.Reason, Detail: e.Detail, Since: jsonTime(e.Since),
			})
		}
		for _, p := range a.Promotions {
			aj.Promotions = append(aj.Promotions, promotionJSON{At: jsonTime(p.At), From: p.From, To: p.To, Reason: p.Reason})
		}
		anomalies = append(anomalies, aj)
	}
	audit := auditToJSON(inc.Audit)
	j.Anomalies, j.Audit = &anomalies, &audit
	for _, name := range inc.Report.Unfilled() {
		if p, ok := inc.Proposals[name]; ok {
			if j.ReportProposals == nil {
				j.ReportProposals = map[string]string{}
			}
			j.ReportProposals[name] = p
		}
	}
	concurrent := make([]relatedJSON, 0, len(inc.Concurrent))
	for _, r := range inc.Concurrent {
		concurrent = append(concurrent, relatedJSON{ID: r.ID, Title: r.Title, Class: r.Class, State: r.State,
			Architecture: r.Architecture, FirstSeen: jsonTime(r.FirstSeen), ResolvedAt: jsonTime(r.ResolvedAt)})
	}
	j.Concurrent = &concurrent
	j.Published, j.StatusUpdate = publicationToJSON(inc)
	inc.lifecycleJSON(&j)
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// describeComponent turns a detector component name into words for reports.
func describeComponent(c string) string {
	switch {
	case c == "entry_gateways":
		return "entry gateways"
	case c == "exit_gateways":
		return "exit gateways"
	case c == "gateways":
		return "gateways"
	case c == "vantage_point":
		return "the monitor's own vantage point"
	case strings.HasPrefix(c, "mixnodes_layer"):
		return "mix nodes of layer " + strings.TrimPrefix(c, "mixnodes_layer")
	case strings.HasPrefix(c, "country/"):
		return "gateways in " + strings.TrimPrefix(c, "country/")
	case strings.HasPrefix(c, "service/"):
		return "the " + strings.TrimPrefix(c, "service/") + " service"
	case strings.HasPrefix(c, "node/"):
		return "node " + strings.TrimPrefix(c, "node/")
	case strings.HasPrefix(c, "identity/node/"):
		return "the identity of node " + strings.TrimPrefix(c, "identity/node/")
	case strings.HasPrefix(c, "tls/service/"):
		return "the TLS certificate of the " + strings.TrimPrefix(c, "tls/service/") + " service"
	case strings.HasPrefix(c, "address/node/"):
		return "the announced address of node " + strings.TrimPrefix(c, "address/node/")
	case strings.HasPrefix(c, "alert/"):
		return "alert " + strings.TrimPrefix(c, "alert/")
	default:
		return strings.ReplaceAll(c, "_", " ")
	}
}
