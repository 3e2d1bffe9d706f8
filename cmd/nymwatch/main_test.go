package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
	"github.com/nymwatch/nymwatch/internal/store/pgtest"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// The tests here drive the real binary through the external contract:
// commands, config file, signals, HTTP.
var binary string

// sharedPG is one private PostgreSQL for the whole test binary, started by
// the first test that needs it (each takes its own database).
var sharedPG pgtest.Shared

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nymwatch-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nymwatch")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build nymwatch:", err)
		os.Exit(1)
	}
	code := m.Run()
	sharedPG.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const (
	testOperatorToken = "operator-token-for-tests-0123456789"
	testWebhookToken  = "webhook-token-for-tests-0123456789"
)

// env is one test's simulated network and config directory.
type env struct {
	t      *testing.T
	dir    string
	listen string
	net    *simnet.Network
}

func newEnv(t *testing.T, opts simnet.Options) *env {
	t.Helper()
	n, err := simnet.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); n.Close() })
	e := &env{t: t, dir: t.TempDir(), listen: freeAddr(t), net: n}
	writeFile(t, filepath.Join(e.dir, "operator-token"), testOperatorToken+"\n")
	writeFile(t, filepath.Join(e.dir, "webhook-token"), testWebhookToken+"\n")
	return e
}

func smallNetwork() simnet.Options {
	return simnet.Options{EntryGateways: 4, ExitGateways: 5, Mixnodes: [3]int{2, 2, 2}, Seed: 7}
}

// config renders a config for the simulated network; extra is appended
// (it may hold pagers and other top-level sections).
func (e *env) config(probeInterval string, extra string) string {
	controls := ""
	for _, u := range e.net.ControlURLs() {
		controls += fmt.Sprintf("  - %s\n", u)
	}
	return fmt.Sprintf(`listen: %s
storage:
  path: %s
network:
  nym_api_url: %s
  refresh_interval: 5s
  allow_private_addresses: true # the simulated nodes live on 127/8
probes:
  interval: %s
  timeout: 500ms
  failure_threshold: 2
  recovery_threshold: 2
services:
  - name: nym-api
    url: %s
    kind: nym-api
  - name: nymvpn-api
    url: %s
    kind: nymvpn-api
control_targets:
%sauth:
  operator_token_file: operator-token
  webhook_token_file: webhook-token
%s`, e.listen, filepath.Join(e.dir, "nymwatch.db"), e.net.NymAPIURL(), probeInterval,
		e.net.NymAPIURL(), e.net.NymVPNAPIURL(), controls, extra)
}

func (e *env) writeConfig(content string) string {
	p := filepath.Join(e.dir, "nymwatch.yml")
	writeFile(e.t, p, content)
	return p
}

// daemonProc is a running nymwatch.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	stderr *testutil.Buffer
	done   chan error
	// token reads the incidents API; empty means testOperatorToken.
	token string
}

func startDaemon(t *testing.T, e *env, cfgPath string) *daemonProc {
	t.Helper()
	return startDaemonEnv(t, e, cfgPath)
}

// startDaemonEnv starts nymwatch with extra environment variables.
func startDaemonEnv(t *testing.T, e *env, cfgPath string, extraEnv ...string) *daemonProc {
	t.Helper()
	return startDaemonAt(t, e.listen, cfgPath, extraEnv...)
}

// startDaemonAt starts nymwatch with a config that listens on listen (for
// tests running several instances) and waits until it is ready.
func startDaemonAt(t *testing.T, listen, cfgPath string, extraEnv ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(binary, "run", "--config", cfgPath, "--log.level", "debug")
	cmd.Env = append(os.Environ(), extraEnv...)
	p := &daemonProc{t: t, cmd: cmd, base: "http://" + listen, stderr: &testutil.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done //nolint:errcheck // killed on purpose: its exit error is expected
		}
		if t.Failed() {
			t.Logf("nymwatch output:\n%s", p.stderr.String())
		}
	})
	p.waitFor(30*time.Second, "ready", func() bool {
		code, _ := p.get("/-/ready")
		return code == http.StatusOK
	})
	return p
}

