package disclosure

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// The incident's life after "confirm" (issue 12.2-12.4, docs/follow-ups.md):
//   - confirming creates the section V channels checklist and the section VII
//     follow-ups, due relative to the confirmation;
//   - resolved (service restored) and closed (every follow-up with a due
//     date done, or a human's close) are different states; closed is stored
//     as state 'resolved' with closed_at set (see migration 0008_lifecycle);
//   - overdue follow-ups page at severity info, once a day each;
//   - reporters are credited in the acknowledgment section.

// StateClosed: resolved, and every follow-up with a due date done (or
// closed by a human). Stored as resolved with closed_at set.
const StateClosed State = "closed"

// stored is the value of the state column: closed is kept as resolved.
func (s State) stored() string {
	if s == StateClosed {
		return string(StateResolved)
	}
	return string(s)
}

// DefaultChannels are the section V channels of the policy, in its order.
func DefaultChannels() []string {
	return []string{
		"Banner on nym.com and the Help Center",
		"Discord, Telegram and X",
		"Status page",
		"Blog post (incident report series)",
		"In-app notification",
		"Email notification",
	}
}

// Follow-up phases (section VII).
const (
	PhaseImmediate = "immediate"  // 0-24 hours
	PhaseShortTerm = "short_term" // 1-7 days
	PhaseLongTerm  = "long_term"  // ongoing, no date
)

// FollowUpAlertName is the alertname of overdue follow-up pages.
const FollowUpAlertName = "NymwatchFollowUpOverdue"

// followUpRepage is how often an overdue follow-up is paged again.
const followUpRepage = 24 * time.Hour

// Bounds on what humans write here.
const (
	maxChannelRunes  = 100
	maxNoteRunes     = 2000
	maxFollowUpRunes = 300
	maxReporterRunes = 200
	maxLinkBytes     = 2000
)

// ReporterChannels are where a reporter told the team (policy V).
func ReporterChannels() []string {
	return []string{"discord", "telegram", "x", "support_ticket", "email", "other"}
}

type followUpTemplate struct {
	title string
	phase string
	due   time.Duration // 0: no date
}

// defaultFollowUps are the section VII actions.
func defaultFollowUps() []followUpTemplate {
	return []followUpTemplate{
		{"Restore service", PhaseImmediate, 24 * time.Hour},
		{"Deploy emergency fixes", PhaseImmediate, 24 * time.Hour},
		{"Publish the incident report on the Blog", PhaseShortTerm, 7 * 24 * time.Hour},
		{"Implement monitoring improvements", PhaseShortTerm, 7 * 24 * time.Hour},
		{"Architecture improvements to prevent recurrence", PhaseLongTerm, 0},
		{"Enhanced automation for faster recovery", PhaseLongTerm, 0},
	}
}

// ChannelItem is one section V channel of an incident's checklist.
type ChannelItem struct {
	Name   string
	DoneAt time.Time // zero: not done
	DoneBy string
	Note   string
}

// FollowUp is one section VII action of an incident.
type FollowUp struct {
	Seq       int
	Title     string
	Phase     string
	DueAt     time.Time // zero: no date
	CreatedAt time.Time
	CreatedBy string
	DoneAt    time.Time // zero: open
	DoneBy    string
	Note      string
	// Overdue: open past its due date, as of the read (the Store's clock).
	Overdue bool
}

// overdueAt reports whether f has a due date that passed while it is open.
func (f FollowUp) overdueAt(now time.Time) bool {
	return f.DoneAt.IsZero() && !f.DueAt.IsZero() && !now.Before(f.DueAt)
}

// Reporter is one user or community member credited in the report.
type Reporter struct {
	Seq        int
	Name       string
	Channel    string
	ReportedAt time.Time
	Link       string
	AddedAt    time.Time
	AddedBy    string
}

// NewReporter is what a human adds.
type NewReporter struct {
	Name       string
	Channel    string
	ReportedAt time.Time
	Link       string
}

// hasLifecycle reports whether an incident in state s has a checklist and
// follow-ups (it was confirmed).
func hasLifecycle(s State) bool {
	return s == StateConfirmed || s == StateResolved || s == StateClosed
}

