package detector

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// cluster is three vantage points on fake time: "a" is the detector under
// test (its anomalies are recorded by the embedded harness), "b" and "c"
// are real detectors whose View is handed to a's PeerView every round, as
// the cluster puller does.
type cluster struct {
	*harness
	peers map[string]*Detector
	down  map[string]bool // peers whose pull fails this round
}

func clusterOpts(self string, peers ...string) Options {
	return Options{Cluster: ClusterOptions{Self: self, Peers: peers, Quorum: 2}}
}

func newCluster(t *testing.T, targets []*probes.Target) *cluster {
	t.Helper()
	c := &cluster{harness: newHarness(t, clusterOpts("a", "b", "c"), targets), peers: map[string]*Detector{}, down: map[string]bool{}}
	for _, name := range []string{"b", "c"} {
		d := New(Options{Cluster: ClusterOptions{Self: name}}) // a peer's own view needs no cluster of its own
		d.SetTargets(targets)
		c.peers[name] = d
	}
	return c
}

// round probes every target from every vantage point (fn says what vp sees
// of t), hands the peers' views to a half a second later (or records the
// pull as failed), and evaluates a one second after the probes.
func (c *cluster) round(fn func(vp string, t *probes.Target) outcome) []Anomaly {
	c.t.Helper()
	for _, t := range c.targets {
		o := fn("a", t)
		if o == notProbed {
			continue
		}
		c.d.Observe(probes.Result{Target: t, OK: o.ok, Reason: o.reason, Latency: o.latency, Detail: "from a", At: c.at})
	}
	for _, name := range slices.Sorted(maps.Keys(c.peers)) {
		p := c.peers[name]
		for _, t := range c.targets {
			o := fn(name, t)
			if o == notProbed {
				continue
			}
			p.Observe(probes.Result{Target: t, OK: o.ok, Reason: o.reason, Latency: o.latency, Detail: "from " + name, At: c.at})
		}
		p.Evaluate(c.at.Add(time.Second))
		pulled := c.at.Add(500 * time.Millisecond)
		if c.down[name] {
			c.d.PeerFailed(name, errors.New("connection refused"), pulled)
		} else {
			c.d.PeerView(name, p.View(pulled), pulled)
		}
	}
	out := c.eval(c.at.Add(time.Second))
	c.at = c.at.Add(step)
	return out
}

func (c *cluster) rounds(n int, fn func(vp string, t *probes.Target) outcome) {
	c.t.Helper()
	for range n {
		c.round(fn)
	}
}

// seenBy makes ids fail as seen from the listed vantage points only.
func seenBy(vps string, ids ...string) func(string, *probes.Target) outcome {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return func(vp string, t *probes.Target) outcome {
		if set[t.ID] && strings.Contains(vps, vp) {
			return down
		}
		return up
	}
}

func allUpFrom(string, *probes.Target) outcome { return up }

// notProbed: the vantage point makes no observation of the target.
var notProbed = outcome{latency: -1}

