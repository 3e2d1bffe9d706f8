package simnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	o := smallOptions(newFakeNow())
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Nodes(), b.Nodes()) {
		t.Fatal("same seed, different networks")
	}
	o.Seed++
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Nodes()[0].Identity == c.Nodes()[0].Identity {
		t.Fatal("different seeds, same identities")
	}

	counts := map[Role]int{}
	layers := map[int]int{}
	ids := map[uint32]bool{}
	idents := map[string]bool{}
	prev := o.BaseIP
	if !prev.IsValid() {
		prev = netip.MustParseAddr("127.10.0.1")
	}
	for _, ni := range a.Nodes() {
		counts[ni.Role]++
		if ni.Role == RoleMixnode {
			layers[ni.Layer]++
		}
		if ids[ni.ID] || idents[ni.Identity] {
			t.Errorf("duplicate id %d or identity %s", ni.ID, ni.Identity)
		}
		ids[ni.ID], idents[ni.Identity] = true, true
		if l := len(ni.Identity); l < 43 || l > 44 || strings.ContainsAny(ni.Identity, "0OIl+/=") {
			t.Errorf("identity %q is not base58 of 32 bytes", ni.Identity)
		}
		if !ni.IP.Is4() || ni.IP.As4()[0] != 127 || ni.IP.Compare(prev) <= 0 {
			t.Errorf("address %s not in increasing 127/8 order after %s", ni.IP, prev)
		}
		prev = ni.IP
	}
	want := map[Role]int{RoleEntryGateway: 4, RoleExitGateway: 5, RoleMixnode: 6, RoleStandby: 2, RoleInactive: 3}
	for r, w := range want {
		if counts[r] != w {
			t.Errorf("%d nodes with role %s, want %d", counts[r], r, w)
		}
	}
	if layers[1] != 2 || layers[2] != 2 || layers[3] != 2 {
		t.Errorf("layers %v, want 2 each", layers)
	}
}