// startLifecycle creates the channels and follow-ups of an incident being
// confirmed. Idempotent: an incident confirmed again after a reopen keeps
// its checklist and follow-ups.
func (s *Service) startLifecycle(ctx context.Context, tx conn, id string, actor Actor, now time.Time) error {
	for i, name := range s.channels {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_channels (incident_id, name, position)
			VALUES ($1, $2, $3) ON CONFLICT (incident_id, name) DO NOTHING`, id, name, i); err != nil {
			return fmt.Errorf("create channels of %s: %w", id, err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM incident_followups WHERE incident_id = $1", id).Scan(&n); err != nil {
		return fmt.Errorf("count follow-ups of %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	for i, f := range defaultFollowUps() {
		var due time.Time
		if f.due > 0 {
			due = now.Add(f.due)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_followups (incident_id, seq, title, phase, due_at,
			created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, i+1, f.title, f.phase, store.NullMillis(due), unixms.From(now), actor.Name); err != nil {
			return fmt.Errorf("create follow-ups of %s: %w", id, err)
		}
	}
	return nil
}

// lifecycleRow loads and locks an incident that has a checklist.
func lifecycleRow(ctx context.Context, tx conn, id, action string) (*incidentRow, error) {
	row, err := loadRow(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if !hasLifecycle(row.State) {
		return nil, &ConflictError{ID: id, State: row.State, Action: action, Hint: "only a confirmed, resolved or closed incident has channels, follow-ups and credit"}
	}
	return row, nil
}

func checkNote(note string) (string, error) {
	note = strings.TrimSpace(note)
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > maxNoteRunes {
		return "", &InvalidError{Msg: fmt.Sprintf("note must be valid UTF-8 of at most %d characters", maxNoteRunes)}
	}
	return note, nil
}

// SetChannel ticks (done) or un-ticks a channel of the checklist.
func (s *Service) SetChannel(ctx context.Context, id, channel string, done bool, note string, actor Actor, now time.Time) (*Incident, error) {
	note, err := checkNote(note)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	err = s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		if _, err := lifecycleRow(ctx, tx, id, "tick a channel of"); err != nil {
			return err
		}
		var doneAt, doneBy any
		if done {
			doneAt, doneBy = unixms.From(now), actor.Name
		}
		res, err := tx.ExecContext(ctx, `UPDATE incident_channels SET done_at = $1, done_by = $2, note = $3
			WHERE incident_id = $4 AND name = $5`, doneAt, doneBy, note, id, channel)
		if err != nil {
			return fmt.Errorf("tick channel of %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return &NotFoundError{What: fmt.Sprintf("channel %q of incident %s", channel, id)}
		}
		return writeAudit(ctx, tx, id, now, actor, "channel_updated", map[string]any{"channel": channel, "done": done, "note": note})
	})
	if err != nil {
		return nil, err
	}
	return s.store.Get(ctx, id)
}

// NotFoundError is an unknown channel or follow-up of a known incident
// (HTTP 404).
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// SetFollowUp marks a follow-up done (or open again). The last follow-up
// with a due date marked done closes a resolved incident.
func (s *Service) SetFollowUp(ctx context.Context, id string, seq int, done bool, note string, actor Actor, now time.Time) (*Incident, error) {
	note, err := checkNote(note)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	err = s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		row, err := lifecycleRow(ctx, tx, id, "mark a follow-up of")
		if err != nil {
			return err
		}
		var (
			title  string
			paged  sql.NullInt64
			doneAt any
			doneBy any
		)
		err = tx.QueryRowContext(ctx, "SELECT title, last_paged_at FROM incident_followups WHERE incident_id = $1 AND seq = $2", id, seq).Scan(&title, &paged)
		if errors.Is(err, sql.ErrNoRows) {
			return &NotFoundError{What: fmt.Sprintf("follow-up %d of incident %s", seq, id)}
		}
		if err != nil {
			return fmt.Errorf("read follow-up of %s: %w", id, err)
		}
		if done {
			doneAt, doneBy = unixms.From(now), actor.Name
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_followups SET done_at = $1, done_by = $2, note = $3
			WHERE incident_id = $4 AND seq = $5`, doneAt, doneBy, note, id, seq); err != nil {
			return fmt.Errorf("mark follow-up of %s: %w", id, err)
		}
		if err := writeAudit(ctx, tx, id, now, actor, "follow_up_updated", map[string]any{"seq": seq, "title": title, "done": done, "note": note}); err != nil {
			return err
		}
		if done && paged.Valid {
			// It was paged as overdue: end that alert.
			if err := s.pageFollowUp(ctx, tx, row, FollowUp{Seq: seq, Title: title}, true, now); err != nil {
				return err
			}
		}
		if done && row.State == StateResolved {
			return s.closeIfDone(ctx, tx, row, actor, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.refreshMetricsLogged(ctx)
	return s.store.Get(ctx, id)
}

// AddFollowUp adds a custom follow-up; a zero due means no date.
func (s *Service) AddFollowUp(ctx context.Context, id, title string, due time.Time, actor Actor, now time.Time) (*Incident, error) {
	title = strings.TrimSpace(title)
	if title == "" || !utf8.ValidString(title) || utf8.RuneCountInString(title) > maxFollowUpRunes || strings.ContainsAny(title, "\r\n") {
		return nil, &InvalidError{Msg: fmt.Sprintf("follow-up title must be one non-empty line of at most %d characters", maxFollowUpRunes)}
	}
	now = now.UTC().Truncate(time.Millisecond)
	due = due.UTC().Truncate(time.Millisecond)
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		if _, err := lifecycleRow(ctx, tx, id, "add a follow-up to"); err != nil {
			return err
		}
		var seq int
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) + 1 FROM incident_followups WHERE incident_id = $1", id).Scan(&seq); err != nil {
			return fmt.Errorf("add follow-up to %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_followups (incident_id, seq, title, phase, due_at,
			created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, seq, title, "custom", store.NullMillis(due), unixms.From(now), actor.Name); err != nil {
			return fmt.Errorf("add follow-up to %s: %w", id, err)
		}
		detail := map[string]any{"seq": seq, "title": title}
		if !due.IsZero() {
			detail["due_at"] = FormatTime(due)
		}
		return writeAudit(ctx, tx, id, now, actor, "follow_up_added", detail)
	})
	if err != nil {
		return nil, err
	}
	return s.store.Get(ctx, id)
}

