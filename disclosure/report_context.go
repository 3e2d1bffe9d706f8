package disclosure

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"
)

// Measured is what nymwatch probes, so that the report's statements about
// the other architecture side of an incident (section VI) say what was
// measured, not what is hoped.
type Measured struct {
	// Services names the centralized services probed (services[] and the
	// nym-api directory).
	Services []string
	// Nodes is how many nodes of the decentralized network are probed.
	Nodes int
}

// reportEnv is what rendering a report needs beyond the incident's rows.
// The zero value uses the wall clock and knows nothing probed.
type reportEnv struct {
	now      func() time.Time
	measured func() Measured
}

func (e reportEnv) clock() time.Time {
	if e.now == nil {
		return time.Now().UTC()
	}
	return e.now().UTC()
}

// reportInputs are the facts of one rendering.
type reportInputs struct {
	now      time.Time
	measured *Measured // nil: not known (the report says so)
	related  []Related // incidents overlapping in time, either side
}

// Related is another incident that overlapped this one in time: on the
// other architecture side it is named in section VI (both ways, since the
// overlap is symmetric and found at render time); on the same side it
// decides whether the failure can be called localized or resolved before
// user impact.
type Related struct {
	ID           string
	Title        string
	Class        detector.Class
	State        State
	Component    string
	Architecture detector.Architecture
	FirstSeen    time.Time
	ResolvedAt   time.Time
	Affected     []string
	SupersededBy string
}

// maxRelated bounds the overlapping incidents read for one report.
const maxRelated = 50

// loadRelated finds the incidents whose [first_seen, resolved_at or now]
// overlaps inc's. Incidents still open count as lasting until now.
func loadRelated(ctx context.Context, q conn, inc *Incident, now time.Time) ([]Related, error) {
	if inc.FirstSeen.IsZero() {
		return nil, nil
	}
	end := inc.ResolvedAt
	if end.IsZero() {
		end = now
	}
	if end.Before(inc.FirstSeen) {
		end = inc.FirstSeen
	}
	rows, err := q.QueryContext(ctx, `SELECT id, COALESCE(report_title, title), class, state, component, architecture,
		first_seen, resolved_at, affected, superseded_by
		FROM incidents WHERE id <> $1 AND first_seen <= $2 AND (resolved_at IS NULL OR resolved_at >= $3)
		ORDER BY first_seen, id LIMIT $4`,
		inc.ID, unixms.From(end), unixms.From(inc.FirstSeen), maxRelated)
	if err != nil {
		return nil, fmt.Errorf("concurrent incidents of %s: %w", inc.ID, err)
	}
	defer rows.Close()
	var out []Related
	for rows.Next() {
		var (
			r          Related
			first      int64
			resolved   sql.NullInt64
			affected   string
			superseded sql.NullString
		)
		if err := rows.Scan(&r.ID, &r.Title, &r.Class, &r.State, &r.Component, &r.Architecture,
			&first, &resolved, &affected, &superseded); err != nil {
			return nil, fmt.Errorf("concurrent incidents of %s: %w", inc.ID, err)
		}
		if err := json.Unmarshal([]byte(affected), &r.Affected); err != nil {
			return nil, fmt.Errorf("concurrent incident %s: affected: %w", r.ID, err)
		}
		r.FirstSeen, r.ResolvedAt, r.SupersededBy = unixms.Time(first), store.FromNullMillis(resolved), superseded.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("concurrent incidents of %s: %w", inc.ID, err)
	}
	return out, nil
}

// monitorComponent reports whether an incident is about the monitor itself
// (its vantage point, a cluster peer or path), not about the network or
// the services: it says nothing about either side.
func monitorComponent(c string) bool {
	return c == "vantage_point" || strings.HasPrefix(c, "vantage/") || strings.HasPrefix(c, "path/")
}

// otherSide splits the overlapping incidents of the other architecture
// side into those that failed past a disclosure threshold (and were not
// dismissed by a human) and the rest (internal records, dismissed drafts).
func otherSide(inc *Incident, related []Related) (failed, below []Related) {
	for _, r := range related {
		if r.Architecture == inc.Architecture || r.SupersededBy != "" || monitorComponent(r.Component) {
			continue
		}
		if r.Class.Disclosable() && r.State != StateDismissed && r.State != StateInternal {
			failed = append(failed, r)
		} else {
			below = append(below, r)
		}
	}
	return failed, below
}

// sameSideDisclosable lists the overlapping disclosable incidents of inc's
// own side that share an affected target with it: when one exists, the
// targets of inc were part of a failure that crossed a threshold, so it was
// neither localized nor resolved before user impact.
func sameSideDisclosable(inc *Incident, related []Related) []Related {
	var out []Related
	for _, r := range related {
		if r.Architecture != inc.Architecture || !r.Class.Disclosable() || r.State == StateDismissed {
			continue
		}
		if slices.ContainsFunc(r.Affected, func(t string) bool { return slices.Contains(inc.Affected, t) }) {
			out = append(out, r)
		}
	}
	return out
}

// Concurrent lists the overlapping incidents of the other architecture
// side, as the report names them.
func concurrentOf(inc *Incident, related []Related) []Related {
	failed, below := otherSide(inc, related)
	return append(failed, below...)
}

// incidentRefs names incidents for a report: "INC-… (title)", at most 10.
func incidentRefs(rs []Related) string {
	var parts []string
	for i, r := range rs {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(rs)-10))
			break
		}
		s := r.ID
		if t := mdInline(r.Title, 120); t != "" {
			s += " (" + t + ")"
		}
		parts = append(parts, s)
	}
	return joinWords(parts)
}
