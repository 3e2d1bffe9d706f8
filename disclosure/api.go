package disclosure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/authn"
)

// DefaultMaxBodyBytes bounds request bodies of the incidents API.
const DefaultMaxBodyBytes = 64 << 10

// APIOptions configures NewAPI.
type APIOptions struct {
	Service *Service
	// OperatorToken authorizes state changes (the content of
	// auth.operator_token_file; surrounding whitespace is ignored). Empty:
	// every state change is refused with 403.
	OperatorToken []byte
	Logger        *slog.Logger
	// Now is the clock of human actions; nil means time.Now.
	Now func() time.Time
	// MaxBodyBytes: 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ViewerToken may read incidents but change nothing (the content of
	// auth.viewer_token_file). Empty: no viewer token.
	ViewerToken []byte
	// PublicRead serves the read routes without a token (web.public_read).
	// Off, they need the operator or the viewer token: drafts are private.
	PublicRead bool
	// Guard throttles failed authentication; share one with the console
	// and the cluster view. Nil: the API makes its own.
	Guard *authn.Guard
}

// API serves the incidents HTTP API:
//
//	GET   /api/v1/incidents[?state=S&class=C&limit=N]  {"incidents":[…]} newest first
//	GET   /api/v1/incidents/{id}                       incident with report, anomalies, audit
//	GET   /api/v1/incidents/{id}/report.md             Markdown report (text/markdown)
//	      (the reads need the operator or viewer token unless PublicRead)
//	POST  /api/v1/incidents/{id}/confirm               bearer token; on a confirmed incident whose
//	                                                   security change is unacknowledged
//	                                                   (security_unacknowledged_since set), acknowledges it
//	POST  /api/v1/incidents/{id}/dismiss               bearer token; {"reason":"…"} or form reason=…
//	POST  /api/v1/incidents/{id}/resolve               bearer token
//	PATCH /api/v1/incidents/{id}                       bearer token; {"field":"text"|null, …}
//
// Errors are {"error":"…"}: 400 bad input, 401 missing/wrong token, 403 no
// token configured or a viewer token on a change, 404 unknown incident,
// 409 illegal transition, 413 body too large, 429 too many failed
// authentications (with Retry-After).
type API struct {
	svc     *Service
	auth    apiAuth
	guard   *authn.Guard
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	mux     *http.ServeMux
}

// NewAPI builds the API. It implements http.Handler on its own mux; use
// Register to add its routes to the daemon's mux instead.
func NewAPI(opts APIOptions) (*API, error) {
	if opts.Service == nil {
		return nil, errors.New("disclosure: API needs a Service")
	}
	a := &API{
		svc: opts.Service,
		auth: apiAuth{
			operator:   authn.NewToken(opts.OperatorToken),
			viewer:     authn.NewToken(opts.ViewerToken),
			publicRead: opts.PublicRead,
		},
		guard:   opts.Guard,
		log:     opts.Logger,
		now:     opts.Now,
		maxBody: opts.MaxBodyBytes,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.guard == nil {
		g, err := authn.NewGuard(authn.GuardOptions{Logger: a.log})
		if err != nil {
			return nil, fmt.Errorf("disclosure: %w", err)
		}
		a.guard = g
	}
	a.mux = http.NewServeMux()
	a.Register(a.mux)
	return a, nil
}

// Register adds the API's routes to mux (Go 1.22 method patterns).
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/incidents", a.readable(a.list))
	mux.HandleFunc("GET /api/v1/incidents/{id}", a.readable(a.get))
	mux.HandleFunc("GET /api/v1/incidents/{id}/report.md", a.readable(a.report))
	mux.HandleFunc("POST /api/v1/incidents/{id}/confirm", a.authorized(a.confirm))
	mux.HandleFunc("POST /api/v1/incidents/{id}/dismiss", a.authorized(a.dismiss))
	mux.HandleFunc("POST /api/v1/incidents/{id}/resolve", a.authorized(a.resolve))
	mux.HandleFunc("PATCH /api/v1/incidents/{id}", a.authorized(a.patch))
	a.registerPublication(mux)
	a.registerLifecycle(mux)
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// authorized lets a state change through only with the operator token.
func (a *API) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.admit(w, r, roleOperator) {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
		h(w, r)
	}
}

// readable lets a read through with the operator or viewer token, or
// without one when reads are public.
func (a *API) readable(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.admit(w, r, roleViewer) {
			h(w, r)
		}
	}
}

// admit authenticates r for want, throttling failed attempts per client
// and globally; it has answered the request when it returns false.
func (a *API) admit(w http.ResponseWriter, r *http.Request, want role) bool {
	return admit(w, r, want, a.auth, a.guard, a.log)
}

