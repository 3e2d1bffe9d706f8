package simnet

import (
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The layouts are spelled out here rather than taken from the package, so
// the tests check the wire format independently.
const wantHumanLayout = "2006-01-02 15:04:05.999999999 -07:00:00"

var percentRE = regexp.MustCompile(`^(0|1|0\.[0-9]{1,2})$`)

func TestNymAPIShapes(t *testing.T) {
	t.Parallel()
	clock := newFakeNow()
	n := startNet(t, smallOptions(clock))
	c := newClient(netip.Addr{}, okTimeout)
	api := n.NymAPIURL()
	if !strings.HasSuffix(api, "/api") {
		t.Fatalf("nym-api URL %q should end in /api like mainnet's", api)
	}
	nodes := n.Nodes()
	if len(nodes) != 20 {
		t.Fatalf("%d nodes, want 20", len(nodes))
	}
	byID := map[float64]NodeInfo{}
	for _, ni := range nodes {
		byID[float64(ni.ID)] = ni
	}
	httpPort, mixPort, wsPort := n.Ports()

	t.Run("health", func(t *testing.T) {
		h := obj(t, getJSON(t, c, api+"/v1/api-status/health"))
		assertShape(t, "health", fixture(t, "nym-api_v1_api-status_health.json"), h)
		if h["status"] != "up" || h["chain_status"] != "synced" {
			t.Errorf("health = %v", h)
		}
		if up, _ := h["uptime"].(float64); up != 0 {
			t.Errorf("uptime %v on a clock that has not moved, want 0", up)
		}
		clock.Advance(90 * time.Second)
		h = obj(t, getJSON(t, c, api+"/v1/api-status/health"))
		if up, _ := h["uptime"].(float64); up != 90 {
			t.Errorf("uptime %v after 90s, want 90", up)
		}
	})

	for _, tc := range []struct {
		route, fixture string
		lewes          bool
	}{
		{"/v2/nym-nodes/described", "nym-api_v2_nym-nodes_described.json", true},
		{"/v1/nym-nodes/described", "nym-api_v1_nym-nodes_described.json", false},
	} {
		t.Run(tc.route, func(t *testing.T) {
			v := getJSON(t, c, api+tc.route)
			assertShape(t, "described", fixture(t, tc.fixture), v)
			pg := obj(t, v, "pagination")
			data := arr(t, obj(t, v)["data"])
			if len(data) != len(nodes) || pg["total"] != float64(len(nodes)) || pg["size"] != float64(len(nodes)) || pg["page"] != 0.0 {
				t.Errorf("pagination %v with %d items, want total=size=%d page=0", pg, len(data), len(nodes))
			}
			seen := map[float64]bool{}
			for _, item := range data {
				it := obj(t, item)
				id := it["node_id"].(float64)
				ni, ok := byID[id]
				if !ok || seen[id] {
					t.Fatalf("unknown or repeated node_id %v", id)
				}
				seen[id] = true
				d := obj(t, it, "description")
				hi := obj(t, d, "host_information")
				if ips := arr(t, hi["ip_address"]); len(ips) != 1 || ips[0] != ni.IP.String() {
					t.Errorf("node %d ip_address %v, want [%s]", ni.ID, ips, ni.IP)
				}
				if k := obj(t, hi, "keys")["ed25519"]; k != ni.Identity {
					t.Errorf("node %d ed25519 %v, want %s", ni.ID, k, ni.Identity)
				}
				aux := obj(t, d, "auxiliary_details")
				if aux["location"] != ni.Country {
					t.Errorf("node %d location %v, want %s", ni.ID, aux["location"], ni.Country)
				}
				if mp := obj(t, aux, "announce_ports")["mix_port"]; mp != float64(mixPort) {
					t.Errorf("node %d announced mix_port %v, want %d", ni.ID, mp, mixPort)
				}
				dr := obj(t, d, "declared_role")
				if dr["mixnode"] != ni.Declared.Mixnode || dr["entry"] != ni.Declared.Entry || dr["exit_nr"] != ni.Declared.ExitNR || dr["exit_ipr"] != ni.Declared.ExitIPR {
					t.Errorf("node %d declared_role %v, want %+v", ni.ID, dr, ni.Declared)
				}
				if ni.Declared.Gateway() {
					if ws := obj(t, d, "mixnet_websockets")["ws_port"]; ws != float64(wsPort) {
						t.Errorf("gateway %d ws_port %v, want %d", ni.ID, ws, wsPort)
					}
				} else if d["mixnet_websockets"] != nil {
					t.Errorf("mixnode %d announces websockets %v", ni.ID, d["mixnet_websockets"])
				}
				if bi := obj(t, d, "build_information"); bi["binary_name"] != "nym-node" || !strings.HasPrefix(bi["build_version"].(string), "1.") {
					t.Errorf("node %d build_information %v", ni.ID, bi)
				}
				if _, err := time.Parse(wantHumanLayout, d["last_polled"].(string)); err != nil {
					t.Errorf("node %d last_polled: %v", ni.ID, err)
				}
				if _, has := d["lewes_protocol"]; has != tc.lewes {
					t.Errorf("node %d lewes_protocol present=%v, want %v", ni.ID, has, tc.lewes)
				}
			}
		})
	}

	t.Run("bonded", func(t *testing.T) {
		v := getJSON(t, c, api+"/v1/nym-nodes/bonded")
		assertShape(t, "bonded", fixture(t, "nym-api_v1_nym-nodes_bonded.json"), v)
		data := arr(t, obj(t, v)["data"])
		if len(data) != len(nodes) {
			t.Fatalf("%d bonded, want %d", len(data), len(nodes))
		}
		for _, item := range data {
			bi := obj(t, item, "bond_information")
			ni := byID[bi["node_id"].(float64)]
			host := obj(t, bi, "node")
			if host["host"] != ni.IP.String() || host["custom_http_port"] != float64(httpPort) || host["identity_key"] != ni.Identity {
				t.Errorf("bond of %d: %v, want host %s port %d", ni.ID, host, ni.IP, httpPort)
			}
		}
	})

	t.Run("skimmed", func(t *testing.T) {
		v := getJSON(t, c, api+"/v2/unstable/nym-nodes/skimmed")
		assertShape(t, "skimmed", fixture(t, "nym-api_v2_unstable_nym-nodes_skimmed.json"), v, "role")
		meta := obj(t, v, "metadata")
		if meta["status"] != nil {
			t.Errorf("unfiltered skimmed status %v, want null", meta["status"])
		}
		if _, err := time.Parse(wantHumanLayout, meta["refreshed_at"].(string)); err != nil {
			t.Errorf("refreshed_at: %v", err)
		}
		data := arr(t, obj(t, v, "nodes")["data"])
		if len(data) != len(nodes) {
			t.Fatalf("%d skimmed, want %d", len(data), len(nodes))
		}
		for _, item := range data {
			it := obj(t, item)
			ni := byID[it["node_id"].(float64)]
			var want any
			switch ni.Role {
			case RoleEntryGateway:
				want = "EntryGateway"
			case RoleExitGateway:
				want = "ExitGateway"
			case RoleStandby:
				want = "Standby"
			case RoleInactive:
				want = "Inactive"
			case RoleMixnode:
				layer := obj(t, it["role"], "Mixnode")["layer"]
				if layer != float64(ni.Layer) || len(obj(t, it["role"])) != 1 {
					t.Errorf("node %d role %v, want Mixnode layer %d", ni.ID, it["role"], ni.Layer)
				}
			}
			if want != nil && it["role"] != want {
				t.Errorf("node %d role %v, want %v", ni.ID, it["role"], want)
			}
			perf, _ := it["performance"].(string)
			if !percentRE.MatchString(perf) {
				t.Errorf("node %d performance %q is not a Percent string", ni.ID, perf)
			}
			if it["mix_port"] != float64(mixPort) {
				t.Errorf("node %d mix_port %v", ni.ID, it["mix_port"])
			}
			if ni.Declared.Entry {
				if e := obj(t, it, "entry"); e["ws_port"] != float64(wsPort) {
					t.Errorf("gateway %d entry %v", ni.ID, e)
				}
			} else if it["entry"] != nil {
				t.Errorf("mixnode %d entry %v, want null", ni.ID, it["entry"])
			}
		}
	})

	t.Run("skimmed exit-gateways", func(t *testing.T) {
		v := getJSON(t, c, api+"/v2/unstable/nym-nodes/skimmed/exit-gateways")
		assertShape(t, "skimmed", fixture(t, "nym-api_v2_unstable_nym-nodes_skimmed_exit-gateways.json"), v, "role")
		fresh := obj(t, v, "metadata", "status", "fresh")
		data := arr(t, obj(t, v, "nodes")["data"])
		wantN := 0
		for _, ni := range nodes {
			if ni.Declared.ExitCapable() {
				wantN++
			}
		}
		if len(data) != wantN {
			t.Errorf("%d exit-capable skimmed, want %d", len(data), wantN)
		}
		// Asking with the current epoch id: nothing new.
		id := strconv.Itoa(int(fresh["current_epoch_id"].(float64)))
		v = getJSON(t, c, api+"/v2/unstable/nym-nodes/skimmed/exit-gateways?epoch_id="+id)
		if s := obj(t, v, "metadata")["status"]; s != "no-updates" {
			t.Errorf("status %v, want no-updates", s)
		}
		if d := arr(t, obj(t, v, "nodes")["data"]); len(d) != 0 {
			t.Errorf("no-updates carries %d nodes", len(d))
		}
	})

	t.Run("rewarded set", func(t *testing.T) {
		v := obj(t, getJSON(t, c, api+"/v1/nym-nodes/rewarded-set"))
		assertShape(t, "rewarded-set", fixture(t, "nym-api_v1_nym-nodes_rewarded-set.json"), v)
		want := map[string][]float64{}
		for _, ni := range nodes {
			key := map[Role]string{RoleEntryGateway: "entry_gateways", RoleExitGateway: "exit_gateways", RoleStandby: "standby"}[ni.Role]
			if ni.Role == RoleMixnode {
				key = "layer" + strconv.Itoa(ni.Layer)
			}
			if key != "" {
				want[key] = append(want[key], float64(ni.ID))
			}
		}
		for _, key := range []string{"entry_gateways", "exit_gateways", "layer1", "layer2", "layer3", "standby"} {
			var got []float64
			for _, x := range arr(t, v[key]) {
				got = append(got, x.(float64))
			}
			slices.Sort(got)
			slices.Sort(want[key])
			if !slices.Equal(got, want[key]) {
				t.Errorf("%s = %v, want %v", key, got, want[key])
			}
		}
	})

	t.Run("epoch", func(t *testing.T) {
		v := obj(t, getJSON(t, c, api+"/v1/epoch/current"))
		assertShape(t, "epoch", fixture(t, "nym-api_v1_epoch_current.json"), v)
		start, err := time.Parse(time.RFC3339Nano, v["current_epoch_start"].(string))
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		if start.After(now) || now.Sub(start) >= time.Hour {
			t.Errorf("epoch start %s is not within the hour before %s", start, now)
		}
		total, id, iv := v["total_elapsed_epochs"].(float64), v["current_epoch_id"].(float64), v["id"].(float64)
		if id != float64(int(total)%720) || iv != float64(int(total)/720) {
			t.Errorf("epoch ids inconsistent: %v", v)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{"/v1/nope", "/v1/mixnodes", "/"} {
			resp, body, err := get(c, api+path)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || string(body) != "not found" {
				t.Errorf("%s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	})
}

func TestNymAPIFaults(t *testing.T) {
	t.Parallel()
	clock := newFakeNow()
	n := startNet(t, smallOptions(clock))
	c := newClient(netip.Addr{}, okTimeout)
	api := n.NymAPIURL()

	t.Run("chain stalled", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymAPI, ChainStalled()))
		clock.Advance(2 * time.Minute)
		h := obj(t, getJSON(t, c, api+"/v1/api-status/health"))
		assertShape(t, "health", fixture(t, "nym-api_v1_api-status_health_chain-stalled.json"), h)
		amount, _ := obj(t, h, "chain_status", "stalled")["approximate_amount"].(string)
		if !regexp.MustCompile(`^7m 41s 312ms$`).MatchString(amount) {
			t.Errorf("approximate_amount %q, want 7m 41s 312ms (5m threshold + 41.312s + 2m since)", amount)
		}
		mustSet(t, n.SetServiceFault(ServiceNymAPI, None()))
		if h := obj(t, getJSON(t, c, api+"/v1/api-status/health")); h["chain_status"] != "synced" {
			t.Errorf("after recovery chain_status %v", h["chain_status"])
		}
	})

	t.Run("cache cold", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymAPI, CacheCold()))
		defer func() { mustSet(t, n.SetServiceFault(ServiceNymAPI, None())) }()
		for _, route := range []string{"/v2/nym-nodes/described", "/v1/nym-nodes/described", "/v1/nym-nodes/bonded",
			"/v1/nym-nodes/rewarded-set", "/v2/unstable/nym-nodes/skimmed", "/v1/epoch/current"} {
			resp, body, err := get(c, api+route)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "relevant cache hasn't been initialised yet" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s: %d %q", route, resp.StatusCode, body)
			}
		}
		// The process itself is up.
		if h := obj(t, getJSON(t, c, api+"/v1/api-status/health")); h["status"] != "up" {
			t.Errorf("health %v", h)
		}
	})

	t.Run("5xx", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymAPI, HTTP5xx(0)))
		defer func() { mustSet(t, n.SetServiceFault(ServiceNymAPI, None())) }()
		resp, body, err := get(c, api+"/v1/api-status/health")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || len(body) == 0 {
			t.Errorf("got %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymAPI, Garbage()))
		defer func() { mustSet(t, n.SetServiceFault(ServiceNymAPI, None())) }()
		resp, body, err := get(c, api+"/v2/nym-nodes/described")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || jsonValid(body) {
			t.Errorf("got %d, valid JSON=%v", resp.StatusCode, jsonValid(body))
		}
	})

	t.Run("down", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymAPI, Refuse()))
		_, _, err := get(c, api+"/v1/api-status/health")
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("got %v, want connection refused", err)
		}
		mustSet(t, n.SetServiceFault(ServiceNymAPI, None()))
		getJSON(t, c, api+"/v1/api-status/health")
	})

	t.Run("hang", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymAPI, Hang()))
		_, _, err := get(newClient(netip.Addr{}, failTimeout), api+"/v1/api-status/health")
		if !isTimeout(err) {
			t.Errorf("got %v, want a client timeout", err)
		}
		mustSet(t, n.SetServiceFault(ServiceNymAPI, None()))
		getJSON(t, c, api+"/v1/api-status/health")
	})
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{7*time.Minute + 41*time.Second + 312*time.Millisecond + 999*time.Microsecond, "7m 41s 312ms"},
		{25*time.Hour + 3*time.Second, "1day 1h 3s"},
		{50 * time.Hour, "2days 2h"},
		{0, "0s"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestPercent(t *testing.T) {
	for p, want := range map[int]string{100: "1", 98: "0.98", 90: "0.9", 5: "0.05", 0: "0", 120: "1"} {
		if got := percent(p); got != want {
			t.Errorf("percent(%d) = %q, want %q", p, got, want)
		}
	}
}
