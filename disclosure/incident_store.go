package disclosure

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// Store reads incidents from the database (SQLite, or the shared PostgreSQL
// database: store.OpenPostgres). It needs only the database, so
// the outbox can take it as its DraftSource before the Service (which needs
// the outbox as its Pages) exists.
type Store struct {
	db *store.DB
	// env is the clock and probed scope of rendered reports (set by
	// NewService from its options).
	env reportEnv
}

// NewStore returns a Store over db (opened with store.Open or
// store.OpenPostgres).
func NewStore(db *store.DB) *Store { return &Store{db: db} }

var _ DraftSource = (*Store)(nil)

// Filter selects incidents for List. Zero values match everything.
type Filter struct {
	State State
	Class detector.Class
	// Limit bounds the result (newest first); 0 means DefaultListLimit.
	Limit int
}

// DefaultListLimit and MaxListLimit bound List.
const (
	DefaultListLimit = 500
	MaxListLimit     = 5000
)

// incidentRow is an incidents row as stored.
type incidentRow struct {
	ID             string
	Class          detector.Class
	State          State
	Title          string // generated title; a human's is in overrides
	Component      string
	Components     []string
	Architecture   detector.Architecture
	Reason         string
	Affected       []string
	LastHealthy    time.Time
	FirstSeen      time.Time
	DetectedAt     time.Time
	AcknowledgedAt time.Time
	ResolvedAt     time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DismissReason  string
	SupersededBy   string
	// overrides maps a report field name to a human's text.
	overrides map[string]string
	// PageRound, PagingSince and SecurityUnackSince: see migration
	// 0006_security_paging.sql.
	PageRound          int
	PagingSince        time.Time
	SecurityUnackSince time.Time
	// PublishedAt: see migration 0008_publication.sql.
	PublishedAt time.Time
	// ClosedAt set: the incident is closed (stored state resolved).
	ClosedAt time.Time
}

func incidentColumns() string {
	cols := []string{
		"id", "class", "state", "title", "component", "components", "architecture", "reason", "affected",
		"last_healthy", "first_seen", "detected_at", "acknowledged_at", "resolved_at", "created_at", "updated_at",
		"dismiss_reason", "superseded_by",
	}
	for _, f := range reportFields() {
		cols = append(cols, f.column)
	}
	cols = append(cols, "page_round", "paging_since", "security_unacknowledged_since")
	cols = append(cols, "published_at")
	cols = append(cols, "closed_at")
	return strings.Join(cols, ", ")
}

type scanner interface{ Scan(dest ...any) error }

func scanIncident(sc scanner) (*incidentRow, error) {
	var (
		r                                     incidentRow
		components, affected                  string
		lastHealthy, acked, resolved          sql.NullInt64
		firstSeen, detected, created, updated int64
		dismiss, superseded                   sql.NullString
	)
	fields := reportFields()
	over := make([]sql.NullString, len(fields))
	dest := []any{
		&r.ID, &r.Class, &r.State, &r.Title, &r.Component, &components, &r.Architecture, &r.Reason, &affected,
		&lastHealthy, &firstSeen, &detected, &acked, &resolved, &created, &updated, &dismiss, &superseded,
	}
	for i := range over {
		dest = append(dest, &over[i])
	}
	var pagingSince, unack sql.NullInt64
	dest = append(dest, &r.PageRound, &pagingSince, &unack)
	var published sql.NullInt64
	dest = append(dest, &published)
	var closedAt sql.NullInt64
	dest = append(dest, &closedAt)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(components), &r.Components); err != nil {
		return nil, fmt.Errorf("incident %s: components: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(affected), &r.Affected); err != nil {
		return nil, fmt.Errorf("incident %s: affected: %w", r.ID, err)
	}
	r.LastHealthy = store.FromNullMillis(lastHealthy)
	r.FirstSeen = unixms.Time(firstSeen)
	r.DetectedAt = unixms.Time(detected)
	r.AcknowledgedAt = store.FromNullMillis(acked)
	r.ResolvedAt = store.FromNullMillis(resolved)
	r.CreatedAt = unixms.Time(created)
	r.UpdatedAt = unixms.Time(updated)
	r.DismissReason = dismiss.String
	r.SupersededBy = superseded.String
	r.PagingSince = store.FromNullMillis(pagingSince)
	r.SecurityUnackSince = store.FromNullMillis(unack)
	r.PublishedAt = store.FromNullMillis(published)
	if r.ClosedAt = store.FromNullMillis(closedAt); !r.ClosedAt.IsZero() && r.State == StateResolved {
		r.State = StateClosed
	}
	r.overrides = map[string]string{}
	for i, f := range fields {
		if over[i].Valid {
			r.overrides[f.name] = over[i].String
		}
	}
	return &r, nil
}

// loadRow reads one incident; in a write transaction it locks the row.
func loadRow(ctx context.Context, q conn, id string) (*incidentRow, error) {
	row := q.QueryRowContext(ctx, "SELECT "+incidentColumns()+" FROM incidents WHERE id = $1"+q.forUpdate(), id)
	r, err := scanIncident(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load incident %s: %w", id, err)
	}
	return r, nil
}

