package disclosure

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// DefaultGroupingWindow is how close two anomalies' first_seen must be for
// them to be one event ("One event, one incident").
const DefaultGroupingWindow = 10 * time.Minute

// Bounds on what humans write.
const (
	maxDismissReasonRunes = 2000
	maxTitleRunes         = 300
	maxFieldBytes         = 32 << 10
)

// ServiceOptions configures NewService.
type ServiceOptions struct {
	DB *store.DB
	// Pages is the outbox; nil pages nothing (incidents are still recorded).
	Pages Pages
	// GroupingWindow: 0 means DefaultGroupingWindow.
	GroupingWindow time.Duration
	// Registerer for the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock of the draft-age gauge and of rendered reports
	// (durations of open incidents); nil means time.Now. Every other time
	// is passed in by the caller.
	Now func() time.Time
	// Measured says what nymwatch probes, for the reports' statements
	// about the other architecture side; nil: reports ask a human.
	Measured func() Measured
	// Channels is the section V checklist given to each confirmed
	// incident (disclosure.channels); nil: DefaultChannels.
	Channels []string
}

// Service owns incidents: it turns anomalies into incidents and applies
// humans' decisions, each in one transaction with its audit rows and pages.
type Service struct {
	db      *store.DB
	store   *Store
	pages   Pages
	window  time.Duration
	log     *slog.Logger
	metrics *incidentMetrics
	// refreshMu orders metric refreshes: each reads after its own commit
	// and sets under the lock, so a slow refresh cannot overwrite a newer one.
	refreshMu sync.Mutex
	// channels: see ServiceOptions.Channels.
	channels []string
}

