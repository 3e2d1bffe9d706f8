package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/internal/daemontest"
	"github.com/nymwatch/nymwatch/internal/simnet"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// These tests run daemon.Run in the test process (so its coverage counts),
// against the simulated network. They are the in-process twins of
// cmd/nymwatch's tests of the built binary, which stay: those check the
// command line, signals and the process from the outside.

// limit bounds each wait: a safety net against a hang, not a timed
// assertion. The waits themselves end as soon as their condition holds.
const limit = 60 * time.Second

type page struct {
	IncidentID string            `json:"incident_id"`
	Labels     map[string]string `json:"labels"`
	Resolved   bool              `json:"resolved"`
}

// pager is a webhook pager receiver recording every page.
type pager struct {
	url   string
	mu    sync.Mutex
	pages []page
}

func newPager(t *testing.T) *pager {
	t.Helper()
	p := &pager{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Page page `json:"page"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.pages = append(p.pages, body.Page)
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// find returns the first page matching match.
func (p *pager) find(match func(page) bool) (page, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pg := range p.pages {
		if match(pg) {
			return pg, true
		}
	}
	return page{}, false
}

type incident struct {
	ID           string     `json:"id"`
	Class        string     `json:"class"`
	State        string     `json:"state"`
	Component    string     `json:"component"`
	Architecture string     `json:"architecture"`
	Affected     []string   `json:"affected"`
	LastHealthy  *time.Time `json:"last_healthy"`
	FirstSeen    *time.Time `json:"first_seen"`
	DetectedAt   *time.Time `json:"detected_at"`
	Acknowledged *time.Time `json:"acknowledged_at"`
}

// call makes one request to the daemon's API with the operator token.
func call(t *testing.T, d *daemontest.Daemon, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, d.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+daemontest.OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func incidents(t *testing.T, d *daemontest.Daemon, query string) []incident {
	t.Helper()
	code, body := call(t, d, http.MethodGet, "/api/v1/incidents"+query)
	if code != http.StatusOK {
		t.Fatalf("GET incidents: %d %s", code, body)
	}
	var out struct {
		Incidents []incident `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("incidents JSON: %v: %s", err, body)
	}
	return out.Incidents
}

// sum adds up the gauge or counter values of metric family name whose
// labels include every pair in match.
func sum(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue metrics
				}
			}
			total += value(m)
		}
	}
	return total
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}

// allUp waits until every exit gateway target has been probed up, so
// last_healthy is known for each before a fault.
func allUp(t *testing.T, d *daemontest.Daemon) {
	t.Helper()
	exits := len(d.Net.NodesByRole(simnet.RoleExitGateway))
	testutil.Eventually(t, limit, "every exit gateway probed up", func() bool {
		// One node can have several targets (node API, mixnet port, …):
		// at least one up per node, and none down.
		up := sum(t, d.Registry, "nymwatch_targets", map[string]string{"role": "exit_gateway", "state": "up"})
		down := sum(t, d.Registry, "nymwatch_targets", map[string]string{"role": "exit_gateway", "state": "down"})
		return up >= float64(exits) && down == 0
	})
}

