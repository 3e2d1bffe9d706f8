package disclosure

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Limits of maintenance windows (documented in docs/maintenance.md).
const (
	// MaxMaintenanceDuration is the longest window: planned work longer
	// than a week is not "routine maintenance", and a forgotten window
	// would hide outages.
	MaxMaintenanceDuration = 7 * 24 * time.Hour
	// MaxMaintenanceLeadTime is how far ahead a window may start.
	MaxMaintenanceLeadTime = 90 * 24 * time.Hour
	// MaxOpenMaintenance bounds the active and upcoming windows.
	MaxOpenMaintenance = 200
	// MaxMaintenanceMatchers bounds the matchers of one window.
	MaxMaintenanceMatchers = 50
	// MaxMaintenanceReason bounds the reason, in characters.
	MaxMaintenanceReason = 500
	// maintenanceRecent is how long ended windows are handed to the
	// detector, so an anomaly still open can name the one that preceded it.
	maintenanceRecent = 24 * time.Hour
	maxMatcherValue   = 200
)

// Matcher names: what a maintenance window matches.
const (
	MatchComponent = "component" // a detector component: service/nym-api, exit_gateways, country/DE, node/1011, ...
	MatchService   = "service"   // services[].name
	MatchNode      = "node"      // a node id
)

// ErrMaintenanceNotFound is returned for an unknown window id.
var ErrMaintenanceNotFound = errors.New("maintenance window not found")

// MaintenanceConflictError is a change a window's state does not allow
// (HTTP 409): ending a window that has ended, too many open windows.
type MaintenanceConflictError struct{ Msg string }

func (e *MaintenanceConflictError) Error() string { return e.Msg }

// Matcher is one thing a window matches.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MaintenanceWindow is a planned maintenance, as stored and served.
type MaintenanceWindow struct {
	ID        string
	Matchers  []Matcher
	Start     time.Time
	End       time.Time // as planned
	Reason    string
	Who       string // the actor who declared it
	CreatedAt time.Time
	EndedAt   time.Time // zero unless ended early
	EndedBy   string
}

// EffectiveEnd is the planned end, or the early end if earlier.
func (w *MaintenanceWindow) EffectiveEnd() time.Time {
	if !w.EndedAt.IsZero() && w.EndedAt.Before(w.End) {
		return w.EndedAt
	}
	return w.End
}

// State is "upcoming", "active" or "ended" at now.
func (w *MaintenanceWindow) State(now time.Time) string {
	switch end := w.EffectiveEnd(); {
	case !now.Before(end) || !w.EndedAt.IsZero():
		return "ended"
	case now.Before(w.Start):
		return "upcoming"
	}
	return "active"
}

// Detector is the window as the detector applies it.
func (w *MaintenanceWindow) Detector() detector.MaintenanceWindow {
	d := detector.MaintenanceWindow{ID: w.ID, Start: w.Start, End: w.EffectiveEnd(), Reason: w.Reason, Who: w.Who}
	for _, m := range w.Matchers {
		switch m.Name {
		case MatchComponent:
			d.Components = append(d.Components, m.Value)
		case MatchService:
			d.Services = append(d.Services, m.Value)
		case MatchNode:
			if n, err := strconv.ParseUint(m.Value, 10, 32); err == nil {
				d.Nodes = append(d.Nodes, uint32(n))
			}
		}
	}
	return d
}

// MaintenanceRequest is a window to declare.
type MaintenanceRequest struct {
	Matchers   []Matcher
	Start, End time.Time
	Reason     string
}

// Maintenance stores maintenance windows and their audit trail, in the
// same database as incidents (SQLite, or PostgreSQL shared by instances).
type Maintenance struct{ db *store.DB }

// NewMaintenance returns the windows store over db.
func NewMaintenance(db *store.DB) *Maintenance { return &Maintenance{db: db} }

// maintenanceID is "M-<seq>"; parseMaintenanceID is its inverse.
func maintenanceID(seq int64) string { return "M-" + strconv.FormatInt(seq, 10) }

func parseMaintenanceID(id string) (int64, bool) {
	num, ok := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(id)), "M-")
	if !ok {
		num = strings.TrimSpace(id) // the bare number is accepted too
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil && n > 0
}

