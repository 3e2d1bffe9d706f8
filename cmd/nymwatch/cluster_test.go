package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

// Three vantage points on loopback against one simulated network, sharing
// one real PostgreSQL and paging one real two-member Alertmanager cluster
// (issue 7):
//
//  1. an outage every vantage point sees is one operational draft (the same
//     id from every instance), first_seen the earliest agreeing
//     observation, one page in both Alertmanagers and one notification out
//     of their cluster; a confirm on b is seen by all and ends the page;
//  2. exit gateways failing from a's source address only are a path
//     problem of a (internal, naming the targets, never paged), no incident;
//  3. c, holding the page-outbox lock, stops: a and b record it
//     unreachable (internal, no page), one of them takes the lock, and a new
//     outage they both see still reaches the quorum of 2 and is paged once;
//     then that lock holder is killed mid-page: the survivor takes the
//     outbox over, the page neither drops nor repeats, and its end is
//     delivered.
func TestClusterThreeVantagePoints(t *testing.T) {
	amBin := testutil.RequireBinary(t, "Alertmanager (Debian package prometheus-alertmanager)", "prometheus-alertmanager", "alertmanager")
	pg := sharedPG.Get(t)
	dsn := pg.NewDatabase(t)
	start := time.Now()

	e := newEnv(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 3})
	cl := newCluster(t, e, dsn, pg.Password(), amBin)
	cl.logStep(start, "setup")

	// c starts first so that it takes the page-outbox lock (scenario 3
	// kills the lock holder); a and b follow.
	c := cl.start("c")
	cl.waitFor(20*time.Second, "c to hold the outbox lock", func() bool { return c.metric("nymwatch_page_outbox_leader") == "1" })
	a, b := cl.start("a"), cl.start("b")
	all := []*daemonProc{a, b, c}
	t.Cleanup(func() {
		if t.Failed() {
			cl.report()
		}
	})
	// Every vantage point reports, and every target has been seen healthy
	// (last_healthy must be known before the fault).
	cl.waitFor(30*time.Second, "all three vantage points reporting", func() bool {
		for _, p := range all {
			if p.metric("nymwatch_cluster_vantage_points_reporting") != "3" || p.metric("nymwatch_cluster_warming_up") != "0" {
				return false
			}
		}
		return true
	})
	cl.waitFor(20*time.Second, "every target observed healthy from every vantage point", func() bool {
		for _, p := range all {
			v := cl.view(p)
			if len(v.Targets) == 0 {
				return false
			}
			for _, tg := range v.Targets {
				if tg.State != "healthy" {
					return false
				}
			}
		}
		return true
	})
	if a.metric("nymwatch_page_outbox_leader") != "0" || b.metric("nymwatch_page_outbox_leader") != "0" {
		t.Fatal("more than one instance drains the page outbox")
	}
	cl.logStep(start, "three instances up")

	// Scenario 1: a true outage, seen from everywhere.
	faultAt := time.Now().UTC()
	failed, err := e.net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse())
	if err != nil || len(failed) != 4 {
		t.Fatalf("FailRole: %v %v", failed, err)
	}
	inc1 := cl.oneDisclosable(all, "")
	cl.checkOutage(inc1, faultAt, all, failed)
	cl.checkPaged(inc1)

	if code, out := b.cli(testOperatorToken, "confirm", inc1.ID); code != 0 {
		t.Fatalf("confirm on b: %d %s", code, out)
	}
	cl.waitFor(10*time.Second, "the confirm to be visible on every instance", func() bool {
		for _, p := range all {
			if i := cl.incident(p, inc1.ID); i.State != "confirmed" || i.Acknowledged == nil {
				return false
			}
		}
		return true
	})
	cl.waitPageEnded(inc1.ID)
	cl.logStep(start, "scenario 1 (true outage)")

	// The network recovers; the incident's resolved_at follows (and a later
	// outage cannot join it).
	if err := e.net.Reset(); err != nil {
		t.Fatal(err)
	}
	cl.waitFor(30*time.Second, "the outage incident to resolve", func() bool { return cl.incident(a, inc1.ID).ResolvedAt != nil })

	// Scenario 2: as many exit gateways fail, from a's address only. They
	// are the other ones: scenario 1's have changed state twice already, and
	// two more changes within classification.flapping.window would make
	// them flapping on a, held failing (a case of its own).
	var fromA []uint32
	for _, n := range e.net.NodesByRole(simnet.RoleExitGateway) {
		if !slices.Contains(failed, n.ID) && len(fromA) < len(failed) {
			fromA = append(fromA, n.ID)
		}
	}
	for _, id := range fromA {
		if err := e.net.SetFaultFrom(cl.src["a"], id, simnet.Refuse()); err != nil {
			t.Fatal(err)
		}
	}
	path := cl.waitInternal(b, "path/a", 40*time.Second, len(fromA)*3) // http, mix and ws targets of each
	if !strings.Contains(path.Title, "Path problem from a") {
		t.Errorf("path problem title %q", path.Title)
	}
	cl.checkPathEvidence(b, path.ID, fromA)
	// The path record waits out the others' hysteresis and two pulls, longer
	// than a quorum decision takes: had a's view wrongly counted, the
	// incident would exist by now.
	for _, p := range all {
		if got := cl.disclosable(p); len(got) != 1 || got[0].ID != inc1.ID {
			t.Fatalf("a path problem made a disclosable incident; %s lists %+v", p.base, got)
		}
	}
	cl.checkNoActivePage()
	for _, id := range fromA {
		if err := e.net.ClearFaultFrom(cl.src["a"], id); err != nil {
			t.Fatal(err)
		}
	}
	cl.waitFor(30*time.Second, "the path problem to resolve", func() bool { return cl.incident(a, path.ID).ResolvedAt != nil })
	cl.logStep(start, "scenario 2 (path problem)")

	// Scenario 2b: exit gateways fail from a and b but not from c: two of
	// three agree, which is the quorum. The remaining exit gateways are
	// used (the others changed state recently; more changes would make
	// them flapping). Every instance, c included, records the same one
	// draft; first_seen is the earliest of a's and b's observations.
	var fromAB []uint32
	for _, n := range e.net.NodesByRole(simnet.RoleExitGateway) {
		if !slices.Contains(failed, n.ID) && !slices.Contains(fromA, n.ID) {
			fromAB = append(fromAB, n.ID)
		}
	}
	if len(fromAB) < 2 {
		t.Fatalf("only %d exit gateways left for the two-of-three outage", len(fromAB))
	}
	faultAt = time.Now().UTC()
	for _, id := range fromAB {
		for _, vp := range []string{"a", "b"} {
			if err := e.net.SetFaultFrom(cl.src[vp], id, simnet.Refuse()); err != nil {
				t.Fatal(err)
			}
		}
	}
	incAB := cl.oneDisclosable(all, inc1.ID)
	cl.checkOutage(incAB, faultAt, []*daemonProc{a, b}, fromAB)
	cl.checkPaged(incAB)
	if code, out := c.cli(testOperatorToken, "confirm", incAB.ID); code != 0 {
		t.Fatalf("confirm on c: %d %s", code, out)
	}
	cl.waitPageEnded(incAB.ID)
	for _, id := range fromAB {
		for _, vp := range []string{"a", "b"} {
			if err := e.net.ClearFaultFrom(cl.src[vp], id); err != nil {
				t.Fatal(err)
			}
		}
	}
	cl.waitFor(30*time.Second, "the two-of-three outage to resolve", func() bool { return cl.incident(a, incAB.ID).ResolvedAt != nil })
	cl.logStep(start, "scenario 2b (two of three agree)")

	// Scenario 3: c, which holds the outbox lock, stops (SIGTERM: a clean
	// exit, which closes its PostgreSQL session and so frees the lock).
	if c.metric("nymwatch_page_outbox_leader") != "1" {
		t.Fatal("c no longer holds the outbox lock")
	}
	cl.alive = []*daemonProc{a, b}
	c.stop()
	peerDown := cl.waitInternal(a, "vantage/c", 30*time.Second, 1)
	if !strings.Contains(peerDown.Title, "Vantage point c unreachable") {
		t.Errorf("peer-down title %q", peerDown.Title)
	}
	for _, p := range cl.alive {
		if got := cl.disclosable(p); len(got) != 2 { // inc1 and incAB
			t.Fatalf("a peer down made a disclosable incident: %+v", got)
		}
	}
	cl.checkNoActivePage()
	leader := cl.waitLeader()

	// a and b still make the quorum of 2.
	faultAt = time.Now().UTC()
	if _, err := e.net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse()); err != nil {
		t.Fatal(err)
	}
	inc2 := cl.oneDisclosable(cl.alive, inc1.ID, incAB.ID)
	cl.checkOutage(inc2, faultAt, cl.alive, failed)
	cl.checkPaged(inc2)
	if l := cl.waitLeader(); l != leader {
		t.Errorf("the outbox lock moved from %s to %s without a reason", leader.base, l.base)
	}
	cl.logStep(start, "scenario 3 (c stopped: peer down, quorum of a and b)")

	// The new lock holder crashes while the page is firing (SIGKILL: its
	// session, and so the lock, ends with the process). The survivor takes
	// the outbox over: it keeps the page firing with identical labels (no
	// new notification) and delivers its end.
	survivor := a
	if leader == a {
		survivor = b
	}
	sentBefore := sample(survivor, `nymwatch_pages_sent_total{pager_kind="alertmanager"}`)
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-leader.done //nolint:errcheck // killed on purpose: its exit error is expected
	cl.alive = []*daemonProc{survivor}
	if cl.waitLeader() != survivor {
		t.Fatal("the survivor did not take the outbox lock over")
	}
	cl.waitFor(10*time.Second, "the survivor to re-send the firing page", func() bool {
		return sample(survivor, `nymwatch_pages_sent_total{pager_kind="alertmanager"}`) != sentBefore
	})
	// The behaviour under test is a timeout in Alertmanager: a wrong second
	// notification would come peer_timeout after the first, and nothing
	// observable marks its absence, so this waits out that window (the one
	// real sleep left in these tests, with the one below).
	time.Sleep(2 * amPeerTimeout)
	for _, u := range cl.amURLs {
		if ps := pages(t, u); len(ps) != 1 || ps[0].Labels["incident_id"] != inc2.ID {
			t.Errorf("after the takeover %s holds pages %+v, want the one of %s", u, ps, inc2.ID)
		}
	}
	if n := cl.notes.count(inc2.ID, "firing"); n != 1 {
		t.Errorf("after the takeover, %d notifications of the page of %s, want still 1:\n%s", n, inc2.ID, cl.notes)
	}
	if code, out := survivor.cli(testOperatorToken, "confirm", inc2.ID); code != 0 {
		t.Fatalf("confirm on the survivor: %d %s", code, out)
	}
	cl.waitPageEnded(inc2.ID)
	cl.logStep(start, "scenario 3 (lock holder killed: the survivor pages)")

	// Whatever the members' timing, the receiver ends up told each page
	// ended: the last notification about each incident says resolved.
	cl.notes.waitFor(t, 20*time.Second, inc2.ID, "resolved")
	cl.notes.waitQuiet(t, 30*time.Second, 3*amPeerTimeout)
	for _, id := range []string{inc1.ID, incAB.ID, inc2.ID} {
		if last := cl.notes.last(id); last != "resolved" {
			t.Errorf("the last notification about %s says %q, want resolved:\n%s", id, last, cl.notes)
		}
	}
	t.Logf("notifications out of the Alertmanager cluster:\n%s", cl.notes)
	for _, p := range cl.alive {
		var ids []string
		for _, i := range cl.disclosable(p) {
			ids = append(ids, i.ID)
		}
		want := []string{inc1.ID, incAB.ID, inc2.ID}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("%s lists disclosable incidents %v at the end, want %v", p.base, ids, want)
		}
		p.stop()
	}
	cl.logStep(start, "done")
}

