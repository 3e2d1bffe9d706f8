package nymapi

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// Targets built from the fixture directory (moved from probes: building the
// directory needs this package's decoders).

func TestBuildTargetsFromFixtures(t *testing.T) {
	d := dtFixtureDirectory(t, dtT0)
	// A node whose first address is IPv6, with a custom HTTP port and mix port.
	v6 := probes.Node{
		NodeID: 42, Identity: "Hm8ovXWHMy6X4CAXJ5FwgUXCmTWReu3bF3YewwZFMxxT", Role: probes.RoleEntryGateway,
		Declared: probes.DeclaredRoles{Entry: true}, Hosts: []string{"2001:db8::42", "192.0.2.42"},
		HTTPPorts: []uint16{8000, 8080}, MixPort: 1800, WSPort: 9100,
	}
	noHost := probes.Node{NodeID: 7, Identity: "x", MixPort: 1789, HTTPPorts: []uint16{8080}}
	nodes := append([]probes.Node{v6, noHost}, d.Nodes...)
	services := []probes.Service{
		{Name: "nymvpn-api", URL: "https://nymvpn.com/api", Kind: "nymvpn-api"},
		{Name: "nym-api", URL: "https://validator.nymtech.net/api", Kind: "nym-api"},
		{Name: "nym-api", URL: "https://duplicate.example/api", Kind: "nym-api"}, // duplicate name: first (by sort) wins
	}
	controls := []string{"https://www.google.com/generate_204", "https://cloudflare.com/cdn-cgi/trace"}
	staging := map[string]bool{
		"877": true, // by node id
		"Cea9o6MvrAxZbWLy1vU4yHzkM5aePT9fRNFJWpaM7SUw": true, // 2041 by identity
		"node/1399/ws": true, // one target by id
		"nymvpn-api":   true, // a service by name
		"control/https://cloudflare.com/cdn-cgi/trace": true,
	}
	got := probes.BuildTargets(nodes, services, controls, staging)

	type want struct {
		id      string
		kind    probes.Kind
		addr    string
		staging bool
	}
	wants := []want{
		{"node/42/http", probes.KindNodeHTTP, "[2001:db8::42]:8000", false},
		{"node/42/identity", probes.KindIdentity, "[2001:db8::42]:8000", false},
		{"node/42/mix", probes.KindMixPort, "[2001:db8::42]:1800", false},
		{"node/42/ws", probes.KindWSPort, "[2001:db8::42]:9100", false},
		{"node/877/http", probes.KindNodeHTTP, "192.0.2.45:8080", true},
		{"node/877/identity", probes.KindIdentity, "192.0.2.45:8080", true},
		{"node/877/mix", probes.KindMixPort, "192.0.2.45:1789", true},
		{"node/1399/http", probes.KindNodeHTTP, "203.0.113.10:8080", false},
		{"node/1399/identity", probes.KindIdentity, "203.0.113.10:8080", false},
		{"node/1399/mix", probes.KindMixPort, "203.0.113.10:1789", false},
		{"node/1399/ws", probes.KindWSPort, "203.0.113.10:9000", true},
		{"node/1502/http", probes.KindNodeHTTP, "198.51.100.77:8080", false},
		{"node/1502/identity", probes.KindIdentity, "198.51.100.77:8080", false},
		{"node/1502/mix", probes.KindMixPort, "198.51.100.77:1789", false},
		{"node/1502/ws", probes.KindWSPort, "198.51.100.77:9000", false},
		{"node/2041/http", probes.KindNodeHTTP, "198.51.100.23:8080", true},
		{"node/2041/identity", probes.KindIdentity, "198.51.100.23:8080", true},
		{"node/2041/mix", probes.KindMixPort, "198.51.100.23:1789", true},
		{"node/2041/ws", probes.KindWSPort, "198.51.100.23:9000", true},
		{"node/2210/http", probes.KindNodeHTTP, "192.0.2.77:8080", false},
		{"node/2210/identity", probes.KindIdentity, "192.0.2.77:8080", false},
		{"node/2210/mix", probes.KindMixPort, "192.0.2.77:1789", false},
		{"service/nym-api", probes.KindService, "https://validator.nymtech.net/api", false},
		{"service/nymvpn-api", probes.KindService, "https://nymvpn.com/api", true},
		{"control/https://cloudflare.com/cdn-cgi/trace", probes.KindControl, "https://cloudflare.com/cdn-cgi/trace", true},
		{"control/https://www.google.com/generate_204", probes.KindControl, "https://www.google.com/generate_204", false},
	}
	if len(got) != len(wants) {
		var ids []string
		for _, tg := range got {
			ids = append(ids, tg.ID)
		}
		t.Fatalf("%d targets %v, want %d", len(got), ids, len(wants))
	}
	for i, w := range wants {
		g := got[i]
		if g.ID != w.id || g.Kind != w.kind || g.Address != w.addr || g.Staging != w.staging {
			t.Errorf("target %d = {%s %s %s staging=%v}, want %+v", i, g.ID, g.Kind, g.Address, g.Staging, w)
		}
		if _, _, err := net.SplitHostPort(g.Address); (g.Kind == probes.KindNodeHTTP || g.Kind == probes.KindMixPort || g.Kind == probes.KindWSPort) && err != nil {
			t.Errorf("%s: address %q is not host:port: %v", g.ID, g.Address, err)
		}
		switch g.Kind {
		case probes.KindNodeHTTP, probes.KindMixPort, probes.KindWSPort:
			if g.Node == nil || g.Service != nil {
				t.Errorf("%s: node %v service %v", g.ID, g.Node, g.Service)
			}
		case probes.KindService:
			if g.Service == nil || g.Node != nil || g.Service.URL != g.Address {
				t.Errorf("%s: service %+v", g.ID, g.Service)
			}
		case probes.KindControl:
			if g.Service != nil || g.Node != nil {
				t.Errorf("%s carries a node or service", g.ID)
			}
		}
	}
	// probes.Node-level staging is visible on the node too; the input is untouched.
	if got[4].Node.NodeID != 877 || !got[4].Node.Staging {
		t.Errorf("877 node staging = %+v", got[4].Node)
	}
	if got[7].Node.Staging {
		t.Error("1399 is staging only for its ws target, not as a node")
	}
	for _, n := range nodes {
		if n.Staging {
			t.Errorf("BuildTargets modified input node %d", n.NodeID)
		}
	}
	// Deterministic: input order does not matter.
	slices.Reverse(nodes)
	slices.Reverse(services[:2])
	slices.Reverse(controls)
	again := probes.BuildTargets(nodes, services, controls, staging)
	for i := range got {
		if got[i].ID != again[i].ID || got[i].Address != again[i].Address {
			t.Fatalf("order depends on input: %s vs %s at %d", got[i].ID, again[i].ID, i)
		}
	}
}

