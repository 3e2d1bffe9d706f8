package disclosure

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Publication (issue 12.1). Confirming decides an incident is disclosed;
// publishing records that it was, and freezes what was said. The frozen
// version is stored (fields and Markdown) and never regenerated, however the
// live draft keeps changing; later public statements are appended as status
// updates, never rewriting what was published.

// UpdateStatus is the status of a published update, in the status-page
// convention.
type UpdateStatus string

const (
	UpdateInvestigating UpdateStatus = "investigating"
	UpdateIdentified    UpdateStatus = "identified"
	UpdateMonitoring    UpdateStatus = "monitoring"
	UpdateResolved      UpdateStatus = "resolved"
)

// Valid reports whether s is a known update status.
func (s UpdateStatus) Valid() bool {
	switch s {
	case UpdateInvestigating, UpdateIdentified, UpdateMonitoring, UpdateResolved:
		return true
	}
	return false
}

// maxUpdateBodyBytes bounds the text of one published update.
const maxUpdateBodyBytes = 8 << 10

// Publication is a frozen published version of an incident's report.
type Publication struct {
	Version      int
	PublishedAt  time.Time
	PublishedBy  string
	Class        detector.Class
	Architecture detector.Architecture
	Title        string
	FirstSeen    time.Time
	// Components are the incident's components when published (scope of
	// the status page's impact; not shown to the public).
	Components []string
	Report     Report
	Markdown   string
}

// StatusUpdate is one published, frozen update of an incident.
type StatusUpdate struct {
	Seq       int64
	At        time.Time
	Status    UpdateStatus
	Body      string
	CreatedBy string
}

// PublishedIncident is what the public may see of an incident: its
// published version and its published updates, nothing live.
type PublishedIncident struct {
	ID          string
	Publication Publication
	Updates     []StatusUpdate
}

// Status is the status of its latest update.
func (p PublishedIncident) Status() UpdateStatus {
	if n := len(p.Updates); n > 0 {
		return p.Updates[n-1].Status
	}
	return UpdateInvestigating
}

// frozenJSON is the stored form of a publication's fields.
type frozenJSON struct {
	Title      string   `json:"title"`
	FirstSeen  jsonTime `json:"first_seen"`
	Components []string `json:"components"`
	Report     Report   `json:"report"`
}

type publicationJSON struct {
	Version      int                   `json:"version"`
	PublishedAt  jsonTime              `json:"published_at"`
	PublishedBy  string                `json:"published_by"`
	Class        detector.Class        `json:"class"`
	Architecture detector.Architecture `json:"architecture"`
	Title        string                `json:"title"`
	FirstSeen    jsonTime              `json:"first_seen"`
	Report       Report                `json:"report"`
	Markdown     string                `json:"markdown"`
}

type statusUpdateJSON struct {
	Seq       int64        `json:"seq"`
	At        jsonTime     `json:"at"`
	Status    UpdateStatus `json:"status"`
	Body      string       `json:"body"`
	CreatedBy string       `json:"created_by"`
}

func publicationToJSON(inc *Incident) (*[]publicationJSON, *[]statusUpdateJSON) {
	pubs := []publicationJSON{}
	if p := inc.Publication; p != nil {
		pubs = append(pubs, publicationJSON{
			Version: p.Version, PublishedAt: jsonTime(p.PublishedAt), PublishedBy: p.PublishedBy,
			Class: p.Class, Architecture: p.Architecture, Title: p.Title, FirstSeen: jsonTime(p.FirstSeen),
			Report: p.Report, Markdown: p.Markdown,
		})
	}
	ups := make([]statusUpdateJSON, 0, len(inc.Updates))
	for _, u := range inc.Updates {
		ups = append(ups, statusUpdateJSON{Seq: u.Seq, At: jsonTime(u.At), Status: u.Status, Body: u.Body, CreatedBy: u.CreatedBy})
	}
	return &pubs, &ups
}