// NewService builds the service and loads the current counts into its
// metrics.
func NewService(ctx context.Context, opts ServiceOptions) (*Service, error) {
	if opts.DB == nil {
		return nil, errors.New("disclosure: no database")
	}
	if opts.GroupingWindow < 0 {
		return nil, fmt.Errorf("disclosure: negative grouping window %s", opts.GroupingWindow)
	}
	s := &Service{
		db:     opts.DB,
		store:  NewStore(opts.DB),
		pages:  opts.Pages,
		window: opts.GroupingWindow,
		log:    opts.Logger,
	}
	if s.pages == nil {
		s.pages = noPages{}
	}
	if s.window == 0 {
		s.window = DefaultGroupingWindow
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s.channels = opts.Channels
	if s.channels == nil {
		s.channels = DefaultChannels()
	}
	s.metrics = newIncidentMetrics(opts.Registerer, now)
	s.store.env = reportEnv{now: now, measured: opts.Measured}
	if err := s.refreshMetrics(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Store is the read side (also the DraftSource).
func (s *Service) Store() *Store { return s.store }

// Get, List and PendingDrafts delegate to the Store.
func (s *Service) Get(ctx context.Context, id string) (*Incident, error) { return s.store.Get(ctx, id) }

// List returns incidents, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]*Incident, error) {
	return s.store.List(ctx, f)
}

// PendingDrafts implements DraftSource.
func (s *Service) PendingDrafts(ctx context.Context) ([]page.Subject, error) {
	return s.store.PendingDrafts(ctx)
}

type noPages struct{}

func (noPages) Opened(context.Context, *sql.Tx, page.Subject, time.Time) error { return nil }
func (noPages) Ended(context.Context, *sql.Tx, page.Subject, time.Time) error  { return nil }

// ApplyAnomaly records one emission of an anomaly. It is idempotent: the
// detector re-emits whole anomalies and a scheduler may run twice, and the
// anomaly ID's primary key makes every emission after the first an update
// (an identical one changes nothing).
//
//   - A new disclosable anomaly joins the open draft or confirmed incident of
//     the same architecture whose first_seen is within the grouping window
//     of its own; otherwise it opens a draft and pages.
//   - A new internal anomaly is recorded as an internal incident; no page.
//   - An internal anomaly promoted to a disclosable class promotes its
//     incident to a draft in place (first_seen kept) and pages, or joins a
//     groupable incident, leaving the internal record superseded.
//   - When all of an incident's anomalies are resolved, its resolved_at (if
//     not already set by a human) is the latest of theirs. The state does not
//     change: a human still decides about disclosure.
func (s *Service) ApplyAnomaly(ctx context.Context, a detector.Anomaly, now time.Time) error {
	a, err := normalizeAnomaly(a)
	if err != nil {
		return err
	}
	now = now.UTC().Truncate(time.Millisecond)
	var changed bool
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// One event, one incident, across instances sharing PostgreSQL:
		// anomalies of one architecture side are applied one at a time, so
		// the grouping lookup sees the incident another instance just
		// opened (a no-op on SQLite, whose writer is already single).
		if err := s.db.LockTx(ctx, tx, "incidents/"+string(a.Architecture)); err != nil {
			return err
		}
		var err error
		changed, err = s.applyTx(ctx, writeConn(s.db, tx), a, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("apply anomaly %s: %w", a.ID, err)
	}
	if changed {
		s.refreshMetricsLogged(ctx)
	}
	return nil
}

// applyTx reports whether an incident was created or changed class/state.
func (s *Service) applyTx(ctx context.Context, tx conn, a detector.Anomaly, now time.Time) (bool, error) {
	old, err := loadMember(ctx, tx, a.ID)
	if err != nil {
		return false, err
	}
	if old == nil {
		if !a.Class.Disclosable() {
			return true, s.open(ctx, tx, a, StateInternal, time.Time{}, now)
		}
		disclosableAt := disclosableSince(a, a.DetectedAt)
		target, err := findGroupable(ctx, tx, a.Architecture, a.FirstSeen, s.window, "")
		if err != nil {
			return false, err
		}
		if target != "" {
			return s.join(ctx, tx, target, a, disclosableAt, "", now)
		}
		return true, s.open(ctx, tx, a, StateDraft, disclosableAt, now)
	}

	// A recovered anomaly does not reopen: an older emission arriving late
	// must not undo its resolution.
	if !old.a.ResolvedAt.IsZero() && a.ResolvedAt.IsZero() {
		a.ResolvedAt = old.a.ResolvedAt
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode anomaly: %w", err)
	}
	if string(raw) == old.raw {
		return false, nil // re-emission or duplicated run: nothing to do
	}
	row, err := loadRow(ctx, tx, old.incidentID)
	if err != nil {
		return false, err
	}
	if row.State == StateInternal && a.Class.Disclosable() {
		return true, s.promote(ctx, tx, row, old, a, raw, now)
	}
	disclosableAt := old.disclosableAt
	if disclosableAt.IsZero() && a.Class.Disclosable() {
		disclosableAt = disclosableSince(a, now)
	}
	if err := updateMember(ctx, tx, a, raw, row.ID, disclosableAt, old.joinedAt, now); err != nil {
		return false, err
	}
	before := *row
	if err := s.rederive(ctx, tx, row, now); err != nil {
		return false, err
	}
	if row.Class != before.Class {
		if err := writeAudit(ctx, tx, row.ID, now, Actor{Name: SystemActorName}, "reclassified",
			map[string]any{"anomaly_id": a.ID, "from": before.Class, "to": row.Class, "reason": row.Reason}); err != nil {
			return false, err
		}
		if err := s.pageIfRaised(ctx, tx, &before, row, now); err != nil {
			return false, err
		}
	}
	turnedSecurity := a.Class == detector.ClassSecurity && old.a.Class != detector.ClassSecurity
	if turnedSecurity {
		if err := s.pageSecurity(ctx, tx, row, a, now); err != nil {
			return false, err
		}
	}
	if before.ResolvedAt.IsZero() && !row.ResolvedAt.IsZero() {
		if err := writeAudit(ctx, tx, row.ID, now, Actor{Name: SystemActorName}, "restored",
			map[string]any{"resolved_at": FormatTime(row.ResolvedAt)}); err != nil {
			return false, err
		}
	}
	return row.Class != before.Class || row.State != before.State, nil
}

// open creates an incident for one anomaly.
func (s *Service) open(ctx context.Context, tx conn, a detector.Anomaly, state State, disclosableAt, now time.Time) error {
	id, err := nextID(ctx, tx, a.FirstSeen)
	if err != nil {
		return err
	}
	row := &incidentRow{
		ID: id, State: state, Class: a.Class, Component: a.Component, Architecture: a.Architecture,
		CreatedAt: now, UpdatedAt: now,
	}
	if state == StateInternal {
		row.Class = detector.ClassInternal
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode anomaly: %w", err)
	}
	derive(row, []*member{{a: a, joinedAt: now, disclosableAt: disclosableAt}})
	if err := insertRow(ctx, tx, row); err != nil {
		return err
	}
	if err := insertMember(ctx, tx, a, raw, id, disclosableAt, now); err != nil {
		return err
	}
	if err := writeAudit(ctx, tx, id, now, Actor{Name: SystemActorName}, "opened", map[string]any{
		"anomaly_id": a.ID, "class": row.Class, "state": row.State, "component": a.Component, "reason": a.Reason,
	}); err != nil {
		return err
	}
	if state == StateDraft {
		inc := row.incident(nil, false)
		if err := s.pages.Opened(ctx, tx.tx, inc.Subject(), now); err != nil {
			return fmt.Errorf("page incident %s: %w", id, err)
		}
		s.log.Info("draft incident opened", "incident", id, "class", row.Class, "component", a.Component, "anomaly", a.ID)
	}
	return nil
}

// join adds an anomaly to an existing disclosable incident; fromInternal
// names the internal record it was promoted from, if any.
func (s *Service) join(ctx context.Context, tx conn, target string, a detector.Anomaly, disclosableAt time.Time, fromInternal string, now time.Time) (bool, error) {
	row, err := loadRow(ctx, tx, target)
	if err != nil {
		return false, err
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode anomaly: %w", err)
	}
	if fromInternal == "" {
		err = insertMember(ctx, tx, a, raw, target, disclosableAt, now)
	} else {
		err = updateMember(ctx, tx, a, raw, target, disclosableAt, now, now)
	}
	if err != nil {
		return false, err
	}
	before := *row
	if err := s.rederive(ctx, tx, row, now); err != nil {
		return false, err
	}
	detail := map[string]any{"anomaly_id": a.ID, "component": a.Component, "class": a.Class}
	if fromInternal != "" {
		detail["promoted_from"] = fromInternal
	}
	if err := writeAudit(ctx, tx, target, now, Actor{Name: SystemActorName}, "joined", detail); err != nil {
		return false, err
	}
	if row.Class != before.Class {
		if err := writeAudit(ctx, tx, target, now, Actor{Name: SystemActorName}, "reclassified",
			map[string]any{"anomaly_id": a.ID, "from": before.Class, "to": row.Class, "reason": row.Reason}); err != nil {
			return false, err
		}
		if err := s.pageIfRaised(ctx, tx, &before, row, now); err != nil {
			return false, err
		}
	}
	if a.Class == detector.ClassSecurity {
		if err := s.pageSecurity(ctx, tx, row, a, now); err != nil {
			return false, err
		}
	}
	s.log.Info("anomaly joined incident", "incident", target, "anomaly", a.ID, "component", a.Component)
	return true, nil
}

// promote handles an internal incident's anomaly that became disclosable.
func (s *Service) promote(ctx context.Context, tx conn, row *incidentRow, old *member, a detector.Anomaly, raw []byte, now time.Time) error {
	disclosableAt := disclosableSince(a, now)
	target, err := findGroupable(ctx, tx, a.Architecture, a.FirstSeen, s.window, row.ID)
	if err != nil {
		return err
	}
	if target != "" {
		// Same event as an incident already drafted: one event, one page.
		if _, err := tx.ExecContext(ctx, "UPDATE incidents SET superseded_by = $1, updated_at = $2 WHERE id = $3",
			target, unixms.From(now), row.ID); err != nil {
			return fmt.Errorf("supersede %s: %w", row.ID, err)
		}
		if err := writeAudit(ctx, tx, row.ID, now, Actor{Name: SystemActorName}, "promoted", map[string]any{
			"anomaly_id": a.ID, "from": detector.ClassInternal, "to": a.Class, "reason": a.Reason, "merged_into": target,
		}); err != nil {
			return err
		}
		_, err := s.join(ctx, tx, target, a, disclosableAt, row.ID, now)
		return err
	}
	if err := updateMember(ctx, tx, a, raw, row.ID, disclosableAt, old.joinedAt, now); err != nil {
		return err
	}
	row.State = StateDraft
	row.Class = a.Class
	if err := s.rederive(ctx, tx, row, now); err != nil {
		return err
	}
	if err := writeAudit(ctx, tx, row.ID, now, Actor{Name: SystemActorName}, "promoted", map[string]any{
		"anomaly_id": a.ID, "from": detector.ClassInternal, "to": row.Class, "reason": a.Reason, "state": row.State,
	}); err != nil {
		return err
	}
	inc := row.incident(nil, false)
	if err := s.pages.Opened(ctx, tx.tx, inc.Subject(), now); err != nil {
		return fmt.Errorf("page incident %s: %w", row.ID, err)
	}
	s.log.Info("internal incident promoted to draft", "incident", row.ID, "class", row.Class, "anomaly", a.ID)
	return nil
}

// pageIfRaised pages a draft again when its class rose (operational →
// security): the design wants a promotion paged, and the new class has its
// own label set and severity. The old label set is no longer re-sent (it
// lapses at its endsAt) and is ended with the others when a human acts.
func (s *Service) pageIfRaised(ctx context.Context, tx conn, before, row *incidentRow, now time.Time) error {
	if row.State != StateDraft || classRank(row.Class) <= classRank(before.Class) {
		return nil
	}
	inc := row.incident(nil, false)
	if err := s.pages.Opened(ctx, tx.tx, inc.Subject(), now); err != nil {
		return fmt.Errorf("page incident %s: %w", row.ID, err)
	}
	s.log.Info("draft incident reclassified and paged again", "incident", row.ID, "from", before.Class, "to", row.Class)
	return nil
}

// pageSecurity makes sure a security anomaly that joined row, or that one
// of row's anomalies turned into, pages at the top severity whatever state
// the incident is in (issue 10.1):
//   - a draft already pages (pageIfRaised paged it again if its class rose);
//   - a confirmed incident stays confirmed, records the unacknowledged
//     security change and is paged in a new round until a human
//     acknowledges it (confirm);
//   - a dismissed, resolved or closed incident goes back to draft, audited as
//     reopened with the reason, and is paged in a new round.
func (s *Service) pageSecurity(ctx context.Context, tx conn, row *incidentRow, a detector.Anomaly, now time.Time) error {
	detail := map[string]any{"anomaly_id": a.ID, "component": a.Component, "reason": "turned security: " + a.Reason}
	switch row.State {
	case StateConfirmed:
		if !row.SecurityUnackSince.IsZero() {
			return nil // already paging until acknowledged
		}
		row.SecurityUnackSince = now
		detail["state"] = row.State
		if err := writeAudit(ctx, tx, row.ID, now, Actor{Name: SystemActorName}, "security_unacknowledged", detail); err != nil {
			return err
		}
	case StateDismissed, StateResolved, StateClosed:
		detail["from"], detail["to"] = row.State, StateDraft
		if row.DismissReason != "" {
			detail["dismiss_reason"] = row.DismissReason
		}
		row.State = StateDraft
		row.DismissReason = ""
		// Open again: resolved_at is set anew once all anomalies recover.
		row.ResolvedAt = time.Time{}
		if err := s.rederive(ctx, tx, row, now); err != nil {
			return err
		}
		if err := writeAudit(ctx, tx, row.ID, now, Actor{Name: SystemActorName}, "reopened", detail); err != nil {
			return err
		}
	default:
		return nil
	}
	row.PageRound++
	row.PagingSince = now
	row.UpdatedAt = now
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = $1, dismiss_reason = $2, resolved_at = $3, page_round = $4,
		paging_since = $5, security_unacknowledged_since = $6, closed_at = NULL, updated_at = $7 WHERE id = $8`,
		string(row.State), nullString(row.DismissReason), store.NullMillis(row.ResolvedAt), row.PageRound,
		store.NullMillis(row.PagingSince), store.NullMillis(row.SecurityUnackSince), unixms.From(now), row.ID); err != nil {
		return fmt.Errorf("update incident %s: %w", row.ID, err)
	}
	inc := row.incident(nil, false)
	if err := s.pages.Opened(ctx, tx.tx, inc.Subject(), now); err != nil {
		return fmt.Errorf("page incident %s: %w", row.ID, err)
	}
	s.log.Warn("security change paged", "incident", row.ID, "state", row.State, "anomaly", a.ID, "round", row.PageRound)
	return nil
}

// rederive recomputes row's derived fields from its anomalies and saves it.
func (s *Service) rederive(ctx context.Context, tx conn, row *incidentRow, now time.Time) error {
	ms, err := loadMembers(ctx, tx, row.ID)
	if err != nil {
		return err
	}
	derive(row, ms)
	row.UpdatedAt = now
	return saveDerived(ctx, tx, row)
}

// classRank orders classes: security outranks operational outranks internal.
func classRank(c detector.Class) int {
	switch c {
	case detector.ClassSecurity:
		return 2
	case detector.ClassOperational:
		return 1
	default:
		return 0
	}
}

// derive sets the fields an incident takes from its anomalies: affected is
// the union, first_seen the earliest, last_healthy that of the earliest
// anomaly, detected_at the earliest time an anomaly was known to be
// disclosable (or detected, for internal records), class the highest
// (never lowered automatically: a human dismisses), resolved_at the latest
// resolution once all anomalies are resolved (a human's value is kept).
func derive(row *incidentRow, ms []*member) {
	if len(ms) == 0 {
		return
	}
	as := make([]detector.Anomaly, 0, len(ms))
	affected := map[string]bool{}
	var comps []string
	var first *detector.Anomaly
	var detected, resolved time.Time
	allResolved := true
	for _, m := range ms {
		a := &m.a
		as = append(as, *a)
		for _, t := range a.Affected {
			affected[t] = true
		}
		if !slices.Contains(comps, a.Component) {
			comps = append(comps, a.Component)
		}
		if first == nil || a.FirstSeen.Before(first.FirstSeen) {
			first = a
		}
		if row.State != StateInternal && classRank(a.Class) > classRank(row.Class) {
			row.Class = a.Class
		}
		d := a.DetectedAt
		if row.State != StateInternal && !m.disclosableAt.IsZero() {
			d = m.disclosableAt
		}
		if d.IsZero() {
			d = a.FirstSeen
		}
		if detected.IsZero() || d.Before(detected) {
			detected = d
		}
		if a.ResolvedAt.IsZero() {
			allResolved = false
		} else if a.ResolvedAt.After(resolved) {
			resolved = a.ResolvedAt
		}
	}
	row.Affected = make([]string, 0, len(affected))
	for t := range affected {
		row.Affected = append(row.Affected, t)
	}
	sort.Strings(row.Affected)
	row.Components = comps
	row.FirstSeen = first.FirstSeen
	row.LastHealthy = first.LastHealthy
	if row.LastHealthy.IsZero() {
		// The earliest anomaly never saw its targets healthy: take the
		// latest healthy observation any anomaly had before the event.
		for _, a := range as {
			if !a.LastHealthy.After(row.FirstSeen) && a.LastHealthy.After(row.LastHealthy) {
				row.LastHealthy = a.LastHealthy
			}
		}
	}
	row.DetectedAt = detected
	row.Title = generateTitle(as)
	row.Reason = ""
	for _, a := range as {
		if a.Class == row.Class {
			row.Reason = a.Reason
			break
		}
	}
	if row.Reason == "" {
		row.Reason = as[0].Reason
	}
	if allResolved && row.ResolvedAt.IsZero() {
		row.ResolvedAt = resolved
	}
}

// disclosableSince is when a disclosable anomaly became disclosable: its
// first promotion out of internal, else fallback.
func disclosableSince(a detector.Anomaly, fallback time.Time) time.Time {
	for _, p := range a.Promotions {
		if p.To.Disclosable() && !p.At.IsZero() {
			return p.At
		}
	}
	if fallback.IsZero() {
		return a.FirstSeen
	}
	return fallback
}

// findGroupable finds the open disclosable incident an anomaly of arch
// starting at firstSeen belongs to: draft or confirmed, not resolved, its
// first_seen within window. The closest in time wins. On PostgreSQL the
// row is locked: a human's concurrent dismiss or resolve on another
// instance is waited for, and a row it took out of the window is skipped.
func findGroupable(ctx context.Context, tx conn, arch detector.Architecture, firstSeen time.Time, window time.Duration, exclude string) (string, error) {
	fs := unixms.From(firstSeen)
	w := window.Milliseconds()
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM incidents
		WHERE architecture = $1 AND state IN ('draft', 'confirmed') AND resolved_at IS NULL
		  AND first_seen BETWEEN $2 AND $3 AND id <> $4
		ORDER BY abs(first_seen - $5), first_seen, id LIMIT 1`+tx.forUpdate(),
		string(arch), fs-w, fs+w, exclude, fs).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find incident to group with: %w", err)
	}
	return id, nil
}