func TestQuorumTwoOfThreeAgree(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.rounds(2, allUpFrom) // r0, r1
	// b sees gateways 1-4 fail from r2, a from r3; c never does.
	bad := idRange(1, 4)
	c.round(seenBy("b", bad...))      // r2
	c.rounds(5, seenBy("ab", bad...)) // r3..r7
	if got := c.disclosable(); len(got) != 1 {
		t.Fatalf("want exactly one disclosable anomaly, got %v: %s", got, c.dump())
	}
	a := c.one("exit_gateways")
	if a.Class != ClassOperational || !a.Open() {
		t.Fatalf("exit_gateways: %s open=%v: %s", a.Class, a.Open(), a.Reason)
	}
	if !a.FirstSeen.Equal(roundAt(2)) || !a.LastHealthy.Equal(roundAt(1)) {
		t.Errorf("first_seen %v last_healthy %v, want b's first failure %v and last good %v", a.FirstSeen, a.LastHealthy, roundAt(2), roundAt(1))
	}
	if len(a.Evidence) != 4 || !strings.Contains(a.Evidence[0].Detail, "seen failing from a, b") || !a.Evidence[0].Since.Equal(roundAt(2)) {
		t.Errorf("evidence %+v", a.Evidence)
	}
	for _, comp := range []string{"path/a", "path/b", "path/c", "vantage/b", "vantage/c"} {
		if got := c.byComponent(comp); len(got) != 0 {
			t.Errorf("%s opened while two of three agreed: %s", comp, c.dump())
		}
	}
	st := c.d.ClusterStatus()
	if !st.Enabled || st.Quorum != 2 || st.Reporting != 3 || st.Failing != 4 || st.Warming {
		t.Errorf("status %+v", st)
	}

	// a recovers first (first good r8), b two rounds later: the quorum
	// broke when a recovered.
	c.rounds(2, seenBy("b", bad...)) // r8, r9
	c.rounds(3, allUpFrom)           // r10..r12
	a = c.one("exit_gateways")
	if a.Open() || !a.ResolvedAt.Equal(roundAt(8)) {
		t.Errorf("resolved_at %v open=%v, want %v (a's first good observation, when fewer than 2 saw it failing)", a.ResolvedAt, a.Open(), roundAt(8))
	}
	// b's lagging recovery is not a path problem.
	if got := c.byComponent("path/b"); len(got) != 0 {
		t.Errorf("b's recovery lag recorded as a path problem: %s", c.dump())
	}
}

func TestQuorumOneOfThreeIsAPathProblem(t *testing.T) {
	c := newCluster(t, join([]*probes.Target{svcT("nym-api")}, gateways(1, 20, probes.RoleExitGateway, "FR")))
	c.rounds(2, allUpFrom)
	bad := append(idRange(1, 6), "service/nym-api")
	c.rounds(6, seenBy("a", bad...)) // r2..r7: only a
	if len(c.order) != 0 {
		t.Fatalf("recorded before Wait (3m from the first failure): %s", c.dump())
	}
	c.round(seenBy("a", bad...)) // r8: 3m1s
	if got := c.disclosable(); len(got) != 0 {
		t.Fatalf("one vantage point of three paged: %v: %s", got, c.dump())
	}
	for _, comp := range []string{"exit_gateways", "service/nym-api", "country/FR"} {
		if got := c.byComponent(comp); len(got) != 0 {
			t.Errorf("%s opened on one vantage point's view: %s", comp, c.dump())
		}
	}
	p := c.one("path/a")
	if p.Class != ClassInternal || p.Architecture != ArchCentralized || !p.Open() {
		t.Fatalf("path/a: %+v", p)
	}
	if p.Title != "Path problem from a to 7 targets" {
		t.Errorf("title %q", p.Title)
	}
	containsAll(t, "reason", p.Reason, "7 target(s) seen failing from a", "while b, c see(s) them working", "never paged")
	if !p.FirstSeen.Equal(roundAt(2)) || len(p.Evidence) != 7 || len(p.Affected) != 7 {
		t.Errorf("first_seen %v evidence %d affected %v", p.FirstSeen, len(p.Evidence), p.Affected)
	}
	for _, ev := range p.Evidence {
		if !strings.Contains(ev.Detail, "healthy as seen from b, c") || ev.Reason != "timeout" {
			t.Errorf("evidence %+v", ev)
		}
	}
	if st := c.d.ClusterStatus(); st.Disagreements["a"] != 7 || st.Disagreements["b"] != 0 || st.Failing != 0 {
		t.Errorf("status %+v", st)
	}

	// The path recovers: resolved at a's first good observation, and the
	// reason does not claim a user-impact verdict.
	c.rounds(3, allUpFrom) // r9..r11
	p = c.one("path/a")
	if p.Open() || !p.ResolvedAt.Equal(roundAt(9)) {
		t.Errorf("path/a resolved_at %v open=%v", p.ResolvedAt, p.Open())
	}
	if strings.Contains(p.Reason, "user-impact") {
		t.Errorf("reason %q", p.Reason)
	}
}