// amPeerTimeout is the Alertmanagers' --cluster.peer-timeout: how long the
// second member waits for gossip about the first's notification.
const amPeerTimeout = 2 * time.Second

// testCluster is the shared fixture of the cluster test.
type testCluster struct {
	t        *testing.T
	e        *env
	dsn      string
	listen   map[string]string // name → host:port
	src      map[string]netip.Addr
	amURLs   []string
	notes    *notificationSink
	alive    []*daemonProc // checked for unexpected exits while waiting
	pgPwFile string
}

var vantageNames = []string{"a", "b", "c"}

// probeTimeout is the instances' probes.timeout: as long as a 1s interval
// allows, because three race-built instances starting on a small shared
// machine can starve a prober long enough to time a loopback probe out, and
// two such blips on one target make it flapping (held failing for
// classification.flapping.window).
const probeTimeout = 900 * time.Millisecond

const testClusterToken = "cluster-token-for-tests-0123456789"

func newCluster(t *testing.T, e *env, dsn, pgPassword, amBin string) *testCluster {
	t.Helper()
	cl := &testCluster{t: t, e: e, dsn: dsn, listen: map[string]string{}, src: map[string]netip.Addr{},
		pgPwFile: filepath.Join(e.dir, "pg-password")}
	writeFile(t, cl.pgPwFile, pgPassword+"\n")
	writeFile(t, filepath.Join(e.dir, "cluster-token"), testClusterToken+"\n")
	// Source addresses on 127.0.0.0/8 away from simnet's (services on
	// BaseIP, nodes on the addresses after it).
	base := e.net.BaseIP()
	for i, name := range vantageNames {
		cl.listen[name] = freeAddr(t)
		cl.src[name] = netip.AddrFrom4([4]byte{127, 0, 9, byte(i + 1)})
		for _, n := range e.net.Nodes() {
			if n.IP == cl.src[name] || base == cl.src[name] {
				t.Fatalf("source address %s is simnet's", cl.src[name])
			}
		}
	}
	cl.notes = newNotificationSink(t)
	cl.amURLs = startAlertmanagerCluster(t, e.dir, amBin, cl.notes.url)
	return cl
}

