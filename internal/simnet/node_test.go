package simnet

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func pick(t *testing.T, n *Network, role Role, i int) NodeInfo {
	t.Helper()
	nodes := n.NodesByRole(role)
	if len(nodes) <= i {
		t.Fatalf("only %d nodes with role %s", len(nodes), role)
	}
	return nodes[i]
}

func TestNodeAPI(t *testing.T) {
	t.Parallel()
	n := startNet(t, smallOptions(newFakeNow()))
	c := newClient(netip.Addr{}, okTimeout)
	_, mixPort, wsPort := n.Ports()
	for i, ni := range n.Nodes() {
		base := ni.HTTPURL()
		h := obj(t, getJSON(t, c, base+"/api/v1/health"))
		assertShape(t, "health", fixture(t, "nym-node_api_v1_health.json"), h)
		if h["status"] != "up" {
			t.Errorf("node %d health %v", ni.ID, h)
		}
		roles := obj(t, getJSON(t, c, base+"/api/v1/roles"))
		assertShape(t, "roles", fixture(t, "nym-node_api_v1_roles.json"), roles)
		if roles["mixnode_enabled"] != ni.Declared.Mixnode || roles["gateway_enabled"] != ni.Declared.Entry ||
			roles["network_requester_enabled"] != ni.Declared.ExitNR || roles["ip_packet_router_enabled"] != ni.Declared.ExitIPR {
			t.Errorf("node %d roles %v, declared %+v", ni.ID, roles, ni.Declared)
		}
		aux := obj(t, getJSON(t, c, base+"/api/v1/auxiliary-details"))
		assertShape(t, "aux", fixture(t, "nym-node_api_v1_auxiliary-details.json"), aux)
		if aux["location"] != ni.Country || obj(t, aux, "announce_ports")["mix_port"] != float64(mixPort) {
			t.Errorf("node %d aux %v", ni.ID, aux)
		}
		assertShape(t, "build", fixture(t, "nym-node_api_v1_build-information.json"), getJSON(t, c, base+"/api/v1/build-information"))
		assertShape(t, "load", fixture(t, "nym-node_api_v1_load.json"), getJSON(t, c, base+"/api/v1/load"))
		assertShape(t, "description", fixture(t, "nym-node_api_v1_description.json"), getJSON(t, c, base+"/api/v1/description"))
		if ni.Declared.Gateway() {
			gw := getJSON(t, c, base+"/api/v1/gateway")
			assertShape(t, "gateway", fixture(t, "nym-node_api_v1_gateway.json"), gw)
			if ws := obj(t, gw, "client_interfaces", "mixnet_websockets")["ws_port"]; ws != float64(wsPort) {
				t.Errorf("gateway %d ws_port %v", ni.ID, ws)
			}
		} else if resp, _, err := get(c, base+"/api/v1/gateway"); err != nil || resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("mixnode %d /api/v1/gateway: %v %v", ni.ID, resp, err)
		}
		resp, body, err := get(c, base+"/api/v1/nope")
		if err != nil || resp.StatusCode != http.StatusNotFound || string(body) != "not found" {
			t.Errorf("node %d unknown path: %v %q %v", ni.ID, resp, body, err)
		}
		if i < 3 {
			if got := probeTCP(t, netip.Addr{}, ni.MixAddr(), "open"); got != "open" {
				t.Errorf("node %d mix port: %s, want open", ni.ID, got)
			}
		}
	}
}

