package disclosure

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

const incToken = "s3cret-operator-token"

type incAPIEnv struct {
	*incEnv
	srv  *httptest.Server
	logs *bytes.Buffer
}

func newIncAPIEnv(t *testing.T, token string) *incAPIEnv {
	t.Helper()
	e := newIncEnv(t)
	logs := &bytes.Buffer{}
	api, err := NewAPI(APIOptions{
		Service:       e.svc,
		OperatorToken: []byte(token),
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &incAPIEnv{incEnv: e, srv: srv, logs: logs}
}

type incResp struct {
	status int
	header http.Header
	body   []byte
}

func (r incResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return m
}

func (r incResp) errMsg(t *testing.T) string {
	t.Helper()
	msg, _ := r.json(t)["error"].(string)
	if msg == "" {
		t.Errorf("status %d without {\"error\": ...}: %s", r.status, r.body)
	}
	return msg
}

func (e *incAPIEnv) do(t *testing.T, method, path, token, contentType string, body io.Reader, hdr ...string) incResp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return incResp{status: resp.StatusCode, header: resp.Header, body: b}
}

const incBearer = "Bearer " + incToken

func (e *incAPIEnv) draft(t *testing.T) string {
	t.Helper()
	e.apply(t, incService("nymvpn-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	return e.only(t).ID
}

func TestIncidentAPIAuth(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		auth       string
		want       int
		wantMsg    string
	}{
		{"no header", incToken, "", http.StatusUnauthorized, "missing operator token"},
		{"wrong token", incToken, "Bearer wrong", http.StatusUnauthorized, "invalid operator token"},
		{"token prefix", incToken, "Bearer " + incToken[:5], http.StatusUnauthorized, "invalid operator token"},
		{"basic scheme", incToken, "Basic " + incToken, http.StatusUnauthorized, "invalid operator token"},
		{"empty bearer", incToken, "Bearer ", http.StatusUnauthorized, "invalid operator token"},
		{"right token", incToken, incBearer, http.StatusOK, ""},
		{"scheme is case-insensitive", incToken, "bearer " + incToken, http.StatusOK, ""},
		{"token file with newline", incToken + "\n", incBearer, http.StatusOK, ""},
		{"no token configured", "", "Bearer anything", http.StatusForbidden, "auth.operator_token_file"},
		{"no token configured, no header", "", "", http.StatusForbidden, "auth.operator_token_file"},
		{"whitespace-only token file", " \n", "Bearer  ", http.StatusForbidden, "auth.operator_token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newIncAPIEnv(t, tt.configured)
			id := e.draft(t)
			r := e.do(t, "POST", "/api/v1/incidents/"+id+"/confirm", tt.auth, "", nil)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			if tt.wantMsg != "" && !strings.Contains(r.errMsg(t), tt.wantMsg) {
				t.Errorf("error %q should mention %q", r.errMsg(t), tt.wantMsg)
			}
			state := e.get(t, id).State
			if (tt.want == http.StatusOK) != (state == StateConfirmed) {
				t.Errorf("state %s after status %d", state, tt.want)
			}
			if strings.Contains(e.logs.String(), incToken) || strings.Contains(e.logs.String(), "wrong") {
				t.Errorf("token in logs: %s", e.logs.String())
			}
		})
	}
	// Every state change is protected, and so are reads (drafts are private
	// unless web.public_read).
	e := newIncAPIEnv(t, incToken)
	id := e.draft(t)
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/incidents/" + id + "/dismiss"},
		{"POST", "/api/v1/incidents/" + id + "/resolve"},
		{"PATCH", "/api/v1/incidents/" + id},
	} {
		if r := e.do(t, c.method, c.path, "", "application/json", strings.NewReader(`{"reason":"x","title":"y"}`)); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d", c.method, c.path, r.status)
		}
	}
	for _, p := range []string{"/api/v1/incidents", "/api/v1/incidents/" + id, "/api/v1/incidents/" + id + "/report.md"} {
		if r := e.do(t, "GET", p, "", "", nil); r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET %s without token: %d %q", p, r.status, r.header.Get("WWW-Authenticate"))
		}
		if r := e.do(t, "GET", p, incBearer, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s with the operator token: %d", p, r.status)
		}
	}
	if inc := e.get(t, id); inc.State != StateDraft || len(inc.Audit) != 1 {
		t.Errorf("unauthorized requests changed the incident: %s %v", inc.State, incActions(inc))
	}
}

var incTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestIncidentAPIStateChanges(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	id := e.draft(t)
	base := "/api/v1/incidents/" + id

	e.clock.Set(incAt(7*time.Minute + 5*time.Millisecond))
	r := e.do(t, "POST", base+"/confirm", incBearer, "", nil, "X-Nymwatch-Actor", "alice <script>"+strings.Repeat("x", 100))
	if r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["state"] != "confirmed" || m["acknowledged_at"] != "2026-11-25T10:07:00.128Z" || m["resolved_at"] != nil || m["disclosure"] != "public" {
		t.Errorf("after confirm: state %v acknowledged_at %v resolved_at %v", m["state"], m["acknowledged_at"], m["resolved_at"])
	}
	audit := m["audit"].([]any)
	last := audit[len(audit)-1].(map[string]any)
	if actor := last["actor"].(string); actor != "operator:alice script"+strings.Repeat("x", 52) {
		t.Errorf("actor %q", actor)
	}
	if ra := last["remote_addr"].(string); !strings.HasPrefix(ra, "127.0.0.1:") {
		t.Errorf("remote_addr %q", ra)
	}

	for _, c := range []struct{ path, body, wantMsg string }{
		{base + "/confirm", "", "it is already confirmed"},
		{base + "/dismiss", `{"reason":"late"}`, "cannot be dismissed; resolve it instead"},
	} {
		r := e.do(t, "POST", c.path, incBearer, "application/json", strings.NewReader(c.body))
		if r.status != http.StatusConflict || !strings.Contains(r.errMsg(t), c.wantMsg) || !strings.Contains(r.errMsg(t), id) {
			t.Errorf("POST %s: %d %s, want 409 %q", c.path, r.status, r.body, c.wantMsg)
		}
	}
	e.clock.Set(incAt(time.Hour))
	r = e.do(t, "POST", base+"/resolve", incBearer, "", nil)
	if m := r.json(t); r.status != http.StatusOK || m["state"] != "resolved" || m["resolved_at"] != "2026-11-25T11:00:00.123Z" {
		t.Errorf("resolve: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", base+"/resolve", incBearer, "", nil); r.status != http.StatusConflict {
		t.Errorf("second resolve: %d", r.status)
	}
	if r := e.do(t, "POST", "/api/v1/incidents/INC-20000101-0001/confirm", incBearer, "", nil); r.status != http.StatusNotFound || !strings.Contains(r.errMsg(t), "INC-20000101-0001") {
		t.Errorf("unknown incident: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/incidents/nope", incBearer, "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET unknown: %d", r.status)
	}
	if r := e.do(t, "DELETE", base, incBearer, "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.status)
	}
	// Draft → resolved is refused.
	e2 := newIncAPIEnv(t, incToken)
	id2 := e2.draft(t)
	if r := e2.do(t, "POST", "/api/v1/incidents/"+id2+"/resolve", incBearer, "", nil); r.status != http.StatusConflict || !strings.Contains(r.errMsg(t), "confirm or dismiss") {
		t.Errorf("resolve draft: %d %s", r.status, r.body)
	}
}

func TestIncidentAPIDismiss(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        int
		wantReason  string
	}{
		{"json", "application/json", `{"reason":"probe bug, users unaffected"}`, http.StatusOK, "probe bug, users unaffected"},
		{"json without content type", "", `{"reason":"x"}`, http.StatusOK, "x"},
		{"form", "application/x-www-form-urlencoded", url.Values{"reason": {"maintenance window"}}.Encode(), http.StatusOK, "maintenance window"},
		{"json as curl -d sends it", "application/x-www-form-urlencoded", `{"reason":"false alarm"}`, http.StatusOK, "false alarm"},
		{"malformed json as curl -d", "application/x-www-form-urlencoded", `{"reason":`, http.StatusBadRequest, ""},
		{"multipart", "multipart/form-data; boundary=XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"reason\"\r\n\r\nduplicate of INC-1\r\n--XyZ--\r\n", http.StatusOK, "duplicate of INC-1"},
		{"empty body", "", "", http.StatusBadRequest, ""},
		{"empty reason", "application/json", `{"reason":"  "}`, http.StatusBadRequest, ""},
		{"empty form", "application/x-www-form-urlencoded", "", http.StatusBadRequest, ""},
		{"unknown field", "application/json", `{"reason":"x","force":true}`, http.StatusBadRequest, ""},
		{"malformed", "application/json", `{"reason":`, http.StatusBadRequest, ""},
		{"trailing data", "application/json", `{"reason":"x"} {}`, http.StatusBadRequest, ""},
		{"not an object", "application/json", `"x"`, http.StatusBadRequest, ""},
		{"too large", "application/json", `{"reason":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, ""},
		{"too large form", "application/x-www-form-urlencoded", "reason=" + strings.Repeat("a", DefaultMaxBodyBytes), http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newIncAPIEnv(t, incToken)
			id := e.draft(t)
			r := e.do(t, "POST", "/api/v1/incidents/"+id+"/dismiss", incBearer, tt.contentType, strings.NewReader(tt.body))
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %.200s", r.status, tt.want, r.body)
			}
			inc := e.get(t, id)
			if tt.want != http.StatusOK {
				r.errMsg(t)
				if inc.State != StateDraft {
					t.Errorf("state %s after refused dismiss", inc.State)
				}
				return
			}
			m := r.json(t)
			if m["state"] != "dismissed" || m["dismiss_reason"] != tt.wantReason || m["class"] != "operational" || m["disclosure"] != "internal" {
				t.Errorf("dismissed: %v %v %v %v", m["state"], m["dismiss_reason"], m["class"], m["disclosure"])
			}
		})
	}
}

func TestIncidentAPIPatch(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	id := e.draft(t)
	path := "/api/v1/incidents/" + id
	body := `{"acknowledgments":"Thanks to @bob (Discord).","summary":"NymVPN API was down."}`
	r := e.do(t, "PATCH", path, incBearer, "application/json", strings.NewReader(body), "X-Nymwatch-Actor", "carol")
	if r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	m := r.json(t)
	rep := m["report"].(map[string]any)
	if rep["acknowledgments"] != "Thanks to @bob (Discord)." || rep["summary"] != "NymVPN API was down." {
		t.Errorf("report %v", rep)
	}
	inc := e.get(t, id)
	var edits []map[string]any
	for _, a := range inc.Audit {
		if a.Action == "edited" {
			var d map[string]any
			if err := json.Unmarshal(a.Detail, &d); err != nil {
				t.Fatal(err)
			}
			if a.Actor != "operator:carol" {
				t.Errorf("actor %q", a.Actor)
			}
			edits = append(edits, d)
		}
	}
	if len(edits) != 2 || edits[0]["field"] != "summary" || !strings.HasPrefix(edits[0]["old"].(string), "From 2026-11-25T10:00:00.123Z") ||
		edits[0]["new"] != "NymVPN API was down." || edits[1]["field"] != "acknowledgments" || edits[1]["old"] != "" {
		t.Errorf("edit audit %v", edits)
	}
	md := e.do(t, "GET", path+"/report.md", incBearer, "", nil)
	if !strings.Contains(string(md.body), "Thanks to @bob (Discord).") {
		t.Errorf("report.md lacks the edit:\n%s", md.body)
	}

	for _, c := range []struct {
		name, body string
		want       int
		msg        string
	}{
		{"unknown field", `{"severity":"high"}`, http.StatusBadRequest, `unknown field "severity"`},
		{"number", `{"summary":3}`, http.StatusBadRequest, "must be a string"},
		{"array body", `["summary"]`, http.StatusBadRequest, "invalid request body"},
		{"empty object", `{}`, http.StatusBadRequest, "no fields"},
		{"empty body", ``, http.StatusBadRequest, "JSON object"},
		{"too large", `{"summary":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, "PATCH", path, incBearer, "application/json", strings.NewReader(c.body))
			if r.status != c.want || !strings.Contains(r.errMsg(t), c.msg) {
				t.Errorf("status %d %s, want %d %q", r.status, r.body, c.want, c.msg)
			}
		})
	}
	// null restores the generated text.
	r = e.do(t, "PATCH", path, incBearer, "application/merge-patch+json", strings.NewReader(`{"summary":null}`))
	if rep := r.json(t)["report"].(map[string]any); r.status != http.StatusOK || !strings.HasPrefix(rep["summary"].(string), "From 2026-11-25T10:00:00.123Z") {
		t.Errorf("revert: %d %v", r.status, rep["summary"])
	}
	if n := len(e.get(t, id).Audit); n != 4 {
		t.Errorf("%d audit rows, want opened + 3 edits", n)
	}
}

