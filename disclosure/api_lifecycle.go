package disclosure

import (
	"net/http"
	"strconv"
	"time"
)

// The incident's life after "confirm" (docs/follow-ups.md), operator token:
//
//	POST /api/v1/incidents/{id}/channels/{channel}   {"done":true,"note":"…"}
//	POST /api/v1/incidents/{id}/followups            {"title":"…","due_at":"RFC 3339"|null}
//	POST /api/v1/incidents/{id}/followups/{seq}      {"done":true,"note":"…"}
//	POST /api/v1/incidents/{id}/reporters            {"name":"…","channel":"discord",
//	                                                  "reported_at":"RFC 3339","link":"https://…"}
//	POST /api/v1/incidents/{id}/close
//
// Each answers the incident's full view.
func (a *API) registerLifecycle(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/incidents/{id}/channels/{channel}", a.authorized(a.setChannel))
	mux.HandleFunc("POST /api/v1/incidents/{id}/followups", a.authorized(a.addFollowUp))
	mux.HandleFunc("POST /api/v1/incidents/{id}/followups/{seq}", a.authorized(a.setFollowUp))
	mux.HandleFunc("POST /api/v1/incidents/{id}/reporters", a.authorized(a.addReporter))
	mux.HandleFunc("POST /api/v1/incidents/{id}/close", a.authorized(a.close))
}

type doneBody struct {
	Done *bool  `json:"done"`
	Note string `json:"note"`
}

func (b doneBody) check() error {
	if b.Done == nil {
		return &InvalidError{Msg: `body must be {"done": true|false, "note": "…"}`}
	}
	return nil
}

func (a *API) setChannel(w http.ResponseWriter, r *http.Request) {
	var body doneBody
	if err := decodeJSON(r.Body, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := body.check(); err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.SetChannel(r.Context(), r.PathValue("id"), r.PathValue("channel"), *body.Done, body.Note, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) setFollowUp(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.Atoi(r.PathValue("seq"))
	if err != nil || seq < 1 {
		a.fail(w, r, &InvalidError{Msg: "follow-up number must be a positive integer"})
		return
	}
	var body doneBody
	if err := decodeJSON(r.Body, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := body.check(); err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.SetFollowUp(r.Context(), r.PathValue("id"), seq, *body.Done, body.Note, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) addFollowUp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title string   `json:"title"`
		DueAt jsonTime `json:"due_at"`
	}
	if err := decodeJSON(r.Body, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.AddFollowUp(r.Context(), r.PathValue("id"), body.Title, time.Time(body.DueAt), actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) addReporter(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name       string   `json:"name"`
		Channel    string   `json:"channel"`
		ReportedAt jsonTime `json:"reported_at"`
		Link       string   `json:"link"`
	}
	if err := decodeJSON(r.Body, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.AddReporter(r.Context(), r.PathValue("id"), NewReporter{
		Name: body.Name, Channel: body.Channel, ReportedAt: time.Time(body.ReportedAt), Link: body.Link,
	}, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) close(w http.ResponseWriter, r *http.Request) {
	inc, err := a.svc.Close(r.Context(), r.PathValue("id"), actorFor(r), a.now())
	a.respond(w, r, inc, err)
}
