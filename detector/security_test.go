package detector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nymwatch/nymwatch/probes"
)

const (
	bondedKey   = "EfGh1Gv1CR5je8Fkit59iYK2nbkqoifMXtVdXW4QsJuP"
	impostorKey = "E7EVbvFfK64trJJ2zakM6DzdgoGabgmVbM77Spu6Cpzd"
)

// withIdentity adds each node target's identity check, as BuildTargets does.
func withIdentity(nodes []*probes.Target) []*probes.Target {
	out := append([]*probes.Target(nil), nodes...)
	for _, t := range nodes {
		n := *t.Node
		n.Identity = bondedKey
		out = append(out, &probes.Target{ID: fmt.Sprintf("node/%d/identity", n.NodeID), Kind: probes.KindIdentity,
			Address: t.Address, Node: &n})
	}
	return out
}

func identityID(n uint32) string { return fmt.Sprintf("node/%d/identity", n) }

var (
	mismatch = outcome{reason: probes.ReasonIdentityMismatch}
	badSig   = outcome{reason: probes.ReasonBadSignature}
	garbage  = outcome{reason: probes.ReasonBadBody}
)

// detailed makes results carry a realistic detail.
func (h *harness) roundDetail(fn func(*probes.Target) (outcome, string)) {
	h.t.Helper()
	for _, t := range h.targets {
		o, d := fn(t)
		h.d.Observe(probes.Result{Target: t, OK: o.ok, Reason: o.reason, Latency: o.latency, Detail: d, At: h.at})
	}
	h.eval(h.at.Add(1e9))
	h.at = h.at.Add(step)
}

// An impersonated node is a security anomaly for exactly that node, from
// its first such observation, never part of the exit-gateway count, kept
// while the node is merely down, resolved by a good observation.
func TestIdentityMismatchIsPerNodeSecurity(t *testing.T) {
	targets := withIdentity(gateways(1010, 10, probes.RoleExitGateway, "DE"))
	h := newHarness(t, Options{}, targets)
	h.rounds(2, allUp)
	imp := func(t *probes.Target) (outcome, string) {
		if t.ID == identityID(1011) {
			return mismatch, "node 1011 presents identity " + impostorKey + ", bonded as " + bondedKey + " (validly signed): possible key compromise or impersonation"
		}
		return up, ""
	}
	firstBad := h.at
	h.roundDetail(imp)
	a := h.one("identity/node/1011")
	if a.Class != ClassSecurity || a.Architecture != ArchDecentralized || !a.Open() {
		t.Fatalf("anomaly %+v, want an open decentralized security anomaly", a)
	}
	if !a.FirstSeen.Equal(firstBad) || !a.LastHealthy.Equal(firstBad.Add(-step)) {
		t.Errorf("first_seen %v last_healthy %v, want %v and %v", a.FirstSeen, a.LastHealthy, firstBad, firstBad.Add(-step))
	}
	containsAll(t, "title", a.Title, "Node 1011", "possible key compromise or impersonation")
	containsAll(t, "reason", a.Reason, "presents identity "+impostorKey, "bonded as "+bondedKey, "suspected", "confirmed by a human")
	if len(a.Affected) != 1 || a.Affected[0] != identityID(1011) || a.Evidence[0].Reason != "identity_mismatch" {
		t.Errorf("affected %v evidence %+v", a.Affected, a.Evidence)
	}
	// The node goes dark: down is not a recovery, and the gateways' group
	// sees one of ten nodes down, internal at most.
	h.rounds(4, func(t *probes.Target) outcome {
		if strings.HasPrefix(t.ID, "node/1011/") {
			return down
		}
		return up
	})
	if a := h.one("identity/node/1011"); !a.Open() || a.Class != ClassSecurity {
		t.Fatalf("security anomaly closed or demoted while the node was only down: %+v", a)
	}
	if got := h.disclosable("identity/node/1011"); len(got) != 0 {
		t.Errorf("other disclosable anomalies: %v; all: %s", got, h.dump())
	}
	// Back with its bonded key: resolved at that observation.
	okAt := h.at
	h.rounds(1, allUp)
	if a := h.one("identity/node/1011"); a.Open() || !a.ResolvedAt.Equal(okAt) {
		t.Errorf("after a good identity check: open=%v resolved_at %v, want %v", a.Open(), a.ResolvedAt, okAt)
	}
}

// Identity endpoints that are down or answer garbage are not a security
// signal, and identity checks never count toward group ratios or the
// vantage check: all ten failing is nothing.
func TestIdentityFailuresAreNotSecurityNorOutage(t *testing.T) {
	for _, o := range []outcome{down, garbage, {reason: probes.ReasonHTTPStatus}, {reason: probes.ReasonRefused}} {
		t.Run(string(o.reason), func(t *testing.T) {
			targets := withIdentity(gateways(1010, 10, probes.RoleExitGateway, "DE"))
			h := newHarness(t, Options{}, targets)
			h.rounds(2, allUp)
			h.rounds(6, func(t *probes.Target) outcome {
				if t.Kind == probes.KindIdentity {
					return o
				}
				return up
			})
			if len(h.order) != 0 {
				t.Errorf("anomalies from failing identity checks: %s", h.dump())
			}
		})
	}
}