func TestQuorumPathNamesOnlyWitnessesOfHealth(t *testing.T) {
	// c stops probing gateways 1-5 (its verdict stays "healthy" from
	// before): only b, which saw them working after a saw them fail, is
	// named as disagreeing.
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.rounds(2, allUpFrom)
	bad := idRange(1, 5)
	c.rounds(7, func(vp string, t *probes.Target) outcome {
		switch {
		case !slices.Contains(bad, t.ID):
			return up
		case vp == "a":
			return down
		case vp == "c":
			return notProbed
		}
		return up
	})
	p := c.one("path/a")
	containsAll(t, "reason", p.Reason, "while b see(s) them working")
	for _, ev := range p.Evidence {
		if !strings.HasSuffix(ev.Detail, "healthy as seen from b") {
			t.Errorf("evidence %+v", ev)
		}
	}
}

func TestQuorumPeerMinorityRecordedUnderThatPeer(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleEntryGateway, "DE"))
	c.rounds(2, allUpFrom)
	c.rounds(7, seenBy("c", idRange(1, 3)...))
	if got := c.disclosable(); len(got) != 0 {
		t.Fatalf("paged: %v", got)
	}
	p := c.one("path/c")
	if p.Title != "Path problem from c to 3 targets in DE" || len(p.Evidence) != 3 {
		t.Errorf("path/c: %q %+v", p.Title, p.Evidence)
	}
	if got := c.byComponent("path/a"); len(got) != 0 {
		t.Errorf("path/a: %s", c.dump())
	}
}

func TestQuorumPeerDownIsInternal(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.rounds(2, allUpFrom) // r0, r1
	c.down["b"] = true
	c.rounds(8, allUpFrom) // r2..r9: b's last view r1 (+0.5s) is stale after 90s
	v := c.one("vantage/b")
	if v.Class != ClassInternal || !v.Open() || v.Title != "Vantage point b unreachable" {
		t.Fatalf("vantage/b: %+v", v)
	}
	if !v.FirstSeen.Equal(roundAt(2).Add(500*time.Millisecond)) || !v.LastHealthy.Equal(roundAt(1).Add(500*time.Millisecond)) {
		t.Errorf("first_seen %v last_healthy %v", v.FirstSeen, v.LastHealthy)
	}
	if len(v.Evidence) != 1 || v.Evidence[0].Detail != "connection refused" {
		t.Errorf("evidence %+v", v.Evidence)
	}
	if len(c.order) != 1 {
		t.Errorf("a peer down opened more than its own anomaly: %s", c.dump())
	}
	if st := c.d.ClusterStatus(); st.Reporting != 2 || st.Peers[0].Up || !st.Peers[1].Up {
		t.Errorf("status %+v", st)
	}

	// With b down, a alone sees gateways fail and c disagrees: a path
	// problem, not an outage.
	c.rounds(7, seenBy("a", idRange(1, 5)...))
	if got := c.disclosable(); len(got) != 0 {
		t.Fatalf("paged with b down: %v: %s", got, c.dump())
	}
	if p := c.one("path/a"); !p.Open() {
		t.Errorf("path/a not open")
	}
	// a and c now agree: quorum reached without b.
	c.rounds(4, seenBy("ac", idRange(1, 5)...))
	if got := c.byComponent("exit_gateways"); len(got) != 1 || got[0].Class != ClassOperational {
		t.Fatalf("a and c agree, want one operational exit_gateways: %s", c.dump())
	}

	// b is back: its anomaly resolves at the first successful pull.
	back := c.at.Add(500 * time.Millisecond)
	c.down["b"] = false
	c.round(seenBy("abc", idRange(1, 5)...))
	v = c.one("vantage/b")
	if v.Open() || !v.ResolvedAt.Equal(back) {
		t.Errorf("vantage/b resolved_at %v open=%v, want %v", v.ResolvedAt, v.Open(), back)
	}
}

