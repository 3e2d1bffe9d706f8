package simnet

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func gatewayIDs(t *testing.T, v any) []string {
	t.Helper()
	var ids []string
	for _, g := range arr(t, v) {
		ids = append(ids, obj(t, g)["identity_key"].(string))
	}
	return ids
}

func TestVPNAPI(t *testing.T) {
	t.Parallel()
	clock := newFakeNow()
	n := startNet(t, smallOptions(clock))
	c := newClient(netip.Addr{}, okTimeout)
	vpn := n.NymVPNAPIURL()

	var gateways, exits []NodeInfo
	for _, ni := range n.Nodes() {
		if ni.Declared.Gateway() {
			gateways = append(gateways, ni)
			if ni.Declared.ExitCapable() {
				exits = append(exits, ni)
			}
		}
	}

	t.Run("health", func(t *testing.T) {
		h := obj(t, getJSON(t, c, vpn+"/public/v1/health"))
		assertShape(t, "health", fixture(t, "vpn-api_public_v1_health.json"), h)
		ts, err := time.Parse(time.RFC3339, h["timestampUtc"].(string))
		if err != nil || h["status"] != "ok" {
			t.Fatalf("health %v: %v", h, err)
		}
		if !ts.Equal(clock.Now().Truncate(time.Millisecond)) {
			t.Errorf("timestampUtc %s, want %s", ts, clock.Now())
		}
	})

	t.Run("healthy directory", func(t *testing.T) {
		all := getJSON(t, c, vpn+"/public/v1/directory/gateways")
		if got := arr(t, all); len(got) != len(gateways) {
			t.Fatalf("%d gateways, want %d", len(got), len(gateways))
		}
		exitFixture := arr(t, fixture(t, "vpn-api_public_v1_directory_gateways_exit.json"))[0]
		entryFixture := arr(t, fixture(t, "vpn-api_public_v1_directory_gateways_entry.json"))[0]
		for _, g := range arr(t, all) {
			gm := obj(t, g)
			ni := findIdentity(t, gateways, gm["identity_key"].(string))
			want := entryFixture
			if ni.Declared.ExitCapable() {
				want = exitFixture
			}
			assertShape(t, "gateway", want, g, "role")
			lp := obj(t, gm, "last_probe")
			at, err := time.Parse(time.RFC3339, lp["last_updated_utc"].(string))
			if err != nil || clock.Now().Sub(at) >= time.Hour || at.After(clock.Now()) {
				t.Errorf("gateway %d probe at %v (%v), want fresh", ni.ID, lp["last_updated_utc"], err)
			}
			if e := obj(t, lp, "outcome", "as_entry"); e["can_connect"] != true || e["can_route"] != true {
				t.Errorf("gateway %d as_entry %v", ni.ID, e)
			}
			if loc := obj(t, gm, "location"); loc["two_letter_iso_country_code"] != ni.Country {
				t.Errorf("gateway %d location %v, want %s", ni.ID, loc, ni.Country)
			}
			if ips := arr(t, gm["ip_addresses"]); len(ips) != 1 || ips[0] != ni.IP.String() {
				t.Errorf("gateway %d ips %v", ni.ID, ips)
			}
		}
		entry := gatewayIDs(t, getJSON(t, c, vpn+"/public/v1/directory/gateways/entry"))
		exit := gatewayIDs(t, getJSON(t, c, vpn+"/public/v1/directory/gateways/exit"))
		if len(entry) != len(gateways) || len(exit) != len(exits) {
			t.Errorf("entry %d exit %d, want %d and %d", len(entry), len(exit), len(gateways), len(exits))
		}
		var wantCountries []string
		for _, ni := range gateways {
			wantCountries = append(wantCountries, ni.Country)
		}
		slices.Sort(wantCountries)
		wantCountries = slices.Compact(wantCountries)
		var got []string
		raw := getJSON(t, c, vpn+"/public/v1/directory/gateways/entry/countries")
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &got)
		if !slices.Equal(got, wantCountries) {
			t.Errorf("entry countries %v, want %v", got, wantCountries)
		}
	})

	t.Run("down gateway", func(t *testing.T) {
		down := exits[0]
		mustSet(t, n.SetFault(down.ID, Refuse()))
		defer func() { mustSet(t, n.SetFault(down.ID, None())) }()
		for _, g := range arr(t, getJSON(t, c, vpn+"/public/v1/directory/gateways")) {
			gm := obj(t, g)
			if gm["identity_key"] != down.Identity {
				continue
			}
			out := obj(t, gm, "last_probe", "outcome")
			if e := obj(t, out, "as_entry"); e["can_connect"] != false || e["can_route"] != false {
				t.Errorf("down gateway as_entry %v", e)
			}
			if x := obj(t, out, "as_exit"); x["can_route_ip_external_v4"] != false || x["can_connect"] != false {
				t.Errorf("down gateway as_exit %v", x)
			}
			if s := obj(t, gm, "performance_v2")["score"]; s != "offline" {
				t.Errorf("down gateway score %v", s)
			}
		}
		for _, route := range []string{"/entry", "/exit"} {
			ids := gatewayIDs(t, getJSON(t, c, vpn+"/public/v1/directory/gateways"+route))
			if slices.Contains(ids, down.Identity) {
				t.Errorf("%s lists the down gateway", route)
			}
		}
		// Slow is not down for the VPN's prober.
		mustSet(t, n.SetFault(down.ID, Slow(time.Millisecond)))
		if ids := gatewayIDs(t, getJSON(t, c, vpn+"/public/v1/directory/gateways/exit")); !slices.Contains(ids, down.Identity) {
			t.Errorf("slow gateway missing from /exit")
		}
	})

	t.Run("stale", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, StaleDirectory(0)))
		defer func() { mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, None())) }()
		for _, g := range arr(t, getJSON(t, c, vpn+"/public/v1/directory/gateways/entry")) {
			at, err := time.Parse(time.RFC3339, obj(t, g, "last_probe")["last_updated_utc"].(string))
			if err != nil || clock.Now().Sub(at) < time.Hour {
				t.Errorf("stale directory probe at %v (%v), want over 60 min old", at, err)
			}
		}
	})

	t.Run("empty", func(t *testing.T) {
		mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, EmptyDirectory()))
		defer func() { mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, None())) }()
		for _, route := range []string{"", "/entry", "/exit", "/exit/countries"} {
			if got := arr(t, getJSON(t, c, vpn+"/public/v1/directory/gateways"+route)); len(got) != 0 {
				t.Errorf("%s: %d items, want none", route, len(got))
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		errFixture := fixture(t, "vpn-api_error_response.json")
		resp, body, err := get(c, vpn+"/public/v1/nope")
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown path: %v %v", resp, err)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		assertShape(t, "error", errFixture, v)

		mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, HTTP5xx(503)))
		resp, body, err = get(c, vpn+"/public/v1/directory/gateways/exit")
		if err != nil || resp.StatusCode != 503 || json.Unmarshal(body, &v) != nil {
			t.Fatalf("5xx: %v %q %v", resp, body, err)
		}
		assertShape(t, "error", errFixture, v)

		mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, Garbage()))
		if resp, body, err = get(c, vpn+"/public/v1/health"); err != nil || resp.StatusCode != 200 || jsonValid(body) {
			t.Errorf("garbage: %v %q %v", resp, body, err)
		}
		mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, Hang()))
		if _, _, err = get(newClient(netip.Addr{}, failTimeout), vpn+"/public/v1/health"); !isTimeout(err) {
			t.Errorf("hang: %v", err)
		}
		mustSet(t, n.SetServiceFault(ServiceNymVPNAPI, None()))
		getJSON(t, c, vpn+"/public/v1/health")
	})
}

func findIdentity(t *testing.T, nodes []NodeInfo, id string) NodeInfo {
	t.Helper()
	for _, ni := range nodes {
		if ni.Identity == id {
			return ni
		}
	}
	t.Fatalf("no gateway with identity %s", id)
	return NodeInfo{}
}