func TestBadSignatureIsSecurity(t *testing.T) {
	targets := withIdentity(gateways(1010, 3, probes.RoleEntryGateway, "CH"))
	h := newHarness(t, Options{}, targets)
	h.rounds(1, func(t *probes.Target) outcome {
		if t.ID == identityID(1012) {
			return badSig
		}
		return up
	})
	a := h.one("identity/node/1012")
	if a.Class != ClassSecurity || !strings.Contains(a.Title, "signature does not verify") {
		t.Errorf("%+v", a)
	}
	if len(h.order) != 1 {
		t.Errorf("more than one anomaly: %s", h.dump())
	}
}

// A service whose certificate fails verification: a centralized security
// anomaly besides the outage.
func TestServiceTLSUntrustedIsSecurity(t *testing.T) {
	targets := []*probes.Target{svcT("nym-api"), svcT("vpn")}
	h := newHarness(t, Options{}, targets)
	h.rounds(1, allUp)
	for _, r := range []probes.Reason{probes.ReasonTLSUntrusted, probes.ReasonTLSPinMismatch} {
		h.rounds(3, func(t *probes.Target) outcome {
			if t.ID == "service/nym-api" {
				return outcome{reason: r}
			}
			return up
		})
	}
	a := h.one("tls/service/nym-api")
	if a.Class != ClassSecurity || a.Architecture != ArchCentralized || !a.Open() {
		t.Errorf("tls anomaly %+v", a)
	}
	if !strings.Contains(a.Title, "matching none of its pins") {
		t.Errorf("title %q does not follow the latest reason", a.Title)
	}
	if s := h.one("service/nym-api"); !s.Open() {
		t.Errorf("the service outage itself is not recorded: %+v", s)
	}
	if len(h.byComponent("tls/service/vpn")) != 0 {
		t.Errorf("healthy service flagged: %s", h.dump())
	}
	// Restart: the security state survives a snapshot.
	snap, err := h.d.Snapshot(h.at)
	if err != nil {
		t.Fatal(err)
	}
	d2 := New(Options{})
	if err := d2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a2 := range d2.Open() {
		found = found || (a2.Component == "tls/service/nym-api" && a2.ID == a.ID)
	}
	if !found {
		t.Fatalf("security anomaly lost over a restart: %+v", d2.Open())
	}
	d2.Observe(probes.Result{Target: svcT("nym-api"), OK: false, Reason: probes.ReasonTLSUntrusted, At: h.at})
	for _, a2 := range d2.Evaluate(h.at.Add(1e9)) {
		if a2.Component == "tls/service/nym-api" && (a2.ID != a.ID || !a2.Open()) {
			t.Errorf("after restart: %+v", a2)
		}
	}
}

// Nodes announcing non-public addresses are recorded (internal, one per
// node) and never counted: 3 of 10 exit gateways refused is no outage.
func TestNonPublicAddressesInternalAndUncounted(t *testing.T) {
	targets := gateways(1010, 10, probes.RoleExitGateway, "DE")
	refused := map[string]bool{nid(1010): true, nid(1011): true, nid(1012): true}
	h := newHarness(t, Options{}, targets)
	h.rounds(6, func(t *probes.Target) outcome {
		if refused[t.ID] {
			return outcome{reason: probes.ReasonPrivateAddress}
		}
		return up
	})
	for _, n := range []uint32{1010, 1011, 1012} {
		a := h.one(fmt.Sprintf("address/node/%d", n))
		if a.Class != ClassInternal || !a.Open() || !strings.Contains(a.Reason, "non-public") {
			t.Errorf("node %d: %+v", n, a)
		}
	}
	if got := h.byComponent("exit_gateways"); len(got) != 0 {
		t.Errorf("refused addresses counted as an outage: %s", h.dump())
	}
	if got := h.byComponent("country/DE"); len(got) != 0 {
		t.Errorf("refused addresses counted in the country: %s", h.dump())
	}
	// The node fixes its address: the record resolves, the node counts again.
	h.rounds(1, allUp)
	if a := h.one("address/node/1010"); a.Open() {
		t.Errorf("still open after a public address answered: %+v", a)
	}
	h.rounds(4, failing(nid(1010), nid(1011)))
	if len(h.byComponent("exit_gateways")) == 0 {
		t.Errorf("nodes back on public addresses are not counted again: %s", h.dump())
	}
}

// Without control targets, identity checks failing (say, the directory's
// nodes firewall their API) do not make nymwatch think it is cut off.
func TestIdentityChecksOutOfVantage(t *testing.T) {
	targets := withIdentity(gateways(1010, 30, probes.RoleExitGateway, "DE"))
	h := newHarness(t, Options{}, targets)
	h.rounds(1, allUp)
	// Every node's HTTP down and every identity check too: without the
	// exclusion, identity checks would not change this; but with HTTP up
	// and identity down nothing may happen at all.
	h.rounds(4, func(t *probes.Target) outcome {
		if t.Kind == probes.KindIdentity {
			return down
		}
		return up
	})
	if len(h.byComponent(compVantage)) != 0 || len(h.order) != 0 {
		t.Errorf("anomalies: %s", h.dump())
	}
}
