package webui

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// otherIncidentsLimit bounds the non-draft incidents on the list page;
// drafts are always listed in full.
const otherIncidentsLimit = 200

// Deadline urgency, shown as text and (redundantly) as colour.
const (
	urgencyOK      = "ok"
	urgencySoon    = "soon"    // under dayEndSoon left
	urgencyOverdue = "overdue" // past the end of the UTC day
	dayEndSoon     = 2 * time.Hour
)

// deadline is the same-day disclosure deadline of policy III: the end of
// the UTC day the incident was detected (first seen if not yet detected).
func deadline(inc *disclosure.Incident) time.Time {
	basis := inc.DetectedAt
	if basis.IsZero() {
		basis = cmp.Or(inc.FirstSeen, inc.CreatedAt)
	}
	return basis.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
}

// waitInfo is how long a draft has waited and how far it is from its
// deadline.
type waitInfo struct {
	Since    time.Time
	Waiting  string
	Deadline time.Time
	Left     string // "3h 10m left" or "overdue by 25m"
	Urgency  string
}

func waitFor(inc *disclosure.Incident, now time.Time) *waitInfo {
	if inc.State != disclosure.StateDraft {
		return nil
	}
	since := cmp.Or(inc.CreatedAt, inc.DetectedAt)
	w := &waitInfo{Since: since, Waiting: humanDuration(now.Sub(since)), Deadline: deadline(inc), Urgency: urgencyOK}
	left := w.Deadline.Sub(now)
	switch {
	case left <= 0:
		w.Left, w.Urgency = "overdue by "+humanDuration(-left), urgencyOverdue
	case left < dayEndSoon:
		w.Left, w.Urgency = humanDuration(left)+" left", urgencySoon
	default:
		w.Left = humanDuration(left) + " left"
	}
	return w
}

// stateText says what a state means for the human deciding.
func stateText(s disclosure.State) string {
	switch s {
	case disclosure.StateDraft:
		return "Draft: waiting for a decision"
	case disclosure.StateConfirmed:
		return "Confirmed for public disclosure"
	case disclosure.StateDismissed:
		return "Dismissed: not disclosed"
	case disclosure.StateResolved:
		return "Resolved: service restored"
	case disclosure.StateClosed:
		return "Closed: follow-ups done"
	case disclosure.StateInternal:
		return "Internal record (no disclosure)"
	}
	return string(s)
}

func archText(a detector.Architecture) string {
	if a == detector.ArchCentralized {
		return "Centralized services"
	}
	return "Decentralized network"
}

// --- list ---

type listRow struct {
	Inc        *disclosure.Incident
	Href       string
	StateText  string
	Components string
	Arch       string
	Wait       *waitInfo
}

type filterOption struct {
	Value, Label string
	Selected     bool
}

type listView struct {
	page
	Drafts       []listRow
	Others       []listRow
	ShowDrafts   bool
	ShowOthers   bool
	States       []filterOption
	Classes      []filterOption
	Filtered     bool
	OthersCapped bool
}

func (u *UI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, class := disclosure.State(q.Get("state")), detector.Class(q.Get("class"))
	if state != "" && !state.Valid() {
		u.renderError(w, r, http.StatusBadRequest, "Unknown state", fmt.Sprintf("There is no incident state %q.", state))
		return
	}
	if class != "" && !class.Valid() {
		u.renderError(w, r, http.StatusBadRequest, "Unknown class", fmt.Sprintf("There is no incident class %q.", class))
		return
	}
	now := u.now()
	v := listView{page: u.pageFor(r, "Incidents"), Filtered: state != "" || class != ""}
	v.States = options(q.Get("state"), "Any state", []string{"draft", "confirmed", "resolved", "closed", "dismissed", "internal"})
	v.Classes = options(q.Get("class"), "Any class", []string{"security", "operational", "internal"})

	// Drafts come from their own query, so no amount of history can push a
	// draft off the page.
	if state == "" || state == disclosure.StateDraft {
		drafts, err := u.svc.List(r.Context(), disclosure.Filter{State: disclosure.StateDraft, Class: class, Limit: disclosure.MaxListLimit})
		if err != nil {
			u.internalError(w, r, err)
			return
		}
		// Longest waiting first: the most urgent decision on top.
		slices.SortStableFunc(drafts, func(a, b *disclosure.Incident) int {
			return cmp.Compare(a.CreatedAt.UnixMilli(), b.CreatedAt.UnixMilli())
		})
		for _, inc := range drafts {
			v.Drafts = append(v.Drafts, u.row(inc, now))
		}
		v.ShowDrafts = true
	}
	if state != disclosure.StateDraft {
		others, err := u.svc.List(r.Context(), disclosure.Filter{State: state, Class: class, Limit: otherIncidentsLimit + 1})
		if err != nil {
			u.internalError(w, r, err)
			return
		}
		for _, inc := range others {
			if inc.State == disclosure.StateDraft {
				continue
			}
			if len(v.Others) == otherIncidentsLimit {
				v.OthersCapped = true
				break
			}
			v.Others = append(v.Others, u.row(inc, now))
		}
		v.ShowOthers = true
	}
	u.render(w, r, http.StatusOK, "list", v)
}