func TestDemux(t *testing.T) {
	t.Parallel()
	for _, mode := range []ListenMode{ListenPerAddress, ListenWildcard} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			o := smallOptions(newFakeNow())
			o.Listen = mode
			n := startNet(t, o)
			if n.ListenMode() != mode {
				t.Fatalf("mode %s, want %s", n.ListenMode(), mode)
			}
			c := newClient(netip.Addr{}, okTimeout)
			a, b := pick(t, n, RoleExitGateway, 0), pick(t, n, RoleExitGateway, 1)
			mustSet(t, n.SetFault(a.ID, Refuse()))

			// How a refusal looks depends on the mode, as documented.
			want := "refused"
			if mode == ListenWildcard {
				want = "reset"
			}
			for _, addr := range []string{netip.AddrPortFrom(a.IP, a.HTTPPort).String(), a.MixAddr(), a.WSAddr()} {
				if got := probeTCP(t, netip.Addr{}, addr, want); got != want {
					t.Errorf("refused node %s: %s, want %s", addr, got, want)
				}
			}
			if _, _, err := get(c, a.HTTPURL()+"/api/v1/health"); err == nil {
				t.Errorf("GET refused node succeeded")
			}
			if h := obj(t, getJSON(t, c, b.HTTPURL()+"/api/v1/health")); h["status"] != "up" {
				t.Errorf("healthy node: %v", h)
			}
			if got := probeTCP(t, netip.Addr{}, b.MixAddr(), "open"); got != "open" {
				t.Errorf("healthy mix port: %s", got)
			}

			// Recovery re-opens a closed listener on the same port.
			mustSet(t, n.SetFault(a.ID, None()))
			if h := obj(t, getJSON(t, c, a.HTTPURL()+"/api/v1/health")); h["status"] != "up" {
				t.Errorf("recovered node: %v", h)
			}
			if got := probeTCP(t, netip.Addr{}, a.MixAddr(), "open"); got != "open" {
				t.Errorf("recovered mix port: %s", got)
			}

			// An address that is no node: nothing listens there, or the
			// wildcard socket resets it.
			stranger := netip.AddrPortFrom(netip.MustParseAddr("127.10.200.200"), a.HTTPPort).String()
			wantStranger := "refused"
			if mode == ListenWildcard {
				wantStranger = "reset"
			}
			if got := probeTCP(t, netip.Addr{}, stranger, wantStranger); got != wantStranger {
				t.Errorf("unknown address: %s, want %s", got, wantStranger)
			}
			// Mixnodes have no client websocket port.
			mix := pick(t, n, RoleMixnode, 0)
			if got := probeTCP(t, netip.Addr{}, netip.AddrPortFrom(mix.IP, a.WSPort).String(), wantStranger); got != wantStranger {
				t.Errorf("mixnode ws port: %s, want %s", got, wantStranger)
			}
		})
	}
}