func TestIncidentAPIListAndGet(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	e.apply(t, incService("nym-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	e.apply(t, incGateways("node/5", detector.ClassInternal, incAt(0), 5, 1), incAt(2*time.Minute))
	list := func(q string) (int, []map[string]any) {
		r := e.do(t, "GET", "/api/v1/incidents"+q, incBearer, "", nil)
		if r.status != http.StatusOK {
			return r.status, nil
		}
		var out struct {
			Incidents []map[string]any `json:"incidents"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.header.Get("Content-Type"))
		}
		return r.status, out.Incidents
	}
	_, all := list("")
	if len(all) != 2 || all[0]["class"] != "internal" || all[1]["class"] != "operational" {
		t.Fatalf("list %v", all)
	}
	for _, inc := range all {
		for _, k := range []string{"id", "class", "state", "title", "component", "architecture", "reason", "affected",
			"last_healthy", "first_seen", "detected_at", "acknowledged_at", "resolved_at"} {
			if _, ok := inc[k]; !ok {
				t.Errorf("list item lacks %q", k)
			}
		}
		for _, k := range []string{"anomalies", "audit", "report"} {
			if _, ok := inc[k]; ok {
				t.Errorf("list item has %q", k)
			}
		}
		for _, k := range []string{"first_seen", "detected_at", "last_healthy", "created_at"} {
			if s, _ := inc[k].(string); !incTimestamp.MatchString(s) {
				t.Errorf("%s = %v, want RFC 3339 UTC with milliseconds", k, inc[k])
			}
		}
		if inc["acknowledged_at"] != nil || inc["resolved_at"] != nil {
			t.Errorf("unknown times should be null: %v %v", inc["acknowledged_at"], inc["resolved_at"])
		}
	}
	for q, want := range map[string]int{
		"?state=draft": 1, "?state=internal": 1, "?class=operational": 1, "?class=security": 0,
		"?state=draft&class=internal": 0, "?limit=1": 1,
	} {
		if status, got := list(q); status != http.StatusOK || len(got) != want {
			t.Errorf("%s: status %d, %d incidents, want %d", q, status, len(got), want)
		}
	}
	for _, q := range []string{"?state=open", "?class=critical", "?limit=0", "?limit=x", "?state=DRAFT"} {
		r := e.do(t, "GET", "/api/v1/incidents"+q, incBearer, "", nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", q, r.status)
		}
		r.errMsg(t)
	}

	id := all[1]["id"].(string)
	r := e.do(t, "GET", "/api/v1/incidents/"+id, incBearer, "", nil)
	m := r.json(t)
	if len(m["anomalies"].([]any)) != 1 || len(m["audit"].([]any)) != 1 || m["report"] == nil {
		t.Errorf("get: %s", r.body)
	}
	md := e.do(t, "GET", "/api/v1/incidents/"+id+"/report.md", incBearer, "", nil)
	if md.status != http.StatusOK || md.header.Get("Content-Type") != "text/markdown; charset=utf-8" ||
		!strings.Contains(string(md.body), "## Privacy impact assessment") {
		t.Errorf("report.md: %d %q\n%s", md.status, md.header.Get("Content-Type"), md.body)
	}
	if r := e.do(t, "GET", "/api/v1/incidents/nope/report.md", incBearer, "", nil); r.status != http.StatusNotFound {
		t.Errorf("report of unknown incident: %d", r.status)
	}
}

func TestIncidentAPIRegisterOnSharedMux(t *testing.T) {
	e := newIncEnv(t)
	api, err := NewAPI(APIOptions{Service: e.svc, OperatorToken: []byte(incToken)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	api.Register(mux)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/incidents", nil)
	req.Header.Set("Authorization", incBearer)
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"incidents":[]`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	if _, err := NewAPI(APIOptions{}); err == nil {
		t.Error("NewAPI without a service succeeded")
	}
}