// startAlertmanagerCluster runs two Alertmanagers gossiping with each
// other; pages go to a webhook receiver that counts notifications.
func startAlertmanagerCluster(t *testing.T, dir, amBin, receiverURL string) []string {
	t.Helper()
	amConfig := fmt.Sprintf(`route:
  receiver: pager
  group_by: [alertname, incident_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: pager
    webhook_configs:
      - url: %s/am%%d
        send_resolved: true
`, receiverURL)
	web := []string{freeAddr(t), freeAddr(t)}
	gossip := []string{freeAddr(t), freeAddr(t)}
	var urls []string
	for i := range web {
		// Each member's receiver URL names it, so a duplicate says who sent it.
		cfg := filepath.Join(dir, fmt.Sprintf("alertmanager%d.yml", i))
		writeFile(t, cfg, fmt.Sprintf(amConfig, i))
		startProcess(t, amBin, "--config.file="+cfg,
			"--storage.path="+filepath.Join(dir, fmt.Sprintf("am%d", i)),
			"--web.listen-address="+web[i],
			"--cluster.listen-address="+gossip[i],
			"--cluster.peer="+gossip[1-i],
			"--cluster.peer-timeout="+amPeerTimeout.String(),
			"--cluster.gossip-interval=100ms",
			"--cluster.pushpull-interval=2s",
			"--cluster.settle-timeout=5s",
			"--cluster.reconnect-interval=1s")
		urls = append(urls, "http://"+web[i])
	}
	for _, u := range urls {
		waitHTTP(t, u+"/-/ready", 30*time.Second)
	}
	// Both members must know each other before a page counts on gossip.
	for _, u := range urls {
		testutil.Eventually(t, 30*time.Second, u+" to see both cluster members", func() bool { return amPeers(t, u) >= 2 })
	}
	return urls
}

