package docs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/nymwatch/nymwatch/internal/daemontest"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

const (
	specOperatorToken = daemontest.OperatorToken
	specWebhookToken  = daemontest.WebhookToken
	specClusterToken  = daemontest.ClusterToken
)

// TestMain teaches the validator that a Markdown body is text (it knows
// text/plain, not text/markdown).
func TestMain(m *testing.M) {
	openapi3filter.RegisterBodyDecoder("text/markdown", openapi3filter.PlainBodyDecoder)
	os.Exit(m.Run())
}

// loadSpec loads docs/openapi.yaml and validates the document itself.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// specChecker validates requests and responses against the spec and
// records which operations were exercised.
type specChecker struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	base   string
	client *http.Client

	mu   sync.Mutex
	seen map[string]map[int]bool // operationId → statuses answered
}

func newSpecChecker(t *testing.T, doc *openapi3.T, base string) *specChecker {
	t.Helper()
	// Route on paths alone: the daemon listens on a random port, not on
	// the documented default address.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &specChecker{t: t, doc: doc, router: router, base: base,
		client: &http.Client{Timeout: 20 * time.Second}, seen: map[string]map[int]bool{}}
}

// call is one request. invalid marks a request that deliberately breaks
// the spec (missing token, bad body): only its response is validated.
type call struct {
	method, path, token, contentType string
	body                             []byte
	invalid                          bool
}

// options of the validator: an undocumented status code is an error, as is
// any response body that does not match its schema.
func validationOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		// The server checks the token; here only its presence and scheme.
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
			if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
				return errors.New("no bearer token")
			}
			return nil
		},
	}
}

// do sends c, validates request and response against the spec, and
// returns the status and body.
func (s *specChecker) do(c call) (int, []byte) {
	s.t.Helper()
	req := s.request(c)
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		s.t.Fatalf("%s %s: not in openapi.yaml: %v", c.method, c.path, err)
	}
	reqIn := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: validationOptions()}
	if !c.invalid {
		if err := openapi3filter.ValidateRequest(s.t.Context(), reqIn); err != nil {
			s.t.Errorf("%s %s: the test's request does not match the spec: %v", c.method, c.path, err)
		}
	}
	resp, err := s.client.Do(s.request(c))
	if err != nil {
		s.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", c.method, c.path, err)
	}
	err = openapi3filter.ValidateResponse(s.t.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqIn,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                validationOptions(),
	})
	if err != nil {
		s.t.Errorf("%s %s: response %d does not match openapi.yaml: %v\nbody: %.2000s", c.method, c.path, resp.StatusCode, err, body)
	}
	s.mu.Lock()
	id := route.Operation.OperationID
	if s.seen[id] == nil {
		s.seen[id] = map[int]bool{}
	}
	s.seen[id][resp.StatusCode] = true
	s.mu.Unlock()
	return resp.StatusCode, body
}

func (s *specChecker) request(c call) *http.Request {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), c.method, s.base+c.path, bytes.NewReader(c.body))
	if err != nil {
		s.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	return req
}

// expect sends c and fails unless the status is want.
func (s *specChecker) expect(want int, c call) []byte {
	s.t.Helper()
	code, body := s.do(c)
	if code != want {
		s.t.Errorf("%s %s: status %d, want %d; body: %.500s", c.method, c.path, code, want, body)
	}
	return body
}

type listedIncident struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Architecture string `json:"architecture"`
}