// AddReporter credits a reporter; the acknowledgment section lists them
// unless a human wrote that section.
func (s *Service) AddReporter(ctx context.Context, id string, r NewReporter, actor Actor, now time.Time) (*Incident, error) {
	r.Name = strings.TrimSpace(r.Name)
	r.Link = strings.TrimSpace(r.Link)
	switch {
	case r.Name == "" || !utf8.ValidString(r.Name) || utf8.RuneCountInString(r.Name) > maxReporterRunes || strings.ContainsAny(r.Name, "\r\n"):
		return nil, &InvalidError{Msg: fmt.Sprintf("reporter name must be one non-empty line of at most %d characters", maxReporterRunes)}
	case !slices.Contains(ReporterChannels(), r.Channel):
		return nil, &InvalidError{Msg: fmt.Sprintf("reporter channel %q unknown (%s)", r.Channel, strings.Join(ReporterChannels(), ", "))}
	case r.ReportedAt.IsZero():
		return nil, &InvalidError{Msg: "reporter needs reported_at, when they told the team (RFC 3339)"}
	}
	if r.Link != "" {
		u, err := url.Parse(r.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(r.Link) > maxLinkBytes {
			return nil, &InvalidError{Msg: fmt.Sprintf("reporter link must be an http(s) URL of at most %d bytes", maxLinkBytes)}
		}
	}
	now = now.UTC().Truncate(time.Millisecond)
	r.ReportedAt = r.ReportedAt.UTC().Truncate(time.Millisecond)
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		if _, err := lifecycleRow(ctx, tx, id, "credit a reporter of"); err != nil {
			return err
		}
		var seq int
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) + 1 FROM incident_reporters WHERE incident_id = $1", id).Scan(&seq); err != nil {
			return fmt.Errorf("add reporter to %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_reporters (incident_id, seq, name, channel, reported_at,
			link, added_at, added_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, seq, r.Name, r.Channel, unixms.From(r.ReportedAt), r.Link, unixms.From(now), actor.Name); err != nil {
			return fmt.Errorf("add reporter to %s: %w", id, err)
		}
		return writeAudit(ctx, tx, id, now, actor, "reporter_added", map[string]any{
			"seq": seq, "name": r.Name, "channel": r.Channel, "reported_at": FormatTime(r.ReportedAt), "link": r.Link,
		})
	})
	if err != nil {
		return nil, err
	}
	return s.store.Get(ctx, id)
}

