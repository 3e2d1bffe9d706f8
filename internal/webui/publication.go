package webui

import (
	"errors"
	"net/http"
	"time"

	"github.com/nymwatch/nymwatch/disclosure"
)

// Publication in the console (issue 12.1): a Publish button on confirmed
// (and resolved) incidents, the published updates and a form to add one,
// and whether the same-day deadline of policy section III was met by
// publication, or passed without it.

// publicationView is the publication panel of a disclosable incident.
type publicationView struct {
	Published   bool
	PublishedAt time.Time
	PublishedBy string
	Deadline    time.Time
	// Met: published by the deadline; Passed: the deadline passed with no
	// publication; otherwise Left says how long is left.
	Met, Passed bool
	Left        string
	CanPublish  bool
	Updates     []disclosure.StatusUpdate
	Statuses    []string
}

func publicationFor(inc *disclosure.Incident, now time.Time) *publicationView {
	if inc.State != disclosure.StateConfirmed && inc.State != disclosure.StateResolved && inc.State != disclosure.StateClosed {
		return nil
	}
	p := &publicationView{
		Deadline: deadline(inc), Updates: inc.Updates,
		Statuses: []string{"investigating", "identified", "monitoring", "resolved"},
	}
	if !inc.PublishedAt.IsZero() {
		p.Published, p.PublishedAt = true, inc.PublishedAt
		p.Met = !inc.PublishedAt.After(p.Deadline)
		if inc.Publication != nil {
			p.PublishedBy = inc.Publication.PublishedBy
		}
		return p
	}
	p.CanPublish = true
	if left := p.Deadline.Sub(now); left <= 0 {
		p.Passed = true
	} else {
		p.Left = humanDuration(left) + " left"
	}
	return p
}

func (u *UI) registerPublication(mux *http.ServeMux) {
	for _, action := range []string{"publish", "update"} {
		mux.Handle("POST /incidents/{id}/"+action, u.headers(u.cop.Handler(u.writable(u.publicationAct(action)))))
	}
}

// publicationAct publishes an incident or adds a published update, through
// disclosure.Service like the API (validated, audited).
func (u *UI) publicationAct(action string) func(http.ResponseWriter, *http.Request, session) {
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
		in := disclosure.UpdateInput{
			Status: disclosure.UpdateStatus(r.PostForm.Get("status")),
			Body:   r.PostForm.Get("body"),
		}
		var err error
		if action == "publish" {
			_, err = u.svc.Publish(r.Context(), id, in, actor, u.now())
		} else {
			_, err = u.svc.AddUpdate(r.Context(), id, in, actor, u.now())
		}
		if err != nil {
			u.actionFailed(w, r, id, formState{}, err)
			return
		}
		http.Redirect(w, r, u.incidentPath(id)+"?done="+action+"#publication", http.StatusSeeOther)
	}
}