// TestOpenAPIDescribesRunningDaemon exercises every operation of
// docs/openapi.yaml against a running daemon with a draft incident and
// validates every request and response against the document.
func TestOpenAPIDescribesRunningDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon against a simulated network")
	}
	doc := loadSpec(t)
	d := daemontest.Start(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 3}, nil)
	s := newSpecChecker(t, doc, d.URL)
	op := specOperatorToken

	// Readiness: 503 answers on the way are validated too.
	daemontest.WaitFor(t, 30*time.Second, "/-/ready", func() bool {
		code, _ := s.do(call{method: "GET", path: "/-/ready"})
		return code == http.StatusOK
	})
	s.expect(200, call{method: "GET", path: "/-/healthy"})
	daemontest.WaitFor(t, 30*time.Second, "healthy node probes", func() bool {
		_, body := s.do(call{method: "GET", path: "/metrics"})
		return strings.Contains(string(body), `nymwatch_probes_total{kind="node_http",result="ok"}`)
	})

	// An outage of 40% of the exit gateways makes a decentralized draft.
	if failed, err := d.Net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse()); err != nil || len(failed) != 4 {
		t.Fatalf("FailRole: %v %v", failed, err)
	}
	list := func(query string) []listedIncident {
		t.Helper()
		code, body := s.do(call{method: "GET", path: "/api/v1/incidents" + query, token: op})
		if code != http.StatusOK {
			t.Fatalf("list%s: %d %s", query, code, body)
		}
		var out struct{ Incidents []listedIncident }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("list%s: %v", query, err)
		}
		return out.Incidents
	}
	draft := func(arch string) string {
		for _, inc := range list("?state=draft") {
			if inc.Architecture == arch {
				return inc.ID
			}
		}
		return ""
	}
	var net1 string
	daemontest.WaitFor(t, 60*time.Second, "a decentralized draft", func() bool { net1 = draft("decentralized"); return net1 != "" })

	// The webhook: an alert about a centralized service makes a second
	// draft (the other architecture side: not grouped with the first).
	alert := func(version string) []byte {
		b, _ := json.Marshal(map[string]any{
			"version": version, "groupKey": "{}:{alertname=\"NymAPIDown\"}", "truncatedAlerts": 0,
			"status": "firing", "receiver": "nymwatch", "externalURL": "http://alertmanager.invalid",
			"groupLabels": map[string]string{"alertname": "NymAPIDown"}, "commonLabels": map[string]string{},
			"commonAnnotations": map[string]string{},
			"alerts": []map[string]any{{
				"status":       "firing",
				"labels":       map[string]string{"alertname": "NymAPIDown", "class": "operational", "architecture": "centralized", "service": "nym-api"},
				"annotations":  map[string]string{"summary": "nym-api answers 5xx"},
				"startsAt":     time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano),
				"endsAt":       "0001-01-01T00:00:00Z",
				"generatorURL": "http://prometheus.invalid/graph",
				"fingerprint":  "0123456789abcdef",
			}},
		})
		return b
	}
	hook := "/api/v1/alertmanager"
	s.expect(200, call{method: "POST", path: hook, token: specWebhookToken, contentType: "application/json", body: alert("4")})
	s.expect(400, call{method: "POST", path: hook, token: specWebhookToken, contentType: "application/json", body: alert("3"), invalid: true})
	s.expect(400, call{method: "POST", path: hook, token: specWebhookToken, contentType: "application/json", body: []byte(`{"version":`), invalid: true})
	s.expect(401, call{method: "POST", path: hook, token: "not-the-webhook-token", contentType: "application/json", body: alert("4")})
	s.expect(415, call{method: "POST", path: hook, token: specWebhookToken, contentType: "text/plain", body: alert("4"), invalid: true})
	var central string
	daemontest.WaitFor(t, 30*time.Second, "a centralized draft", func() bool { central = draft("centralized"); return central != "" })

	// Reads, with filters.
	list("")
	list("?state=draft&class=operational&limit=10")
	list("?class=internal")
	s.expect(400, call{method: "GET", path: "/api/v1/incidents?state=bogus", token: op, invalid: true})
	s.expect(400, call{method: "GET", path: "/api/v1/incidents?limit=0", token: op, invalid: true})
	// Reads need a token unless web.public_read (the contract); either
	// answer must be documented.
	if code, _ := s.do(call{method: "GET", path: "/api/v1/incidents", invalid: true}); code != 200 && code != 401 {
		t.Errorf("list without a token: %d, want 401 (or 200 with web.public_read)", code)
	}
	inc := "/api/v1/incidents/" + net1
	s.expect(200, call{method: "GET", path: inc, token: op})
	if md := s.expect(200, call{method: "GET", path: inc + "/report.md", token: op}); !bytes.Contains(md, []byte(net1)) {
		t.Errorf("report.md does not name %s", net1)
	}
	s.expect(404, call{method: "GET", path: "/api/v1/incidents/INC-19990101-9999", token: op})
	s.expect(404, call{method: "GET", path: "/api/v1/incidents/INC-19990101-9999/report.md", token: op})

	// Edits.
	s.expect(200, call{method: "PATCH", path: inc, token: op, contentType: "application/json", body: []byte(`{"summary":"Exit gateways refused connections.","remediation":null}`)})
	s.expect(400, call{method: "PATCH", path: inc, token: op, contentType: "application/json", body: []byte(`{"no_such_field":"x"}`)})
	s.expect(400, call{method: "PATCH", path: inc, token: op, contentType: "application/json", body: []byte(`{"summary":42}`), invalid: true})
	s.expect(400, call{method: "PATCH", path: inc, token: op, contentType: "application/json", body: []byte(`not json`), invalid: true})
	s.expect(401, call{method: "PATCH", path: inc, contentType: "application/json", body: []byte(`{"summary":"x"}`), invalid: true})
	s.expect(404, call{method: "PATCH", path: "/api/v1/incidents/INC-19990101-9999", token: op, contentType: "application/json", body: []byte(`{"summary":"x"}`)})

	// The workflow: draft → confirmed → resolved, with refusals.
	s.expect(401, call{method: "POST", path: inc + "/confirm", invalid: true})
	s.expect(401, call{method: "POST", path: inc + "/confirm", token: "wrong-token-wrong-token-wrong"})
	s.expect(409, call{method: "POST", path: inc + "/resolve", token: op})
	s.expect(404, call{method: "POST", path: "/api/v1/incidents/INC-19990101-9999/confirm", token: op})
	s.expect(200, call{method: "POST", path: inc + "/confirm", token: op})
	s.expect(409, call{method: "POST", path: inc + "/confirm", token: op})
	s.expect(409, call{method: "POST", path: inc + "/dismiss", token: op, contentType: "application/json", body: []byte(`{"reason":"too late"}`)})
	// After confirm: channels, follow-ups, credit (docs/follow-ups.md).
	jsonCall := func(path, body string) call {
		return call{method: "POST", path: path, token: op, contentType: "application/json", body: []byte(body)}
	}
	s.expect(200, jsonCall(inc+"/channels/Status%20page", `{"done":true,"note":"posted"}`))
	s.expect(404, jsonCall(inc+"/channels/Fax", `{"done":true}`))
	bad := func(c call) call { c.invalid = true; return c }
	s.expect(400, bad(jsonCall(inc+"/channels/Status%20page", `{"note":"no done"}`)))
	s.expect(401, call{method: "POST", path: inc + "/channels/Status%20page", contentType: "application/json", body: []byte(`{"done":true}`), invalid: true})
	s.expect(200, jsonCall(inc+"/followups", `{"title":"Rotate the gateway keys","due_at":"2026-06-01T00:00:00Z"}`))
	s.expect(400, bad(jsonCall(inc+"/followups", `{"title":""}`)))
	s.expect(200, jsonCall(inc+"/followups/1", `{"done":true,"note":"service back"}`))
	s.expect(404, jsonCall(inc+"/followups/99", `{"done":true}`))
	s.expect(200, jsonCall(inc+"/reporters", `{"name":"@alice","channel":"discord","reported_at":"2026-05-16T10:05:00Z","link":"https://discord.com/channels/1/2/3"}`))
	s.expect(400, bad(jsonCall(inc+"/reporters", `{"name":"@bob","channel":"fax","reported_at":"2026-05-16T10:05:00Z"}`)))
	s.expect(409, call{method: "POST", path: inc + "/close", token: op})
	s.expect(200, call{method: "POST", path: inc + "/resolve", token: op})
	s.expect(401, call{method: "POST", path: inc + "/resolve", invalid: true})
	s.expect(404, call{method: "POST", path: "/api/v1/incidents/INC-19990101-9999/resolve", token: op})
	s.expect(200, call{method: "POST", path: inc + "/close", token: op})
	s.expect(401, call{method: "POST", path: inc + "/close", invalid: true})
	s.expect(404, call{method: "POST", path: "/api/v1/incidents/INC-19990101-9999/close", token: op})
	s.expect(200, call{method: "GET", path: "/api/v1/incidents?state=closed", token: op})

	// Publication: the resolved incident is published once, then updated.
	s.expect(200, call{method: "POST", path: inc + "/publish", token: op})
	s.expect(409, call{method: "POST", path: inc + "/publish", token: op})
	s.expect(400, call{method: "POST", path: inc + "/publish", token: op, contentType: "application/json", body: []byte(`{"status":"sideways"}`), invalid: true})
	s.expect(401, call{method: "POST", path: inc + "/publish", invalid: true})
	s.expect(404, call{method: "POST", path: "/api/v1/incidents/INC-19990101-9999/publish", token: op})
	upd := s.expect(200, call{method: "POST", path: inc + "/updates", token: op, contentType: "application/json",
		body: []byte(`{"status":"resolved","body":"Exit gateways accept connections again."}`)})
	if !bytes.Contains(upd, []byte(`"published_at":"`)) || !bytes.Contains(upd, []byte("accept connections again")) {
		t.Errorf("after publish and update: %s", upd)
	}
	s.expect(400, call{method: "POST", path: inc + "/updates", token: op, contentType: "application/json", body: []byte(`{"status":"monitoring"}`), invalid: true})
	s.expect(401, call{method: "POST", path: inc + "/updates", contentType: "application/json", body: []byte(`{"status":"monitoring","body":"x"}`), invalid: true})
	s.expect(404, call{method: "POST", path: "/api/v1/incidents/INC-19990101-9999/updates", token: op, contentType: "application/json", body: []byte(`{"status":"monitoring","body":"x"}`)})

	// Dismissal needs a reason, as JSON or a form.
	cinc := "/api/v1/incidents/" + central
	s.expect(400, call{method: "POST", path: cinc + "/dismiss", token: op, contentType: "application/json", body: []byte(`{"reason":""}`), invalid: true})
	s.expect(400, call{method: "POST", path: cinc + "/dismiss", token: op, contentType: "application/json", body: []byte(`{"reason":`), invalid: true})
	s.expect(401, call{method: "POST", path: cinc + "/dismiss", contentType: "application/json", body: []byte(`{"reason":"x"}`), invalid: true})
	s.expect(404, call{method: "POST", path: "/api/v1/incidents/INC-19990101-9999/dismiss", token: op, contentType: "application/json", body: []byte(`{"reason":"x"}`)})
	body := s.expect(200, call{method: "POST", path: cinc + "/dismiss", token: op, contentType: "application/x-www-form-urlencoded", body: []byte(`reason=planned+nym-api+maintenance`)})
	var dismissed struct {
		State         string `json:"state"`
		DismissReason string `json:"dismiss_reason"`
	}
	_ = json.Unmarshal(body, &dismissed)
	if dismissed.State != "dismissed" || dismissed.DismissReason != "planned nym-api maintenance" {
		t.Errorf("after dismiss: state %q dismiss_reason %q", dismissed.State, dismissed.DismissReason)
	}
	s.expect(200, call{method: "GET", path: cinc, token: op})
	s.expect(409, call{method: "POST", path: cinc + "/publish", token: op})
	s.expect(409, call{method: "POST", path: cinc + "/updates", token: op, contentType: "application/json", body: []byte(`{"status":"monitoring","body":"x"}`)})

	// Maintenance windows: operator token for every route, reads included.
	mw := s.expect(201, call{method: "POST", path: "/api/v1/maintenance", token: op, contentType: "application/json",
		body: []byte(`{"service":"nym-api","duration":"1h","reason":"nym-api upgrade"}`)})
	var window struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Matchers []struct{ Name, Value string }
	}
	if err := json.Unmarshal(mw, &window); err != nil || window.ID == "" || window.State != "active" ||
		len(window.Matchers) != 1 || window.Matchers[0].Name != "service" || window.Matchers[0].Value != "nym-api" {
		t.Errorf("created window: %s (%v)", mw, err)
	}
	s.expect(400, call{method: "POST", path: "/api/v1/maintenance", token: op, contentType: "application/json",
		body: []byte(`{"service":"nym-api","duration":"1h"}`), invalid: true}) // no reason
	s.expect(400, call{method: "POST", path: "/api/v1/maintenance", token: op, contentType: "application/json",
		body: []byte(`{"reason":"everything","duration":"1h"}`)}) // no matcher
	s.expect(401, call{method: "POST", path: "/api/v1/maintenance", contentType: "application/json",
		body: []byte(`{"service":"nym-api","duration":"1h","reason":"x"}`), invalid: true})
	s.expect(200, call{method: "GET", path: "/api/v1/maintenance", token: op})
	s.expect(400, call{method: "GET", path: "/api/v1/maintenance?include_ended=perhaps", token: op, invalid: true})
	s.expect(401, call{method: "GET", path: "/api/v1/maintenance", invalid: true})
	one := s.expect(200, call{method: "GET", path: "/api/v1/maintenance/" + window.ID, token: op})
	if !bytes.Contains(one, []byte(`"action":`)) {
		t.Errorf("window %s: no audit trail in %s", window.ID, one)
	}
	s.expect(404, call{method: "GET", path: "/api/v1/maintenance/M-999999", token: op})
	s.expect(200, call{method: "DELETE", path: "/api/v1/maintenance/" + window.ID + "?reason=done", token: op})
	s.expect(409, call{method: "DELETE", path: "/api/v1/maintenance/" + window.ID, token: op})
	s.expect(404, call{method: "DELETE", path: "/api/v1/maintenance/M-999999", token: op})
	s.expect(200, call{method: "GET", path: "/api/v1/maintenance?include_ended=true", token: op})

	// The cluster view: the cluster or the operator token.
	s.expect(200, call{method: "GET", path: "/api/v1/cluster/view", token: specClusterToken})
	s.expect(200, call{method: "GET", path: "/api/v1/cluster/view", token: op})
	s.expect(401, call{method: "GET", path: "/api/v1/cluster/view", token: "wrong-token", invalid: true})

	// Every documented operation was exercised.
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			if len(s.seen[o.OperationID]) == 0 {
				t.Errorf("%s %s (%s) is documented but the test never called it", method, path, o.OperationID)
			}
		}
	}
}

