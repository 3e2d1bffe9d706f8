package disclosure

import (
	"context"
	"database/sql"
	"time"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// Pages is the outbox as the incident service sees it. Both methods enqueue
// inside the caller's transaction, so an incident and its page commit
// together and a crash cannot lose one without the other.
type Pages interface {
	// Opened pages for a new (or newly disclosable, promoted) draft incident.
	Opened(ctx context.Context, tx *sql.Tx, s page.Subject, now time.Time) error
	// Ended ends the alert after a human confirmed or dismissed the draft.
	Ended(ctx context.Context, tx *sql.Tx, s page.Subject, now time.Time) error
}

// DraftSource lists the incidents that still wait for a human, for
// re-sending and escalation.
type DraftSource interface {
	PendingDrafts(ctx context.Context) ([]page.Subject, error)
}