// validate checks and normalizes a request at now.
func (r *MaintenanceRequest) validate(now time.Time) error {
	bad := func(format string, args ...any) error { return &InvalidError{Msg: fmt.Sprintf(format, args...)} }
	if len(r.Matchers) == 0 {
		return bad("a maintenance window needs at least one matcher (component, service or node): a window matching everything is not allowed")
	}
	if len(r.Matchers) > MaxMaintenanceMatchers {
		return bad("at most %d matchers per window", MaxMaintenanceMatchers)
	}
	seen := map[Matcher]bool{}
	var ms []Matcher
	for _, m := range r.Matchers {
		m.Name, m.Value = strings.ToLower(strings.TrimSpace(m.Name)), strings.TrimSpace(m.Value)
		if err := validateMatcher(&m); err != nil {
			return &InvalidError{Msg: err.Error()}
		}
		if !seen[m] {
			seen[m] = true
			ms = append(ms, m)
		}
	}
	r.Matchers = ms
	r.Reason = strings.TrimSpace(r.Reason)
	if r.Start.IsZero() {
		r.Start = now
	}
	if r.End.IsZero() {
		return bad("end is required (RFC 3339 UTC, e.g. %s)", now.Add(time.Hour).UTC().Format(time.RFC3339))
	}
	r.Start, r.End = r.Start.UTC().Truncate(time.Millisecond), r.End.UTC().Truncate(time.Millisecond)
	switch {
	case !r.End.After(r.Start):
		return bad("end %s is not after start %s", FormatTime(r.End), FormatTime(r.Start))
	case !r.End.After(now):
		return bad("the window is in the past: end %s is before now (%s)", FormatTime(r.End), FormatTime(now))
	case r.End.Sub(r.Start) > MaxMaintenanceDuration:
		return bad("the window is too long: %s, at most %s (7 days); declare a new window when it ends", r.End.Sub(r.Start).Round(time.Second), MaxMaintenanceDuration)
	case r.Start.Sub(now) > MaxMaintenanceLeadTime:
		return bad("start %s is more than 90 days ahead", FormatTime(r.Start))
	case r.Reason == "":
		return bad("reason is required: say why (it is shown in the incident record and the audit trail)")
	case utf8.RuneCountInString(r.Reason) > MaxMaintenanceReason:
		return bad("reason is longer than %d characters", MaxMaintenanceReason)
	case !utf8.ValidString(r.Reason) || strings.ContainsFunc(r.Reason, func(c rune) bool { return unicode.IsControl(c) && c != '\n' && c != '\t' }):
		return bad("reason contains control characters")
	}
	return nil
}

func validateMatcher(m *Matcher) error {
	if m.Value == "" {
		return fmt.Errorf("matcher %q has no value", m.Name)
	}
	if len(m.Value) > maxMatcherValue || !utf8.ValidString(m.Value) || strings.ContainsFunc(m.Value, unicode.IsControl) {
		return fmt.Errorf("matcher %s: value too long or not printable", m.Name)
	}
	if strings.ContainsAny(m.Value, "*?") || m.Value == "." || m.Value == ".*" {
		return fmt.Errorf("matcher %s=%q: wildcards are not allowed; a window must match something specific", m.Name, m.Value)
	}
	switch m.Name {
	case MatchComponent:
		if err := detector.ValidMaintenanceComponent(m.Value); err != nil {
			return fmt.Errorf("matcher component: %w", err)
		}
	case MatchService:
		if strings.ContainsAny(m.Value, "/ ") {
			return fmt.Errorf("matcher service=%q: want the name of a configured service (services[].name), such as nym-api", m.Value)
		}
	case MatchNode:
		n, err := strconv.ParseUint(strings.TrimPrefix(m.Value, "node/"), 10, 32)
		if err != nil {
			return fmt.Errorf("matcher node=%q: want a node id (a number)", m.Value)
		}
		m.Value = strconv.FormatUint(n, 10)
	default:
		return fmt.Errorf("unknown matcher %q: want component, service or node", m.Name)
	}
	return nil
}