// member is one anomaly row of an incident.
type member struct {
	a             detector.Anomaly
	raw           string // the stored JSON
	incidentID    string
	joinedAt      time.Time
	disclosableAt time.Time
}

const memberColumns = "anomaly_id, incident_id, anomaly, joined_at, disclosable_at"

func scanMember(sc scanner) (*member, error) {
	var (
		m           member
		id          string
		joined      int64
		disclosable sql.NullInt64
	)
	if err := sc.Scan(&id, &m.incidentID, &m.raw, &joined, &disclosable); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(m.raw), &m.a); err != nil {
		return nil, fmt.Errorf("anomaly %s: %w", id, err)
	}
	m.joinedAt = unixms.Time(joined)
	m.disclosableAt = store.FromNullMillis(disclosable)
	return &m, nil
}

func loadMember(ctx context.Context, q conn, anomalyID string) (*member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, "SELECT "+memberColumns+" FROM incident_anomalies WHERE anomaly_id = $1", anomalyID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load anomaly %s: %w", anomalyID, err)
	}
	return m, nil
}

func loadMembers(ctx context.Context, q conn, incidentID string) ([]*member, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+memberColumns+` FROM incident_anomalies
		WHERE incident_id = $1 ORDER BY joined_at, first_seen, anomaly_id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("load anomalies of %s: %w", incidentID, err)
	}
	defer rows.Close()
	var ms []*member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("load anomalies of %s: %w", incidentID, err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load anomalies of %s: %w", incidentID, err)
	}
	return ms, nil
}

func loadAudit(ctx context.Context, q conn, incidentID string) ([]AuditEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, remote_addr, action, detail
		FROM incident_audit WHERE incident_id = $1 ORDER BY seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("load audit of %s: %w", incidentID, err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("load audit of %s: %w", incidentID, err)
	}
	return out, nil
}

// scanAudit reads audit rows (seq, at, actor, remote_addr, action, detail)
// of an incident or a maintenance window, and closes them.
func scanAudit(rows *sql.Rows) ([]AuditEntry, error) {
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var (
			e      AuditEntry
			at     int64
			detail string
		)
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.RemoteAddr, &e.Action, &detail); err != nil {
			return nil, err
		}
		e.At = unixms.Time(at)
		e.Detail = json.RawMessage(detail)
		out = append(out, e)
	}
	return out, rows.Err()
}

// incident builds the API view of the row: the effective title and summary
// (which need no anomalies) and the list of edited fields. withReport also
// drafts the other report fields from the anomalies, as of the wall clock
// (getTx uses the Store's clock and the concurrent incidents instead).
func (r *incidentRow) incident(ms []*member, withReport bool) *Incident {
	var in *reportInputs
	if withReport {
		in = &reportInputs{now: time.Now().UTC()}
	}
	return r.build(ms, in)
}

// build is incident with the report drafted from in, or only the summary
// when in is nil.
func (r *incidentRow) build(ms []*member, in *reportInputs) *Incident {
	inc := &Incident{
		ID: r.ID, Class: r.Class, State: r.State, Title: r.Title,
		Component: r.Component, Components: r.Components, Architecture: r.Architecture,
		Reason: r.Reason, Affected: r.Affected,
		LastHealthy: r.LastHealthy, FirstSeen: r.FirstSeen, DetectedAt: r.DetectedAt,
		AcknowledgedAt: r.AcknowledgedAt, ResolvedAt: r.ResolvedAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		DismissReason: r.DismissReason, SupersededBy: r.SupersededBy,
		PageRound: r.PageRound, PagingSince: r.PagingSince, SecurityUnacknowledgedSince: r.SecurityUnackSince,
		PublishedAt: r.PublishedAt,
		ClosedAt:    r.ClosedAt,
	}
	// A human's title is used by the generated summary too.
	if t, ok := r.overrides["title"]; ok {
		inc.Title = t
	}
	if in != nil {
		as := make([]detector.Anomaly, 0, len(ms))
		for _, m := range ms {
			as = append(as, m.a)
		}
		inc.Report, inc.Proposals = generateReport(inc, as, *in)
		inc.Concurrent = concurrentOf(inc, in.related)
	} else {
		inc.Report.Summary = draftSummary(inc)
	}
	for _, f := range reportFields() {
		if v, ok := r.overrides[f.name]; ok {
			*f.ptr(inc) = v
			inc.Edited = append(inc.Edited, f.name)
		}
	}
	return inc
}

// Get returns one incident with its report, anomalies and audit trail.
func (s *Store) Get(ctx context.Context, id string) (*Incident, error) {
	tx, err := s.db.BeginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("get incident: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to commit
	return getTxEnv(ctx, dbConn(s.db, tx), id, s.env)
}

// getTx is getTxEnv with the wall clock and no probed scope (the service's
// edits use it for their audit rows, which record only edited fields).
func getTx(ctx context.Context, q conn, id string) (*Incident, error) {
	return getTxEnv(ctx, q, id, reportEnv{})
}

func getTxEnv(ctx context.Context, q conn, id string, env reportEnv) (*Incident, error) {
	r, err := loadRow(ctx, q, id)
	if err != nil {
		return nil, err
	}
	ms, err := loadMembers(ctx, q, id)
	if err != nil {
		return nil, err
	}
	audit, err := loadAudit(ctx, q, id)
	if err != nil {
		return nil, err
	}
	in := reportInputs{now: env.clock()}
	if env.measured != nil {
		m := env.measured()
		in.measured = &m
	}
	// The row's own view (no report yet) knows the span to look in.
	in.related, err = loadRelated(ctx, q, r.build(nil, nil), in.now)
	if err != nil {
		return nil, err
	}
	inc := r.build(ms, &in)
	inc.Anomalies = make([]IncidentAnomaly, 0, len(ms))
	for _, m := range ms {
		inc.Anomalies = append(inc.Anomalies, IncidentAnomaly{Anomaly: m.a, JoinedAt: m.joinedAt})
	}
	inc.Audit = audit
	if err := loadPublication(ctx, q, inc); err != nil {
		return nil, err
	}
	if err := loadLifecycle(ctx, q, inc, in.now); err != nil {
		return nil, err
	}
	return inc, nil
}

// List returns incidents, newest first, without report, anomalies or audit.
func (s *Store) List(ctx context.Context, f Filter) ([]*Incident, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, &InvalidError{Msg: fmt.Sprintf("unknown state %q", f.State)}
	}
	if f.Class != "" && !f.Class.Valid() {
		return nil, &InvalidError{Msg: fmt.Sprintf("unknown class %q", f.Class)}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	q := "SELECT " + incidentColumns() + " FROM incidents WHERE 1 = 1"
	var args []any
	if f.State != "" {
		args = append(args, f.State.stored())
		q += fmt.Sprintf(" AND state = $%d", len(args))
		// closed is stored as resolved with closed_at set
		switch f.State {
		case StateClosed:
			q += " AND closed_at IS NOT NULL"
		case StateResolved:
			q += " AND closed_at IS NULL"
		}
	}
	if f.Class != "" {
		args = append(args, string(f.Class))
		q += fmt.Sprintf(" AND class = $%d", len(args))
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d", len(args))
	return s.query(ctx, q, args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]*Incident, error) {
	rows, err := dbConn(s.db, s.db.R).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []*Incident{}
	for rows.Next() {
		r, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, r.incident(nil, false))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// PendingDrafts lists the incidents still waiting for a human, oldest
// first (DraftSource, for re-sending pages and escalation): drafts, and
// confirmed incidents whose security change is not acknowledged yet.
func (s *Store) PendingDrafts(ctx context.Context) ([]page.Subject, error) {
	incs, err := s.query(ctx, "SELECT "+incidentColumns()+` FROM incidents
		WHERE state = $1 OR (state = $2 AND security_unacknowledged_since IS NOT NULL) ORDER BY created_at, id`,
		string(StateDraft), string(StateConfirmed))
	if err != nil {
		return nil, fmt.Errorf("pending drafts: %w", err)
	}
	out := make([]page.Subject, 0, len(incs))
	for _, inc := range incs {
		out = append(out, inc.Subject())
	}
	return out, nil
}

// Report renders an incident's report as Markdown.
func (s *Store) Report(ctx context.Context, id string) (string, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	return RenderMarkdown(inc), nil
}

// counts returns the number of incidents per (class, state) and since when
// the oldest draft waits (zero if none), for the metrics.
func (s *Store) counts(ctx context.Context) (map[[2]string]int, time.Time, error) {
	r := dbConn(s.db, s.db.R)
	rows, err := r.QueryContext(ctx, "SELECT class, CASE WHEN closed_at IS NOT NULL THEN 'closed' ELSE state END AS st, count(*) FROM incidents GROUP BY class, st")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("count incidents: %w", err)
	}
	defer rows.Close()
	counts := map[[2]string]int{}
	for rows.Next() {
		var class, state string
		var n int
		if err := rows.Scan(&class, &state, &n); err != nil {
			return nil, time.Time{}, fmt.Errorf("count incidents: %w", err)
		}
		counts[[2]string{class, state}] = n
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("count incidents: %w", err)
	}
	var oldest sql.NullInt64
	// Waiting since it became disclosable (or was reopened), not since the
	// row was created: a draft promoted from an internal record is new.
	if err := r.QueryRowContext(ctx, "SELECT min(coalesce(paging_since, detected_at)) FROM incidents WHERE state = $1", string(StateDraft)).Scan(&oldest); err != nil {
		return nil, time.Time{}, fmt.Errorf("oldest draft: %w", err)
	}
	return counts, store.FromNullMillis(oldest), nil
}