// Close closes a resolved incident whatever its follow-ups.
func (s *Service) Close(ctx context.Context, id string, actor Actor, now time.Time) (*Incident, error) {
	now = now.UTC().Truncate(time.Millisecond)
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		row, err := loadRow(ctx, tx, id)
		if err != nil {
			return err
		}
		switch row.State {
		case StateResolved:
		case StateClosed:
			return &ConflictError{ID: id, State: row.State, Action: "close", Hint: "it is already closed"}
		case StateConfirmed:
			return &ConflictError{ID: id, State: row.State, Action: "close", Hint: "resolve it first (service restored)"}
		default:
			return &ConflictError{ID: id, State: row.State, Action: "close", Hint: "only a resolved incident can be closed"}
		}
		var open int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM incident_followups WHERE incident_id = $1 AND done_at IS NULL", id).Scan(&open); err != nil {
			return fmt.Errorf("close %s: %w", id, err)
		}
		return s.markClosed(ctx, tx, row, actor, now, map[string]any{"open_follow_ups": open})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("incident closed", "incident", id, "actor", actor.Name, "remote_addr", actor.RemoteAddr)
	s.refreshMetricsLogged(ctx)
	return s.store.Get(ctx, id)
}

// closeIfDone closes a resolved incident whose follow-ups with a due date
// are all done (follow-ups without a date do not hold it open). An
// incident without follow-ups (confirmed before they existed) is closed by
// a human only.
func (s *Service) closeIfDone(ctx context.Context, tx conn, row *incidentRow, actor Actor, now time.Time) error {
	var all, open int
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN done_at IS NULL AND due_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM incident_followups WHERE incident_id = $1`, row.ID).Scan(&all, &open); err != nil {
		return fmt.Errorf("close %s: %w", row.ID, err)
	}
	if all == 0 || open > 0 {
		return nil
	}
	return s.markClosed(ctx, tx, row, actor, now, map[string]any{"auto": true, "reason": "every follow-up with a due date is done"})
}

func (s *Service) markClosed(ctx context.Context, tx conn, row *incidentRow, actor Actor, now time.Time, detail map[string]any) error {
	if _, err := tx.ExecContext(ctx, "UPDATE incidents SET closed_at = $1, updated_at = $2 WHERE id = $3",
		unixms.From(now), unixms.From(now), row.ID); err != nil {
		return fmt.Errorf("close %s: %w", row.ID, err)
	}
	detail["from"], detail["to"] = row.State, StateClosed
	row.State = StateClosed
	if err := writeAudit(ctx, tx, row.ID, now, actor, "closed", detail); err != nil {
		return err
	}
	// A closed incident's follow-ups are no longer paged: end the alerts
	// of those that were.
	rows, err := tx.QueryContext(ctx, `SELECT seq, title FROM incident_followups
		WHERE incident_id = $1 AND done_at IS NULL AND last_paged_at IS NOT NULL ORDER BY seq`, row.ID)
	if err != nil {
		return fmt.Errorf("close %s: %w", row.ID, err)
	}
	var paged []FollowUp
	for rows.Next() {
		var f FollowUp
		if err := rows.Scan(&f.Seq, &f.Title); err != nil {
			rows.Close()
			return fmt.Errorf("close %s: %w", row.ID, err)
		}
		paged = append(paged, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("close %s: %w", row.ID, err)
	}
	for _, f := range paged {
		if err := s.pageFollowUp(ctx, tx, row, f, true, now); err != nil {
			return err
		}
	}
	return nil
}

// followUpPager is the outbox as overdue follow-ups need it.
type followUpPager interface {
	FollowUpPage(ctx context.Context, tx *sql.Tx, p page.Page, now time.Time) error
}

// pageFollowUp queues the overdue page of f, or its end.
func (s *Service) pageFollowUp(ctx context.Context, tx conn, row *incidentRow, f FollowUp, end bool, now time.Time) error {
	fp, ok := s.pages.(followUpPager)
	if !ok {
		return nil
	}
	seq := strconv.Itoa(f.Seq)
	// One key per follow-up and day since due: instances sharing
	// PostgreSQL that page the same day enqueue it once (ON CONFLICT).
	day := int64(max(now.Sub(f.DueAt), 0) / followUpRepage)
	p := page.Page{
		Key:        fmt.Sprintf("%s/followup/%s/day%d", row.ID, seq, day),
		IncidentID: row.ID + "/followup/" + seq,
		Labels: map[string]string{
			"alertname": FollowUpAlertName, "incident_id": row.ID, "followup": seq, "severity": page.SeverityInfo,
		},
		Annot: map[string]string{
			"summary": fmt.Sprintf("Follow-up %s of incident %s is overdue: %s", seq, row.ID, mdPlain(f.Title, maxFollowUpRunes)),
			"description": fmt.Sprintf("Section VII follow-up %q of incident %s was due %s and is not marked done. Mark it done (POST /api/v1/incidents/%s/followups/%s) or add a note.",
				mdPlain(f.Title, maxFollowUpRunes), row.ID, FormatTime(f.DueAt), row.ID, seq),
		},
		StartsAt:  f.DueAt,
		EndsAt:    now.Add(followUpRepage + time.Hour),
		CreatedAt: now,
	}
	if end {
		p.Key = fmt.Sprintf("%s/followup/%s/end/%d", row.ID, seq, unixms.From(now))
		p.Resolved = true
		p.EndsAt = now
		p.StartsAt = now
		p.Annot = map[string]string{"summary": fmt.Sprintf("Follow-up %s of incident %s is done", seq, row.ID)}
	}
	if err := fp.FollowUpPage(ctx, tx.tx, p, now); err != nil {
		return fmt.Errorf("page follow-up %s of %s: %w", seq, row.ID, err)
	}
	return nil
}

// PageOverdueFollowUps queues an info page for each open follow-up of a
// confirmed or resolved (not closed) incident whose due date passed, at most once per
// follow-up per day. It is idempotent at one instant.
func (s *Service) PageOverdueFollowUps(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC().Truncate(time.Millisecond)
	var n int
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		rows, err := tx.QueryContext(ctx, `SELECT f.incident_id, f.seq, f.title, f.due_at FROM incident_followups f
			JOIN incidents i ON i.id = f.incident_id
			WHERE f.done_at IS NULL AND f.due_at IS NOT NULL AND f.due_at <= $1
			AND (f.last_paged_at IS NULL OR f.last_paged_at <= $2)
			AND i.state IN ('confirmed', 'resolved') AND i.closed_at IS NULL
			ORDER BY f.due_at, f.incident_id, f.seq`, unixms.From(now), unixms.From(now.Add(-followUpRepage)))
		if err != nil {
			return fmt.Errorf("overdue follow-ups: %w", err)
		}
		type due struct {
			id string
			f  FollowUp
		}
		var dues []due
		for rows.Next() {
			var d due
			var at int64
			if err := rows.Scan(&d.id, &d.f.Seq, &d.f.Title, &at); err != nil {
				rows.Close()
				return fmt.Errorf("overdue follow-ups: %w", err)
			}
			d.f.DueAt = unixms.Time(at)
			dues = append(dues, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("overdue follow-ups: %w", err)
		}
		for _, d := range dues {
			row, err := loadRow(ctx, tx, d.id)
			if err != nil {
				return err
			}
			if err := s.pageFollowUp(ctx, tx, row, d.f, false, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE incident_followups SET last_paged_at = $1 WHERE incident_id = $2 AND seq = $3",
				unixms.From(now), d.id, d.f.Seq); err != nil {
				return fmt.Errorf("overdue follow-ups: %w", err)
			}
			s.log.Info("follow-up overdue, paged", "incident", d.id, "followup", d.f.Seq, "due_at", FormatTime(d.f.DueAt))
		}
		n = len(dues)
		return nil
	})
	return n, err
}

// loadLifecycle reads an incident's checklist, follow-ups and reporters;
// now decides which follow-ups are overdue.
func loadLifecycle(ctx context.Context, q conn, inc *Incident, now time.Time) error {
	rows, err := q.QueryContext(ctx, `SELECT name, done_at, done_by, note FROM incident_channels
		WHERE incident_id = $1 ORDER BY position, name`, inc.ID)
	if err != nil {
		return fmt.Errorf("load channels of %s: %w", inc.ID, err)
	}
	inc.Channels = []ChannelItem{}
	for rows.Next() {
		var c ChannelItem
		var at sql.NullInt64
		var by sql.NullString
		if err := rows.Scan(&c.Name, &at, &by, &c.Note); err != nil {
			rows.Close()
			return fmt.Errorf("load channels of %s: %w", inc.ID, err)
		}
		c.DoneAt, c.DoneBy = store.FromNullMillis(at), by.String
		inc.Channels = append(inc.Channels, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load channels of %s: %w", inc.ID, err)
	}
	rows, err = q.QueryContext(ctx, `SELECT seq, title, phase, due_at, created_at, created_by, done_at, done_by, note
		FROM incident_followups WHERE incident_id = $1 ORDER BY seq`, inc.ID)
	if err != nil {
		return fmt.Errorf("load follow-ups of %s: %w", inc.ID, err)
	}
	inc.FollowUps = []FollowUp{}
	for rows.Next() {
		var f FollowUp
		var due, done sql.NullInt64
		var created int64
		var by sql.NullString
		if err := rows.Scan(&f.Seq, &f.Title, &f.Phase, &due, &created, &f.CreatedBy, &done, &by, &f.Note); err != nil {
			rows.Close()
			return fmt.Errorf("load follow-ups of %s: %w", inc.ID, err)
		}
		f.DueAt, f.CreatedAt, f.DoneAt, f.DoneBy = store.FromNullMillis(due), unixms.Time(created), store.FromNullMillis(done), by.String
		f.Overdue = f.overdueAt(now)
		inc.FollowUps = append(inc.FollowUps, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load follow-ups of %s: %w", inc.ID, err)
	}
	rows, err = q.QueryContext(ctx, `SELECT seq, name, channel, reported_at, link, added_at, added_by
		FROM incident_reporters WHERE incident_id = $1 ORDER BY reported_at, seq`, inc.ID)
	if err != nil {
		return fmt.Errorf("load reporters of %s: %w", inc.ID, err)
	}
	defer rows.Close()
	inc.Reporters = []Reporter{}
	for rows.Next() {
		var r Reporter
		var at, added int64
		if err := rows.Scan(&r.Seq, &r.Name, &r.Channel, &at, &r.Link, &added, &r.AddedBy); err != nil {
			return fmt.Errorf("load reporters of %s: %w", inc.ID, err)
		}
		r.ReportedAt, r.AddedAt = unixms.Time(at), unixms.Time(added)
		inc.Reporters = append(inc.Reporters, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load reporters of %s: %w", inc.ID, err)
	}
	if len(inc.Reporters) > 0 && !slices.Contains(inc.Edited, "acknowledgments") {
		inc.Report.Acknowledgments = renderAcknowledgments(inc.Reporters)
	}
	return nil
}

// reporterChannelName is how a reporter channel reads in a report.
func reporterChannelName(c string) string {
	switch c {
	case "discord":
		return "Discord"
	case "telegram":
		return "Telegram"
	case "x":
		return "X"
	case "support_ticket":
		return "a support ticket"
	case "email":
		return "email"
	default:
		return "another channel"
	}
}

// renderAcknowledgments writes the acknowledgment section from the
// reporters. Names and links are untrusted: escaped, never live links.
func renderAcknowledgments(rs []Reporter) string {
	var b strings.Builder
	b.WriteString("We thank the members of our community who reported this issue:\n\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "- %s, via %s, at %s", mdInline(r.Name, maxReporterRunes), reporterChannelName(r.Channel), FormatTime(r.ReportedAt))
		if r.Link != "" {
			fmt.Fprintf(&b, " (%s)", mdInline(r.Link, maxLinkBytes))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
