package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

func TestCheckConfigAcceptsExample(t *testing.T) {
	out, err := exec.Command(binary, "check-config", "--config", "../../config/example.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("check-config rejected config/example.yaml: %v\n%s", err, out)
	}
}

func TestCheckConfigNamesFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "broken.yml")
	writeFile(t, p, `listen: 127.0.0.1:9478
probes:
  interval: 3x
  failure_threshold: -1
  intervall: 5s
network:
  nym_api_url: "http//no-scheme"
auth:
  operator_token_file: /nonexistent/token
`)
	cmd := exec.Command(binary, "check-config", "--config", p)
	out, err := cmd.CombinedOutput()
	ee, ok := errors.AsType[*exec.ExitError](err)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("check-config accepted a broken config (err %v):\n%s", err, out)
	}
	for _, want := range []string{
		p + ":3: probes.interval",
		p + ":4: probes.failure_threshold",
		p + ":5: probes.intervall",
		p + ":7: network.nym_api_url",
		p + ":9: auth.operator_token_file",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range [][]string{{"--help"}, {"run", "--help"}, {"check-config", "--help"}, {"demo", "--help"}, {"version", "--help"}, {"incidents", "--help"}, {"maintenance", "--help"}} {
		out, err := exec.Command(binary, c...).CombinedOutput()
		if err != nil {
			t.Errorf("nymwatch %v: %v\n%s", c, err, out)
		}
		if !strings.Contains(strings.ToLower(string(out)), "usage") {
			t.Errorf("nymwatch %v prints no usage:\n%s", c, out)
		}
		if strings.Contains(string(out), "panic") {
			t.Errorf("nymwatch %v panics in its usage:\n%s", c, out)
		}
	}
}

// The daemon serves valid exposition, reloads a valid config on SIGHUP,
// rejects an invalid one keeping the old, and exits 0 on SIGTERM.
func TestRunReloadAndStop(t *testing.T) {
	promtool := testutil.RequireBinary(t, "promtool (Debian package prometheus)", "promtool")
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", ""))
	p := startDaemon(t, e, cfgPath)

	code, body := p.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"nymwatch_build_info{", "go_goroutines", "process_open_fds", "nymwatch_config_last_reload_successful 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if code, _ := p.get("/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy: %d", code)
	}
	// The web console is served too, behind its login.
	if code, body := p.get("/"); code != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Errorf("GET / (console, via its login page): %d\n%.300s", code, body)
	}

	// A valid new config: a different probe interval is applied in place.
	e.writeConfig(e.config("2s", ""))
	p.signal(syscall.SIGHUP)
	p.waitFor(10*time.Second, "reload log", func() bool { return strings.Contains(p.stderr.String(), "config reloaded") })
	if v := p.metric("nymwatch_config_last_reload_successful"); v != "1" {
		t.Errorf("after a valid reload, reload_successful = %q", v)
	}
	if !strings.Contains(p.stderr.String(), "interval=2s") {
		t.Errorf("the new probe interval was not applied")
	}

	// An invalid one is rejected, the old one kept, the gauge says so.
	e.writeConfig(e.config("3x", ""))
	p.signal(syscall.SIGHUP)
	p.waitFor(10*time.Second, "reload failure gauge", func() bool { return p.metric("nymwatch_config_last_reload_successful") == "0" })
	if !strings.Contains(p.stderr.String(), "probes.interval") {
		t.Errorf("the rejected reload's error does not name the key")
	}
	if code, _ := p.get("/-/ready"); code != http.StatusOK {
		t.Errorf("not ready after a rejected reload: %d", code)
	}
	if strings.Contains(p.stderr.String(), testOperatorToken) || strings.Contains(p.stderr.String(), testWebhookToken) {
		t.Error("a token appears in the logs")
	}
	_, body = p.get("/metrics")
	if strings.Contains(body, testOperatorToken) {
		t.Error("a token appears in the metrics")
	}
	p.stop()
}