// loadPublication fills inc.Publication and inc.Updates.
func loadPublication(ctx context.Context, q conn, inc *Incident) error {
	p, err := loadFrozen(ctx, q, inc.ID)
	if err != nil {
		return err
	}
	inc.Publication = p
	inc.Updates, err = loadUpdates(ctx, q, inc.ID)
	return err
}

func loadFrozen(ctx context.Context, q conn, id string) (*Publication, error) {
	var (
		p       Publication
		at      int64
		raw     string
		class   string
		archStr string
	)
	err := q.QueryRowContext(ctx, `SELECT version, published_at, published_by, class, architecture, report, markdown
		FROM incident_publications WHERE incident_id = $1 ORDER BY version DESC LIMIT 1`, id).
		Scan(&p.Version, &at, &p.PublishedBy, &class, &archStr, &raw, &p.Markdown)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load publication of %s: %w", id, err)
	}
	var f frozenJSON
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil, fmt.Errorf("publication of %s: %w", id, err)
	}
	p.PublishedAt = unixms.Time(at)
	p.Class, p.Architecture = detector.Class(class), detector.Architecture(archStr)
	p.Title, p.FirstSeen, p.Components, p.Report = f.Title, time.Time(f.FirstSeen), f.Components, f.Report
	return &p, nil
}

func loadUpdates(ctx context.Context, q conn, id string) ([]StatusUpdate, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, status, body, created_by
		FROM incident_status_updates WHERE incident_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("load updates of %s: %w", id, err)
	}
	defer rows.Close()
	out := []StatusUpdate{}
	for rows.Next() {
		var (
			u  StatusUpdate
			at int64
		)
		if err := rows.Scan(&u.Seq, &at, &u.Status, &u.Body, &u.CreatedBy); err != nil {
			return nil, fmt.Errorf("load updates of %s: %w", id, err)
		}
		u.At = unixms.Time(at)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load updates of %s: %w", id, err)
	}
	return out, nil
}

// UpdateInput is a human's public statement: a status and a body.
type UpdateInput struct {
	Status UpdateStatus `json:"status"`
	Body   string       `json:"body"`
}

func (in *UpdateInput) validate(required bool) error {
	in.Body = strings.TrimSpace(in.Body)
	if in.Status != "" && !in.Status.Valid() {
		return &InvalidError{Msg: fmt.Sprintf("unknown status %q (investigating, identified, monitoring, resolved)", in.Status)}
	}
	if required && in.Status == "" {
		return &InvalidError{Msg: "status is required (investigating, identified, monitoring, resolved)"}
	}
	if required && in.Body == "" {
		return &InvalidError{Msg: "body is required: the text the public reads"}
	}
	if !utf8.ValidString(in.Body) || len(in.Body) > maxUpdateBodyBytes {
		return &InvalidError{Msg: fmt.Sprintf("body must be valid UTF-8 of at most %d bytes", maxUpdateBodyBytes)}
	}
	return nil
}

