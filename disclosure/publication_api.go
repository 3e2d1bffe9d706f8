package disclosure

import (
	"net/http"
)

// registerPublication adds the publication routes (issue 12.1):
//
//	POST /api/v1/incidents/{id}/publish   bearer token; optional {"status":"…","body":"…"}
//	                                      for the first update; 409 unless confirmed or
//	                                      resolved and not yet published
//	POST /api/v1/incidents/{id}/updates   bearer token; {"status":"…","body":"…"}; 409 unless published
func (a *API) registerPublication(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/incidents/{id}/publish", a.authorized(a.publish))
	mux.HandleFunc("POST /api/v1/incidents/{id}/updates", a.authorized(a.addUpdate))
}

func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	var in UpdateInput
	if err := decodeJSON(r.Body, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.Publish(r.Context(), r.PathValue("id"), in, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) addUpdate(w http.ResponseWriter, r *http.Request) {
	var in UpdateInput
	if err := decodeJSON(r.Body, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.AddUpdate(r.Context(), r.PathValue("id"), in, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}
