package disclosure

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var maintNow = time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)

func nymAPIWindow(start, end time.Time) MaintenanceRequest {
	return MaintenanceRequest{Matchers: []Matcher{{Name: MatchService, Value: "nym-api"}}, Start: start, End: end,
		Reason: "nym-api upgrade"}
}

// TestMaintenanceStoreRoundTrip: windows and their audit persist across a
// reopen, on both backends.
func TestMaintenanceStoreRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		open := b.fresh(t)
		db := open(t)
		m := NewMaintenance(db)
		alice := Actor{Name: "operator:alice", RemoteAddr: "192.0.2.7:5000"}
		w1, err := m.Create(t.Context(), nymAPIWindow(maintNow, maintNow.Add(time.Hour)), alice, maintNow)
		if err != nil {
			t.Fatal(err)
		}
		req := MaintenanceRequest{Matchers: []Matcher{{Name: "component", Value: "country/DE"}, {Name: "node", Value: "01011"}},
			Start: maintNow.Add(2 * time.Hour), End: maintNow.Add(3 * time.Hour), Reason: "rack move"}
		w2, err := m.Create(t.Context(), req, alice, maintNow)
		if err != nil {
			t.Fatal(err)
		}
		if w1.ID == w2.ID || !strings.HasPrefix(w1.ID, "M-") {
			t.Fatalf("ids %s %s", w1.ID, w2.ID)
		}
		if w2.Matchers[1].Value != "1011" {
			t.Errorf("node matcher not normalized: %+v", w2.Matchers)
		}
		if _, err := m.End(t.Context(), w2.ID, "postponed", Actor{Name: "operator:bob"}, maintNow.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		_ = db.Close()

		// "Restart": a new connection sees the same windows.
		m = NewMaintenance(open(t))
		ws, err := m.List(t.Context(), maintNow.Add(2*time.Minute), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 1 || ws[0].ID != w1.ID || ws[0].Who != "operator:alice" || !ws[0].End.Equal(w1.End) ||
			ws[0].State(maintNow.Add(2*time.Minute)) != "active" || ws[0].Reason != "nym-api upgrade" {
			t.Fatalf("active list %+v", ws)
		}
		all, err := m.List(t.Context(), maintNow.Add(2*time.Minute), true)
		if err != nil || len(all) != 2 {
			t.Fatalf("with ended: %d %v", len(all), err)
		}
		got, err := m.Get(t.Context(), w2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.EndedBy != "operator:bob" || !got.EndedAt.Equal(maintNow.Add(time.Minute)) || got.State(maintNow.Add(2*time.Minute)) != "ended" {
			t.Errorf("ended window %+v", got)
		}
		audit, err := m.Audit(t.Context(), w2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 2 || audit[0].Action != "create" || audit[0].Actor != "operator:alice" || audit[0].RemoteAddr != "192.0.2.7:5000" ||
			audit[1].Action != "cancel" || audit[1].Actor != "operator:bob" || !strings.Contains(string(audit[1].Detail), "postponed") {
			t.Errorf("audit %+v", audit)
		}
		// Ending twice is a conflict, and the audit stays append-only.
		if _, err := m.End(t.Context(), w2.ID, "", alice, maintNow.Add(3*time.Minute)); !isConflict(err) {
			t.Errorf("second end: %v, want a conflict", err)
		}
		if _, err := m.db.W.ExecContext(t.Context(), "DELETE FROM maintenance_audit"); err == nil {
			t.Error("audit rows could be deleted")
		}
		if _, err := m.End(t.Context(), "M-999", "", alice, maintNow); !errors.Is(err, ErrMaintenanceNotFound) {
			t.Errorf("unknown: %v", err)
		}
		// The detector gets the active window and the one ended recently.
		dw, err := m.ForDetector(t.Context(), maintNow.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if len(dw) != 2 || dw[0].Services[0] != "nym-api" || dw[1].Components[0] != "country/DE" || dw[1].Nodes[0] != 1011 ||
			!dw[1].End.Equal(maintNow.Add(time.Minute)) {
			t.Errorf("detector windows %+v", dw)
		}
	})
}

func isConflict(err error) bool {
	_, ok := errors.AsType[*MaintenanceConflictError](err)
	return ok
}

func TestMaintenanceValidation(t *testing.T) {
	m := NewMaintenance(sqliteBackend.fresh(t)(t))
	cases := []struct {
		name string
		req  MaintenanceRequest
		want string
	}{
		{"no matcher", MaintenanceRequest{Start: maintNow, End: maintNow.Add(time.Hour), Reason: "x"}, "at least one matcher"},
		{"end before start", nymAPIWindow(maintNow.Add(time.Hour), maintNow), "is not after start"},
		{"in the past", nymAPIWindow(maintNow.Add(-2*time.Hour), maintNow.Add(-time.Hour)), "in the past"},
		{"too long", nymAPIWindow(maintNow, maintNow.Add(8*24*time.Hour)), "too long"},
		{"no end", nymAPIWindow(maintNow, time.Time{}), "end is required"},
		{"no reason", MaintenanceRequest{Matchers: []Matcher{{Name: "service", Value: "nym-api"}}, End: maintNow.Add(time.Hour)}, "reason is required"},
		{"wildcard", MaintenanceRequest{Matchers: []Matcher{{Name: "service", Value: "*"}}, End: maintNow.Add(time.Hour), Reason: "x"}, "wildcards"},
		{"match-all component", MaintenanceRequest{Matchers: []Matcher{{Name: "component", Value: "vantage_point"}}, End: maintNow.Add(time.Hour), Reason: "x"}, "unknown component"},
		{"bad node", MaintenanceRequest{Matchers: []Matcher{{Name: "node", Value: "abc"}}, End: maintNow.Add(time.Hour), Reason: "x"}, "node id"},
		{"unknown matcher", MaintenanceRequest{Matchers: []Matcher{{Name: "host", Value: "a"}}, End: maintNow.Add(time.Hour), Reason: "x"}, "unknown matcher"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Create(t.Context(), c.req, Actor{Name: "operator"}, maintNow)
			invalid, ok := errors.AsType[*InvalidError](err)
			if !ok || !strings.Contains(invalid.Msg, c.want) {
				t.Fatalf("err %v, want an InvalidError with %q", err, c.want)
			}
		})
	}
	ws, _ := m.List(t.Context(), maintNow, true)
	if len(ws) != 0 {
		t.Errorf("a refused window was stored: %+v", ws)
	}
}

const maintToken = "s3cret-operator-token"

func newMaintAPI(t *testing.T) (*httptest.Server, *Maintenance) {
	t.Helper()
	m := NewMaintenance(sqliteBackend.fresh(t)(t))
	api, err := NewMaintenanceAPI(MaintenanceAPIOptions{Maintenance: m, OperatorToken: []byte(maintToken + "\n"),
		Now: func() time.Time { return maintNow }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, m
}

func maintDo(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Nymwatch-Actor", "alice")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d, body %q is not JSON", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func TestMaintenanceAPI(t *testing.T) {
	srv, _ := newMaintAPI(t)
	// Every route needs the operator token.
	for _, r := range [][2]string{{"GET", "/api/v1/maintenance"}, {"POST", "/api/v1/maintenance"}, {"DELETE", "/api/v1/maintenance/M-1"}, {"GET", "/api/v1/maintenance/M-1"}} {
		if code, _ := maintDo(t, srv, r[0], r[1], "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d, want 401", r[0], r[1], code)
		}
		if code, _ := maintDo(t, srv, r[0], r[1], "wrong", ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d, want 401", r[0], r[1], code)
		}
	}

	code, w := maintDo(t, srv, "POST", "/api/v1/maintenance", maintToken,
		`{"matchers":[{"service":"nym-api"},{"name":"component","value":"exit_gateways"}],"start":"2026-12-04T14:00:00Z","end":"2026-12-04T15:00:00Z","reason":"nym-api upgrade"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, w)
	}
	id, _ := w["id"].(string)
	if !strings.HasPrefix(id, "M-") || w["who"] != "operator:alice" || w["state"] != "active" || w["end"] != "2026-12-04T15:00:00.000Z" ||
		w["ended_at"] != nil {
		t.Errorf("created %v", w)
	}
	ms, _ := w["matchers"].([]any)
	if len(ms) != 2 {
		t.Errorf("matchers %v", w["matchers"])
	}
	// Shorthand fields and a duration; an upcoming window.
	code, w2 := maintDo(t, srv, "POST", "/api/v1/maintenance", maintToken,
		`{"node":1011,"start":"2026-12-04T18:00:00Z","duration":"2h","reason":"kernel update"}`)
	if code != http.StatusCreated || w2["state"] != "upcoming" || w2["end"] != "2026-12-04T20:00:00.000Z" {
		t.Fatalf("shorthand create: %d %v", code, w2)
	}

	// Other matcher shapes a client may send.
	for _, body := range []string{
		`{"matchers":{"service":"nymvpn-api","node":["7","node/8"]},"duration":"1h","reason":"x"}`,
		`{"matchers":[{"type":"service","value":"nymvpn-api"},"exit_gateways",{"name":"node","value":"9","isRegex":false,"isEqual":true}],"duration":"1h","reason":"x"}`,
	} {
		code, w := maintDo(t, srv, "POST", "/api/v1/maintenance", maintToken, body)
		if ms, _ := w["matchers"].([]any); code != http.StatusCreated || len(ms) != 3 {
			t.Fatalf("%s: %d %v", body, code, w)
		}
		if code, _ := maintDo(t, srv, "DELETE", "/api/v1/maintenance/"+w["id"].(string), maintToken, ""); code != http.StatusOK {
			t.Fatalf("end %v: %d", w["id"], code)
		}
	}

	code, list := maintDo(t, srv, "GET", "/api/v1/maintenance", maintToken, "")
	if items, _ := list["maintenance"].([]any); code != 200 || len(items) != 2 {
		t.Fatalf("list: %d %v", code, list)
	}

	code, ended := maintDo(t, srv, "DELETE", "/api/v1/maintenance/"+id, maintToken, `{"reason":"done early"}`)
	if code != http.StatusOK || ended["state"] != "ended" || ended["ended_by"] != "operator:alice" || ended["effective_end"] != "2026-12-04T14:00:00.000Z" {
		t.Fatalf("end: %d %v", code, ended)
	}
	if code, _ := maintDo(t, srv, "DELETE", "/api/v1/maintenance/"+id, maintToken, ""); code != http.StatusConflict {
		t.Errorf("end twice: %d, want 409", code)
	}
	if code, _ := maintDo(t, srv, "DELETE", "/api/v1/maintenance/M-4242", maintToken, ""); code != http.StatusNotFound {
		t.Errorf("end unknown: %d, want 404", code)
	}
	_, list = maintDo(t, srv, "GET", "/api/v1/maintenance", maintToken, "")
	if items, _ := list["maintenance"].([]any); len(items) != 1 {
		t.Errorf("after end, default list %v", list)
	}
	_, list = maintDo(t, srv, "GET", "/api/v1/maintenance?include_ended=true", maintToken, "")
	if items, _ := list["maintenance"].([]any); len(items) != 4 {
		t.Errorf("include_ended list %v", list)
	}
	code, one := maintDo(t, srv, "GET", "/api/v1/maintenance/"+id, maintToken, "")
	if audit, _ := one["audit"].([]any); code != 200 || len(audit) != 2 {
		t.Errorf("get with audit: %d %v", code, one)
	}
}

func TestMaintenanceAPIBadRequests(t *testing.T) {
	srv, m := newMaintAPI(t)
	cases := []struct{ name, body, want string }{
		{"empty", ``, "at least one matcher"},
		{"no matcher", `{"end":"2026-12-04T15:00:00Z","reason":"x"}`, "at least one matcher"},
		{"end before start", `{"service":"nym-api","start":"2026-12-04T15:00:00Z","end":"2026-12-04T14:30:00Z","reason":"x"}`, "not after start"},
		{"past", `{"service":"nym-api","start":"2026-12-04T10:00:00Z","end":"2026-12-04T11:00:00Z","reason":"x"}`, "in the past"},
		{"too long", `{"service":"nym-api","end":"2026-12-20T11:00:00Z","reason":"x"}`, "too long"},
		{"bad time", `{"service":"nym-api","end":"tomorrow","reason":"x"}`, "RFC 3339"},
		{"regex matcher", `{"matchers":[{"name":"service","value":"nym.*","isRegex":true}],"end":"2026-12-04T15:00:00Z","reason":"x"}`, "exact"},
		{"unknown field", `{"service":"nym-api","end":"2026-12-04T15:00:00Z","reason":"x","who":"mallory"}`, "unknown field"},
		{"end and duration", `{"service":"nym-api","end":"2026-12-04T15:00:00Z","duration":"1h","reason":"x"}`, "not both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := maintDo(t, srv, "POST", "/api/v1/maintenance", maintToken, c.body)
			msg, _ := out["error"].(string)
			if code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
				t.Fatalf("%d %q, want 400 with %q", code, msg, c.want)
			}
		})
	}
	big := `{"service":"nym-api","end":"2026-12-04T15:00:00Z","reason":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	if code, _ := maintDo(t, srv, "POST", "/api/v1/maintenance", maintToken, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d, want 413", code)
	}
	if ws, _ := m.List(t.Context(), maintNow, true); len(ws) != 0 {
		t.Errorf("stored after refusals: %+v", ws)
	}
}