func TestNodeFaults(t *testing.T) {
	t.Parallel()
	clock := newFakeNow()
	n := startNet(t, smallOptions(clock))
	c := newClient(netip.Addr{}, okTimeout)
	nd := pick(t, n, RoleEntryGateway, 0)
	health := nd.HTTPURL() + "/api/v1/health"
	t.Cleanup(func() { mustSet(t, n.Reset()) })

	t.Run("hang", func(t *testing.T) {
		mustSet(t, n.SetFault(nd.ID, Hang()))
		if _, _, err := get(newClient(netip.Addr{}, failTimeout), health); !isTimeout(err) {
			t.Errorf("got %v, want a client timeout", err)
		}
		// TCP-level it looks alive: accepted, silent.
		if got := probeTCP(t, netip.Addr{}, nd.MixAddr(), "open"); got != "open" {
			t.Errorf("hung mix port: %s", got)
		}
		mustSet(t, n.SetFault(nd.ID, None()))
		getJSON(t, c, health)
	})

	t.Run("slow", func(t *testing.T) {
		const d = 300 * time.Millisecond
		mustSet(t, n.SetFault(nd.ID, Slow(d)))
		start := time.Now()
		getJSON(t, c, health)
		if el := time.Since(start); el < d {
			t.Errorf("answered after %s, before the %s delay", el, d)
		}
		mustSet(t, n.SetFault(nd.ID, None()))
	})

	t.Run("5xx", func(t *testing.T) {
		mustSet(t, n.SetFault(nd.ID, HTTP5xx(502)))
		resp, body, err := get(c, health)
		if err != nil || resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("got %v %q %v", resp, body, err)
		}
		if got := probeTCP(t, netip.Addr{}, nd.MixAddr(), "data"); got != "data" {
			t.Errorf("mix port under 5xx: %s, want garbage data", got)
		}
		mustSet(t, n.SetFault(nd.ID, None()))
	})

	t.Run("garbage", func(t *testing.T) {
		mustSet(t, n.SetFault(nd.ID, Garbage()))
		resp, body, err := get(c, health)
		if err != nil || resp.StatusCode != 200 || jsonValid(body) {
			t.Errorf("got %v %q %v, want 200 with invalid JSON", resp, body, err)
		}
		mustSet(t, n.SetFault(nd.ID, None()))
	})

	t.Run("flap per connection", func(t *testing.T) {
		mustSet(t, n.SetFault(nd.ID, Flap(0)))
		for i, wantOK := range []bool{false, true, false, true} {
			_, _, err := get(c, health)
			if (err == nil) != wantOK {
				t.Errorf("probe %d: err %v, want ok=%v", i, err, wantOK)
			}
		}
		mustSet(t, n.SetFault(nd.ID, FlapWith(0, HTTP5xx(503))))
		for i, want := range []int{503, 200, 503} {
			resp, _, err := get(c, health)
			if err != nil || resp.StatusCode != want {
				t.Errorf("probe %d: %v %v, want %d", i, resp, err, want)
			}
		}
		mustSet(t, n.SetFault(nd.ID, None()))
	})

	t.Run("flap per period", func(t *testing.T) {
		mustSet(t, n.SetFault(nd.ID, FlapWith(time.Minute, HTTP5xx(503))))
		for i, want := range []int{503, 503, 200, 503} {
			resp, _, err := get(c, health)
			if err != nil || resp.StatusCode != want {
				t.Errorf("phase %d: %v %v, want %d", i, resp, err, want)
			}
			clock.Advance(30 * time.Second)
			if i == 1 {
				clock.Advance(30 * time.Second)
			}
		}
		mustSet(t, n.SetFault(nd.ID, None()))
	})
}

func TestPerSourceFaults(t *testing.T) {
	t.Parallel()
	for _, mode := range []ListenMode{ListenPerAddress, ListenWildcard} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			o := smallOptions(newFakeNow())
			o.Listen = mode
			n := startNet(t, o)
			src1, src2 := netip.MustParseAddr("127.0.9.1"), netip.MustParseAddr("127.0.9.2")
			c1, c2 := newClient(src1, okTimeout), newClient(src2, okTimeout)
			nd := pick(t, n, RoleMixnode, 0)
			health := nd.HTTPURL() + "/api/v1/health"

			mustSet(t, n.SetFaultFrom(src1, nd.ID, Refuse()))
			if _, _, err := get(c1, health); err == nil {
				t.Errorf("from %s: succeeded, want reset", src1)
			}
			if got := probeTCP(t, src1, nd.MixAddr(), "reset"); got != "reset" {
				t.Errorf("mix from %s: %s, want reset", src1, got)
			}
			getJSON(t, c2, health)
			if got := probeTCP(t, src2, nd.MixAddr(), "open"); got != "open" {
				t.Errorf("mix from %s: %s, want open", src2, got)
			}

			// Down for everyone but src2.
			mustSet(t, n.ClearFaultFrom(src1, nd.ID))
			mustSet(t, n.SetFault(nd.ID, HTTP5xx(500)))
			mustSet(t, n.SetFaultFrom(src2, nd.ID, None()))
			if resp, _, err := get(c1, health); err != nil || resp.StatusCode != 500 {
				t.Errorf("from %s: %v %v, want 500", src1, resp, err)
			}
			getJSON(t, c2, health)

			// Services too.
			mustSet(t, n.SetServiceFaultFrom(src1, ServiceNymAPI, HTTP5xx(503)))
			if resp, _, err := get(c1, n.NymAPIURL()+"/v1/api-status/health"); err != nil || resp.StatusCode != 503 {
				t.Errorf("nym-api from %s: %v %v, want 503", src1, resp, err)
			}
			getJSON(t, c2, n.NymAPIURL()+"/v1/api-status/health")
			mustSet(t, n.ClearServiceFaultFrom(src1, ServiceNymAPI))
			getJSON(t, c1, n.NymAPIURL()+"/v1/api-status/health")

			mustSet(t, n.Reset())
			getJSON(t, c1, health)
		})
	}
}

