package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// startProcess runs an external server for the test's lifetime.
func startProcess(t *testing.T, name string, args ...string) *testutil.Buffer {
	t.Helper()
	out := &testutil.Buffer{}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
	return out
}

func waitHTTP(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	testutil.Eventually(t, limit, url+" to answer 200", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	EndsAt time.Time `json:"endsAt"`
}

func activeAlerts(t *testing.T, amURL string) []amAlert {
	t.Helper()
	resp, err := http.Get(amURL + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	return alerts
}

// The whole loop with the real binaries: Prometheus scrapes nymwatch and
// fires a rule; Alertmanager delivers it to nymwatch's webhook; nymwatch
// opens a security draft and pages that same Alertmanager; a human
// confirms and the page ends.
func TestPrometheusAlertmanagerLoop(t *testing.T) {
	prom := testutil.RequireBinary(t, "Prometheus (Debian package prometheus)", "prometheus")
	am := testutil.RequireBinary(t, "Alertmanager (Debian package prometheus-alertmanager)", "prometheus-alertmanager", "alertmanager")
	e := newEnv(t, smallNetwork())
	amAddr := freeAddr(t)
	amURL := "http://" + amAddr
	promAddr := freeAddr(t)

	// Alertmanager: rule alerts go to nymwatch's webhook (with the bearer
	// token from a file), nymwatch's own pages to a null receiver.
	amCfg := filepath.Join(e.dir, "alertmanager.yml")
	writeFile(t, amCfg, fmt.Sprintf(`route:
  receiver: nymwatch
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="NymwatchDisclosurePending"']
      receiver: pager
receivers:
  - name: nymwatch
    webhook_configs:
      - url: http://%s/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials_file: %s
  - name: pager
`, e.listen, filepath.Join(e.dir, "webhook-token")))
	startProcess(t, am, "--config.file="+amCfg, "--storage.path="+filepath.Join(e.dir, "am-data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	waitHTTP(t, amURL+"/-/ready", 30*time.Second)

	// nymwatch pages the same Alertmanager.
	cfgPath := e.writeConfig(e.config("1s", fmt.Sprintf("pagers:\n  alertmanager:\n    url: %s\n    resend_interval: 2s\n", amURL)))
	p := startDaemon(t, e, cfgPath)

	// Prometheus scrapes nymwatch; the rule is on one of its metrics and
	// carries class=security the way a team's rule would.
	rules := filepath.Join(e.dir, "rules.yml")
	writeFile(t, rules, `groups:
  - name: nymwatch-loop
    interval: 1s
    rules:
      - alert: ZkNymIssuanceKeyExposed
        expr: sum(nymwatch_probe_targets) > 0
        labels:
          class: security
          service: zk-nym
        annotations:
          summary: zk-nym issuance key may be exposed
`)
	promCfg := filepath.Join(e.dir, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%s]
scrape_configs:
  - job_name: nymwatch
    static_configs:
      - targets: [%s]
`, rules, amAddr, e.listen))
	startProcess(t, prom, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(e.dir, "prom-data"),
		"--web.listen-address="+promAddr)
	waitHTTP(t, "http://"+promAddr+"/-/ready", 60*time.Second)

	var inc incidentJSON
	p.waitFor(90*time.Second, "a security draft from the Prometheus rule", func() bool {
		for _, i := range p.incidents("?class=security") {
			inc = i
			return true
		}
		return false
	})
	if inc.State != "draft" || inc.Architecture == "" {
		t.Errorf("incident %+v", inc)
	}
	if !strings.Contains(inc.Title+inc.Reason, "ZkNymIssuanceKeyExposed") {
		t.Errorf("incident does not name the alert: %q / %q", inc.Title, inc.Reason)
	}

	// The page is active in Alertmanager and stays active across re-sends.
	pageActive := func() bool {
		for _, a := range activeAlerts(t, amURL) {
			if a.Labels["alertname"] == "NymwatchDisclosurePending" && a.Labels["incident_id"] == inc.ID {
				return a.Labels["class"] == "security"
			}
		}
		return false
	}
	p.waitFor(30*time.Second, "the page active in Alertmanager", pageActive)
	sent := p.sum("nymwatch_pages_sent_total", map[string]string{"pager_kind": "alertmanager"})
	p.waitFor(30*time.Second, "two re-sends of the page", func() bool {
		return p.sum("nymwatch_pages_sent_total", map[string]string{"pager_kind": "alertmanager"}) >= sent+2
	})
	if !pageActive() {
		t.Fatal("the page did not stay active across re-sends")
	}

	if code, out := p.cli(testOperatorToken, "confirm", inc.ID); code != 0 {
		t.Fatalf("confirm: %d %s", code, out)
	}
	p.waitFor(30*time.Second, "the page to end in Alertmanager", func() bool { return !pageActive() })
	p.stop()
}