func TestQuorumLostWitnessKeepsFailureOpen(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	bad := idRange(1, 5)
	c.rounds(2, allUpFrom)
	c.rounds(4, seenBy("ab", bad...)) // r2..r5
	a := c.one("exit_gateways")
	if a.Class != ClassOperational {
		t.Fatalf("%s", c.dump())
	}
	// b, a witness, becomes unreachable: the failure stays (losing a
	// witness is not evidence of recovery), and first_seen is unchanged.
	c.down["b"] = true
	c.rounds(6, seenBy("ab", bad...)) // r6..r11
	a = c.one("exit_gateways")
	if !a.Open() || !a.FirstSeen.Equal(roundAt(2)) {
		t.Fatalf("lost witness closed the failure: %s", c.dump())
	}
	// a recovers: now only b's silent vote remains, below the quorum.
	c.rounds(3, allUpFrom) // r12..r14
	a = c.one("exit_gateways")
	if a.Open() || !a.ResolvedAt.Equal(roundAt(12)) {
		t.Errorf("resolved_at %v open=%v, want %v", a.ResolvedAt, a.Open(), roundAt(12))
	}
}

func TestQuorumUnconfirmedWhenTooFewReport(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.rounds(2, allUpFrom)
	c.down["b"], c.down["c"] = true, true
	c.rounds(10, seenBy("a", idRange(1, 5)...))
	if got := c.disclosable(); len(got) != 0 {
		t.Fatalf("paged alone: %v", got)
	}
	p := c.one("path/a")
	if !strings.HasPrefix(p.Title, "Unconfirmed failures seen from a") {
		t.Errorf("title %q", p.Title)
	}
	containsAll(t, "reason", p.Reason, "confirmed by no other vantage point", "1 of 3 report, quorum 2")
	if len(c.byComponent("vantage/b")) != 1 || len(c.byComponent("vantage/c")) != 1 {
		t.Errorf("peers down not recorded: %s", c.dump())
	}
	v := c.one("vantage/b")
	containsAll(t, "vantage/b reason", v.Reason, "no target can reach the quorum")
}

func TestQuorumThreeOfThree(t *testing.T) {
	// Quorum 3: two of three agreeing is a path problem of both.
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.d.Reconfigure(Options{Cluster: ClusterOptions{Self: "a", Peers: []string{"b", "c"}, Quorum: 3}})
	c.rounds(2, allUpFrom)
	c.rounds(7, seenBy("ab", idRange(1, 5)...))
	if got := c.disclosable(); len(got) != 0 {
		t.Fatalf("paged: %v", got)
	}
	if len(c.byComponent("path/a")) != 1 || len(c.byComponent("path/b")) != 1 || len(c.byComponent("exit_gateways")) != 0 {
		t.Fatalf("want path problems of a and b only: %s", c.dump())
	}
	c.rounds(3, seenBy("abc", idRange(1, 5)...))
	if got := c.byComponent("exit_gateways"); len(got) != 1 || got[0].Class != ClassOperational || !got[0].FirstSeen.Equal(roundAt(2)) {
		t.Fatalf("all three agree: want one operational anomaly from r2: %s", c.dump())
	}
	if p := c.one("path/a"); p.Open() || !strings.Contains(p.Reason, "confirmed by a quorum") {
		t.Errorf("path/a: open=%v %q", p.Open(), p.Reason)
	}
}

func TestQuorumOneWithoutPeersIsSingleInstance(t *testing.T) {
	// Quorum options without peers change nothing.
	gws := gateways(1, 20, probes.RoleExitGateway, "FR")
	plain := newHarness(t, Options{}, gws)
	named := newHarness(t, Options{Cluster: ClusterOptions{Self: "a", Quorum: 1}}, gws)
	for _, h := range []*harness{plain, named} {
		h.rounds(2, allUp)
		h.rounds(5, failing(idRange(1, 4)...))
		h.rounds(3, allUp)
	}
	if len(plain.log) == 0 || len(plain.log) != len(named.log) {
		t.Fatalf("emissions differ: %d vs %d", len(plain.log), len(named.log))
	}
	for i := range plain.log {
		p, n := plain.log[i], named.log[i]
		if p.ID != n.ID || p.Class != n.Class || p.Reason != n.Reason || !p.FirstSeen.Equal(n.FirstSeen) || !p.ResolvedAt.Equal(n.ResolvedAt) {
			t.Errorf("emission %d differs:\n%+v\n%+v", i, p, n)
		}
	}
	if st := named.d.ClusterStatus(); st.Enabled {
		t.Errorf("status %+v", st)
	}
}