// nextID allocates INC-YYYYMMDD-NNNN from a per-day counter (the day of
// first_seen, UTC); the upsert makes it unique without locks in Go, and
// across instances sharing PostgreSQL (a concurrent upsert of the same day
// waits for this transaction and counts on from its value).
func nextID(ctx context.Context, tx conn, firstSeen time.Time) (string, error) {
	day := firstSeen.UTC().Format("20060102")
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO incident_id_counters (day, last) VALUES ($1, 1)
		ON CONFLICT (day) DO UPDATE SET last = incident_id_counters.last + 1 RETURNING last`, day).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("allocate incident id: %w", err)
	}
	return fmt.Sprintf("INC-%s-%04d", day, n), nil
}

func marshalStrings(s []string) string {
	b, _ := json.Marshal(nonNil(s)) // []string always marshals
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func insertRow(ctx context.Context, tx conn, r *incidentRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, class, state, title, component, components,
		architecture, reason, affected, last_healthy, first_seen, detected_at, acknowledged_at, resolved_at,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		r.ID, string(r.Class), string(r.State), r.Title, r.Component, marshalStrings(r.Components),
		string(r.Architecture), r.Reason, marshalStrings(r.Affected), store.NullMillis(r.LastHealthy),
		unixms.From(r.FirstSeen), unixms.From(r.DetectedAt), store.NullMillis(r.AcknowledgedAt),
		store.NullMillis(r.ResolvedAt), unixms.From(r.CreatedAt), unixms.From(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert incident %s: %w", r.ID, err)
	}
	return nil
}

func saveDerived(ctx context.Context, tx conn, r *incidentRow) error {
	_, err := tx.ExecContext(ctx, `UPDATE incidents SET class = $1, state = $2, title = $3, components = $4,
		reason = $5, affected = $6, last_healthy = $7, first_seen = $8, detected_at = $9, resolved_at = $10,
		updated_at = $11 WHERE id = $12`,
		string(r.Class), r.State.stored(), r.Title, marshalStrings(r.Components), r.Reason,
		marshalStrings(r.Affected), store.NullMillis(r.LastHealthy), unixms.From(r.FirstSeen),
		unixms.From(r.DetectedAt), store.NullMillis(r.ResolvedAt), unixms.From(r.UpdatedAt), r.ID)
	if err != nil {
		return fmt.Errorf("update incident %s: %w", r.ID, err)
	}
	return nil
}

func insertMember(ctx context.Context, tx conn, a detector.Anomaly, raw []byte, incidentID string, disclosableAt, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incident_anomalies (anomaly_id, incident_id, class, component,
		first_seen, resolved_at, disclosable_at, joined_at, updated_at, anomaly) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, incidentID, string(a.Class), a.Component, unixms.From(a.FirstSeen), store.NullMillis(a.ResolvedAt),
		store.NullMillis(disclosableAt), unixms.From(now), unixms.From(now), string(raw))
	if err != nil {
		return fmt.Errorf("insert anomaly %s: %w", a.ID, err)
	}
	return nil
}

// updateMember upserts on the anomaly ID (the row exists on every path that
// calls it; the upsert keeps a lost race from becoming a second row).
func updateMember(ctx context.Context, tx conn, a detector.Anomaly, raw []byte, incidentID string, disclosableAt, joinedAt, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incident_anomalies (anomaly_id, incident_id, class, component,
		first_seen, resolved_at, disclosable_at, joined_at, updated_at, anomaly) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (anomaly_id) DO UPDATE SET incident_id = excluded.incident_id, class = excluded.class,
		component = excluded.component, first_seen = excluded.first_seen, resolved_at = excluded.resolved_at,
		disclosable_at = excluded.disclosable_at, joined_at = excluded.joined_at,
		updated_at = excluded.updated_at, anomaly = excluded.anomaly`,
		a.ID, incidentID, string(a.Class), a.Component, unixms.From(a.FirstSeen), store.NullMillis(a.ResolvedAt),
		store.NullMillis(disclosableAt), unixms.From(joinedAt), unixms.From(now), string(raw))
	if err != nil {
		return fmt.Errorf("update anomaly %s: %w", a.ID, err)
	}
	return nil
}

