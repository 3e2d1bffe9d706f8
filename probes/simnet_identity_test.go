package probes

import (
	"context"
	"testing"

	"github.com/nymwatch/nymwatch/internal/simnet"
)

// The simulated nodes have real ed25519 keys: discovered through the
// simulated nym-api, each node's host-information verifies against its bond;
// Impersonate and BadSignature are caught as such; a node that is down or
// answers garbage is not a security signal.
func TestIdentityProberAgainstSimnet(t *testing.T) {
	n, targets := startSimnet(t, simnet.ListenPerAddress)
	m := NewMulti(ProberOptions{AllowPrivate: true})
	probe := func(tg *Target) Result {
		ctx, cancel := context.WithTimeout(t.Context(), simOKTimeout)
		defer cancel()
		return m.Probe(ctx, tg)
	}
	checked := 0
	for _, tg := range targets {
		if tg.Kind != KindIdentity {
			continue
		}
		checked++
		if tg.Node.Identity != n.IdentityKey(tg.Node.NodeID) {
			t.Fatalf("node %d bonded as %q in the directory, simnet says %q", tg.Node.NodeID, tg.Node.Identity, n.IdentityKey(tg.Node.NodeID))
		}
		if r := probe(tg); !r.OK {
			t.Errorf("healthy node %d: %s %q", tg.Node.NodeID, r.Reason, r.Detail)
		}
	}
	if checked == 0 {
		t.Fatal("no identity targets discovered")
	}
	gw := n.NodesByRole(simnet.RoleExitGateway)[0]
	tg := nodeTargets(targets, gw.ID)[KindIdentity]
	for _, tc := range []struct {
		fault simnet.Fault
		want  Reason
	}{
		{simnet.Impersonate(), ReasonIdentityMismatch},
		{simnet.BadSignature(), ReasonBadSignature},
		{simnet.Garbage(), ReasonBadBody},
		{simnet.HTTP5xx(503), ReasonHTTPStatus},
		{simnet.Refuse(), ReasonNetwork},
		{simnet.None(), ReasonNone},
	} {
		if err := n.SetFault(gw.ID, tc.fault); err != nil {
			t.Fatal(err)
		}
		r := probe(tg)
		// Refuse may surface as refused or as a reset, depending on timing.
		if tc.want == ReasonNetwork && (r.Reason == ReasonRefused || r.Reason == ReasonNetwork) {
			continue
		}
		if r.Reason != tc.want || r.OK != (tc.want == ReasonNone) {
			t.Errorf("%s: ok=%v reason=%q detail=%q, want %q", tc.fault, r.OK, r.Reason, r.Detail, tc.want)
		}
		if r.Reason.Security() != (tc.want == ReasonIdentityMismatch || tc.want == ReasonBadSignature) {
			t.Errorf("%s: security=%v", tc.fault, r.Reason.Security())
		}
	}
	// The other ports of an impersonating node stay healthy: only the
	// identity check tells.
	if err := n.SetFault(gw.ID, simnet.Impersonate()); err != nil {
		t.Fatal(err)
	}
	if r := probe(nodeTargets(targets, gw.ID)[KindNodeHTTP]); !r.OK {
		t.Errorf("impersonating node's health: %s %q", r.Reason, r.Detail)
	}
}