func TestDiffTargets(t *testing.T) {
	prevDir := dtFixtureDirectory(t, dtT0)
	old := probes.BuildTargets(prevDir.Nodes, []probes.Service{{Name: "nym-api", URL: "https://a/api", Kind: "nym-api"}}, nil, nil)

	nextDir := dtFixtureDirectory(t, dtT0.Add(time.Hour))
	nodes := slices.DeleteFunc(slices.Clone(nextDir.Nodes), func(n probes.Node) bool { return n.NodeID == 2210 }) // gone
	for i := range nodes {
		switch nodes[i].NodeID {
		case 1399:
			nodes[i].Performance = 0.5 // moves every refresh: not a change
			nodes[i].Version = "1.32.0"
		case 877:
			nodes[i].Hosts = []string{"192.0.2.46"} // new address
		case 2041:
			nodes[i].Role = probes.RoleExitGateway // new role, same address
		}
	}
	nodes = append(nodes, probes.Node{NodeID: 3000, Identity: "n", Declared: probes.DeclaredRoles{Mixnode: true},
		Hosts: []string{"192.0.2.30"}, HTTPPorts: []uint16{8080}, MixPort: 1789})
	next := probes.BuildTargets(nodes, []probes.Service{{Name: "nym-api", URL: "https://a/api", Kind: "nym-api"}}, nil, nil)

	diff := probes.DiffTargets(old, next)
	ids := func(ts []*probes.Target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	if got, want := ids(diff.Added), []string{"node/3000/http", "node/3000/identity", "node/3000/mix"}; !slices.Equal(got, want) {
		t.Errorf("added = %v, want %v", got, want)
	}
	if got, want := ids(diff.Removed), []string{"node/2210/http", "node/2210/identity", "node/2210/mix"}; !slices.Equal(got, want) {
		t.Errorf("removed = %v, want %v", got, want)
	}
	if got, want := ids(diff.Changed), []string{"node/877/http", "node/877/identity", "node/877/mix", "node/2041/http", "node/2041/identity", "node/2041/mix", "node/2041/ws"}; !slices.Equal(got, want) {
		t.Errorf("changed = %v, want %v", got, want)
	}
	if got, want := ids(diff.Unchanged), []string{"node/1399/http", "node/1399/identity", "node/1399/mix", "node/1399/ws", "node/1502/http", "node/1502/identity", "node/1502/mix", "node/1502/ws", "service/nym-api"}; !slices.Equal(got, want) {
		t.Errorf("unchanged = %v, want %v", got, want)
	}
	if diff.Empty() {
		t.Error("diff reported empty")
	}
	if d := probes.DiffTargets(next, probes.BuildTargets(nodes, []probes.Service{{Name: "nym-api", URL: "https://a/api", Kind: "nym-api"}}, nil, nil)); !d.Empty() || len(d.Unchanged) != len(next) {
		t.Errorf("rebuilding the same targets is not empty: %+v", d)
	}
}