func TestCountrySpread(t *testing.T) {
	o := Options{EntryGateways: 6, ExitGateways: 6, Mixnodes: [3]int{3, 3, 3}, Countries: []string{"DE", "FR", "XK"}, Seed: 3}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	perRole := map[Role]map[string]int{}
	for _, ni := range n.Nodes() {
		if perRole[ni.Role] == nil {
			perRole[ni.Role] = map[string]int{}
		}
		perRole[ni.Role][ni.Country]++
	}
	for _, r := range []Role{RoleEntryGateway, RoleExitGateway} {
		for _, cc := range o.Countries {
			if perRole[r][cc] != 2 {
				t.Errorf("%s in %s: %d, want 2 (even spread)", r, cc, perRole[r][cc])
			}
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no nodes":       {},
		"negative":       {EntryGateways: -1, ExitGateways: 2},
		"bad country":    {ExitGateways: 1, Countries: []string{"de"}},
		"dup country":    {ExitGateways: 1, Countries: []string{"DE", "DE"}},
		"not loopback":   {ExitGateways: 1, BaseIP: netip.MustParseAddr("10.0.0.1")},
		"127.0.0.x":      {ExitGateways: 1, BaseIP: netip.MustParseAddr("127.0.0.1")},
		"ipv6":           {ExitGateways: 1, BaseIP: netip.MustParseAddr("::1")},
		"range overflow": {ExitGateways: 10, BaseIP: netip.MustParseAddr("127.255.255.250")},
		"bad mode":       {ExitGateways: 1, Listen: ListenMode(9)},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestFaultValidation(t *testing.T) {
	n, err := New(smallOptions(newFakeNow()))
	if err != nil {
		t.Fatal(err)
	}
	id := n.Nodes()[0].ID
	for name, err := range map[string]error{
		"service fault on node":  n.SetFault(id, ChainStalled()),
		"vpn fault on nym-api":   n.SetServiceFault(ServiceNymAPI, EmptyDirectory()),
		"nym-api fault on vpn":   n.SetServiceFault(ServiceNymVPNAPI, CacheCold()),
		"unknown service":        n.SetServiceFault("ns-api", Refuse()),
		"unknown node":           n.SetFault(1, Refuse()),
		"4xx":                    n.SetFault(id, HTTP5xx(404)),
		"slow without delay":     n.SetFault(id, Slow(0)),
		"flap failing as slow":   n.SetFault(id, FlapWith(0, Slow(time.Second))),
		"invalid source":         n.SetFaultFrom(netip.Addr{}, id, Refuse()),
		"unknown node from":      n.SetFaultFrom(netip.MustParseAddr("127.0.9.1"), 1, Refuse()),
		"control stale":          n.SetServiceFault(ServiceControl, StaleDirectory(time.Hour)),
		"negative period":        n.SetFault(id, Flap(-time.Second)),
		"unknown kind":           n.SetFault(id, Fault{Kind: FaultKind(200)}),
		"cut off invalid source": n.CutOffFrom(netip.Addr{}, true),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := n.FailRole(RoleExitGateway, 1.5, Refuse()); err == nil {
		t.Error("fraction 1.5 accepted")
	}
	if _, err := n.FailCountry("AQ", Refuse()); err == nil {
		t.Error("country without nodes accepted")
	}
}

func TestFailRoleAndCountry(t *testing.T) {
	n, err := New(DemoOptions())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := n.FailRole(RoleExitGateway, 0.4, Refuse())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 4 || !slices.IsSorted(ids) {
		t.Fatalf("failed %v, want 4 sorted ids (40%% of 10)", ids)
	}
	failed := 0
	for _, ni := range n.Nodes() {
		f, err := n.NodeFault(ni.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind == KindRefuse {
			failed++
			if ni.Role != RoleExitGateway || !slices.Contains(ids, ni.ID) {
				t.Errorf("node %d (%s) refused but not chosen", ni.ID, ni.Role)
			}
		}
	}
	if failed != 4 {
		t.Errorf("%d refused nodes, want 4", failed)
	}
	mustSet(t, n.Reset())
	again, err := n.FailRole(RoleExitGateway, 0.4, Refuse())
	if err != nil || !slices.Equal(again, ids) {
		t.Errorf("second choice %v (%v), want the same %v", again, err, ids)
	}
	if ids, err := n.FailRole(RoleEntryGateway, 0, Refuse()); err != nil || len(ids) != 0 {
		t.Errorf("fraction 0: %v %v", ids, err)
	}

	cc := n.Nodes()[0].Country
	cids, err := n.FailCountry(cc, Hang())
	if err != nil {
		t.Fatal(err)
	}
	for _, ni := range n.Nodes() {
		f, _ := n.NodeFault(ni.ID)
		if (ni.Country == cc) != slices.Contains(cids, ni.ID) || (ni.Country == cc && f.Kind != KindHang) {
			t.Errorf("node %d in %s: fault %s", ni.ID, ni.Country, f)
		}
	}
}

// instantClock never waits: After fires at once and moves time on.
type instantClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *instantClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

// stuckClock never fires.
type stuckClock struct{}

func (stuckClock) Now() time.Time                       { return time.Unix(0, 0) }
func (stuckClock) After(time.Duration) <-chan time.Time { return nil }

func TestRunScript(t *testing.T) {
	n, err := New(smallOptions(newFakeNow()))
	if err != nil {
		t.Fatal(err)
	}
	clock := &instantClock{t: time.Unix(1000, 0)}
	start := clock.Now()
	var at []time.Duration
	record := func(*Network) { at = append(at, clock.Now().Sub(start)) }
	steps := []Step{{After: 0, Do: record, Say: "a"}, {After: 10 * time.Second, Do: record, Say: "b"}, {After: 10 * time.Second, Do: record, Say: "c"}, {After: 45 * time.Second, Do: record, Say: "d"}}
	if err := n.RunScript(t.Context(), clock, steps, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, 10 * time.Second, 10 * time.Second, 45 * time.Second}; !slices.Equal(at, want) {
		t.Errorf("steps ran at %v, want %v", at, want)
	}

	if err := n.RunScript(t.Context(), clock, []Step{{After: time.Second}, {After: 0}}, nil); err == nil {
		t.Error("decreasing offsets accepted")
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err = n.RunScript(ctx, stuckClock{}, []Step{{After: time.Minute, Do: func(*Network) { ran = true }}}, nil)
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled script: %v, ran=%v", err, ran)
	}
}

func TestDemoScript(t *testing.T) {
	n, err := New(DemoOptions())
	if err != nil {
		t.Fatal(err)
	}
	steps := DemoScript()
	if len(steps) != 3 || steps[0].After != DemoOutageAt || steps[2].After != DemoRecoveryAt || DemoRecoveryAt >= time.Minute {
		t.Fatalf("demo script %+v", steps)
	}
	faults := func() map[FaultKind][]Role {
		out := map[FaultKind][]Role{}
		for _, ni := range n.Nodes() {
			f, _ := n.NodeFault(ni.ID)
			if f.Kind != KindNone {
				out[f.Kind] = append(out[f.Kind], ni.Role)
			}
		}
		return out
	}
	clock := &instantClock{t: time.Unix(0, 0)}
	if err := n.RunScript(t.Context(), clock, steps[:1], nil); err != nil {
		t.Fatal(err)
	}
	got := faults()
	if len(got[KindRefuse]) != 4 || len(got[KindHang]) != 1 || got[KindHang][0] != RoleEntryGateway {
		t.Errorf("after the outage step: %v, want 4 exit gateways refusing and 1 entry gateway hanging", got)
	}
	for _, r := range got[KindRefuse] {
		if r != RoleExitGateway {
			t.Errorf("a %s refuses", r)
		}
	}
	if err := n.RunScript(t.Context(), clock, steps[1:2], nil); err != nil {
		t.Fatal(err)
	}
	if got := faults(); len(got[KindHang]) != 0 || len(got[KindRefuse]) != 4 {
		t.Errorf("after the blip recovers: %v", got)
	}
	if err := n.RunScript(t.Context(), clock, steps[2:], nil); err != nil {
		t.Fatal(err)
	}
	if got := faults(); len(got) != 0 {
		t.Errorf("after recovery: %v", got)
	}
}

func TestStartTwiceAndClose(t *testing.T) {
	n := startNet(t, smallOptions(newFakeNow()))
	if err := n.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	url := n.ControlURL()
	n.Close()
	n.Close()
	if _, _, err := get(newClient(netip.Addr{}, okTimeout), url); err == nil {
		t.Error("closed network still answers")
	}
	if err := n.SetFault(n.Nodes()[0].ID, Refuse()); err != nil {
		t.Errorf("fault on a closed network: %v", err)
	}
}

func TestParallelNetworksSameBase(t *testing.T) {
	t.Parallel()
	a := startNet(t, smallOptions(newFakeNow()))
	b := startNet(t, smallOptions(newFakeNow()))
	ah, _, _ := a.Ports()
	bh, _, _ := b.Ports()
	if ah == bh {
		t.Fatalf("two networks on one base share HTTP port %d", ah)
	}
	c := newClient(netip.Addr{}, okTimeout)
	mustSet(t, a.SetFault(a.Nodes()[0].ID, Refuse()))
	if _, _, err := get(c, a.Nodes()[0].HTTPURL()+"/api/v1/health"); err == nil {
		t.Error("refused node of network a answers")
	}
	getJSON(t, c, b.Nodes()[0].HTTPURL()+"/api/v1/health")
}

func TestStopsWithContext(t *testing.T) {
	n, err := New(smallOptions(newFakeNow()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	url := n.ControlURL()
	cancel()
	<-n.done
	n.Close() // waits for the goroutines
	if _, _, err := get(newClient(netip.Addr{}, okTimeout), url); err == nil {
		t.Error("network still answers after its context ended")
	}
}

func TestRaiseFDLimit(t *testing.T) {
	lim, err := RaiseFDLimit()
	if err != nil {
		t.Fatal(err)
	}
	if lim < 64 {
		t.Errorf("limit %d", lim)
	}
}

func TestLargeWildcard(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 nodes: skipped in -short")
	}
	t.Parallel()
	o := Options{
		EntryGateways: 300, ExitGateways: 400, Mixnodes: [3]int{400, 400, 400}, Standby: 50, Inactive: 50,
		Seed: 11, Now: newFakeNow().Now,
	}
	n := startNet(t, o)
	if n.ListenMode() != ListenWildcard {
		t.Fatalf("auto mode for 2,000 nodes is %s, want wildcard", n.ListenMode())
	}
	nodes := n.Nodes()
	if len(nodes) != 2000 {
		t.Fatalf("%d nodes", len(nodes))
	}
	c := newClient(netip.Addr{}, okTimeout)
	var refused NodeInfo
	for i := 0; i < len(nodes); i += 40 {
		ni := nodes[i]
		if h := obj(t, getJSON(t, c, ni.HTTPURL()+"/api/v1/health")); h["status"] != "up" {
			t.Errorf("node %d: %v", ni.ID, h)
		}
		if got := probeTCP(t, netip.Addr{}, ni.MixAddr(), "open"); got != "open" {
			t.Errorf("node %d mix: %s", ni.ID, got)
		}
		if ni.WSPort != 0 {
			if got := probeTCP(t, netip.Addr{}, ni.WSAddr(), "open"); got != "open" {
				t.Errorf("node %d ws: %s", ni.ID, got)
			}
		}
		refused = ni
	}
	mustSet(t, n.SetFault(refused.ID, Refuse()))
	if got := probeTCP(t, netip.Addr{}, refused.MixAddr(), "reset"); got != "reset" {
		t.Errorf("refused node in wildcard mode: %s, want reset", got)
	}
	if d := arr(t, obj(t, getJSON(t, c, n.NymAPIURL()+"/v2/nym-nodes/described"))["data"]); len(d) != 2000 {
		t.Errorf("described %d nodes", len(d))
	}
}

func TestFaultBeforeStart(t *testing.T) {
	t.Parallel()
	o := smallOptions(newFakeNow())
	o.Logger = testLogger(t)
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	nd := n.NodesByRole(RoleExitGateway)[0]
	mustSet(t, n.SetFault(nd.ID, Refuse()))
	mustSet(t, n.SetServiceFault(ServiceNymAPI, ChainStalled()))
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	nd, _ = n.Node(nd.ID)
	if got := probeTCP(t, netip.Addr{}, nd.MixAddr(), "refused"); got != "refused" {
		t.Errorf("node refused before start: %s", got)
	}
	h := obj(t, getJSON(t, newClient(netip.Addr{}, okTimeout), n.NymAPIURL()+"/v1/api-status/health"))
	if _, ok := h["chain_status"].(map[string]any); !ok {
		t.Errorf("chain_status %v, want stalled", h["chain_status"])
	}
}

func TestCloseReleasesHeldConnections(t *testing.T) {
	t.Parallel()
	n := startNet(t, smallOptions(newFakeNow()))
	nd := n.NodesByRole(RoleEntryGateway)[0]
	mustSet(t, n.SetFault(nd.ID, Hang()))
	mix, err := net.DialTimeout("tcp", nd.MixAddr(), okTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer mix.Close()
	done := make(chan error, 1)
	go func() {
		_, _, err := get(newClient(netip.Addr{}, okTimeout), nd.HTTPURL()+"/api/v1/health")
		done <- err
	}()
	n.Close()
	if err := <-done; err == nil || isTimeout(err) {
		t.Errorf("hanging request after Close: %v, want a connection error", err)
	}
	_ = mix.SetReadDeadline(time.Now().Add(okTimeout))
	if _, err := mix.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("held mix connection after Close: %v, want closed", err)
	}
}

// nonLoopbackIPv4 is an address of another interface, if the host has one.
func nonLoopbackIPv4(t *testing.T) netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	t.Skip("no non-loopback IPv4 address on this host")
	return netip.Addr{}
}

func TestWildcardResetsOtherInterfaces(t *testing.T) {
	t.Parallel()
	ip := nonLoopbackIPv4(t)
	o := smallOptions(newFakeNow())
	o.Listen = ListenWildcard
	n := startNet(t, o)
	httpPort, _, _ := n.Ports()
	if got := probeTCP(t, netip.Addr{}, netip.AddrPortFrom(ip, httpPort).String(), "reset"); got != "reset" {
		t.Errorf("connection on %s: %s, want reset", ip, got)
	}
}