// Publish records that a confirmed (or resolved) disclosable incident was
// published, and freezes its report as published version 1, with a first
// update (in.Status, default investigating, or resolved for a resolved
// incident; in.Body, default the frozen summary). Publishing twice is a
// conflict: what was published is never replaced; add an update instead.
func (s *Service) Publish(ctx context.Context, id string, in UpdateInput, actor Actor, now time.Time) (*Incident, error) {
	if err := in.validate(false); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		row, err := loadRow(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case row.State == StateInternal:
			return &ConflictError{ID: id, State: row.State, Action: "publish", Hint: "internal incidents are not disclosed"}
		case row.State == StateDraft:
			return &ConflictError{ID: id, State: row.State, Action: "publish", Hint: "confirm the draft first"}
		case row.State != StateConfirmed && row.State != StateResolved && row.State != StateClosed:
			return &ConflictError{ID: id, State: row.State, Action: "publish", Hint: "only confirmed, resolved or closed incidents are published"}
		case !row.PublishedAt.IsZero():
			return &ConflictError{ID: id, State: row.State, Action: "publish",
				Hint: "it was published at " + FormatTime(row.PublishedAt) + "; add an update instead"}
		}
		// The report as a reader sees it now, with the Store's clock and scope.
		inc, err := getTxEnv(ctx, tx, id, s.store.env)
		if err != nil {
			return err
		}
		frozen, err := json.Marshal(frozenJSON{Title: inc.Title, FirstSeen: jsonTime(inc.FirstSeen),
			Components: nonNil(inc.Components), Report: inc.Report})
		if err != nil {
			return fmt.Errorf("freeze report of %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_publications (incident_id, version, published_at,
			published_by, class, architecture, report, markdown) VALUES ($1, 1, $2, $3, $4, $5, $6, $7)`,
			id, unixms.From(now), actor.Name, string(row.Class), string(row.Architecture), string(frozen),
			RenderMarkdown(inc)); err != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET published_at = $1, updated_at = $2 WHERE id = $3`,
			unixms.From(now), unixms.From(now), id); err != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
		if in.Status == "" {
			in.Status = UpdateInvestigating
			if row.State == StateResolved || row.State == StateClosed {
				in.Status = UpdateResolved
			}
		}
		if in.Body == "" {
			in.Body = inc.Report.Summary
		}
		if err := insertUpdate(ctx, tx, id, in, actor, now); err != nil {
			return err
		}
		return writeAudit(ctx, tx, id, now, actor, "published", map[string]any{
			"version": 1, "state": row.State, "status": in.Status, "unfilled": nonNil(inc.Report.Unfilled()),
		})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("incident published", "incident", id, "actor", actor.Name, "remote_addr", actor.RemoteAddr)
	return s.store.Get(ctx, id)
}

// AddUpdate appends a published update to a published incident. It never
// changes what was published before.
func (s *Service) AddUpdate(ctx context.Context, id string, in UpdateInput, actor Actor, now time.Time) (*Incident, error) {
	if err := in.validate(true); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		row, err := loadRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if row.PublishedAt.IsZero() {
			return &ConflictError{ID: id, State: row.State, Action: "update", Hint: "it is not published; publish it first"}
		}
		if err := insertUpdate(ctx, tx, id, in, actor, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET updated_at = $1 WHERE id = $2`, unixms.From(now), id); err != nil {
			return fmt.Errorf("update %s: %w", id, err)
		}
		return writeAudit(ctx, tx, id, now, actor, "status_update", map[string]any{"status": in.Status, "body": in.Body})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("published update added", "incident", id, "status", string(in.Status), "actor", actor.Name, "remote_addr", actor.RemoteAddr)
	return s.store.Get(ctx, id)
}

func insertUpdate(ctx context.Context, tx conn, id string, in UpdateInput, actor Actor, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_status_updates (incident_id, at, status, body, created_by)
		VALUES ($1, $2, $3, $4, $5)`, id, unixms.From(now), string(in.Status), in.Body, actor.Name); err != nil {
		return fmt.Errorf("add update to %s: %w", id, err)
	}
	return nil
}

// MaxPublished bounds Published.
const MaxPublished = 500

// Published returns the published incidents whose publication is at or
// after since or that are still unresolved (their latest update is not
// resolved), newest publication first, with their frozen version and
// updates only: what the public status page may show.
func (s *Store) Published(ctx context.Context, since time.Time) ([]PublishedIncident, error) {
	tx, err := s.db.BeginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("published incidents: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read-only
	q := dbConn(s.db, tx)
	rows, err := q.QueryContext(ctx, `SELECT id FROM incidents WHERE published_at IS NOT NULL
		ORDER BY published_at DESC, id DESC LIMIT $1`, MaxPublished)
	if err != nil {
		return nil, fmt.Errorf("published incidents: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("published incidents: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("published incidents: %w", err)
	}
	out := []PublishedIncident{}
	for _, id := range ids {
		p, err := loadFrozen(ctx, q, id)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		ups, err := loadUpdates(ctx, q, id)
		if err != nil {
			return nil, err
		}
		pi := PublishedIncident{ID: id, Publication: *p, Updates: ups}
		if pi.Status() == UpdateResolved && ups[len(ups)-1].At.Before(since) {
			continue // history older than the window
		}
		out = append(out, pi)
	}
	return out, nil
}