// TestRunOutageDraftPageConfirm is the in-process twin of cmd/nymwatch's
// TestOutageDraftPageConfirm: the daemon becomes ready, exit gateways fail
// in the simulated network, an operational draft with ordered timestamps
// is paged, a human confirms it over the API, the page ends, and the
// daemon shuts down cleanly when its context is cancelled.
func TestRunOutageDraftPageConfirm(t *testing.T) {
	pages := newPager(t)
	d := daemontest.Start(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 3},
		func(c *config.Config) {
			c.Pagers.Webhook.URL = pages.url
			c.Pagers.Alertmanager.ResendInterval = time.Second
		})

	testutil.Eventually(t, limit, "/-/ready", func() bool {
		code, _ := call(t, d, http.MethodGet, "/-/ready")
		return code == http.StatusOK
	})
	allUp(t, d)

	faultAt := time.Now().UTC()
	failed, err := d.Net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse())
	if err != nil || len(failed) != 4 {
		t.Fatalf("FailRole: %v %v", failed, err)
	}

	var inc incident
	testutil.Eventually(t, limit, "a draft incident", func() bool {
		for _, i := range incidents(t, d, "?state=draft") {
			inc = i
			return true
		}
		return false
	})
	if inc.Class != "operational" || inc.Architecture != "decentralized" || inc.Component != "exit_gateways" {
		t.Errorf("draft: class %q architecture %q component %q, want operational decentralized exit_gateways", inc.Class, inc.Architecture, inc.Component)
	}
	if inc.FirstSeen == nil || inc.DetectedAt == nil || inc.LastHealthy == nil {
		t.Fatalf("draft lacks timestamps: %+v", inc)
	}
	// first_seen is the first failing observation: after the fault, not
	// after detection, and after the last healthy observation.
	if inc.FirstSeen.Before(faultAt.Add(-time.Millisecond)) || inc.FirstSeen.After(*inc.DetectedAt) || !inc.LastHealthy.Before(*inc.FirstSeen) {
		t.Errorf("timestamps out of order: fault %s last_healthy %s first_seen %s detected %s", faultAt, inc.LastHealthy, inc.FirstSeen, inc.DetectedAt)
	}
	if len(inc.Affected) < 4 {
		t.Errorf("affected %v, want the 4 failing exit gateways' targets", inc.Affected)
	}

	var pg page
	testutil.Eventually(t, limit, "the draft paged", func() bool {
		var ok bool
		pg, ok = pages.find(func(p page) bool { return p.IncidentID == inc.ID && !p.Resolved })
		return ok
	})
	if pg.Labels["alertname"] != "NymwatchDisclosurePending" || pg.Labels["class"] != "operational" {
		t.Errorf("page labels %v", pg.Labels)
	}

	if code, body := call(t, d, http.MethodPost, "/api/v1/incidents/"+inc.ID+"/confirm"); code != http.StatusOK {
		t.Fatalf("confirm: %d %s", code, body)
	}
	code, body := call(t, d, http.MethodGet, "/api/v1/incidents/"+inc.ID)
	var got incident
	if code != http.StatusOK {
		t.Fatalf("GET incident: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.State != "confirmed" || got.Acknowledged == nil {
		t.Errorf("after confirm: state %q acknowledged_at %v", got.State, got.Acknowledged)
	}
	testutil.Eventually(t, limit, "the page ended", func() bool {
		_, ok := pages.find(func(p page) bool { return p.IncidentID == inc.ID && p.Resolved })
		return ok
	})
	if code, report := call(t, d, http.MethodGet, "/api/v1/incidents/"+inc.ID+"/report.md"); code != http.StatusOK || !strings.Contains(report, inc.ID) {
		t.Errorf("report.md: %d\n%s", code, report)
	}

	assertCleanShutdown(t, d)
}

// assertCleanShutdown cancels the daemon's context and checks that Run
// returned nil, that the API no longer answers, and that the store was
// closed and its lock released: the store opens again, with the incidents
// written before the shutdown.
func assertCleanShutdown(t *testing.T, d *daemontest.Daemon) {
	t.Helper()
	if err := d.Stop(); err != nil {
		t.Fatalf("daemon.Run after cancel: %v, want nil (a clean shutdown)", err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if resp, err := c.Get(d.URL + "/-/healthy"); err == nil {
		resp.Body.Close()
		t.Errorf("the API still answers after shutdown: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, d.StorePath)
	if err != nil {
		t.Fatalf("the store does not open after shutdown (lock kept?): %v", err)
	}
	defer db.Close()
	var n int
	if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents`).Scan(&n); err != nil {
		t.Fatalf("count incidents: %v", err)
	}
	if n == 0 {
		t.Error("no incident in the store after shutdown")
	}
}

// TestRunRestartMidOutageKeepsIncident is the in-process twin of
// cmd/nymwatch's TestRestartMidOutageKeepsIncident: a daemon restarted on
// the same store in the middle of an outage keeps the one incident and its
// first_seen, and opens no duplicate once it has seen the outage again.
func TestRunRestartMidOutageKeepsIncident(t *testing.T) {
	d := daemontest.Start(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 5}, nil)
	allUp(t, d)
	failed, err := d.Net.FailRole(simnet.RoleExitGateway, 0.5, simnet.Refuse())
	if err != nil || len(failed) != 5 {
		t.Fatalf("FailRole: %v %v", failed, err)
	}
	var before incident
	testutil.Eventually(t, limit, "a draft incident", func() bool {
		for _, i := range incidents(t, d, "?state=draft") {
			before = i
			return true
		}
		return false
	})
	if before.FirstSeen == nil {
		t.Fatalf("draft without first_seen: %+v", before)
	}

	d = daemontest.Restart(t, d)
	// Several probe rounds and evaluations by the restarted daemon: past
	// the failure threshold (2) for every failed node, and the anomaly open
	// again. A duplicate incident would have opened by then.
	testutil.Eventually(t, limit, "the restarted daemon to see the outage again", func() bool {
		return sum(t, d.Registry, "nymwatch_probes_total", map[string]string{"result": "fail"}) >= float64(4*len(failed)) &&
			sum(t, d.Registry, "nymwatch_anomalies_open", map[string]string{"class": "operational"}) >= 1
	})
	after := incidents(t, d, "?class=operational")
	if len(after) != 1 {
		t.Fatalf("after the restart %d operational incidents, want the same 1: %+v", len(after), after)
	}
	if after[0].ID != before.ID || after[0].FirstSeen == nil || !after[0].FirstSeen.Equal(*before.FirstSeen) {
		t.Errorf("after the restart: %s first_seen %v; before: %s first_seen %s", after[0].ID, after[0].FirstSeen, before.ID, before.FirstSeen)
	}
	assertCleanShutdown(t, d)
}