// Create declares a window; the actor is recorded as its author, and the
// creation is audited in the same transaction.
func (m *Maintenance) Create(ctx context.Context, req MaintenanceRequest, actor Actor, now time.Time) (*MaintenanceWindow, error) {
	now = now.UTC()
	if err := req.validate(now); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(req.Matchers)
	if err != nil {
		return nil, fmt.Errorf("encode matchers: %w", err)
	}
	var w *MaintenanceWindow
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		c := writeConn(m.db, tx)
		var open int
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM maintenance_windows
			WHERE end_ms > $1 AND ended_ms IS NULL`, unixms.From(now)).Scan(&open); err != nil {
			return fmt.Errorf("count open windows: %w", err)
		}
		if open >= MaxOpenMaintenance {
			return &MaintenanceConflictError{Msg: fmt.Sprintf("too many active and upcoming maintenance windows (%d, at most %d): end some first", open, MaxOpenMaintenance)}
		}
		var seq int64
		if err := c.QueryRowContext(ctx, `INSERT INTO maintenance_windows
			(matchers, start_ms, end_ms, reason, created_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
			string(raw), unixms.From(req.Start), unixms.From(req.End), req.Reason, actor.Name, unixms.From(now)).Scan(&seq); err != nil {
			return fmt.Errorf("insert maintenance window: %w", err)
		}
		w = &MaintenanceWindow{ID: maintenanceID(seq), Matchers: req.Matchers, Start: req.Start, End: req.End,
			Reason: req.Reason, Who: actor.Name, CreatedAt: unixms.Time(unixms.From(now))}
		return writeMaintenanceAudit(ctx, c, seq, now, actor, "create", map[string]any{
			"matchers": req.Matchers, "start": FormatTime(req.Start), "end": FormatTime(req.End), "reason": req.Reason})
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// End ends a window now (or cancels an upcoming one). It is audited with
// the optional reason. Ending a window that has ended is a conflict.
func (m *Maintenance) End(ctx context.Context, id, reason string, actor Actor, now time.Time) (*MaintenanceWindow, error) {
	now = now.UTC()
	seq, ok := parseMaintenanceID(id)
	if !ok {
		return nil, ErrMaintenanceNotFound
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxMaintenanceReason {
		return nil, &InvalidError{Msg: fmt.Sprintf("reason is longer than %d characters", MaxMaintenanceReason)}
	}
	var w *MaintenanceWindow
	err := m.db.Tx(ctx, func(tx *sql.Tx) error {
		c := writeConn(m.db, tx)
		cur, err := loadWindow(ctx, c, seq, c.forUpdate())
		if err != nil {
			return err
		}
		if st := cur.State(now); st == "ended" {
			return &MaintenanceConflictError{Msg: fmt.Sprintf("maintenance window %s has already ended (%s)", cur.ID, FormatTime(cur.EffectiveEnd()))}
		}
		if _, err := c.ExecContext(ctx, `UPDATE maintenance_windows SET ended_ms = $1, ended_by = $2 WHERE seq = $3`,
			unixms.From(now), actor.Name, seq); err != nil {
			return fmt.Errorf("end maintenance window %s: %w", cur.ID, err)
		}
		action := "end"
		if now.Before(cur.Start) {
			action = "cancel"
		}
		cur.EndedAt, cur.EndedBy = unixms.Time(unixms.From(now)), actor.Name
		w = cur
		return writeMaintenanceAudit(ctx, c, seq, now, actor, action, map[string]any{"reason": reason, "planned_end": FormatTime(cur.End)})
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

const windowColumns = `seq, matchers, start_ms, end_ms, reason, created_by, created_ms, ended_ms, ended_by`

func scanWindow(sc scanner) (*MaintenanceWindow, error) {
	var (
		w                   MaintenanceWindow
		seq, start, end, cr int64
		matchers            string
		endedMs             sql.NullInt64
		endedBy             sql.NullString
	)
	if err := sc.Scan(&seq, &matchers, &start, &end, &w.Reason, &w.Who, &cr, &endedMs, &endedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(matchers), &w.Matchers); err != nil {
		return nil, fmt.Errorf("maintenance window %d: decode matchers: %w", seq, err)
	}
	w.ID = maintenanceID(seq)
	w.Start, w.End, w.CreatedAt = unixms.Time(start), unixms.Time(end), unixms.Time(cr)
	w.EndedAt, w.EndedBy = store.FromNullMillis(endedMs), endedBy.String
	return &w, nil
}

func loadWindow(ctx context.Context, c conn, seq int64, suffix string) (*MaintenanceWindow, error) {
	w, err := scanWindow(c.QueryRowContext(ctx, `SELECT `+windowColumns+` FROM maintenance_windows WHERE seq = $1`+suffix, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrMaintenanceNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load maintenance window %d: %w", seq, err)
	}
	return w, nil
}

// Get returns one window.
func (m *Maintenance) Get(ctx context.Context, id string) (*MaintenanceWindow, error) {
	seq, ok := parseMaintenanceID(id)
	if !ok {
		return nil, ErrMaintenanceNotFound
	}
	return loadWindow(ctx, dbConn(m.db, m.db.R), seq, "")
}

// maxListedMaintenance bounds a list that includes ended windows.
const maxListedMaintenance = 500

// List returns active and upcoming windows at now, by start; with
// includeEnded also ended ones (the newest maxListedMaintenance).
func (m *Maintenance) List(ctx context.Context, now time.Time, includeEnded bool) ([]*MaintenanceWindow, error) {
	q := `SELECT ` + windowColumns + ` FROM maintenance_windows WHERE end_ms > $1 AND ended_ms IS NULL
		ORDER BY start_ms, seq LIMIT $2`
	args := []any{unixms.From(now), MaxOpenMaintenance + 1}
	if includeEnded {
		q = `SELECT ` + windowColumns + ` FROM maintenance_windows ORDER BY seq DESC LIMIT $1`
		args = []any{maxListedMaintenance}
	}
	ws, err := m.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	if includeEnded {
		slices.SortStableFunc(ws, func(a, b *MaintenanceWindow) int { return a.Start.Compare(b.Start) })
	}
	return ws, nil
}

// ForDetector returns the windows the detector needs at now: active,
// upcoming, and those ended within the last day.
func (m *Maintenance) ForDetector(ctx context.Context, now time.Time) ([]detector.MaintenanceWindow, error) {
	since := unixms.From(now.Add(-maintenanceRecent))
	ws, err := m.query(ctx, `SELECT `+windowColumns+` FROM maintenance_windows
		WHERE end_ms > $1 AND (ended_ms IS NULL OR ended_ms > $2) ORDER BY seq LIMIT $3`, since, since, MaxOpenMaintenance+maxListedMaintenance)
	if err != nil {
		return nil, err
	}
	out := make([]detector.MaintenanceWindow, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.Detector())
	}
	return out, nil
}

func (m *Maintenance) query(ctx context.Context, q string, args ...any) ([]*MaintenanceWindow, error) {
	rows, err := dbConn(m.db, m.db.R).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list maintenance windows: %w", err)
	}
	defer rows.Close()
	out := []*MaintenanceWindow{}
	for rows.Next() {
		w, err := scanWindow(rows)
		if err != nil {
			return nil, fmt.Errorf("list maintenance windows: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list maintenance windows: %w", err)
	}
	return out, nil
}

// Audit returns the audit trail of one window, oldest first.
func (m *Maintenance) Audit(ctx context.Context, id string) ([]AuditEntry, error) {
	seq, ok := parseMaintenanceID(id)
	if !ok {
		return nil, ErrMaintenanceNotFound
	}
	rows, err := dbConn(m.db, m.db.R).QueryContext(ctx, `SELECT seq, at, actor, remote_addr, action, detail
		FROM maintenance_audit WHERE window_seq = $1 ORDER BY seq`, seq)
	if err != nil {
		return nil, fmt.Errorf("load audit of %s: %w", id, err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("load audit of %s: %w", id, err)
	}
	return out, nil
}

func writeMaintenanceAudit(ctx context.Context, c conn, seq int64, at time.Time, actor Actor, action string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode audit detail: %w", err)
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO maintenance_audit (window_seq, at, actor, remote_addr, action, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`, seq, unixms.From(at), actor.Name, actor.RemoteAddr, action, string(b)); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, maintenanceID(seq), err)
	}
	return nil
}
