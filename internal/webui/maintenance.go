package webui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/disclosure"
)

// The maintenance view: active and upcoming windows, a form to declare
// one and a button to end each. Windows say what is being worked on, so
// even reading them needs a session (as the API needs the operator
// token). Changes pass the same session and cross-origin checks as
// incident actions and go through disclosure.Maintenance, which audits
// them with the console's actor name.

// registerMaintenance adds:
//
//	GET  /maintenance                 the view (session)
//	POST /maintenance                 declare a window
//	POST /maintenance/{id}/end        end (or cancel) a window
func (u *UI) registerMaintenance(mux *http.ServeMux) {
	if u.maint == nil {
		return
	}
	mux.Handle("GET /maintenance", u.headers(u.maintSession(func(w http.ResponseWriter, r *http.Request, _ session) {
		u.showMaintenance(w, r, http.StatusOK, maintForm{}, "", maintNotice(r.URL.Query().Get("done")))
	})))
	mux.Handle("POST /maintenance", u.headers(u.cop.Handler(u.maintSession(u.maintAdd))))
	mux.Handle("POST /maintenance/{id}/end", u.headers(u.cop.Handler(u.maintSession(u.maintEnd))))
}

// maintSession lets a request through only with a session; without one
// the browser goes to the login form and comes back here.
func (u *UI) maintSession(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, _, ok := u.currentSession(r)
		if !ok {
			if r.Method != http.MethodGet {
				u.log.Warn("web console: maintenance change without a session", "path", r.URL.Path, "remote_addr", r.RemoteAddr)
			}
			u.toLogin(w, r, "/maintenance")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		h(w, r, s)
	}
}

func maintNotice(done string) string {
	switch done {
	case "add":
		return "Maintenance window declared."
	case "end":
		return "Maintenance window ended."
	}
	return ""
}

// maintForm is what the human typed, shown again after an error.
type maintForm struct {
	Services, Components, Nodes, Start, Duration, End, Reason string
}

type maintRow struct {
	W       *disclosure.MaintenanceWindow
	State   string
	Matches string
	EndHref string
}

type maintView struct {
	page
	Windows []maintRow
	Form    maintForm
	Error   string
	Notice  string
}

func (u *UI) showMaintenance(w http.ResponseWriter, r *http.Request, status int, f maintForm, errMsg, notice string) {
	now := u.now().UTC()
	ws, err := u.maint.List(r.Context(), now, false)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	v := maintView{page: u.pageFor(r, "Maintenance"), Form: f, Error: errMsg, Notice: notice}
	for _, mw := range ws {
		var parts []string
		for _, m := range mw.Matchers {
			parts = append(parts, m.Name+"="+m.Value)
		}
		v.Windows = append(v.Windows, maintRow{W: mw, State: mw.State(now), Matches: strings.Join(parts, ", "),
			EndHref: u.base + "/maintenance/" + url.PathEscape(mw.ID) + "/end"})
	}
	u.render(w, r, status, "maintenance", v)
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (u *UI) maintAdd(w http.ResponseWriter, r *http.Request, s session) {
	if err := r.ParseForm(); err != nil {
		u.showMaintenance(w, r, http.StatusBadRequest, maintForm{}, "The form could not be read: it may be too large.", "")
		return
	}
	pf := r.PostForm
	f := maintForm{Services: pf.Get("services"), Components: pf.Get("components"), Nodes: pf.Get("nodes"),
		Start: strings.TrimSpace(pf.Get("start")), Duration: strings.TrimSpace(pf.Get("duration")),
		End: strings.TrimSpace(pf.Get("end")), Reason: strings.ReplaceAll(pf.Get("reason"), "\r\n", "\n")}
	now := u.now().UTC()
	req := disclosure.MaintenanceRequest{Reason: f.Reason}
	for _, l := range []struct {
		name, vs string
	}{{disclosure.MatchService, f.Services}, {disclosure.MatchComponent, f.Components}, {disclosure.MatchNode, f.Nodes}} {
		for _, v := range splitList(l.vs) {
			req.Matchers = append(req.Matchers, disclosure.Matcher{Name: l.name, Value: v})
		}
	}
	fail := func(msg string) {
		u.log.Info("web console: maintenance window refused", "err", msg)
		u.showMaintenance(w, r, http.StatusBadRequest, f, capitalize(msg)+".", "")
	}
	var err error
	if f.Start != "" && !strings.EqualFold(f.Start, "now") {
		if req.Start, err = parseFormTime(f.Start); err != nil {
			fail("start: want an RFC 3339 UTC time such as 2026-12-04T15:00:00Z, or leave it empty for now")
			return
		}
	}
	switch {
	case f.End != "" && f.Duration != "":
		fail("give a duration or an end, not both")
		return
	case f.End != "":
		if req.End, err = parseFormTime(f.End); err != nil {
			fail("end: want an RFC 3339 UTC time such as 2026-12-04T17:00:00Z")
			return
		}
	case f.Duration != "":
		d, err := disclosure.ParseMaintenanceDuration(f.Duration)
		if err != nil {
			fail("duration: " + err.Error())
			return
		}
		start := req.Start
		if start.IsZero() {
			start = now
		}
		req.End = start.Add(d)
	}
	actor := disclosure.Actor{Name: actorName(s.actor), RemoteAddr: r.RemoteAddr}
	mw, err := u.maint.Create(r.Context(), req, actor, now)
	if err != nil {
		u.maintFailed(w, r, f, err)
		return
	}
	u.log.Info("web console: maintenance window declared", "id", mw.ID, "actor", actor.Name)
	http.Redirect(w, r, u.base+"/maintenance?done=add", http.StatusSeeOther)
}

func (u *UI) maintEnd(w http.ResponseWriter, r *http.Request, s session) {
	if err := r.ParseForm(); err != nil {
		u.showMaintenance(w, r, http.StatusBadRequest, maintForm{}, "The form could not be read: it may be too large.", "")
		return
	}
	actor := disclosure.Actor{Name: actorName(s.actor), RemoteAddr: r.RemoteAddr}
	if _, err := u.maint.End(r.Context(), r.PathValue("id"), r.PostForm.Get("reason"), actor, u.now().UTC()); err != nil {
		u.maintFailed(w, r, maintForm{}, err)
		return
	}
	http.Redirect(w, r, u.base+"/maintenance?done=end", http.StatusSeeOther)
}

func (u *UI) maintFailed(w http.ResponseWriter, r *http.Request, f maintForm, err error) {
	invalid, isInvalid := errors.AsType[*disclosure.InvalidError](err)
	conflict, isConflict := errors.AsType[*disclosure.MaintenanceConflictError](err)
	switch {
	case errors.Is(err, disclosure.ErrMaintenanceNotFound):
		u.showMaintenance(w, r, http.StatusNotFound, f, "There is no such maintenance window.", "")
	case isInvalid:
		u.showMaintenance(w, r, http.StatusBadRequest, f, capitalize(invalid.Msg)+".", "")
	case isConflict:
		u.showMaintenance(w, r, http.StatusConflict, f, capitalize(conflict.Msg)+".", "")
	default:
		u.internalError(w, r, err)
	}
}

func parseFormTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time: %w", err)
	}
	return t.UTC(), nil
}
