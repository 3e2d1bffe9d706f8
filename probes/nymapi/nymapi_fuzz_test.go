package nymapi

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/probes"
)

// Seed corpora: the reference fixtures, added from their one copy, plus
// broken variants in testdata/fuzz/<FuzzName>/; `go test` runs them all as
// regular tests.

func FuzzDecodeDescribed(f *testing.F) {
	for _, name := range []string{"nym-api_v1_nym-nodes_described.json", "nym-api_v2_nym-nodes_described.json"} {
		f.Add(testutil.Fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := DecodeDescribed(body)
		if err != nil {
			if items != nil {
				t.Fatal("items returned with an error")
			}
			return
		}
		d := buildDirectory(dirInputs{described: items})
		if len(d.Nodes)+d.Skipped != len(items) {
			t.Fatalf("%d nodes + %d skipped != %d items", len(d.Nodes), d.Skipped, len(items))
		}
		seen := map[uint32]bool{}
		for _, n := range d.Nodes {
			dtCheckNodeInvariants(t, n)
			if seen[n.NodeID] {
				t.Fatalf("duplicate node %d", n.NodeID)
			}
			seen[n.NodeID] = true
		}
		for _, tg := range probes.BuildTargets(d.Nodes, nil, nil, nil) {
			host, _, err := net.SplitHostPort(tg.Address)
			if err != nil || host == "" {
				t.Fatalf("target %s: bad address %q: %v", tg.ID, tg.Address, err)
			}
		}
	})
}

func dtCheckNodeInvariants(t *testing.T, n probes.Node) {
	t.Helper()
	if n.NodeID == 0 || !dirValidBase58Key(n.Identity) {
		t.Fatalf("invalid node kept: %+v", n)
	}
	if len(n.Hosts) == 0 {
		t.Fatalf("node %d without hosts", n.NodeID)
	}
	for _, h := range n.Hosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.String() != h || ip.Zone() != "" {
				t.Fatalf("node %d: non-canonical IP %q", n.NodeID, h)
			}
		} else if dirNormHostname(h) != h {
			t.Fatalf("node %d: bad host %q", n.NodeID, h)
		}
	}
	if len(n.HTTPPorts) == 0 || !slices.Contains(n.HTTPPorts, probes.DefaultNodeHTTPPort) || slices.Contains(n.HTTPPorts, 0) {
		t.Fatalf("node %d: http ports %v", n.NodeID, n.HTTPPorts)
	}
	if u := slices.Compact(slices.Clone(n.HTTPPorts)); len(u) != len(n.HTTPPorts) {
		t.Fatalf("node %d: duplicate http ports %v", n.NodeID, n.HTTPPorts)
	}
	if n.MixPort == 0 {
		t.Fatalf("node %d: no mix port", n.NodeID)
	}
	if n.Declared.Entry != (n.WSPort != 0) {
		t.Fatalf("node %d: ws port %d with entry=%v", n.NodeID, n.WSPort, n.Declared.Entry)
	}
	if n.Country != "" && dirNormCountry(n.Country) != n.Country {
		t.Fatalf("node %d: country %q", n.NodeID, n.Country)
	}
}

func FuzzDecodeSkimmed(f *testing.F) {
	for _, name := range []string{
		"nym-api_v1_unstable_nym-nodes_skimmed.json",
		"nym-api_v2_unstable_nym-nodes_skimmed.json",
		"nym-api_v2_unstable_nym-nodes_skimmed_exit-gateways.json",
		"nym-api_v2_unstable_nym-nodes_skimmed_no-updates.json",
		"nym-api_v2_unstable_nym-nodes_semi-skimmed.json",
		"nym-api_v3_unstable_nym-nodes_semi-skimmed.json",
	} {
		f.Add(testutil.Fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := DecodeSkimmed(body)
		if err != nil {
			return
		}
		for _, n := range s.Nodes {
			switch n.Role.Role {
			case probes.RoleEntryGateway, probes.RoleExitGateway, probes.RoleStandby, probes.RoleInactive:
				if n.Role.Layer != 0 {
					t.Fatalf("node %d: %s with layer %d", n.NodeID, n.Role.Role, n.Role.Layer)
				}
			case probes.RoleMixnode:
				if n.Role.Layer < 1 || n.Role.Layer > 3 {
					t.Fatalf("node %d: mixnode layer %d", n.NodeID, n.Role.Layer)
				}
			default:
				t.Fatalf("node %d: role %q", n.NodeID, n.Role.Role)
			}
			if p := float64(n.Performance); p < 0 || p > 1 || p != p {
				t.Fatalf("node %d: performance %v", n.NodeID, p)
			}
		}
		if s.Status == "fresh" && s.Fresh == nil {
			t.Fatal("fresh status without interval")
		}
	})
}