func writeAudit(ctx context.Context, tx conn, incidentID string, at time.Time, actor Actor, action string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode audit detail: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO incident_audit (incident_id, at, actor, remote_addr, action, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`, incidentID, unixms.From(at), actor.Name, actor.RemoteAddr, action, string(b))
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, incidentID, err)
	}
	return nil
}

// normalizeAnomaly validates a and brings its times to UTC milliseconds
// (the storage precision), so a re-emission compares equal to what is stored.
func normalizeAnomaly(a detector.Anomaly) (detector.Anomaly, error) {
	bad := func(msg string) (detector.Anomaly, error) {
		return a, fmt.Errorf("%w %q: %s", ErrInvalidAnomaly, a.ID, msg)
	}
	switch {
	case strings.TrimSpace(a.ID) == "":
		return bad("empty id")
	case !a.Class.Valid():
		return bad(fmt.Sprintf("unknown class %q", a.Class))
	case a.Architecture != detector.ArchDecentralized && a.Architecture != detector.ArchCentralized:
		return bad(fmt.Sprintf("unknown architecture %q", a.Architecture))
	case strings.TrimSpace(a.Component) == "":
		return bad("empty component")
	case a.FirstSeen.IsZero():
		return bad("zero first_seen")
	}
	ms := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC().Truncate(time.Millisecond)
	}
	a.LastHealthy, a.FirstSeen, a.DetectedAt, a.ResolvedAt = ms(a.LastHealthy), ms(a.FirstSeen), ms(a.DetectedAt), ms(a.ResolvedAt)
	if a.Affected == nil {
		a.Affected = []string{}
	}
	a.Evidence = slices.Clone(a.Evidence)
	for i := range a.Evidence {
		a.Evidence[i].Since = ms(a.Evidence[i].Since)
	}
	a.Promotions = slices.Clone(a.Promotions)
	for i := range a.Promotions {
		a.Promotions[i].At = ms(a.Promotions[i].At)
	}
	return a, nil
}

// Confirm confirms a draft for public disclosure and ends its page.
func (s *Service) Confirm(ctx context.Context, id string, actor Actor, now time.Time) (*Incident, error) {
	return s.transition(ctx, id, "confirm", "", actor, now)
}

// Dismiss decides a draft is not disclosed; reason is required. The
// incident keeps its detected class, its state becomes dismissed and its
// Disclosure "internal"; the page ends.
func (s *Service) Dismiss(ctx context.Context, id, reason string, actor Actor, now time.Time) (*Incident, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, &InvalidError{Msg: "dismiss needs a non-empty reason"}
	}
	if utf8.RuneCountInString(reason) > maxDismissReasonRunes || !utf8.ValidString(reason) {
		return nil, &InvalidError{Msg: fmt.Sprintf("dismiss reason must be valid UTF-8 of at most %d characters", maxDismissReasonRunes)}
	}
	return s.transition(ctx, id, "dismiss", reason, actor, now)
}

// Resolve closes a confirmed incident; resolved_at is set to now unless the
// monitor already saw service restored.
func (s *Service) Resolve(ctx context.Context, id string, actor Actor, now time.Time) (*Incident, error) {
	return s.transition(ctx, id, "resolve", "", actor, now)
}

// checkTransition returns the new state, or a ConflictError.
func checkTransition(id string, from State, action string) (State, error) {
	conflict := func(hint string) (State, error) {
		return "", &ConflictError{ID: id, State: from, Action: action, Hint: hint}
	}
	if from == StateInternal {
		return conflict("internal incidents are not disclosed and have no workflow")
	}
	switch action {
	case "confirm":
		switch from {
		case StateDraft:
			return StateConfirmed, nil
		case StateConfirmed, StateResolved, StateClosed:
			return conflict("it is already confirmed")
		default:
			return conflict("only a draft can be confirmed")
		}
	case "dismiss":
		switch from {
		case StateDraft:
			return StateDismissed, nil
		case StateDismissed:
			return conflict("it is already dismissed")
		default:
			return conflict("a confirmed incident is public and cannot be dismissed; resolve it instead")
		}
	case "resolve":
		switch from {
		case StateConfirmed:
			return StateResolved, nil
		case StateDraft:
			return conflict("confirm or dismiss the draft first")
		case StateResolved, StateClosed:
			return conflict("it is already resolved")
		default:
			return conflict("a dismissed incident is closed")
		}
	}
	return "", fmt.Errorf("unknown action %q", action)
}

// pastTense names the audit action of a human's transition.
func pastTense(action string) string { return strings.TrimSuffix(action, "e") + "ed" }

func (s *Service) transition(ctx context.Context, id, action, reason string, actor Actor, now time.Time) (*Incident, error) {
	now = now.UTC().Truncate(time.Millisecond)
	var firstSeen time.Time
	var acked bool
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		row, err := loadRow(ctx, tx, id)
		if err != nil {
			return err
		}
		if action == "confirm" && row.State == StateConfirmed && !row.SecurityUnackSince.IsZero() {
			acked = true
			return s.acknowledgeSecurity(ctx, tx, row, actor, now)
		}
		to, err := checkTransition(id, row.State, action)
		if err != nil {
			return err
		}
		from := row.State
		row.State = to
		row.UpdatedAt = now
		if action != "resolve" && row.AcknowledgedAt.IsZero() {
			row.AcknowledgedAt = now
		}
		if action == "resolve" && row.ResolvedAt.IsZero() {
			row.ResolvedAt = now
		}
		if action == "dismiss" {
			row.DismissReason = reason
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = $1, acknowledged_at = $2, resolved_at = $3,
			dismiss_reason = $4, updated_at = $5 WHERE id = $6`,
			string(row.State), store.NullMillis(row.AcknowledgedAt), store.NullMillis(row.ResolvedAt),
			nullString(row.DismissReason), unixms.From(now), id); err != nil {
			return fmt.Errorf("update incident %s: %w", id, err)
		}
		detail := map[string]any{"from": from, "to": to}
		if reason != "" {
			detail["reason"] = reason
		}
		if action == "resolve" {
			detail["resolved_at"] = FormatTime(row.ResolvedAt)
		}
		if err := writeAudit(ctx, tx, id, now, actor, pastTense(action), detail); err != nil {
			return err
		}
		if action == "confirm" {
			if err := s.startLifecycle(ctx, tx, id, actor, now); err != nil {
				return err
			}
		}
		if action == "resolve" {
			if err := s.closeIfDone(ctx, tx, row, actor, now); err != nil {
				return err
			}
		}
		if action == "resolve" && !row.SecurityUnackSince.IsZero() {
			// Resolving is a human's answer to the security change too.
			return s.acknowledgeSecurity(ctx, tx, row, actor, now)
		}
		if action != "resolve" {
			inc := row.incident(nil, false)
			if err := s.pages.Ended(ctx, tx.tx, inc.Subject(), now); err != nil {
				return fmt.Errorf("end page of %s: %w", id, err)
			}
		}
		firstSeen = row.FirstSeen
		return nil
	})
	if err != nil {
		return nil, err
	}
	if acked && action == "confirm" {
		s.log.Info("security change acknowledged", "incident", id, "actor", actor.Name, "remote_addr", actor.RemoteAddr)
		return s.store.Get(ctx, id)
	}
	if action == "confirm" {
		s.metrics.confirmDelay.Observe(max(now.Sub(firstSeen), 0).Seconds())
	}
	s.log.Info("incident "+pastTense(action), "incident", id, "actor", actor.Name, "remote_addr", actor.RemoteAddr)
	s.refreshMetricsLogged(ctx)
	return s.store.Get(ctx, id)
}

