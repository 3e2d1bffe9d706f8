package webui

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nymwatch/nymwatch/disclosure"
)

// The console side of the incident's life after "confirm"
// (docs/follow-ups.md): the checklist, follow-ups, credit and close, on the
// incident page. Same session, cross-origin protection and audit actor as
// the other forms.
//
//	POST /incidents/{id}/channel        channel=<name> done=true|false [note]
//	POST /incidents/{id}/followup       seq=<n> done=true|false [note]
//	POST /incidents/{id}/followup-add   title=<text> [due=<YYYY-MM-DDTHH:MM>, UTC]
//	POST /incidents/{id}/credit         name, channel, reported_at (UTC), [link]
//	POST /incidents/{id}/close
func (u *UI) registerLifecycle(mux *http.ServeMux) {
	for _, action := range []string{"channel", "followup", "followup-add", "credit", "close"} {
		mux.Handle("POST /incidents/{id}/"+action, u.headers(u.cop.Handler(u.writable(u.lifecycleAct(action)))))
	}
}

// consoleTimeLayout is what <input type="datetime-local"> sends.
const consoleTimeLayout = "2006-01-02T15:04"

// parseConsoleTime reads a datetime-local value (or RFC 3339) as UTC.
func parseConsoleTime(field, s string) (time.Time, error) {
	if t, err := time.ParseInLocation(consoleTimeLayout, s, time.UTC); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, &disclosure.InvalidError{Msg: field + " must be a date and time (UTC)"}
}

func (u *UI) lifecycleAct(action string) func(http.ResponseWriter, *http.Request, session) {
	return func(w http.ResponseWriter, r *http.Request, s session) {
		id := r.PathValue("id")
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			u.showIncident(w, r, status, id, formState{err: "The form could not be read: it may be too large."}, "")
			return
		}
		actor := disclosure.Actor{Name: actorName(s.actor), RemoteAddr: r.RemoteAddr}
		ctx, now, f := r.Context(), u.now(), r.PostForm
		var err error
		done := f.Get("done") == "true"
		switch action {
		case "channel":
			_, err = u.svc.SetChannel(ctx, id, f.Get("channel"), done, f.Get("note"), actor, now)
		case "followup":
			seq, perr := strconv.Atoi(f.Get("seq"))
			if perr != nil || seq < 1 {
				err = &disclosure.InvalidError{Msg: "unknown follow-up"}
				break
			}
			_, err = u.svc.SetFollowUp(ctx, id, seq, done, f.Get("note"), actor, now)
		case "followup-add":
			var due time.Time
			if d := f.Get("due"); d != "" {
				due, err = parseConsoleTime("due", d)
			}
			if err == nil {
				_, err = u.svc.AddFollowUp(ctx, id, f.Get("title"), due, actor, now)
			}
		case "credit":
			var at time.Time
			at, err = parseConsoleTime("reported at", f.Get("reported_at"))
			if err == nil {
				_, err = u.svc.AddReporter(ctx, id, disclosure.NewReporter{
					Name: f.Get("name"), Channel: f.Get("channel"), ReportedAt: at, Link: f.Get("link"),
				}, actor, now)
			}
		case "close":
			_, err = u.svc.Close(ctx, id, actor, now)
		}
		if nf, ok := errors.AsType[*disclosure.NotFoundError](err); ok {
			// An unknown channel or follow-up is a bad form, not a missing incident.
			err = &disclosure.InvalidError{Msg: nf.Error()}
		}
		if err != nil {
			u.actionFailed(w, r, id, formState{action: "lifecycle"}, err)
			return
		}
		http.Redirect(w, r, u.incidentPath(id)+"?done="+action+"#after", http.StatusSeeOther)
	}
}

// lifecycleNotice is doneNotice for the forms above; only known values
// produce text.
func lifecycleNotice(done string) string {
	switch done {
	case "channel":
		return "Channel checklist updated."
	case "followup":
		return "Follow-up updated."
	case "followup-add":
		return "Follow-up added."
	case "credit":
		return "Reporter credited. The acknowledgment section lists them unless you wrote it yourself."
	case "close":
		return "Closed."
	}
	return ""
}