func TestWebsocketPort(t *testing.T) {
	t.Parallel()
	n := startNet(t, smallOptions(newFakeNow()))
	gw := pick(t, n, RoleExitGateway, 0)
	conn, err := net.DialTimeout("tcp", gw.WSAddr(), okTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The example handshake of RFC 6455 section 1.3.
	req := "GET / HTTP/1.1\r\nHost: " + gw.WSAddr() + "\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(okTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("upgrade: %d %v", resp.StatusCode, resp.Header)
	}

	resp2, _, err := get(newClient(netip.Addr{}, okTimeout), "http://"+gw.WSAddr()+"/")
	if err != nil || resp2.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET on ws port: %v %v, want 400", resp2, err)
	}
}

func TestCutOff(t *testing.T) {
	t.Parallel()
	n := startNet(t, smallOptions(newFakeNow()))
	c := newClient(netip.Addr{}, okTimeout)
	quick := newClient(netip.Addr{}, failTimeout)
	nd := pick(t, n, RoleExitGateway, 0)
	refused := pick(t, n, RoleExitGateway, 1)
	mustSet(t, n.SetFault(refused.ID, Refuse()))
	urls := []string{n.ControlURL(), n.ControlURLs()[1], n.NymAPIURL() + "/v1/api-status/health",
		n.NymVPNAPIURL() + "/public/v1/health", nd.HTTPURL() + "/api/v1/health"}
	for _, u := range urls {
		if resp, _, err := get(c, u); err != nil || resp.StatusCode != 200 {
			t.Fatalf("before cut-off %s: %v %v", u, resp, err)
		}
	}

	mustSet(t, n.CutOff(true))
	for _, u := range append(urls, refused.HTTPURL()+"/api/v1/health") {
		if _, _, err := get(quick, u); !isTimeout(err) {
			t.Errorf("cut off %s: %v, want a timeout", u, err)
		}
	}
	mustSet(t, n.CutOff(false))
	for _, u := range urls {
		if resp, _, err := get(c, u); err != nil || resp.StatusCode != 200 {
			t.Errorf("after cut-off %s: %v %v", u, resp, err)
		}
	}
	if got := probeTCP(t, netip.Addr{}, refused.MixAddr(), "refused"); got != "refused" {
		t.Errorf("refused node after cut-off: %s", got)
	}

	// One vantage point of several.
	src1, src2 := netip.MustParseAddr("127.0.9.1"), netip.MustParseAddr("127.0.9.2")
	mustSet(t, n.CutOffFrom(src1, true))
	if _, _, err := get(newClient(src1, failTimeout), n.ControlURL()); !isTimeout(err) {
		t.Errorf("cut-off vantage: %v, want a timeout", err)
	}
	if resp, _, err := get(newClient(src2, okTimeout), n.ControlURL()); err != nil || resp.StatusCode != 200 {
		t.Errorf("other vantage: %v %v", resp, err)
	}
	mustSet(t, n.CutOffFrom(src1, false))
	if resp, _, err := get(newClient(src1, okTimeout), n.ControlURL()); err != nil || resp.StatusCode != 200 {
		t.Errorf("vantage restored: %v %v", resp, err)
	}
}

func TestControlFault(t *testing.T) {
	t.Parallel()
	n := startNet(t, smallOptions(newFakeNow()))
	c := newClient(netip.Addr{}, okTimeout)
	mustSet(t, n.SetServiceFault(ServiceControl, Refuse()))
	for _, u := range n.ControlURLs() {
		if _, _, err := get(c, u); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	mustSet(t, n.SetServiceFault(ServiceControl, None()))
	for _, u := range n.ControlURLs() {
		if resp, body, err := get(c, u); err != nil || resp.StatusCode != 200 || string(body) != "ok\n" {
			t.Errorf("%s: %v %q %v", u, resp, body, err)
		}
	}
}