// acknowledgeSecurity records that a human acknowledged a confirmed
// incident's security change and ends its page.
func (s *Service) acknowledgeSecurity(ctx context.Context, tx conn, row *incidentRow, actor Actor, now time.Time) error {
	since := row.SecurityUnackSince
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET security_unacknowledged_since = NULL, updated_at = $1 WHERE id = $2`,
		unixms.From(now), row.ID); err != nil {
		return fmt.Errorf("update incident %s: %w", row.ID, err)
	}
	if err := writeAudit(ctx, tx, row.ID, now, actor, "security_acknowledged", map[string]any{
		"state": row.State, "since": FormatTime(since),
	}); err != nil {
		return err
	}
	row.SecurityUnackSince = time.Time{}
	inc := row.incident(nil, false)
	if err := s.pages.Ended(ctx, tx.tx, inc.Subject(), now); err != nil {
		return fmt.Errorf("end page of %s: %w", row.ID, err)
	}
	return nil
}

// Edit sets report fields (names from ReportFieldNames). A nil value drops
// the human's text, so the field is generated again. Each change is audited
// with its old and new text.
func (s *Service) Edit(ctx context.Context, id string, changes map[string]*string, actor Actor, now time.Time) (*Incident, error) {
	if len(changes) == 0 {
		return nil, &InvalidError{Msg: "no fields to change (fields: " + strings.Join(ReportFieldNames(), ", ") + ")"}
	}
	var fields []reportField
	for _, f := range reportFields() {
		v, ok := changes[f.name]
		if !ok {
			continue
		}
		if v != nil {
			if !utf8.ValidString(*v) || len(*v) > maxFieldBytes {
				return nil, &InvalidError{Msg: fmt.Sprintf("field %s: must be valid UTF-8 of at most %d bytes", f.name, maxFieldBytes)}
			}
			if f.name == "title" && (strings.TrimSpace(*v) == "" || utf8.RuneCountInString(*v) > maxTitleRunes || strings.ContainsAny(*v, "\r\n")) {
				return nil, &InvalidError{Msg: fmt.Sprintf("field title: must be one non-empty line of at most %d characters", maxTitleRunes)}
			}
		}
		fields = append(fields, f)
	}
	for name := range changes {
		if _, ok := lookupField(name); !ok {
			return nil, &InvalidError{Msg: fmt.Sprintf("unknown field %q (fields: %s)", name, strings.Join(ReportFieldNames(), ", "))}
		}
	}
	now = now.UTC().Truncate(time.Millisecond)
	err := s.db.Tx(ctx, func(sqlTx *sql.Tx) error {
		tx := writeConn(s.db, sqlTx)
		before, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, f := range fields {
			v := changes[f.name]
			if _, err := tx.ExecContext(ctx, "UPDATE incidents SET "+f.column+" = $1, updated_at = $2 WHERE id = $3",
				v, unixms.From(now), id); err != nil {
				return fmt.Errorf("edit %s of %s: %w", f.name, id, err)
			}
		}
		after, err := getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, f := range fields {
			detail := map[string]any{"field": f.name, "old": *f.ptr(before), "new": *f.ptr(after)}
			if changes[f.name] == nil {
				detail["reverted"] = true
			}
			if err := writeAudit(ctx, tx, id, now, actor, "edited", detail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.store.Get(ctx, id)
}

func (s *Service) refreshMetrics(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	counts, oldest, err := s.store.counts(ctx)
	if err != nil {
		return err
	}
	s.metrics.set(counts, oldest)
	return nil
}

func (s *Service) refreshMetricsLogged(ctx context.Context) {
	if err := s.refreshMetrics(ctx); err != nil {
		s.log.Warn("refresh incident metrics", "err", err)
	}
}
