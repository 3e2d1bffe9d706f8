package disclosure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// MaintenanceAPIOptions configures NewMaintenanceAPI.
type MaintenanceAPIOptions struct {
	Maintenance *Maintenance
	// OperatorToken guards every route, reads included (windows say what
	// is being worked on). Empty: every request is refused with 403.
	OperatorToken []byte
	// Guard throttles failed authentication; share the incident API's so
	// guesses cannot be spread over both. Nil: the API makes its own.
	Guard  *authn.Guard
	Logger *slog.Logger
	// Now is the clock of human actions; nil means time.Now.
	Now func() time.Time
}

// MaintenanceAPI serves maintenance windows:
//
//	GET    /api/v1/maintenance[?include_ended=true]  {"maintenance":[…]} active and upcoming, by start
//	POST   /api/v1/maintenance                       {"matchers":[…],"start":…,"end":…,"reason":…} → 201
//	GET    /api/v1/maintenance/{id}                  one window, with its audit trail
//	DELETE /api/v1/maintenance/{id}[?reason=…]       end it now (cancel if upcoming)
//
// Every route needs Authorization: Bearer <operator token>. Errors are
// {"error":"…"}: 400 bad input, 401 missing/wrong token, 403 no token
// configured, 404 unknown window, 409 already ended or too many windows,
// 413 body too large.
type MaintenanceAPI struct {
	m     *Maintenance
	auth  apiAuth
	guard *authn.Guard
	log   *slog.Logger
	now   func() time.Time
}

