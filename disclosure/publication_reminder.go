package disclosure

import (
	"context"
	"fmt"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// The same-day deadline of policy section III is met by publication, not
// by confirmation. Once a human confirmed, the draft's escalation ladder
// ends; what remains is one gentle reminder, never a ladder: a single
// low-severity page per incident if it is still unpublished
// PublicationReminderDelay after confirmation (or once the day-end warning
// window starts, if sooner), sent only before the UTC-day deadline passes.
// It is never re-sent, so it lapses by itself in Alertmanager (endsAt);
// publishing needs no end page.

// PagerPublicationAlertName is the alertname of the publication reminder.
const PagerPublicationAlertName = "NymwatchPublicationPending"

// PublicationReminderDelay is how long after confirmation an unpublished
// incident is reminded of.
const PublicationReminderDelay = 30 * time.Minute

// publicationReminderRound keeps reminder rows out of the incident's paging
// rounds: the end pages a human's decision enqueues (round >= 0) must not
// supersede them.
const publicationReminderRound = -1

// unpublishedIncident is a confirmed (or resolved) disclosable incident not
// yet published.
type unpublishedIncident struct {
	page.Subject
	ConfirmedAt time.Time
}

// unpublishedSource lists them; the Store and the Service implement it. A
// DraftSource that does not (a test's) sends no reminders.
type unpublishedSource interface {
	unpublished(ctx context.Context, now time.Time) ([]unpublishedIncident, error)
}

func (s *Service) unpublished(ctx context.Context, now time.Time) ([]unpublishedIncident, error) {
	return s.store.unpublished(ctx, now)
}

// unpublished lists the incidents whose same-day deadline may still be
// ahead (detected within the last 48 hours).
func (s *Store) unpublished(ctx context.Context, now time.Time) ([]unpublishedIncident, error) {
	rows, err := dbConn(s.db, s.db.R).QueryContext(ctx, "SELECT "+incidentColumns()+` FROM incidents
		WHERE state IN ($1, $2) AND published_at IS NULL AND detected_at >= $3 ORDER BY created_at, id`,
		string(StateConfirmed), string(StateResolved), unixms.From(now.Add(-48*time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("unpublished incidents: %w", err)
	}
	defer rows.Close()
	var out []unpublishedIncident
	for rows.Next() {
		r, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("unpublished incidents: %w", err)
		}
		inc := r.incident(nil, false)
		out = append(out, unpublishedIncident{Subject: inc.Subject(), ConfirmedAt: r.AcknowledgedAt})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unpublished incidents: %w", err)
	}
	return out, nil
}

// publicationDeadline is the end of the UTC day the incident was detected.
func publicationDeadline(s page.Subject) time.Time {
	basis := s.DetectedAt
	if basis.IsZero() {
		basis = s.CreatedAt
	}
	return basis.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
}

// publicationReminders are the reminder pages due at now.
func (o *Outbox) publicationReminders(ctx context.Context, ds DraftSource, now time.Time) ([]page.Page, error) {
	src, ok := ds.(unpublishedSource)
	if !ok {
		return nil, nil
	}
	list, err := src.unpublished(ctx, now)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	var pages []page.Page
	for _, u := range list {
		if outboxCheckSubject(u.Subject) != nil || u.Class == "internal" || u.ConfirmedAt.IsZero() {
			continue
		}
		deadline := publicationDeadline(u.Subject)
		due := u.ConfirmedAt.Add(PublicationReminderDelay)
		if w := deadline.Add(-o.esc.DayEnd); w.Before(due) {
			due = w
		}
		if now.Before(due) || !now.Before(deadline) {
			continue
		}
		pages = append(pages, o.publicationReminder(u.Subject, deadline, now))
	}
	return pages, nil
}

func (o *Outbox) publicationReminder(s page.Subject, deadline, now time.Time) page.Page {
	incidentURL := o.esc.IncidentURL(s.IncidentID)
	labels := map[string]string{
		"alertname":   PagerPublicationAlertName,
		"incident_id": s.IncidentID,
		"severity":    page.SeverityInfo,
	}
	if s.Class != "" {
		labels["class"] = s.Class
	}
	desc := fmt.Sprintf("Incident %s was confirmed for public disclosure but is not published yet. "+
		"Policy section III: disclose the same UTC day; the day ends at %s, in %s. Publish it (POST /api/v1/incidents/%s/publish, "+
		"`nymwatch incidents publish %s`, or the console).",
		s.IncidentID, page.FormatTime(deadline), deadline.Sub(now).Truncate(time.Minute), s.IncidentID, s.IncidentID)
	annot := map[string]string{
		"summary":     "Confirmed incident not published yet: " + s.Title,
		"description": desc,
	}
	if incidentURL != "" {
		annot["incident_url"] = incidentURL
		annot["description"] += " " + incidentURL
	}
	return page.Page{
		Key:        s.IncidentID + "/publication-reminder",
		IncidentID: s.IncidentID,
		Labels:     labels,
		Annot:      annot,
		StartsAt:   now,
		EndsAt:     now.Add(o.esc.Lifetime()),
		CreatedAt:  now,
		Round:      publicationReminderRound,
	}
}
