package webui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nymwatch/nymwatch/disclosure"
)

// act handles one state change posted by the incident page. Every change
// goes through disclosure.Service, so it is validated, audited and paged
// exactly like the API's; the actor says it came from the console.
func (u *UI) act(action string) func(http.ResponseWriter, *http.Request, session) {
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
		ctx, now := r.Context(), u.now()
		var (
			err  error
			done = action
			fs   = formState{action: action}
		)
		switch action {
		case "confirm":
			_, err = u.svc.Confirm(ctx, id, actor, now)
		case "resolve":
			_, err = u.svc.Resolve(ctx, id, actor, now)
		case "dismiss":
			fs.reason = r.PostForm.Get("reason")
			_, err = u.svc.Dismiss(ctx, id, fs.reason, actor, now)
		case "edit":
			fs.field, fs.text = r.PostForm.Get("field"), r.PostForm.Get("text")
			done, err = u.edit(r, id, fs.field, fs.text, r.PostForm.Get("op") == "restore", actor)
		}
		if err != nil {
			u.actionFailed(w, r, id, fs, err)
			return
		}
		target := u.incidentPath(id) + "?done=" + done
		if action == "edit" {
			target += "#field-" + url.PathEscape(fs.field)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	}
}

// edit saves one report field, or restores its generated text. Saving the
// text the field already has changes nothing: it would otherwise freeze a
// generated field (which keeps filling in as the incident develops).
func (u *UI) edit(r *http.Request, id, field, text string, restore bool, actor disclosure.Actor) (string, error) {
	if !slices.Contains(disclosure.ReportFieldNames(), field) {
		return "", &disclosure.InvalidError{Msg: "unknown report field"}
	}
	inc, err := u.svc.Get(r.Context(), id)
	if err != nil {
		return "", err
	}
	if restore {
		if !slices.Contains(inc.Edited, field) {
			return "unchanged", nil
		}
		_, err := u.svc.Edit(r.Context(), id, map[string]*string{field: nil}, actor, u.now())
		return "restore", err
	}
	// Browsers send textarea lines with CRLF; the report is LF.
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if field == "title" {
		text = strings.TrimSpace(text)
	} else {
		text = strings.TrimRight(text, " \t\n")
	}
	if text == fieldValue(inc, field) {
		return "unchanged", nil
	}
	_, err = u.svc.Edit(r.Context(), id, map[string]*string{field: &text}, actor, u.now())
	return "edit", err
}

// actionFailed shows the incident again with the error next to the form
// that failed and what the human typed still in it.
func (u *UI) actionFailed(w http.ResponseWriter, r *http.Request, id string, fs formState, err error) {
	var (
		status int
		msg    string
	)
	conflict, isConflict := errors.AsType[*disclosure.ConflictError](err)
	invalid, isInvalid := errors.AsType[*disclosure.InvalidError](err)
	switch {
	case errors.Is(err, disclosure.ErrNotFound):
		u.renderError(w, r, http.StatusNotFound, "Incident not found", "There is no incident "+id+".")
		return
	case isConflict:
		// Someone else (or the CLI) may have acted first: say what happened.
		status, msg = http.StatusConflict, capitalize(conflict.Error())+"."
	case isInvalid:
		status, msg = http.StatusBadRequest, capitalize(invalid.Error())+"."
	default:
		u.internalError(w, r, err)
		return
	}
	u.log.Info("web console: change refused", "path", r.URL.Path, "status", status, "err", err)
	fs.err = msg
	u.showIncident(w, r, status, id, fs, "")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