// NewMaintenanceAPI builds the API; mount it with Register.
func NewMaintenanceAPI(opts MaintenanceAPIOptions) (*MaintenanceAPI, error) {
	if opts.Maintenance == nil {
		return nil, errors.New("disclosure: maintenance API needs a Maintenance store")
	}
	a := &MaintenanceAPI{m: opts.Maintenance, auth: apiAuth{operator: authn.NewToken(opts.OperatorToken)}, guard: opts.Guard, log: opts.Logger, now: opts.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.guard == nil {
		g, err := authn.NewGuard(authn.GuardOptions{Logger: a.log})
		if err != nil {
			return nil, fmt.Errorf("disclosure: %w", err)
		}
		a.guard = g
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Register adds the routes to mux.
func (a *MaintenanceAPI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/maintenance", a.authorized(a.list))
	mux.HandleFunc("POST /api/v1/maintenance", a.authorized(a.create))
	mux.HandleFunc("GET /api/v1/maintenance/{id}", a.authorized(a.get))
	mux.HandleFunc("DELETE /api/v1/maintenance/{id}", a.authorized(a.end))
}

func (a *MaintenanceAPI) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !admit(w, r, roleOperator, a.auth, a.guard, a.log) {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, DefaultMaxBodyBytes)
		h(w, r)
	}
}

func (a *MaintenanceAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	invalid, isInvalid := errors.AsType[*InvalidError](err)
	conflict, isConflict := errors.AsType[*MaintenanceConflictError](err)
	tooBig, isTooBig := errors.AsType[*http.MaxBytesError](err)
	switch {
	case errors.Is(err, ErrMaintenanceNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("maintenance window %q not found", clipText(r.PathValue("id"), 40)))
	case isInvalid:
		writeError(w, http.StatusBadRequest, invalid.Error())
	case isConflict:
		writeError(w, http.StatusConflict, conflict.Error())
	case isTooBig:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
	default:
		a.log.Error("maintenance api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// maintenanceJSON is a window on the wire.
type maintenanceJSON struct {
	ID           string      `json:"id"`
	State        string      `json:"state"` // upcoming | active | ended
	Matchers     []Matcher   `json:"matchers"`
	Start        jsonTime    `json:"start"`
	End          jsonTime    `json:"end"`
	EffectiveEnd jsonTime    `json:"effective_end"`
	Reason       string      `json:"reason"`
	Who          string      `json:"who"`
	CreatedAt    jsonTime    `json:"created_at"`
	EndedAt      jsonTime    `json:"ended_at"`
	EndedBy      *string     `json:"ended_by"`
	Audit        []auditJSON `json:"audit,omitempty"`
}

// MaintenanceJSON is w as the API serves it at now.
func maintenanceToJSON(w *MaintenanceWindow, now time.Time) maintenanceJSON {
	j := maintenanceJSON{ID: w.ID, State: w.State(now), Matchers: w.Matchers, Start: jsonTime(w.Start), End: jsonTime(w.End),
		EffectiveEnd: jsonTime(w.EffectiveEnd()), Reason: w.Reason, Who: w.Who, CreatedAt: jsonTime(w.CreatedAt), EndedAt: jsonTime(w.EndedAt)}
	if w.EndedBy != "" {
		j.EndedBy = &w.EndedBy
	}
	if j.Matchers == nil {
		j.Matchers = []Matcher{}
	}
	return j
}

func (a *MaintenanceAPI) list(w http.ResponseWriter, r *http.Request) {
	all := false
	for _, k := range []string{"include_ended", "all"} {
		if v := r.URL.Query().Get(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be true or false", k))
				return
			}
			all = all || b
		}
	}
	now := a.now().UTC()
	ws, err := a.m.List(r.Context(), now, all)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]maintenanceJSON, 0, len(ws))
	for _, mw := range ws {
		out = append(out, maintenanceToJSON(mw, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"maintenance": out})
}

func (a *MaintenanceAPI) get(w http.ResponseWriter, r *http.Request) {
	mw, err := a.m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	audit, err := a.m.Audit(r.Context(), mw.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	j := maintenanceToJSON(mw, a.now().UTC())
	j.Audit = auditToJSON(audit)
	writeJSON(w, http.StatusOK, j)
}

func (a *MaintenanceAPI) create(w http.ResponseWriter, r *http.Request) {
	now := a.now().UTC()
	var body maintenanceBody
	if err := decodeJSON(r.Body, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	req, err := body.request(now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mw, err := a.m.Create(r.Context(), req, actorFor(r), now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("maintenance window declared", "id", mw.ID, "actor", mw.Who, "start", mw.Start, "end", mw.End)
	w.Header().Set("Location", "/api/v1/maintenance/"+mw.ID)
	writeJSON(w, http.StatusCreated, maintenanceToJSON(mw, now))
}

func (a *MaintenanceAPI) end(w http.ResponseWriter, r *http.Request) {
	reason := r.URL.Query().Get("reason")
	if reason == "" && r.ContentLength != 0 {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeJSON(r.Body, &body); err != nil {
			a.fail(w, r, err)
			return
		}
		reason = body.Reason
	}
	now := a.now().UTC()
	mw, err := a.m.End(r.Context(), r.PathValue("id"), reason, actorFor(r), now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("maintenance window ended", "id", mw.ID, "actor", mw.EndedBy)
	writeJSON(w, http.StatusOK, maintenanceToJSON(mw, now))
}

// maintenanceBody is what POST accepts: "matchers" as a list of
// {"name":…,"value":…} (Alertmanager's silence shape), of {"service":…} /
// {"component":…} / {"node":…}, or of component strings; or the shorthand
// fields component/service/node (strings or lists). "end" or "duration".
type maintenanceBody struct {
	Matchers   matcherList `json:"matchers"`
	Component  stringList  `json:"component"`
	Components stringList  `json:"components"`
	Service    stringList  `json:"service"`
	Services   stringList  `json:"services"`
	Node       stringList  `json:"node"`
	Nodes      stringList  `json:"nodes"`
	Start      string      `json:"start"`
	End        string      `json:"end"`
	Duration   string      `json:"duration"`
	Reason     string      `json:"reason"`
}

func (b *maintenanceBody) request(now time.Time) (MaintenanceRequest, error) {
	req := MaintenanceRequest{Matchers: b.Matchers, Reason: b.Reason}
	for _, l := range []struct {
		name string
		vs   []string
	}{{MatchComponent, b.Component}, {MatchComponent, b.Components}, {MatchService, b.Service},
		{MatchService, b.Services}, {MatchNode, b.Node}, {MatchNode, b.Nodes}} {
		for _, v := range l.vs {
			req.Matchers = append(req.Matchers, Matcher{Name: l.name, Value: v})
		}
	}
	var err error
	if b.Start != "" {
		if req.Start, err = parseTimeArg("start", b.Start); err != nil {
			return req, err
		}
	}
	switch {
	case b.End != "" && b.Duration != "":
		return req, &InvalidError{Msg: "give end or duration, not both"}
	case b.End != "":
		if req.End, err = parseTimeArg("end", b.End); err != nil {
			return req, err
		}
	case b.Duration != "":
		d, err := ParseMaintenanceDuration(b.Duration)
		if err != nil {
			return req, &InvalidError{Msg: "duration: " + err.Error()}
		}
		start := req.Start
		if start.IsZero() {
			start = now
		}
		req.End = start.Add(d)
	}
	return req, nil
}

// ParseMaintenanceDuration parses a Go or Prometheus duration ("90m",
// "2h30m", "1d").
func ParseMaintenanceDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("%q is not positive", s)
		}
		return d, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 && days <= 366 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return 0, fmt.Errorf("%q is not a duration such as 90m, 2h or 1d", clipText(s, 40))
}

func parseTimeArg(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, &InvalidError{Msg: fmt.Sprintf("%s %q is not an RFC 3339 time such as 2026-12-04T15:00:00Z", name, clipText(s, 40))}
	}
	return t.UTC(), nil
}

// stringList is a JSON string, number, or list of them.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		for _, r := range raw {
			s, err := scalarString(r)
			if err != nil {
				return err
			}
			*l = append(*l, s)
		}
		return nil
	}
	s, err := scalarString(b)
	if err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

func scalarString(b json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("want a string or a number")
}

// matcherList accepts the matcher shapes of maintenanceBody.
type matcherList []Matcher

func (l *matcherList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		b = append(append([]byte{'['}, b...), ']')
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errors.New("matchers: want a list")
	}
	for _, r := range raw {
		if s, err := scalarString(r); err == nil {
			*l = append(*l, Matcher{Name: MatchComponent, Value: s})
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(r, &obj); err != nil {
			return errors.New("matchers: each matcher is an object or a component name")
		}
		if ms, ok := matchersByKey(obj); ok {
			*l = append(*l, ms...)
			continue
		}
		m, err := matcherFromObject(obj)
		if err != nil {
			return err
		}
		*l = append(*l, m)
	}
	return nil
}

// matchersByKey reads {"service": "nym-api", "node": [1011, 1012]}: every
// key a matcher name, every value a string, number or list of them.
func matchersByKey(obj map[string]json.RawMessage) ([]Matcher, bool) {
	if len(obj) == 0 {
		return nil, false
	}
	var out []Matcher
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if k != MatchComponent && k != MatchService && k != MatchNode {
			return nil, false
		}
		var vs stringList
		if err := json.Unmarshal(obj[k], &vs); err != nil {
			return nil, false
		}
		for _, v := range vs {
			out = append(out, Matcher{Name: k, Value: v})
		}
	}
	return out, true
}

func matcherFromObject(obj map[string]json.RawMessage) (Matcher, error) {
	str := func(k string) (string, bool, error) {
		v, ok := obj[k]
		if !ok {
			return "", false, nil
		}
		s, err := scalarString(v)
		if err != nil {
			return "", true, fmt.Errorf("matchers: %s: %w", k, err)
		}
		return s, true, nil
	}
	for _, k := range []string{"isRegex", "isEqual"} {
		if v, ok := obj[k]; ok {
			var bv bool
			if json.Unmarshal(v, &bv) != nil || bv != (k == "isEqual") {
				return Matcher{}, fmt.Errorf("matchers: only exact, equal matchers are allowed (%s must be %v)", k, k == "isEqual")
			}
			delete(obj, k)
		}
	}
	if t, ok := obj["type"]; ok && obj["name"] == nil {
		obj["name"] = t // {"type": "service", "value": "nym-api"}
		delete(obj, "type")
	}
	if _, ok := obj["name"]; ok {
		name, _, err := str("name")
		if err != nil {
			return Matcher{}, err
		}
		value, _, err := str("value")
		if err != nil {
			return Matcher{}, err
		}
		if len(obj) != 2 {
			return Matcher{}, errors.New("matchers: a {\"name\",\"value\"} matcher has no other fields")
		}
		return Matcher{Name: name, Value: value}, nil
	}
	if len(obj) != 1 {
		return Matcher{}, errors.New("matchers: each matcher is one of {\"component\":…}, {\"service\":…}, {\"node\":…} or {\"name\":…,\"value\":…}")
	}
	for k := range obj {
		v, _, err := str(k)
		if err != nil {
			return Matcher{}, err
		}
		return Matcher{Name: k, Value: v}, nil
	}
	return Matcher{}, errors.New("matchers: empty matcher")
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