// TestQuorumSurvivesRestart restores the saved snapshot itself; that the
// database gives it back row for row is internal/detectorstore's
// TestSnapshotRoundTrip.
func TestQuorumSurvivesRestart(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	bad := idRange(1, 5)
	c.rounds(2, allUpFrom)
	c.round(seenBy("b", bad...))
	c.rounds(4, seenBy("ab", bad...))
	before := c.one("exit_gateways")
	if before.Class != ClassOperational {
		t.Fatalf("%s", c.dump())
	}
	snap, err := c.d.Snapshot(c.at)
	if err != nil {
		t.Fatal(err)
	}
	loaded := snap

	// A new process: same options, restored state, no peer views yet.
	d := New(clusterOpts("a", "b", "c"))
	d.SetTargets(c.targets)
	if err := d.Restore(loaded); err != nil {
		t.Fatal(err)
	}
	c.d = d
	c.byID, c.order, c.log = map[string]Anomaly{}, nil, nil
	// The first evaluation runs before any peer view arrives.
	out := c.eval(c.at)
	if len(out) != 1 || out[0].ID != before.ID || !out[0].Open() || !out[0].FirstSeen.Equal(before.FirstSeen) {
		t.Fatalf("after restore, want the same open anomaly re-emitted, got %+v", out)
	}
	if st := d.ClusterStatus(); !st.Warming {
		t.Errorf("status %+v, want warming", st)
	}
	c.rounds(3, seenBy("ab", bad...))
	for _, a := range c.log {
		if a.ID != before.ID || !a.Open() || !a.FirstSeen.Equal(roundAt(2)) {
			t.Errorf("after restart: %+v", a)
		}
	}
	if got := c.byComponent("vantage/b"); len(got) != 0 {
		t.Errorf("restart recorded a peer as unreachable: %s", c.dump())
	}
}

func TestQuorumWarmupEndsAfterStaleAfter(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.down["b"], c.down["c"] = true, true // never answer after the start
	c.rounds(3, allUpFrom)                // r0..r2: 61s since start
	if len(c.order) != 0 {
		t.Fatalf("opened during warm-up: %s", c.dump())
	}
	c.rounds(2, allUpFrom) // r3, r4: 91s
	if len(c.byComponent("vantage/b")) != 1 || len(c.byComponent("vantage/c")) != 1 {
		t.Fatalf("want both peers recorded unreachable after warm-up: %s", c.dump())
	}
	// Never reached: since is the first failed pull.
	if v := c.one("vantage/b"); !v.FirstSeen.Equal(roundAt(0).Add(500*time.Millisecond)) || !v.LastHealthy.IsZero() {
		t.Errorf("vantage/b first_seen %v last_healthy %v", v.FirstSeen, v.LastHealthy)
	}
}

func TestQuorumReconfigureRemovesPeer(t *testing.T) {
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.rounds(2, allUpFrom)
	c.down["b"] = true
	c.rounds(6, allUpFrom)
	if v := c.one("vantage/b"); !v.Open() {
		t.Fatal("vantage/b not open")
	}
	c.d.Reconfigure(Options{Cluster: ClusterOptions{Self: "a", Peers: []string{"c"}, Quorum: 2}})
	delete(c.peers, "b")
	c.rounds(4, allUpFrom)
	v := c.one("vantage/b")
	if v.Open() || !strings.Contains(v.Reason, "vantage point removed from the cluster") {
		t.Errorf("vantage/b after removal: open=%v %q", v.Open(), v.Reason)
	}
}

