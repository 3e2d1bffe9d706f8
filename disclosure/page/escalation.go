package page

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging label values. The label set of a page is a pure function of the
// incident and the escalation level, never of the instance that sends it, so
// an Alertmanager cluster fed by several nymwatch instances sees one alert.
const (
	// AlertName is the alertname label of every nymwatch page.
	AlertName = "NymwatchDisclosurePending"

	// The severity ladder, lowest first. An operational draft starts at
	// warning, a security draft at critical; each escalation (a configured
	// delay passed without a human decision, or the end of the UTC day
	// approaching) climbs one rung, and page is the top.
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
	SeverityPage     = "page"
	// SeverityInfo is for reminders below the draft ladder (an
	// unpublished confirmed incident, an overdue follow-up): never a
	// wake-up.
	SeverityInfo = "info"
)

// Defaults of the paging schedule (the outbox's options).
const (
	DefaultResendInterval = time.Minute
	DefaultDayEndWarning  = time.Hour
	DefaultMaxAge         = 24 * time.Hour
	// LifetimeResends: Alertmanager resolves an alert by itself when endsAt
	// passes, so a firing page says it is valid for this many resend
	// intervals (Prometheus uses 4 × max(resend delay, evaluation
	// interval)); a few lost re-sends do not flap the alert, and a crashed
	// nymwatch lets it lapse.
	LifetimeResends = 4
)

// DefaultEscalationDelays are the delays after a draft was opened at which
// an unanswered page is escalated one severity rung.
func DefaultEscalationDelays() []time.Duration {
	return []time.Duration{15 * time.Minute, time.Hour}
}

// escalationSeverity is the rung of the ladder at level (0 = initial).
func escalationSeverity(class string, level int) string {
	rung := level
	if class == "security" {
		rung++
	}
	switch {
	case rung <= 0:
		return SeverityWarning
	case rung == 1:
		return SeverityCritical
	default:
		return SeverityPage
	}
}

// Escalation is the paging schedule of a pending draft, and where its pages
// link to. The outbox builds it from its validated options.
type Escalation struct {
	// ExternalURL is the base URL humans use; pages link to ExternalURL +
	// "/incidents/{id}", else to APIBaseURL + "/api/v1/incidents/{id}".
	ExternalURL string
	APIBaseURL  string
	Resend      time.Duration   // the re-send interval, positive
	Delays      []time.Duration // ascending, positive
	DayEnd      time.Duration   // the warning window before 00:00 UTC
}

// Lifetime is how long a firing page is valid: its endsAt is now+Lifetime.
func (pl Escalation) Lifetime() time.Duration { return LifetimeResends * pl.Resend }

// escalationState is where a draft stands on the schedule at one instant.
type escalationState struct {
	age          time.Duration
	escalations  int   // configured delays passed
	resendIndex  int64 // floor(age / resend interval)
	dayEndBumped bool  // the draft was pending within dayEnd of a UTC midnight
	// The latest UTC midnight whose warning window the draft has reached.
	dayEndMidnight time.Time
	level          int // escalations + (1 if dayEndBumped)
}

// state is a pure function of the draft's creation time and now: every
// instance (and every duplicated scheduler run) computes the same keys.
func (pl Escalation) state(created, now time.Time) escalationState {
	var st escalationState
	st.age = max(now.Sub(created), 0)
	for _, d := range pl.Delays {
		if st.age >= d {
			st.escalations++
		}
	}
	st.resendIndex = int64(st.age / pl.Resend)
	// The latest midnight M with M-dayEnd <= now. If the draft existed before
	// M, it was (or is) pending in M's warning window. Once reached, the bump
	// stays: a draft that has crossed a day unanswered does not calm down.
	m := now.Add(pl.DayEnd).UTC().Truncate(24 * time.Hour)
	if created.Before(m) {
		st.dayEndBumped = true
		st.dayEndMidnight = m
	}
	st.level = st.escalations
	if st.dayEndBumped {
		st.level++
	}
	return st
}

