package disclosure

import (
	"context"
	"database/sql"
	"time"
)

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

// Pages is the outbox as the incident service sees it. Both methods enqueue
// inside the caller's transaction, so an incident and its page commit
// together and a crash cannot lose one without the other.
type Pages interface {
	// Opened pages for a new (or newly disclosable, promoted) draft incident.
	Opened(ctx context.Context, tx *sql.Tx, s Subject, now time.Time) error
	// Ended ends the alert after a human confirmed or dismissed the draft.
	Ended(ctx context.Context, tx *sql.Tx, s Subject, now time.Time) error
}

// DraftSource lists the incidents that still wait for a human, for
// re-sending and escalation.
type DraftSource interface {
	PendingDrafts(ctx context.Context) ([]Subject, error)
}