func options(selected, anyLabel string, values []string) []filterOption {
	out := []filterOption{{Value: "", Label: anyLabel, Selected: selected == ""}}
	for _, v := range values {
		out = append(out, filterOption{Value: v, Label: titleCase(v), Selected: v == selected})
	}
	return out
}

func (u *UI) row(inc *disclosure.Incident, now time.Time) listRow {
	comps := inc.Component
	if n := len(inc.Components); n > 1 {
		comps = strings.Join(inc.Components, ", ")
	}
	return listRow{
		Inc: inc, Href: u.incidentPath(inc.ID), StateText: stateText(inc.State),
		Components: comps, Arch: archText(inc.Architecture), Wait: waitFor(inc, now),
	}
}

// --- incident page ---

type fieldForm struct {
	Name      string
	Label     string
	Value     string
	Multiline bool
	Edited    bool
	Unfilled  bool
	Open      bool   // the edit form starts open (after an error)
	Error     string // why the last save failed
}

type reportSection struct {
	HTML  template.HTML
	Field *fieldForm // nil for the preface
}

type evidenceRow struct {
	disclosure.IncidentAnomaly
	Rows      []detector.Evidence
	Hidden    int
	LabelList []string
}

type countItem struct {
	Name string
	N    int
}

type auditRow struct {
	disclosure.AuditEntry
	Field  string // edited: the field's label
	Old    string
	New    string
	Revert bool
	Items  []auditItem
}

type auditItem struct{ Key, Value string }

type incidentView struct {
	page
	Inc        *disclosure.Incident
	Href       string
	StateText  string
	Arch       string
	Wait       *waitInfo
	Notice     string
	Error      string
	Markdown   string
	ReportMD   string // link to the API's report.md
	APIHref    string
	Sections   []reportSection
	TitleField *fieldForm
	Unfilled   []string // labels of fields still to fill in
	Timeline   timelineView
	Anomalies  []evidenceRow
	Affected   []string
	Countries  []countItem
	Roles      []countItem
	Audit      []auditRow
	CanConfirm bool
	CanDismiss bool
	CanResolve bool
	Reason     string // the dismiss reason typed before an error
	ReasonErr  string
	// CanAcknowledge: a confirmed incident turned security and is paged
	// until a human acknowledges (POST confirm).
	CanAcknowledge bool
	// Pub is the publication panel (confirmed and resolved incidents).
	Pub *publicationView
}

// maxEvidenceRows bounds the evidence rows shown per anomaly; the JSON API
// has them all.
const maxEvidenceRows = 200

// formState carries what a human typed into a form that failed, so the
// page shows it again with the error instead of losing it.
type formState struct {
	action      string // "edit", "dismiss", or "" (the error goes on top)
	field, text string
	reason      string
	err         string
}

func (u *UI) incident(w http.ResponseWriter, r *http.Request) {
	u.showIncident(w, r, http.StatusOK, r.PathValue("id"), formState{}, doneNotice(r))
}