// admit is the API's and the maintenance API's authentication: one throttle
// for every bearer-token surface, so guesses cannot be spread over them.
func admit(w http.ResponseWriter, r *http.Request, want role, auth apiAuth, guard *authn.Guard, log *slog.Logger) bool {
	if want == roleViewer && auth.publicRead {
		return true
	}
	client := guard.Client(r)
	if _, present, _ := authn.Bearer(r); present && !guard.Allow(w, authn.SurfaceAPI, client) {
		// Checked before the token, so a blocked client learns nothing.
		// Retry-After is set; the block's start was logged once.
		writeError(w, http.StatusTooManyRequests, "too many failed authentications; retry later")
		return false
	}
	_, status, msg, wrong := auth.authenticate(w, r, want)
	if status == 0 {
		guard.Succeed(client)
		return true
	}
	if wrong {
		guard.Fail(authn.SurfaceAPI, client)
		// Never log the header: it holds a (wrong) token.
		log.Warn("refused api request: bad token", "method", r.Method, "path", r.URL.Path,
			"remote_addr", r.RemoteAddr, "client", client, "status", status)
	} else {
		// Missing tokens are not guesses: a misconfigured poller must not
		// flood the log.
		log.Debug("refused api request", "method", r.Method, "path", r.URL.Path, "remote_addr", r.RemoteAddr, "status", status)
	}
	writeError(w, status, msg)
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg}) // a map of strings always marshals
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fail maps service errors to statuses; unexpected ones are logged and
// answered without detail.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		conflict *ConflictError
		invalid  *InvalidError
		tooBig   *http.MaxBytesError
	)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("incident %q not found", r.PathValue("id")))
	case errors.As(err, new(*NotFoundError)):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.As(err, &conflict):
		writeError(w, http.StatusConflict, conflict.Error())
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, invalid.Error())
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
	default:
		a.log.Error("incidents api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{State: State(q.Get("state")), Class: detector.Class(q.Get("class"))}
	if f.State != "" && !f.State.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown state %q (internal, draft, confirmed, dismissed, resolved, closed)", f.State))
		return
	}
	if f.Class != "" && !f.Class.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown class %q (security, operational, internal)", f.Class))
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be an integer from 1 to %d", MaxListLimit))
			return
		}
		f.Limit = n
	}
	incs, err := a.svc.List(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]incidentJSON, 0, len(incs))
	for _, inc := range incs {
		out = append(out, inc.toJSON(false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	inc, err := a.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc.toJSON(true))
}

func (a *API) report(w http.ResponseWriter, r *http.Request) {
	inc, err := a.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, RenderMarkdown(inc))
}

func (a *API) respond(w http.ResponseWriter, r *http.Request, inc *Incident, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc.toJSON(true))
}

func (a *API) confirm(w http.ResponseWriter, r *http.Request) {
	inc, err := a.svc.Confirm(r.Context(), r.PathValue("id"), actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) resolve(w http.ResponseWriter, r *http.Request) {
	inc, err := a.svc.Resolve(r.Context(), r.PathValue("id"), actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

func (a *API) dismiss(w http.ResponseWriter, r *http.Request) {
	reason, err := dismissReason(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	inc, err := a.svc.Dismiss(r.Context(), r.PathValue("id"), reason, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

// dismissReason reads {"reason": "..."} or a form field reason.
func dismissReason(r *http.Request) (string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		// curl -d sends JSON with this type unless told otherwise: a body
		// that looks like a JSON object is read as one.
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return "", badBody(err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
			var body struct {
				Reason string `json:"reason"`
			}
			if err := decodeJSON(bytes.NewReader(t), &body); err != nil {
				return "", err
			}
			return body.Reason, nil
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return "", badBody(err)
		}
		return form.Get("reason"), nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(DefaultMaxBodyBytes); err != nil {
			return "", badBody(err)
		}
		return r.PostForm.Get("reason"), nil
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r.Body, &body); err != nil {
		return "", err
	}
	return body.Reason, nil
}

func (a *API) patch(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(r.Body, &raw); err != nil {
		a.fail(w, r, err)
		return
	}
	if raw == nil {
		a.fail(w, r, &InvalidError{Msg: "body must be a JSON object of field to text"})
		return
	}
	changes := make(map[string]*string, len(raw))
	for k, v := range raw {
		if string(v) == "null" {
			changes[k] = nil
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			a.fail(w, r, &InvalidError{Msg: fmt.Sprintf("field %q: value must be a string (or null to restore the generated text)", k)})
			return
		}
		changes[k] = &s
	}
	inc, err := a.svc.Edit(r.Context(), r.PathValue("id"), changes, actorFor(r), a.now())
	a.respond(w, r, inc, err)
}

// decodeJSON decodes exactly one JSON value; an empty body leaves v unset.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return badBody(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return badBody(err)
		}
		return &InvalidError{Msg: "invalid JSON body: trailing data after the object"}
	}
	return nil
}

func badBody(err error) error {
	if tooBig, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooBig
	}
	return &InvalidError{Msg: "invalid request body: " + err.Error()}
}