func amPeers(t *testing.T, amURL string) int {
	t.Helper()
	resp, err := http.Get(amURL + "/api/v2/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		Cluster struct {
			Status string `json:"status"`
			Peers  []struct {
				Name string `json:"name"`
			} `json:"peers"`
		} `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0
	}
	return len(st.Cluster.Peers)
}

// config renders instance name's config: its own listen address, local
// SQLite and probe source address; the shared PostgreSQL; the two others
// as peers; both Alertmanagers.
func (cl *testCluster) config(name string) string {
	dir := filepath.Join(cl.e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		cl.t.Fatal(err)
	}
	var controls, peers string
	for _, u := range cl.e.net.ControlURLs() {
		controls += fmt.Sprintf("  - %s\n", u)
	}
	for _, peer := range vantageNames {
		if peer != name {
			peers += fmt.Sprintf("    - name: %s\n      url: http://%s\n      token_file: %s\n",
				peer, cl.listen[peer], filepath.Join(cl.e.dir, "cluster-token"))
		}
	}
	return fmt.Sprintf(`listen: %s
storage:
  driver: postgres
  path: %s
  dsn: %q
  password_file: %s
network:
  nym_api_url: %s
  refresh_interval: 5s
  allow_private_addresses: true # the simulated nodes live on 127/8
probes:
  interval: 1s
  timeout: %s
  failure_threshold: 2
  recovery_threshold: 2
  source_address: %s
services:
  - name: nym-api
    url: %s
    kind: nym-api
  - name: nymvpn-api
    url: %s
    kind: nymvpn-api
control_targets:
%sauth:
  operator_token_file: %s
  webhook_token_file: %s
cluster:
  name: %s
  quorum: 2
  token_file: %s
  pull_interval: 1s
  pull_timeout: 500ms
  peers:
%spagers:
  alertmanager:
    urls: [%s]
    resend_interval: 1s
`, cl.listen[name], filepath.Join(dir, "nymwatch.db"), cl.dsn, cl.pgPwFile,
		cl.e.net.NymAPIURL(), probeTimeout, cl.src[name], cl.e.net.NymAPIURL(), cl.e.net.NymVPNAPIURL(), controls,
		filepath.Join(cl.e.dir, "operator-token"), filepath.Join(cl.e.dir, "webhook-token"),
		name, filepath.Join(cl.e.dir, "cluster-token"), peers, strings.Join(cl.amURLs, ", "))
}

func (cl *testCluster) start(name string) *daemonProc {
	cl.t.Helper()
	cfgPath := filepath.Join(cl.e.dir, name+".yml")
	writeFile(cl.t, cfgPath, cl.config(name))
	p := startDaemonAt(cl.t, cl.listen[name], cfgPath)
	cl.alive = append(cl.alive, p)
	return p
}

func (cl *testCluster) logStep(start time.Time, what string) {
	cl.t.Logf("%6.1fs %s", time.Since(start).Seconds(), what)
}

// waitFor polls cond until it holds, failing at once if an instance that
// should run has exited.
func (cl *testCluster) waitFor(limit time.Duration, what string, cond func() bool) {
	cl.t.Helper()
	testutil.Eventually(cl.t, limit, what, func() bool {
		for _, p := range cl.alive {
			select {
			case err := <-p.done:
				p.done <- err
				cl.t.Fatalf("%s exited while waiting for %s: %v", p.base, what, err)
			default:
			}
		}
		return cond()
	})
}

// report logs what the running instances see, for a failed test (their
// logs are printed by startDaemonAt).
func (cl *testCluster) report() {
	for _, p := range cl.alive {
		select {
		case err := <-p.done:
			p.done <- err
			continue
		default:
		}
		_, body := p.get("/api/v1/incidents")
		cl.t.Logf("%s incidents: %s", p.base, body)
		var failing []string
		v, err := fetchView(p.base)
		if err != nil {
			cl.t.Log(err)
		}
		for _, tg := range v.Targets {
			if tg.State != "healthy" {
				failing = append(failing, tg.ID+" "+tg.State)
			}
		}
		cl.t.Logf("%s view, targets not healthy: %v", p.base, failing)
		_, body = p.get("/metrics")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "nymwatch_cluster_") || strings.HasPrefix(line, "nymwatch_page_outbox_leader") {
				cl.t.Logf("%s %s", p.base, line)
			}
		}
	}
	cl.t.Logf("notifications:\n%s", cl.notes)
}

// waitLeader waits until exactly one running instance holds the page
// outbox lock, and returns it.
func (cl *testCluster) waitLeader() *daemonProc {
	cl.t.Helper()
	var leader *daemonProc
	cl.waitFor(10*time.Second, "one instance to hold the outbox lock", func() bool {
		leader = nil
		for _, p := range cl.alive {
			if p.metric("nymwatch_page_outbox_leader") == "1" {
				if leader != nil {
					cl.t.Fatalf("%s and %s both hold the outbox lock", leader.base, p.base)
				}
				leader = p
			}
		}
		return leader != nil
	})
	return leader
}

func (cl *testCluster) incident(p *daemonProc, id string) incidentJSON {
	cl.t.Helper()
	code, body := p.get("/api/v1/incidents/" + id)
	if code != http.StatusOK {
		cl.t.Fatalf("GET %s/api/v1/incidents/%s: %d %s", p.base, id, code, body)
	}
	var inc incidentJSON
	if err := json.Unmarshal([]byte(body), &inc); err != nil {
		cl.t.Fatalf("incident JSON: %v: %s", err, body)
	}
	return inc
}

// disclosable lists the operational and security incidents p sees.
func (cl *testCluster) disclosable(p *daemonProc) []incidentJSON {
	return append(p.incidents("?class=operational"), p.incidents("?class=security")...)
}

// oneDisclosable waits for a disclosable incident not in skip and
// requires that every instance in ps lists the same one, and only it.
func (cl *testCluster) oneDisclosable(ps []*daemonProc, skip ...string) incidentJSON {
	cl.t.Helper()
	var inc incidentJSON
	cl.waitFor(30*time.Second, "a disclosable incident", func() bool {
		for _, i := range cl.disclosable(ps[0]) {
			if !slices.Contains(skip, i.ID) {
				inc = i
				return true
			}
		}
		return false
	})
	// Every instance reaches the verdict on its own and records it in the
	// shared store: only once each has done so could a second incident
	// exist, were the database not keeping one event one incident.
	cl.waitFor(15*time.Second, "every instance to record the outage", func() bool {
		for _, p := range ps {
			if sample(p, `nymwatch_anomalies_open{class="operational",component_kind="exit_gateways"}`) != "1" ||
				sample(p, "nymwatch_anomalies_pending") != "0" {
				return false
			}
		}
		return true
	})
	for _, p := range ps {
		var ids []string
		for _, i := range cl.disclosable(p) {
			if !slices.Contains(skip, i.ID) {
				ids = append(ids, i.ID)
			}
		}
		if len(ids) != 1 || ids[0] != inc.ID {
			cl.t.Fatalf("%s lists disclosable incidents %v, want exactly %s", p.base, ids, inc.ID)
		}
	}
	return cl.incident(ps[0], inc.ID)
}

// checkOutage: an operational exit-gateway draft whose first_seen is the
// earliest first failing observation of the vantage points in ps.
func (cl *testCluster) checkOutage(inc incidentJSON, faultAt time.Time, ps []*daemonProc, failed []uint32) {
	cl.t.Helper()
	if inc.Class != "operational" || inc.State != "draft" || inc.Component != "exit_gateways" {
		cl.t.Errorf("%s: class %q state %q component %q, want an operational exit_gateways draft", inc.ID, inc.Class, inc.State, inc.Component)
	}
	for _, id := range failed {
		if !slices.ContainsFunc(inc.Affected, func(a string) bool { return onNodes(a, []uint32{id}) }) {
			cl.t.Errorf("%s: affected %v lacks node %d", inc.ID, inc.Affected, id)
		}
	}
	// Each vantage point's own first failing observation of the failed
	// nodes, from its view (stable while the targets keep failing).
	var earliest time.Time
	for _, p := range ps {
		own := time.Time{}
		for _, tg := range cl.view(p).Targets {
			if tg.State == "failing" && tg.FirstSeen > 0 && onNodes(tg.ID, failed) {
				if fs := time.UnixMilli(tg.FirstSeen).UTC(); own.IsZero() || fs.Before(own) {
					own = fs
				}
			}
		}
		if own.IsZero() {
			cl.t.Fatalf("%s does not see the failed nodes failing", p.base)
		}
		if earliest.IsZero() || own.Before(earliest) {
			earliest = own
		}
	}
	// Views that arrive later can only move first_seen earlier.
	var got incidentJSON
	cl.waitFor(10*time.Second, "first_seen to be the earliest agreeing observation", func() bool {
		got = cl.incident(ps[0], inc.ID)
		return got.FirstSeen != nil && got.FirstSeen.Equal(earliest)
	})
	// A probe is stamped with its start: one that began up to a probe
	// timeout before the fault may see it.
	if got.FirstSeen.Before(faultAt.Add(-probeTimeout)) || got.DetectedAt == nil || got.FirstSeen.After(*got.DetectedAt) ||
		got.LastHealthy == nil || !got.LastHealthy.Before(*got.FirstSeen) {
		cl.t.Errorf("%s timestamps out of order: fault %s last_healthy %v first_seen %s detected %v", inc.ID, faultAt, got.LastHealthy, got.FirstSeen, got.DetectedAt)
	}
}

// sample returns the value of one sample of p's metrics, given with its
// labels as exposed, or "" if absent.
func sample(p *daemonProc, series string) string {
	_, body := p.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// onNodes reports whether targetID is a target of one of the nodes.
func onNodes(targetID string, nodes []uint32) bool {
	for _, id := range nodes {
		if strings.HasPrefix(targetID, fmt.Sprintf("node/%d/", id)) {
			return true
		}
	}
	return false
}

type viewJSON struct {
	Instance string `json:"instance"`
	Targets  []struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		FirstSeen int64  `json:"first_seen"`
	} `json:"targets"`
}

// view is p's own per-target view, fetched like a peer does.
func (cl *testCluster) view(p *daemonProc) viewJSON {
	cl.t.Helper()
	v, err := fetchView(p.base)
	if err != nil {
		cl.t.Fatal(err)
	}
	return v
}

func fetchView(base string) (viewJSON, error) {
	var v viewJSON
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/cluster/view", nil)
	if err != nil {
		return v, err
	}
	req.Header.Set("Authorization", "Bearer "+testClusterToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return v, fmt.Errorf("cluster view of %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("cluster view of %s: %d %s", base, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("cluster view of %s: %w", base, err)
	}
	return v, nil
}

// pages returns the active NymwatchDisclosurePending alerts of one
// Alertmanager.
func pages(t *testing.T, amURL string) []amAlert {
	var out []amAlert
	for _, a := range activeAlerts(t, amURL) {
		if a.Labels["alertname"] == "NymwatchDisclosurePending" {
			out = append(out, a)
		}
	}
	return out
}

// checkPaged: each Alertmanager holds exactly one page, for inc, with the
// same labels in both; the cluster sends one notification for it.
func (cl *testCluster) checkPaged(inc incidentJSON) {
	cl.t.Helper()
	cl.waitFor(20*time.Second, "the page in both Alertmanagers", func() bool {
		for _, u := range cl.amURLs {
			if len(pages(cl.t, u)) == 0 {
				return false
			}
		}
		return true
	})
	var first map[string]string
	for _, u := range cl.amURLs {
		ps := pages(cl.t, u)
		if len(ps) != 1 || ps[0].Labels["incident_id"] != inc.ID {
			cl.t.Fatalf("%s holds pages %+v, want one for %s", u, ps, inc.ID)
		}
		if ps[0].Labels["class"] != "operational" {
			cl.t.Errorf("page labels %v", ps[0].Labels)
		}
		if first == nil {
			first = ps[0].Labels
		} else if !maps.Equal(first, ps[0].Labels) {
			cl.t.Errorf("the Alertmanagers hold different labels for one page: %v and %v", first, ps[0].Labels)
		}
	}
	cl.notes.waitFor(cl.t, 20*time.Second, inc.ID, "firing")
	// One notification out of the cluster: the other member holds its own
	// back for peer_timeout, then drops it because gossip says the first
	// member sent it. A duplicate would come peer_timeout after the first:
	// waiting out that window of Alertmanager's is the behaviour under test.
	time.Sleep(2 * amPeerTimeout)
	if n := cl.notes.count(inc.ID, "firing"); n != 1 {
		cl.t.Errorf("%d notifications of the page of %s out of the Alertmanager cluster, want 1:\n%s", n, inc.ID, cl.notes)
	}
	// Not checked after the page ends: a member whose periodic flush began
	// within peer_timeout before the other sent "resolved" then finds a
	// notification log saying resolved, and sends its stale "firing" (then
	// "resolved" again). Alertmanager only promises the eventual state
	// (prometheus/alertmanager#2447, #4008); with group_interval 1s here
	// that window is open most of the time.
}

func (cl *testCluster) waitPageEnded(id string) {
	cl.t.Helper()
	cl.waitFor(20*time.Second, "the page of "+id+" to end in both Alertmanagers", func() bool {
		for _, u := range cl.amURLs {
			for _, a := range pages(cl.t, u) {
				if a.Labels["incident_id"] == id {
					return false
				}
			}
		}
		return true
	})
}

func (cl *testCluster) checkNoActivePage() {
	cl.t.Helper()
	for _, u := range cl.amURLs {
		if ps := pages(cl.t, u); len(ps) != 0 {
			cl.t.Errorf("%s holds pages %+v, want none", u, ps)
		}
	}
}

// waitInternal waits for an open internal incident whose component is
// component, affecting at least affected targets.
func (cl *testCluster) waitInternal(p *daemonProc, component string, limit time.Duration, affected int) incidentJSON {
	cl.t.Helper()
	var inc incidentJSON
	cl.waitFor(limit, "an internal "+component+" record", func() bool {
		for _, i := range p.incidents("?class=internal") {
			if i.Component == component && i.ResolvedAt == nil && len(i.Affected) >= affected {
				inc = i
				return true
			}
		}
		return false
	})
	if inc.State != "internal" {
		cl.t.Errorf("%s (%s) is in state %q, want internal", inc.ID, component, inc.State)
	}
	return inc
}

// checkPathEvidence: the path record names the failed nodes and says who
// sees them working.
func (cl *testCluster) checkPathEvidence(p *daemonProc, id string, failed []uint32) {
	cl.t.Helper()
	code, body := p.get("/api/v1/incidents/" + id)
	if code != http.StatusOK {
		cl.t.Fatalf("GET %s: %d", id, code)
	}
	var full struct {
		Anomalies []struct {
			Evidence []struct {
				TargetID string `json:"target_id"`
				NodeID   uint32 `json:"node_id"`
				Detail   string `json:"detail"`
			} `json:"evidence"`
		} `json:"anomalies"`
	}
	if err := json.Unmarshal([]byte(body), &full); err != nil {
		cl.t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for _, a := range full.Anomalies {
		for _, ev := range a.Evidence {
			if !slices.Contains(failed, ev.NodeID) {
				cl.t.Errorf("path evidence names node %d (%s), not one failed from a", ev.NodeID, ev.TargetID)
			}
			seen[ev.NodeID] = true
		}
	}
	for _, id := range failed {
		if !seen[id] {
			cl.t.Errorf("path evidence lacks node %d: %s", id, body)
		}
	}
}

// notificationSink is the Alertmanagers' webhook receiver: it records
// every notification, in order of arrival.
type notificationSink struct {
	url   string
	mu    sync.Mutex
	notes []notification
}

type notification struct {
	at       time.Time
	member   string // which Alertmanager: /am0 or /am1
	status   string // firing or resolved
	incident string
}

func newNotificationSink(t *testing.T) *notificationSink {
	s := &notificationSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Status string `json:"status"`
			Alerts []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if len(msg.Alerts) == 0 {
			http.Error(w, "no alerts", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		// Grouped by incident_id: one notification is about one incident.
		s.notes = append(s.notes, notification{at: time.Now(), member: r.URL.Path, status: msg.Status,
			incident: msg.Alerts[0].Labels["incident_id"]})
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *notificationSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, n := range s.notes {
		fmt.Fprintf(&b, "  %s %s %s %s\n", n.at.UTC().Format(time.StampMilli), n.member, n.incident, n.status)
	}
	return b.String()
}

func (s *notificationSink) count(id, status string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := 0
	for _, n := range s.notes {
		if n.incident == id && n.status == status {
			c++
		}
	}
	return c
}

// last is the status of the latest notification about incident id.
func (s *notificationSink) last(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.notes) - 1; i >= 0; i-- {
		if s.notes[i].incident == id {
			return s.notes[i].status
		}
	}
	return ""
}

func (s *notificationSink) waitFor(t *testing.T, limit time.Duration, id, status string) {
	t.Helper()
	if !testutil.Poll(t, limit, func() bool { return s.count(id, status) > 0 }) {
		t.Fatalf("no %s notification for %s within %s; got:\n%s", status, id, limit, s)
	}
}

// waitQuiet waits until no notification has arrived for quiet.
func (s *notificationSink) waitQuiet(t *testing.T, limit, quiet time.Duration) {
	t.Helper()
	if !testutil.Poll(t, limit, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		var latest time.Time
		if len(s.notes) > 0 {
			latest = s.notes[len(s.notes)-1].at
		}
		return time.Since(latest) >= quiet
	}) {
		t.Fatalf("notifications kept coming for %s:\n%s", limit, s)
	}
}