// TestOpenAPIRejectsWrongResponses proves the validation above can fail:
// a field of the wrong type, an unknown enum value, a missing required
// field or an undocumented status code is reported.
func TestOpenAPIRejectsWrongResponses(t *testing.T) {
	doc := loadSpec(t)
	s := newSpecChecker(t, doc, "http://127.0.0.1:9478")
	good := `{"id":"INC-20260516-0001","class":"operational","state":"draft","disclosure":"pending","title":"t",
"component":"exit_gateways","components":["exit_gateways"],"architecture":"decentralized","reason":"r",
"affected":["node/1/mix_tcp"],"last_healthy":"2026-05-16T10:00:00.000Z","first_seen":"2026-05-16T10:00:01.000Z",
"detected_at":"2026-05-16T10:00:02.000Z","acknowledged_at":null,"resolved_at":null,
"created_at":"2026-05-16T10:00:02.000Z","updated_at":"2026-05-16T10:00:02.000Z","future_field":true}`
	check := func(status int, body string) error {
		req := s.request(call{method: "GET", path: "/api/v1/incidents", token: specOperatorToken})
		route, params, err := s.router.FindRoute(req)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(status)
		_, _ = rec.WriteString(body) // a ResponseRecorder's buffer cannot fail
		return openapi3filter.ValidateResponse(t.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: validationOptions()},
			Status:                 rec.Code, Header: rec.Header(), Body: io.NopCloser(rec.Body), Options: validationOptions(),
		})
	}
	if err := check(200, `{"incidents":[`+good+`]}`); err != nil {
		t.Fatalf("a correct list response is rejected: %v", err)
	}
	for name, c := range map[string]struct {
		status int
		body   string
	}{
		"class not in enum":       {200, `{"incidents":[` + strings.Replace(good, `"class":"operational"`, `"class":"major"`, 1) + `]}`},
		"state of the wrong type": {200, `{"incidents":[` + strings.Replace(good, `"state":"draft"`, `"state":1`, 1) + `]}`},
		"timestamp not RFC 3339":  {200, `{"incidents":[` + strings.Replace(good, `"first_seen":"2026-05-16T10:00:01.000Z"`, `"first_seen":1778925601000`, 1) + `]}`},
		"timestamp not UTC":       {200, `{"incidents":[` + strings.Replace(good, `"first_seen":"2026-05-16T10:00:01.000Z"`, `"first_seen":"2026-05-16T12:00:01.000+02:00"`, 1) + `]}`},
		"required field missing":  {200, `{"incidents":[` + strings.Replace(good, `"resolved_at":null,`, ``, 1) + `]}`},
		"affected not a list":     {200, `{"incidents":[` + strings.Replace(good, `"affected":["node/1/mix_tcp"]`, `"affected":"node/1/mix_tcp"`, 1) + `]}`},
		"undocumented status":     {418, `{"error":"teapot"}`},
		"error without error":     {400, `{"message":"bad"}`},
	} {
		if err := check(c.status, c.body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The operations the daemon test must cover are all named.
	var ids []string
	for _, item := range doc.Paths.Map() {
		for _, o := range item.Operations() {
			if o.OperationID == "" {
				t.Errorf("an operation has no operationId: %s", o.Summary)
			}
			ids = append(ids, o.OperationID)
		}
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != len(ids) {
		t.Errorf("duplicate operationIds: %v", ids)
	}
}