func TestQuorumRemovedWitnessesTakeTheirVotes(t *testing.T) {
	// b and c agree, a never sees it; then both leave the cluster.
	c := newCluster(t, gateways(1, 20, probes.RoleExitGateway, "FR"))
	c.rounds(2, allUpFrom)
	c.rounds(4, seenBy("bc", idRange(1, 5)...))
	if got := c.byComponent("exit_gateways"); len(got) != 1 || got[0].Class != ClassOperational {
		t.Fatalf("%s", c.dump())
	}
	c.d.Reconfigure(Options{Cluster: ClusterOptions{Self: "a", Peers: []string{"d"}, Quorum: 2}})
	c.peers = map[string]*Detector{}
	c.rounds(5, allUpFrom) // warm-up (d never answers), then evaluated
	a := c.one("exit_gateways")
	if a.Open() || !strings.Contains(a.Reason, "resolved without a recovery: vantage point removed from the cluster") {
		t.Errorf("open=%v reason %q", a.Open(), a.Reason)
	}
}

func TestView(t *testing.T) {
	targets := join([]*probes.Target{svcT("nym-api"), ctrlT("one.one.one.one")}, gateways(1, 3, probes.RoleExitGateway, "FR"))
	h := newHarness(t, Options{Cluster: ClusterOptions{Self: "ams-1"}}, targets)
	h.round(allUp)                                  // r0
	h.rounds(3, failing("service/nym-api", nid(2))) // r1..r3
	h.d.SetTargets(append(targets, nodeT(9, probes.RoleEntryGateway, 0, "DE")))
	now := h.at
	v := h.d.View(now)
	if v.Instance != "ams-1" || !v.GeneratedAt.Equal(now) {
		t.Errorf("view header %q %v", v.Instance, v.GeneratedAt)
	}
	var ids []string
	byID := map[string]TargetView{}
	for _, tv := range v.Targets {
		ids = append(ids, tv.ID)
		byID[tv.ID] = tv
	}
	want := []string{nid(1), nid(2), nid(3), nid(9), "service/nym-api"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v (sorted, controls excluded)", ids, want)
	}
	svc := byID["service/nym-api"]
	if svc.State != ViewFailing || !svc.FirstSeen.Equal(roundAt(1)) || !svc.LastHealthy.Equal(roundAt(0)) ||
		svc.Reason != "timeout" || !svc.LastObserved.Equal(roundAt(3)) {
		t.Errorf("failing service: %+v", svc)
	}
	if g := byID[nid(1)]; g.State != ViewHealthy || !g.LastHealthy.Equal(roundAt(3)) || !g.FirstSeen.IsZero() {
		t.Errorf("healthy gateway: %+v", g)
	}
	if g := byID[nid(9)]; g.State != ViewUnknown || !g.LastObserved.IsZero() {
		t.Errorf("never observed: %+v", g)
	}
	h.rounds(2, allUp) // r4, r5: recovered at r4
	if g := h.d.View(h.at).Targets[1]; g.ID != nid(2) || g.State != ViewHealthy || !g.RecoveredAt.Equal(roundAt(4)) {
		t.Errorf("recovered gateway: %+v", g)
	}
}

func TestViewUnknownWhileCutOff(t *testing.T) {
	// Gateway 1 fails long before the monitor is cut off; in the first
	// cut-off round the others are still healthy by hysteresis. Cut off, a
	// vantage point can tell nothing of any of them.
	targets := join([]*probes.Target{ctrlT("one.one.one.one"), ctrlT("dns.google")}, gateways(1, 20, probes.RoleExitGateway, "FR"))
	h := newHarness(t, Options{Cluster: ClusterOptions{Self: "a"}}, targets)
	h.rounds(2, allUp)
	h.rounds(4, failing(nid(1)))
	if v := h.d.View(h.at); v.Targets[0].State != ViewFailing {
		t.Fatalf("before the cut-off: %+v", v.Targets[0])
	}
	h.round(func(*probes.Target) outcome { return down })
	for _, tv := range h.d.View(h.at).Targets {
		if tv.State != ViewUnknown {
			t.Fatalf("cut off, yet %s is %s", tv.ID, tv.State)
		}
	}
	h.rounds(3, allUp)
	if v := h.d.View(h.at); v.Targets[1].State != ViewHealthy {
		t.Errorf("after the cut-off: %+v", v.Targets[1])
	}
}