// severities lists the distinct severities reached up to level, lowest
// first. Every reached label set keeps firing while the draft waits (as a
// Prometheus warning rule keeps firing next to its critical twin) so no
// alert resolves while nobody has acted; route on severity and inhibit the
// lower ones with `equal: [alertname, incident_id]`.
func escalationSeverities(class string, level int) []string {
	var out []string
	for i := 0; i <= level; i++ {
		s := escalationSeverity(class, i)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Labels is the label set for subject s at severity sev. Empty values
// are left out, as Alertmanager drops them anyway.
func Labels(s Subject, sev string) map[string]string {
	l := map[string]string{
		"alertname":   AlertName,
		"incident_id": s.IncidentID,
		"severity":    sev,
	}
	if s.Class != "" {
		l["class"] = s.Class
	}
	if s.Component != "" {
		l["component"] = s.Component
	}
	return l
}

// Fingerprint identifies a label set (the alert's identity in
// Alertmanager): sorted name=value pairs, hashed.
func Fingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// IncidentURL is where a human confirms or dismisses the draft ("" when
// neither URL is known).
func (pl Escalation) IncidentURL(id string) string {
	externalURL, apiBaseURL := pl.ExternalURL, pl.APIBaseURL
	esc := url.PathEscape(id)
	if externalURL != "" {
		return strings.TrimRight(externalURL, "/") + "/incidents/" + esc
	}
	if apiBaseURL != "" {
		return strings.TrimRight(apiBaseURL, "/") + "/api/v1/incidents/" + esc
	}
	return ""
}

// pagerStartsAt is when users were first hurt; it falls back to the other
// known times so Alertmanager never sees a zero start.
func pagerStartsAt(s Subject, now time.Time) time.Time {
	for _, t := range []time.Time{s.FirstSeen, s.DetectedAt, s.CreatedAt} {
		if !t.IsZero() {
			return t.UTC()
		}
	}
	return now.UTC()
}

// pagerOrigin is the origin of the resend and escalation schedule: when the
// incident became disclosable (detected_at), or when its current paging
// round began (a reopened incident, a confirmed one's unacknowledged
// security change). Never an internal record's creation: a draft promoted
// from one must not start out "escalated, pending 4h59m" (issue 10.6).
func pagerOrigin(s Subject, now time.Time) time.Time {
	if !s.PagingSince.IsZero() {
		return s.PagingSince.UTC()
	}
	for _, t := range []time.Time{s.DetectedAt, s.CreatedAt, s.FirstSeen} {
		if !t.IsZero() {
			return t.UTC()
		}
	}
	return now.UTC()
}

// FiringPages are the pages due for a pending draft at now. Keys
// are derived from the schedule, not from the clock of the run that computes
// them, so a duplicated or repeated run enqueues nothing new:
//
//	<id>/resend/<n>/<severity>   the n-th resend interval, per reached severity
//	<id>/open                    the first page (<id>/open/security for security)
//	<id>/escalate/<k>            the k-th configured delay passed
//	<id>/dayend/<YYYY-MM-DD>     pending within DayEndWarning of that day's end
func (pl Escalation) FiringPages(s Subject, now time.Time) []Page {
	now = now.UTC()
	created := pagerOrigin(s, now)
	st := pl.state(created, now)
	incidentURL := pl.IncidentURL(s.IncidentID)
	top := escalationSeverity(s.Class, st.level)
	mk := func(key, sev string) Page {
		return Page{
			Key:        key,
			IncidentID: s.IncidentID,
			Labels:     Labels(s, sev),
			Annot:      escalationAnnotations(s, st, created, now, sev, incidentURL),
			StartsAt:   pagerStartsAt(s, now),
			EndsAt:     now.Add(pl.Lifetime()),
			CreatedAt:  now,
			Round:      s.Round,
		}
	}
	id := pagerKeyBase(s)
	var pages []Page
	// Re-sends first: when a re-send and an escalation of the same label set
	// are queued together, the newer row (the escalation, whose key says
	// why) is the one delivered and the older is superseded.
	if st.resendIndex >= 1 {
		for _, sev := range escalationSeverities(s.Class, st.level) {
			pages = append(pages, mk(fmt.Sprintf("%s/resend/%d/%s", id, st.resendIndex, sev), sev))
		}
	}
	// A draft raised to security is opened again under its own key: the
	// first page (as operational) must not make this one a duplicate.
	openKey := id + "/open"
	if s.Class == "security" {
		openKey += "/security"
	}
	pages = append(pages, mk(openKey, escalationSeverity(s.Class, 0)))
	for k := 1; k <= st.escalations; k++ {
		// The severity reached at the time of enqueueing: with the day-end
		// bump it can be above rung k.
		pages = append(pages, mk(id+"/escalate/"+strconv.Itoa(k), top))
	}
	if st.dayEndBumped {
		day := st.dayEndMidnight.Add(-time.Nanosecond).Format(time.DateOnly)
		pages = append(pages, mk(id+"/dayend/"+day, top))
	}
	return pages
}

// escalationAnnotations are the human-readable side of a firing page.
func escalationAnnotations(s Subject, st escalationState, created, now time.Time, sev, incidentURL string) map[string]string {
	title := s.Title
	if title == "" {
		title = s.Component
	}
	class := s.Class
	if class == "" {
		class = "disclosable"
	}
	var d strings.Builder
	if s.Summary != "" {
		d.WriteString(strings.TrimSpace(s.Summary))
		d.WriteString("\n\n")
	}
	confirmed := s.State == "confirmed"
	if confirmed {
		fmt.Fprintf(&d, "Confirmed incident %s turned %s", s.IncidentID, class)
	} else {
		fmt.Fprintf(&d, "Draft %s incident %s", class, s.IncidentID)
	}
	if s.Component != "" {
		fmt.Fprintf(&d, " (%s", s.Component)
		if s.Architecture != "" {
			fmt.Fprintf(&d, ", %s", s.Architecture)
		}
		d.WriteString(")")
	}
	if confirmed {
		fmt.Fprintf(&d, ": the security change waits for a human to acknowledge it (confirm the incident again) and to update its public disclosure. Users first affected %s; security change since %s, pending %s.",
			FormatTime(pagerStartsAt(s, now)), FormatTime(created), st.age.Truncate(time.Second))
	} else {
		fmt.Fprintf(&d, " waits for a human to confirm or dismiss its public disclosure. Users first affected %s; disclosable since %s, pending %s.",
			FormatTime(pagerStartsAt(s, now)), FormatTime(created), st.age.Truncate(time.Second))
	}
	d.WriteString(" Policy: security and operational incidents are disclosed immediately, operational ones the same UTC day.")
	if st.escalations > 0 {
		fmt.Fprintf(&d, " Escalated: no decision after %s.", st.age.Truncate(time.Minute))
	}
	if st.dayEndBumped {
		if now.Before(st.dayEndMidnight) {
			fmt.Fprintf(&d, " Same-day deadline: the UTC day ends at %s, in %s.",
				FormatTime(st.dayEndMidnight), st.dayEndMidnight.Sub(now).Truncate(time.Second))
		} else {
			fmt.Fprintf(&d, " Same-day deadline missed: the draft was still pending when the UTC day ended at %s.",
				FormatTime(st.dayEndMidnight))
		}
	}
	if incidentURL != "" {
		fmt.Fprintf(&d, " Decide at %s", incidentURL)
	}
	summary := fmt.Sprintf("Draft %s incident awaits a disclosure decision (%s): %s", class, sev, title)
	if confirmed {
		summary = fmt.Sprintf("Confirmed incident turned %s, awaits acknowledgement (%s): %s", class, sev, title)
	}
	a := map[string]string{
		"summary":     summary,
		"description": d.String(),
	}
	if incidentURL != "" {
		a["incident_url"] = incidentURL
	}
	return a
}

// EndPage ends one label set: endsAt = now, so Alertmanager
// resolves the alert at once.
func (pl Escalation) EndPage(s Subject, labels map[string]string, now time.Time) Page {
	now = now.UTC()
	incidentURL := pl.IncidentURL(s.IncidentID)
	what := s.State
	switch what {
	case "", "draft":
		what = "decided"
	}
	title := s.Title
	if title == "" {
		title = s.Component
	}
	a := map[string]string{
		"summary": fmt.Sprintf("Draft incident %s: %s", what, title),
		"description": fmt.Sprintf("A human %s the draft incident %s at %s; the disclosure page ends.",
			what, s.IncidentID, FormatTime(now)),
	}
	if incidentURL != "" {
		a["incident_url"] = incidentURL
	}
	startsAt := pagerStartsAt(s, now)
	if startsAt.After(now) {
		startsAt = now // Alertmanager rejects endsAt before startsAt
	}
	return Page{
		Key:        pagerKeyBase(s) + "/end/" + Fingerprint(labels),
		IncidentID: s.IncidentID,
		Labels:     labels,
		Annot:      a,
		StartsAt:   startsAt,
		EndsAt:     now,
		Resolved:   true,
		CreatedAt:  now,
		Round:      s.Round,
	}
}

// pagerKeyBase prefixes an incident's page keys: the incident id in round
// 0, "<id>/r<n>" in later rounds, so a reopened incident's pages are new
// pages and not duplicates of the ended ones.
func pagerKeyBase(s Subject) string {
	if s.Round > 0 {
		return s.IncidentID + "/r" + strconv.Itoa(s.Round)
	}
	return s.IncidentID
}

// ReachedLabels are the label sets a pending draft has fired by now, lowest
// severity first: the alerts its end must resolve.
func (pl Escalation) ReachedLabels(s Subject, now time.Time) []map[string]string {
	st := pl.state(pagerOrigin(s, now), now.UTC())
	var out []map[string]string
	for _, sev := range escalationSeverities(s.Class, st.level) {
		out = append(out, Labels(s, sev))
	}
	return out
}