// The thin end-to-end path: exit gateways fail in the simulated network →
// probes → an operational, decentralized draft with correct timestamps →
// a page → a human confirms through the CLI → the page ends.
func TestOutageDraftPageConfirm(t *testing.T) {
	pages := newPageSink(t)
	e := newEnv(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 3})
	cfgPath := e.writeConfig(e.config("1s", "pagers:\n  webhook:\n    url: "+pages.url+"\n  alertmanager:\n    resend_interval: 1s\n"))
	p := startDaemon(t, e, cfgPath)

	// Let every target be seen healthy first (last_healthy must be known).
	p.waitAllUp(e)
	faultAt := time.Now().UTC()
	failed, err := e.net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse())
	if err != nil || len(failed) != 4 {
		t.Fatalf("FailRole: %v %v", failed, err)
	}

	var inc incidentJSON
	p.waitFor(30*time.Second, "a draft incident", func() bool {
		for _, i := range p.incidents("?state=draft") {
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
	// first_seen is the first failing observation: after the fault, before
	// detection, and after the last healthy one. A probe's time is its start
	// (in ms): one already in flight when the fault lands (started at most
	// probes.timeout, 500ms, earlier) sees it, so that much before the fault
	// is still right.
	if inc.FirstSeen.Before(faultAt.Add(-500*time.Millisecond)) || inc.FirstSeen.After(*inc.DetectedAt) || !inc.LastHealthy.Before(*inc.FirstSeen) {
		t.Errorf("timestamps out of order: fault %s last_healthy %s first_seen %s detected %s", faultAt, inc.LastHealthy, inc.FirstSeen, inc.DetectedAt)
	}
	if inc.FirstSeen.Sub(faultAt) > 3*time.Second {
		t.Errorf("first_seen %s is %s after the fault; probes run every 1s", inc.FirstSeen, inc.FirstSeen.Sub(faultAt))
	}
	if len(inc.Affected) < 4 {
		t.Errorf("affected %v, want the 4 failing exit gateways' targets", inc.Affected)
	}

	pg := pages.waitFor(t, 20*time.Second, func(pg pageJSON) bool { return pg.IncidentID == inc.ID && !pg.Resolved })
	if pg.Labels["alertname"] != "NymwatchDisclosurePending" || pg.Labels["class"] != "operational" {
		t.Errorf("page labels %v", pg.Labels)
	}

	// No token: refused, state unchanged.
	if code, out := p.cli("", "confirm", inc.ID); code == 0 {
		t.Errorf("confirm without a token succeeded: %s", out)
	}
	if code, out := p.cli("wrong-token-wrong-token-wrong", "confirm", inc.ID); code == 0 {
		t.Errorf("confirm with a wrong token succeeded: %s", out)
	}
	if code, out := p.cli(testOperatorToken, "confirm", inc.ID); code != 0 {
		t.Fatalf("confirm: %d %s", code, out)
	}
	var got incidentJSON
	code, body := p.get("/api/v1/incidents/" + inc.ID)
	if code != http.StatusOK {
		t.Fatalf("GET incident: %d", code)
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.State != "confirmed" || got.Acknowledged == nil {
		t.Errorf("after confirm: state %q acknowledged_at %v", got.State, got.Acknowledged)
	}
	pages.waitFor(t, 20*time.Second, func(pg pageJSON) bool { return pg.IncidentID == inc.ID && pg.Resolved })

	code, report := p.get("/api/v1/incidents/" + inc.ID + "/report.md")
	if code != http.StatusOK || !strings.Contains(report, inc.ID) {
		t.Errorf("report.md: %d\n%s", code, report)
	}
	// Confirming twice is an illegal transition.
	if code, _ := p.cli(testOperatorToken, "confirm", inc.ID); code == 0 {
		t.Error("a second confirm succeeded")
	}
	p.stop()
}

// A restart in the middle of an outage keeps the same incident and
// first_seen, and does not open a duplicate.
func TestRestartMidOutageKeepsIncident(t *testing.T) {
	e := newEnv(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 5})
	cfgPath := e.writeConfig(e.config("1s", ""))
	p := startDaemon(t, e, cfgPath)
	p.waitAllUp(e)
	failed, err := e.net.FailRole(simnet.RoleExitGateway, 0.5, simnet.Refuse())
	if err != nil {
		t.Fatal(err)
	}
	var before incidentJSON
	p.waitFor(30*time.Second, "a draft incident", func() bool {
		for _, i := range p.incidents("?state=draft") {
			before = i
			return true
		}
		return false
	})
	p.stop()

	p = startDaemon(t, e, cfgPath)
	// Several probe rounds and evaluations of the outage by the restarted
	// daemon: past the failure threshold (2) for every failed node, and
	// the anomaly open again. A duplicate incident would have opened by
	// then.
	p.waitFor(30*time.Second, "the restarted daemon to see the outage again", func() bool {
		return p.sum("nymwatch_probes_total", map[string]string{"result": "fail"}) >= float64(4*len(failed)) &&
			p.sum("nymwatch_anomalies_open", map[string]string{"class": "operational"}) >= 1
	})
	drafts := p.incidents("?class=operational")
	if len(drafts) != 1 {
		t.Fatalf("after restart %d operational incidents, want the same 1: %+v", len(drafts), drafts)
	}
	if drafts[0].ID != before.ID || !drafts[0].FirstSeen.Equal(*before.FirstSeen) {
		t.Errorf("after restart: %s first_seen %s; before: %s first_seen %s", drafts[0].ID, drafts[0].FirstSeen, before.ID, before.FirstSeen)
	}
	p.stop()
}

// A second daemon on the same store fails clearly instead of sharing it.
func TestSecondInstanceOnSameStoreRefused(t *testing.T) {
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", ""))
	p := startDaemon(t, e, cfgPath)
	other := strings.Replace(e.config("1s", ""), "listen: "+e.listen, "listen: "+freeAddr(t), 1)
	otherPath := filepath.Join(e.dir, "other.yml")
	writeFile(t, otherPath, other)
	out, err := exec.Command(binary, "run", "--config", otherPath).CombinedOutput()
	if err == nil {
		t.Fatalf("second instance started on the same store:\n%s", out)
	}
	if !strings.Contains(string(out), "in use by another nymwatch") {
		t.Errorf("unclear error:\n%s", out)
	}
	p.stop()
	if _, err := os.Stat(filepath.Join(e.dir, "nymwatch.db")); err != nil {
		t.Error(err)
	}
}

// Under systemd (Type=notify) nymwatch says READY=1 once it serves, pings
// the watchdog while healthy, and says STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", ""))
	sock := filepath.Join(e.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	states := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(states)
				return
			}
			states <- string(buf[:n])
		}
	}()
	p := startDaemonEnv(t, e, cfgPath, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	want := []string{"READY=1", "WATCHDOG=1"}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case s := <-states:
			if s == want[0] {
				want = want[1:]
			}
		case <-deadline:
			t.Fatalf("did not receive %v", want)
		}
	}
	p.stop()
	for s := range drain(states, 2*time.Second) {
		if s == "STOPPING=1" {
			return
		}
	}
	t.Error("no STOPPING=1 on SIGTERM")
}

// drain forwards what arrives on c until it is quiet for quiet.
func drain(c <-chan string, quiet time.Duration) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		for {
			select {
			case s, ok := <-c:
				if !ok {
					return
				}
				out <- s
			case <-time.After(quiet):
				return
			}
		}
	}()
	return out
}