func TestClusterOptionsValidate(t *testing.T) {
	bad := []ClusterOptions{
		{Peers: []string{"b"}},
		{Self: "a", Peers: []string{"a"}},
		{Self: "a", Peers: []string{"b", "b"}},
		{Self: "a", Peers: []string{"b/x"}},
		{Self: "a", Peers: []string{"b"}, Quorum: 3},
		{Self: "a", Peers: []string{"b"}, StaleAfter: -time.Second},
	}
	for _, c := range bad {
		if err := (Options{Cluster: c}).Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Options{Cluster: ClusterOptions{Self: "a", Peers: []string{"b", "c"}}}).Validate(); err != nil {
		t.Error(err)
	}
	if o := (Options{Cluster: ClusterOptions{Self: "a", Peers: []string{"b", "c", "d"}}}).withDefaults(); o.Cluster.Quorum != 3 {
		t.Errorf("default quorum of 4 = %d, want 3", o.Cluster.Quorum)
	}
}

func TestQuorumBreak(t *testing.T) {
	tests := []struct {
		holders   int
		recovered []int64
		q         int
		want      int64
	}{
		{1, []int64{10}, 2, 10},
		{0, []int64{20, 10}, 2, 10},     // both in one evaluation: broke at the first
		{0, []int64{30, 10, 20}, 2, 20}, // three witnesses: after the second only one fails
		{0, []int64{5}, 3, 5},           // quorum raised above the witnesses
	}
	for _, tt := range tests {
		if got := quorumBreak(tt.holders, slices.Clone(tt.recovered), tt.q); got != tt.want {
			t.Errorf("quorumBreak(%d, %v, %d) = %d, want %d", tt.holders, tt.recovered, tt.q, got, tt.want)
		}
	}
}

// benchCluster is a 10,000-target network seen by a, with b's and c's
// views (1% failing everywhere, 1% only at b) already handed over.
func benchCluster(b *testing.B) (*Detector, View) {
	b.Helper()
	var targets []*probes.Target
	for i := range 10000 {
		role := probes.RoleMixnode
		switch i % 10 {
		case 0:
			role = probes.RoleEntryGateway
		case 1:
			role = probes.RoleExitGateway
		}
		targets = append(targets, nodeT(uint32(i+1), role, i%3+1, []string{"DE", "FR", "NL", "US"}[i%4]))
	}
	d := New(clusterOpts("a", "b", "c"))
	d.SetTargets(targets)
	peer := New(Options{Cluster: ClusterOptions{Self: "b"}})
	peer.SetTargets(targets)
	for r := range 4 {
		at := t0.Add(time.Duration(r) * step)
		for i, t := range targets {
			ok := i%100 != 0
			d.Observe(probes.Result{Target: t, OK: ok, Reason: probes.ReasonTimeout, At: at})
			peer.Observe(probes.Result{Target: t, OK: ok && i%100 != 1, Reason: probes.ReasonTimeout, At: at})
		}
	}
	now := t0.Add(4 * step)
	v := peer.View(now)
	d.PeerView("b", v, now)
	d.PeerView("c", v, now)
	return d, v
}

func BenchmarkView10k(b *testing.B) {
	d, _ := benchCluster(b)
	now := t0.Add(4 * step)
	b.ReportAllocs()
	for b.Loop() {
		_ = d.View(now)
	}
}

func BenchmarkPeerView10k(b *testing.B) {
	d, v := benchCluster(b)
	now := t0.Add(4 * step)
	b.ReportAllocs()
	for b.Loop() {
		d.PeerView("b", v, now)
	}
}

func BenchmarkEvaluateQuorum10k(b *testing.B) {
	d, _ := benchCluster(b)
	now := t0.Add(4 * step)
	d.Evaluate(now)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		d.Evaluate(now)
	}
}