func (u *UI) showIncident(w http.ResponseWriter, r *http.Request, status int, id string, fs formState, notice string) {
	inc, err := u.svc.Get(r.Context(), id)
	if errors.Is(err, disclosure.ErrNotFound) {
		u.renderError(w, r, http.StatusNotFound, "Incident not found", fmt.Sprintf("There is no incident %q.", id))
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	now := u.now()
	v := incidentView{
		page: u.pageFor(r, inc.ID+": "+inc.Title), Inc: inc, Href: u.incidentPath(inc.ID),
		StateText: stateText(inc.State), Arch: archText(inc.Architecture), Wait: waitFor(inc, now), Notice: notice,
		APIHref:  u.base + "/api/v1/incidents/" + url.PathEscape(inc.ID),
		ReportMD: u.base + "/api/v1/incidents/" + url.PathEscape(inc.ID) + "/report.md",
		Timeline: buildTimeline(inc, now),
	}
	v.CanConfirm = inc.State == disclosure.StateDraft
	v.CanDismiss = inc.State == disclosure.StateDraft
	v.CanResolve = inc.State == disclosure.StateConfirmed
	v.CanAcknowledge = inc.State == disclosure.StateConfirmed && !inc.SecurityUnacknowledgedSince.IsZero()
	v.Pub = publicationFor(inc, now)

	unfilled := map[string]bool{}
	for _, f := range inc.Report.Unfilled() {
		unfilled[f] = true
		v.Unfilled = append(v.Unfilled, fieldLabel(f))
	}
	byName := map[string]*fieldForm{}
	for _, name := range disclosure.ReportFieldNames() {
		f := &fieldForm{
			Name: name, Label: fieldLabel(name), Value: fieldValue(inc, name),
			Multiline: name != "title", Edited: slices.Contains(inc.Edited, name), Unfilled: unfilled[name],
		}
		if fs.action == "edit" && fs.field == name {
			f.Value, f.Open, f.Error = fs.text, true, fs.err
		}
		byName[name] = f
		if name == "title" {
			v.TitleField = f
		}
	}
	switch fs.action {
	case "dismiss":
		v.Reason, v.ReasonErr = fs.reason, fs.err
	case "edit":
		if _, ok := byName[fs.field]; !ok {
			v.Error = fs.err
		}
	default:
		v.Error = fs.err
	}

	md, chunks := renderReport(inc)
	v.Markdown = md
	for _, c := range chunks {
		s := reportSection{HTML: c.HTML}
		if c.Field != "" {
			s.Field = byName[c.Field]
		}
		v.Sections = append(v.Sections, s)
	}

	v.Anomalies, v.Countries, v.Roles = evidence(inc)
	v.Affected = inc.Affected
	v.Audit = u.auditRows(inc.Audit)
	u.render(w, r, status, "incident", v)
}

func evidence(inc *disclosure.Incident) ([]evidenceRow, []countItem, []countItem) {
	countries, roles := map[string]int{}, map[string]int{}
	var rows []evidenceRow
	for _, a := range inc.Anomalies {
		er := evidenceRow{IncidentAnomaly: a}
		for i, e := range a.Evidence {
			if e.Country != "" {
				countries[e.Country]++
			}
			if e.Role != "" {
				roles[strings.ReplaceAll(e.Role, "_", " ")]++
			}
			if i < maxEvidenceRows {
				er.Rows = append(er.Rows, e)
			}
		}
		er.Hidden = len(a.Evidence) - len(er.Rows)
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			er.LabelList = append(er.LabelList, k+"="+a.Labels[k])
		}
		rows = append(rows, er)
	}
	return rows, counted(countries), counted(roles)
}

// counted sorts a tally by count, then name.
func counted(m map[string]int) []countItem {
	var out []countItem
	for k, n := range m {
		out = append(out, countItem{Name: k, N: n})
	}
	slices.SortFunc(out, func(a, b countItem) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func (u *UI) auditRows(entries []disclosure.AuditEntry) []auditRow {
	var out []auditRow
	for _, e := range entries {
		row := auditRow{AuditEntry: e}
		var detail map[string]any
		if len(e.Detail) > 0 && json.Unmarshal(e.Detail, &detail) == nil {
			if e.Action == "edited" {
				if f, ok := detail["field"].(string); ok {
					row.Field = fieldLabel(f)
					row.Old, _ = detail["old"].(string)
					row.New, _ = detail["new"].(string)
					row.Revert, _ = detail["reverted"].(bool)
					out = append(out, row)
					continue
				}
			}
			for _, k := range slices.Sorted(maps.Keys(detail)) {
				row.Items = append(row.Items, auditItem{Key: strings.ReplaceAll(k, "_", " "), Value: detailValue(detail[k])})
			}
		} else if len(e.Detail) > 0 && string(e.Detail) != "null" {
			row.Items = append(row.Items, auditItem{Key: "detail", Value: string(e.Detail)})
		}
		out = append(out, row)
	}
	return out
}

// maxDetailValue bounds one audit detail value on the page.
const maxDetailValue = 500

func detailValue(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []any:
		var parts []string
		for _, p := range x {
			parts = append(parts, detailValue(p))
		}
		s = strings.Join(parts, ", ")
	default:
		b, _ := json.Marshal(x) // values decoded from JSON always re-encode
		s = string(b)
	}
	if r := []rune(s); len(r) > maxDetailValue {
		s = string(r[:maxDetailValue]) + "…"
	}
	return s
}

// doneNotice turns the ?done= of a redirect after a change into a message.
// Only known values produce text, so the query cannot inject any.
func doneNotice(r *http.Request) string {
	switch r.URL.Query().Get("done") {
	case "confirm":
		return "Confirmed for public disclosure. The page to the on-call team has been ended."
	case "dismiss":
		return "Dismissed: this incident will not be disclosed. The page to the on-call team has been ended."
	case "resolve":
		return "Marked resolved."
	case "edit":
		return "Saved. The report below shows the new text."
	case "restore":
		return "Restored the generated text."
	case "unchanged":
		return "Nothing to save: the text was unchanged."
	case "publish":
		return "Published: the report is frozen as published version 1."
	case "update":
		return "Update published."
	}
	return lifecycleNotice(r.URL.Query().Get("done"))
}

func (u *UI) internalError(w http.ResponseWriter, r *http.Request, err error) {
	u.log.Error("web console", "method", r.Method, "path", r.URL.Path, "err", err)
	u.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"nymwatch could not complete this request. The error is in the daemon's log.")
}