// get fetches path; the incidents API is read with the operator token, as
// the CLI does (drafts are private unless web.public_read).
func (p *daemonProc) get(path string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	if strings.HasPrefix(path, "/api/v1/incidents") {
		tok := p.token
		if tok == "" {
			tok = testOperatorToken
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *daemonProc) waitFor(limit time.Duration, what string, cond func() bool) {
	p.t.Helper()
	testutil.Eventually(p.t, limit, what, func() bool {
		select {
		case err := <-p.done:
			p.t.Fatalf("nymwatch exited while waiting for %s: %v", what, err)
		default:
		}
		return cond()
	})
}

// sum adds up the samples of metric name whose labels include every pair
// in match (all of name's samples for a nil match). A daemon that does not
// answer counts as 0.
func (p *daemonProc) sum(name string, match map[string]string) float64 {
	_, body := p.get("/metrics")
	total := 0.0
lines:
	for _, line := range strings.Split(body, "\n") {
		series, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		metric, labels, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		for k, want := range match {
			if !strings.Contains(","+labels, ","+k+`="`+want+`"`) {
				continue lines
			}
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			total += f
		}
	}
	return total
}

// waitAllUp waits until every exit gateway of the network has been probed
// up and none down, so each has a last_healthy before a fault is injected.
func (p *daemonProc) waitAllUp(e *env) {
	p.t.Helper()
	exits := float64(len(e.net.NodesByRole(simnet.RoleExitGateway)))
	p.waitFor(30*time.Second, "every exit gateway probed up", func() bool {
		// A node has one or more targets (node API, mixnet port, …).
		return p.sum("nymwatch_targets", map[string]string{"role": "exit_gateway", "state": "up"}) >= exits &&
			p.sum("nymwatch_targets", map[string]string{"role": "exit_gateway", "state": "down"}) == 0
	})
}

// metric returns the value of an unlabelled sample, or "" if absent.
func (p *daemonProc) metric(name string) string {
	_, body := p.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (p *daemonProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// stop sends SIGTERM and requires a clean exit within a bound.
func (p *daemonProc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("nymwatch exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("nymwatch did not exit within 30s of SIGTERM")
	}
}

type incidentJSON struct {
	ID           string     `json:"id"`
	Class        string     `json:"class"`
	State        string     `json:"state"`
	Title        string     `json:"title"`
	Component    string     `json:"component"`
	Architecture string     `json:"architecture"`
	Reason       string     `json:"reason"`
	Affected     []string   `json:"affected"`
	LastHealthy  *time.Time `json:"last_healthy"`
	FirstSeen    *time.Time `json:"first_seen"`
	DetectedAt   *time.Time `json:"detected_at"`
	Acknowledged *time.Time `json:"acknowledged_at"`
	ResolvedAt   *time.Time `json:"resolved_at"`
}

func (p *daemonProc) incidents(query string) []incidentJSON {
	p.t.Helper()
	code, body := p.get("/api/v1/incidents" + query)
	if code != http.StatusOK {
		p.t.Fatalf("GET incidents: %d %s", code, body)
	}
	var out struct {
		Incidents []incidentJSON `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		p.t.Fatalf("incidents JSON: %v: %s", err, body)
	}
	return out.Incidents
}

// cli runs "nymwatch incidents ..." against the daemon.
func (p *daemonProc) cli(token string, args ...string) (int, string) {
	cmd := exec.Command(binary, append([]string{"incidents", "--server", p.base}, args...)...)
	cmd.Env = append(os.Environ(), "NYMWATCH_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		p.t.Fatal(err)
	}
	return 0, string(out)
}

type pageJSON struct {
	IncidentID string            `json:"incident_id"`
	Labels     map[string]string `json:"labels"`
	Resolved   bool              `json:"resolved"`
}

// pageSink is a webhook pager receiver recording every page.
type pageSink struct {
	url   string
	mu    sync.Mutex
	pages []pageJSON
}

func newPageSink(t *testing.T) *pageSink {
	s := &pageSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Page pageJSON `json:"page"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.pages = append(s.pages, body.Page)
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *pageSink) waitFor(t *testing.T, limit time.Duration, match func(pageJSON) bool) pageJSON {
	t.Helper()
	var found pageJSON
	if testutil.Poll(t, limit, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.pages {
			if match(p) {
				found = p
				return true
			}
		}
		return false
	}) {
		return found
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("no matching page within %s; got %+v", limit, s.pages)
	return pageJSON{}
}
