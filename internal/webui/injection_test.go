package webui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/mdcheck"
	"github.com/nymwatch/nymwatch/probes"
)

// phishBody is what a hostile node answered to its health check (issue
// 11 item 4): it became a live link in report.md and on the console.
const phishBody = "[Nym official fix](https://phish.example/fix)"

// TestNodeSuppliedLinkIsNeverLive follows a node's error body from probe
// results through the real detector and the incident service to report.md
// (over the API) and the console's incident page: neither may contain a
// live link, while the text itself stays readable for the on-call human.
func TestNodeSuppliedLinkIsNeverLive(t *testing.T) {
	e := newEnv(t, nil)
	var targets []*probes.Target
	for i := range 10 {
		id := uint32(3000 + i)
		targets = append(targets, &probes.Target{
			ID: fmt.Sprintf("node/%d/node_http", id), Kind: probes.KindNodeHTTP,
			Address: fmt.Sprintf("http://192.0.2.%d:8080", i+1),
			Node:    &probes.Node{NodeID: id, Role: probes.RoleExitGateway, Country: "DE"},
		})
	}
	d := detector.New(detector.Options{})
	d.SetTargets(targets)
	// The detail NodeHTTPProber makes of a 500 with a plain-text body
	// (statusFailure: "<what>: <status> <text>: <body snippet>"), sanitized
	// as every probe detail is.
	detail := probes.Sanitize("GET /api/v1/health: 500 Internal Server Error: " + phishBody)
	at := t0
	for round := range 8 {
		for i, tg := range targets {
			r := probes.Result{Target: tg, OK: true, Latency: 40 * time.Millisecond, At: at}
			if round >= 2 && i < 4 {
				r = probes.Result{Target: tg, Reason: probes.ReasonHTTPStatus, Detail: detail, Latency: 40 * time.Millisecond, At: at}
			}
			d.Observe(r)
		}
		for _, a := range d.Evaluate(at.Add(time.Second)) {
			e.apply(a, at.Add(time.Second))
		}
		at = at.Add(30 * time.Second)
	}
	incs, err := e.svc.List(t.Context(), disclosure.Filter{State: disclosure.StateDraft})
	if err != nil || len(incs) != 1 {
		t.Fatalf("want one draft from 4 of 10 exit gateways failing, have %d (%v)", len(incs), err)
	}
	id := incs[0].ID
	if inc := e.get(id); !strings.Contains(fmt.Sprint(inc.Anomalies), "phish.example") {
		t.Fatalf("the node's body did not reach the evidence; the test proves nothing: %+v", inc.Anomalies)
	}

	r := e.do("GET", "/api/v1/incidents/"+id+"/report.md", nil, nil, "Authorization", "Bearer "+testToken)
	if r.status != 200 {
		t.Fatalf("report.md: %d %s", r.status, r.body)
	}
	for _, el := range mdcheck.Live(r.body) {
		if el.Kind != "heading" {
			t.Errorf("report.md has a live %s", el)
		}
	}
	if !strings.Contains(r.body, "Nym official fix") {
		t.Errorf("report.md lost the node's text (it must be shown, as text):\n%s", r.body)
	}

	page := e.do("GET", "/incidents/"+id, nil, e.login("alice"))
	if page.status != 200 {
		t.Fatalf("console page: %d", page.status)
	}
	if strings.Contains(page.body, "phish.example/fix\"") || strings.Contains(page.body, `href="https://phish`) {
		t.Errorf("console page links to the node's URL:\n%s", page.body)
	}
	if !strings.Contains(page.body, "Nym official fix") {
		t.Error("console page lost the node's text")
	}
}

// TestConsoleLinksConcurrentIncidents: incidents on the two architecture
// sides that overlap in time link to each other on the console, both ways.
func TestConsoleLinksConcurrentIncidents(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	e.apply(serviceAnomaly("nym-api", detector.ClassOperational, t0.Add(time.Minute)), t0.Add(3*time.Minute))
	incs, err := e.svc.List(t.Context(), disclosure.Filter{})
	if err != nil || len(incs) != 2 {
		t.Fatalf("want two incidents, have %d (%v)", len(incs), err)
	}
	cookie := e.login("alice")
	for i, inc := range incs {
		other := incs[1-i].ID
		page := e.do("GET", "/incidents/"+inc.ID, nil, cookie)
		if want := `<a href="/incidents/` + other + `" class="concurrent">`; !strings.Contains(page.body, want) {
			t.Errorf("%s does not link to the concurrent %s", inc.ID, other)
		}
	}
}
