package nymapi

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/probes"
)

// dtFixture reads a nym-api fixture, checked against the manifest
// (testutil.Fixture finds it from any package directory).
func dtFixture(t testing.TB, name string) []byte {
	t.Helper()
	return testutil.Fixture(t, name)
}

func dtTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func TestDecodeDescribedFixtures(t *testing.T) {
	for _, tc := range []struct {
		file      string
		wantLewes bool
		ids       []uint32
	}{
		{"nym-api_v2_nym-nodes_described.json", true, []uint32{1399, 1502, 2041, 877, 2210}},
		{"nym-api_v1_nym-nodes_described.json", false, []uint32{1399, 1502, 2041}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			items, err := DecodeDescribed(dtFixture(t, tc.file))
			if err != nil {
				t.Fatalf("DecodeDescribed: %v", err)
			}
			var ids []uint32
			for _, it := range items {
				ids = append(ids, it.NodeID)
			}
			if !slices.Equal(ids, tc.ids) {
				t.Fatalf("node ids = %v, want %v", ids, tc.ids)
			}
			byID := map[uint32]NymNodeDescription{}
			for _, it := range items {
				byID[it.NodeID] = it
				if got := len(it.Description.LewesProtocol) > 0 && string(it.Description.LewesProtocol) != "null"; got != tc.wantLewes {
					t.Errorf("node %d: lewes_protocol present = %v, want %v", it.NodeID, got, tc.wantLewes)
				}
			}
			exit := byID[1399].Description
			if exit.HostInformation.Keys.Ed25519 != "EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus" {
				t.Errorf("1399 identity = %q", exit.HostInformation.Keys.Ed25519)
			}
			if got := exit.HostInformation.IPAddress; !slices.Equal(got, []string{"203.0.113.10", "2001:db8:10::10"}) {
				t.Errorf("1399 ips = %v", got)
			}
			if h := exit.HostInformation.Hostname; h == nil || *h != "nym-exit.example-operator.net" {
				t.Errorf("1399 hostname = %v", h)
			}
			if exit.DeclaredRole != (probes.DeclaredRoles{Entry: true, ExitNR: true, ExitIPR: true}) {
				t.Errorf("1399 declared = %+v", exit.DeclaredRole)
			}
			if l := exit.AuxiliaryDetails.Location; l == nil || *l != "DE" {
				t.Errorf("1399 location = %v", l)
			}
			if exit.AuxiliaryDetails.AnnouncePorts.MixPort != nil {
				t.Errorf("1399 mix_port = %v, want null", *exit.AuxiliaryDetails.AnnouncePorts.MixPort)
			}
			if ws := exit.MixnetWebsockets; ws == nil || ws.WSPort != 9000 || ws.WSSPort == nil || *ws.WSSPort != 9001 {
				t.Errorf("1399 websockets = %+v", ws)
			}
			if exit.Wireguard == nil || exit.Wireguard.TunnelPort != 51822 {
				t.Errorf("1399 wireguard = %+v", exit.Wireguard)
			}
			if exit.BuildInformation.BuildVersion != "1.31.0" {
				t.Errorf("1399 version = %q", exit.BuildInformation.BuildVersion)
			}
			if want := dtTime(t, "2026-05-15T10:12:41.337905124Z"); !exit.LastPolled.Equal(want) {
				t.Errorf("1399 last_polled = %v, want %v", exit.LastPolled, want)
			}
			if len(tc.ids) < 5 {
				return
			}
			mix := byID[877].Description
			if mix.HostInformation.Hostname != nil {
				t.Errorf("877 hostname = %q, want null", *mix.HostInformation.Hostname)
			}
			if mix.Wireguard != nil {
				t.Error("877 wireguard should be null")
			}
			if ws := mix.MixnetWebsockets; ws == nil || ws.WSSPort != nil {
				t.Errorf("877 websockets = %+v, want wss null", ws)
			}
			if v := byID[2210].Description.BuildInformation.BuildVersion; v != "1.29.0" {
				t.Errorf("2210 version = %q", v)
			}
		})
	}
}

func TestDecodeBondedFixture(t *testing.T) {
	bonds, err := DecodeBonded(dtFixture(t, "nym-api_v1_nym-nodes_bonded.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []NymBondedNode{
		{NodeID: 1399, IdentityKey: "EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus", Host: "nym-exit.example-operator.net"},
		{NodeID: 877, IdentityKey: "D7qJFPoJDDTxtHBV2ogbHUyKodSCtasYeQpkNYTT3Tbn", Host: "192.0.2.45"},
		{NodeID: 2210, IdentityKey: "RZckBsG5XXLMsjXGjTi98yjx8LB6d9FhZPpVCccHTfw", Host: "mix.example.net", CustomHTTPPort: 8080},
	}
	if !slices.Equal(bonds, want) {
		t.Fatalf("bonds =\n%+v\nwant\n%+v", bonds, want)
	}
}

func TestDecodeSkimmedFixtures(t *testing.T) {
	type nodeWant struct {
		role  probes.Role
		layer int
		perf  float64
	}
	refreshed := "2026-05-15T11:05:12.748012664Z"
	for _, tc := range []struct {
		file      string
		status    string
		epoch     uint32
		refreshed string
		nodes     map[uint32]nodeWant
	}{
		{"nym-api_v2_unstable_nym-nodes_skimmed.json", "", 31522, refreshed, map[uint32]nodeWant{
			1399: {probes.RoleExitGateway, 0, 0.98}, 1502: {probes.RoleExitGateway, 0, 0.91}, 2041: {probes.RoleEntryGateway, 0, 0.95},
			877: {probes.RoleMixnode, 2, 1}, 2210: {probes.RoleInactive, 0, 0.62},
		}},
		{"nym-api_v2_unstable_nym-nodes_skimmed_exit-gateways.json", "fresh", 31522, refreshed, map[uint32]nodeWant{
			1399: {probes.RoleExitGateway, 0, 0.98}, 1502: {probes.RoleExitGateway, 0, 0.91},
		}},
		{"nym-api_v2_unstable_nym-nodes_skimmed_no-updates.json", "no-updates", 31522, "2026-05-15T11:06:40.120583001Z", map[uint32]nodeWant{}},
		{"nym-api_v1_unstable_nym-nodes_skimmed.json", "", 0, refreshed, map[uint32]nodeWant{
			1399: {probes.RoleExitGateway, 0, 0.98}, 2041: {probes.RoleEntryGateway, 0, 0.95}, 877: {probes.RoleMixnode, 2, 1},
		}},
		{"nym-api_v2_unstable_nym-nodes_semi-skimmed.json", "", 31522, refreshed, map[uint32]nodeWant{
			1399: {probes.RoleExitGateway, 0, 0.98}, 2041: {probes.RoleEntryGateway, 0, 0.95}, 877: {probes.RoleMixnode, 2, 1},
		}},
		{"nym-api_v3_unstable_nym-nodes_semi-skimmed.json", "", 31522, refreshed, map[uint32]nodeWant{
			1399: {probes.RoleExitGateway, 0, 0.98}, 877: {probes.RoleMixnode, 2, 1},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, err := DecodeSkimmed(dtFixture(t, tc.file))
			if err != nil {
				t.Fatalf("DecodeSkimmed: %v", err)
			}
			if s.Status != tc.status {
				t.Errorf("status = %q, want %q", s.Status, tc.status)
			}
			if s.AbsoluteEpochID != tc.epoch {
				t.Errorf("epoch = %d, want %d", s.AbsoluteEpochID, tc.epoch)
			}
			if want := dtTime(t, tc.refreshed); !s.RefreshedAt.Equal(want) {
				t.Errorf("refreshed_at = %v, want %v", s.RefreshedAt, want)
			}
			if len(s.Nodes) != len(tc.nodes) {
				t.Fatalf("%d nodes, want %d", len(s.Nodes), len(tc.nodes))
			}
			for _, n := range s.Nodes {
				w, ok := tc.nodes[n.NodeID]
				if !ok {
					t.Errorf("unexpected node %d", n.NodeID)
					continue
				}
				if n.Role.Role != w.role || n.Role.Layer != w.layer || float64(n.Performance) != w.perf {
					t.Errorf("node %d: role %v layer %d perf %v, want %v %d %v", n.NodeID, n.Role.Role, n.Role.Layer, n.Performance, w.role, w.layer, w.perf)
				}
				if n.MixPort != 1789 || len(n.IPAddresses) == 0 || n.Identity == "" {
					t.Errorf("node %d: mix_port %d ips %v identity %q", n.NodeID, n.MixPort, n.IPAddresses, n.Identity)
				}
				if gw := n.SupportedRoles.Entry; gw != (n.Entry != nil) {
					t.Errorf("node %d: entry block present = %v, declared entry = %v", n.NodeID, n.Entry != nil, gw)
				}
			}
			if tc.status == "fresh" {
				if s.Fresh == nil || s.Fresh.CurrentEpochID != 562 || s.Fresh.TotalElapsedEpochs != 31522 || s.Fresh.Length() != time.Hour {
					t.Errorf("fresh interval = %+v", s.Fresh)
				}
			} else if s.Fresh != nil {
				t.Errorf("fresh = %+v, want nil", s.Fresh)
			}
		})
	}
}

func TestDecodeRewardedSetFixture(t *testing.T) {
	s, err := DecodeRewardedSet(dtFixture(t, "nym-api_v1_nym-nodes_rewarded-set.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.EpochID != 31522 {
		t.Errorf("epoch = %d", s.EpochID)
	}
	roles := s.Roles()
	for id, want := range map[uint32]NodeRole{
		2041: {Role: probes.RoleEntryGateway}, 1399: {Role: probes.RoleExitGateway}, 1502: {Role: probes.RoleExitGateway},
		712: {Role: probes.RoleMixnode, Layer: 1}, 877: {Role: probes.RoleMixnode, Layer: 2}, 2002: {Role: probes.RoleMixnode, Layer: 3},
	} {
		if roles[id] != want {
			t.Errorf("role of %d = %+v, want %+v", id, roles[id], want)
		}
	}
	if _, ok := roles[2210]; ok {
		t.Error("2210 is not in the rewarded set")
	}
	if len(roles) != 17 {
		t.Errorf("%d nodes in set, want 17", len(roles))
	}
}

func TestDecodeNymAPIHealthAndEpochFixtures(t *testing.T) {
	h, err := DecodeNymAPIHealth(dtFixture(t, "nym-api_v1_api-status_health.json"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "up" || !h.ChainStatus.Synced() || h.Uptime != 1209631 {
		t.Errorf("health = %+v", h)
	}
	h, err = DecodeNymAPIHealth(dtFixture(t, "nym-api_v1_api-status_health_chain-stalled.json"))
	if err != nil {
		t.Fatal(err)
	}
	if h.ChainStatus.Synced() || h.ChainStatus.State != "stalled" || h.ChainStatus.StalledFor != "7m 41s 312ms" || h.Uptime != 86433 {
		t.Errorf("stalled health = %+v", h)
	}

	iv, err := DecodeNymAPIInterval(dtFixture(t, "nym-api_v1_epoch_current.json"))
	if err != nil {
		t.Fatal(err)
	}
	start := dtTime(t, "2026-05-15T11:00:04.512903311Z")
	if iv.ID != 43 || iv.EpochsInInterval != 720 || iv.CurrentEpochID != 562 || iv.TotalElapsedEpochs != 31522 ||
		!iv.CurrentEpochStart.Equal(start) || !iv.CurrentEpochEnd().Equal(start.Add(time.Hour)) {
		t.Errorf("interval = %+v", iv)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	decoders := map[string]func([]byte) error{
		"described": func(b []byte) error { _, err := DecodeDescribed(b); return err },
		"skimmed":   func(b []byte) error { _, err := DecodeSkimmed(b); return err },
		"bonded":    func(b []byte) error { _, err := DecodeBonded(b); return err },
		"rewarded":  func(b []byte) error { _, err := DecodeRewardedSet(b); return err },
		"health":    func(b []byte) error { _, err := DecodeNymAPIHealth(b); return err },
		"epoch":     func(b []byte) error { _, err := DecodeNymAPIInterval(b); return err },
	}
	for _, tc := range []struct {
		name    string
		decoder string
		body    string
		wantMsg string
	}{
		{"html", "described", "<html><body>502 Bad Gateway</body></html>", "not JSON"},
		{"plain text 503 body", "described", "relevant cache hasn't been initialised yet", "not JSON"},
		{"empty", "described", "  ", "empty body"},
		{"array", "described", `[{"node_id":1}]`, "JSON array"},
		{"scalar", "described", `42`, "scalar"},
		{"no data", "described", `{"pagination":{"total":0,"page":0,"size":0}}`, `no "data"`},
		{"data object", "described", `{"data":{"node_id":1}}`, "cannot unmarshal"},
		{"no description", "described", `{"data":[{"node_id":1}]}`, "no description"},
		{"wrong type", "described", `{"data":[{"node_id":"one","description":{}}]}`, "cannot unmarshal"},
		{"port out of range", "described", `{"data":[{"node_id":1,"description":{"auxiliary_details":{"announce_ports":{"mix_port":70000}}}}]}`, "cannot unmarshal"},
		{"truncated", "described", `{"data":[{"node_id":1,`, "unexpected end"},
		{"skimmed no nodes", "skimmed", `{"metadata":{"status":null}}`, `no "nodes"`},
		{"skimmed unknown role", "skimmed", `{"nodes":{"data":[{"node_id":1,"role":"Gateway","performance":"1"}]}}`, "unknown variant"},
		{"skimmed layer 4", "skimmed", `{"nodes":{"data":[{"node_id":1,"role":{"Mixnode":{"layer":4}},"performance":"1"}]}}`, "out of range"},
		{"skimmed no role", "skimmed", `{"nodes":{"data":[{"node_id":1,"performance":"1"}]}}`, "no role"},
		{"skimmed bad percent", "skimmed", `{"nodes":{"data":[{"node_id":1,"role":"Standby","performance":"lots"}]}}`, "invalid percent"},
		{"skimmed percent > 1", "skimmed", `{"nodes":{"data":[{"node_id":1,"role":"Standby","performance":"1.5"}]}}`, "out of range"},
		{"skimmed bad status", "skimmed", `{"metadata":{"status":{"stale":1}},"nodes":{"data":[]}}`, "unknown variant"},
		{"skimmed bad time", "skimmed", `{"metadata":{"refreshed_at":"yesterday"},"nodes":{"data":[]}}`, "invalid nym-api time"},
		{"bonded no bond_information", "bonded", `{"data":[{"rewarding_details":{}}]}`, "no bond_information"},
		{"rewarded missing lists", "rewarded", `{"epoch_id":1,"entry_gateways":[1]}`, "missing"},
		{"rewarded empty", "rewarded", `{"epoch_id":1,"entry_gateways":[],"exit_gateways":[],"layer1":[],"layer2":[],"layer3":[],"standby":[]}`, "empty"},
		{"health no status", "health", `{"uptime":3}`, "no status"},
		{"epoch no start", "epoch", `{"id":1}`, "no current_epoch_start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decoders[tc.decoder]([]byte(tc.body))
			if err == nil {
				t.Fatal("decode succeeded, want error")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestDecodeToleratesUnknownFieldsAndShapes(t *testing.T) {
	// A future nym-api adding fields, and the unpaginated deprecated wrapper.
	body := `{"refreshed_at":"2026-05-15T11:05:12Z","extra":{"x":1},"nodes":[
	  {"node_id":7,"ed25519_identity_pubkey":"k","ip_addresses":["192.0.2.1"],"mix_port":1789,
	   "role":"Standby","supported_roles":{"mixnode":true},"entry":null,"performance":0.5,"new_field":[1,2]}]}`
	s, err := DecodeSkimmed([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 1 || s.Nodes[0].Role.Role != probes.RoleStandby || s.Nodes[0].Performance != 0.5 ||
		!s.RefreshedAt.Equal(time.Date(2026, 5, 15, 11, 5, 12, 0, time.UTC)) {
		t.Errorf("decoded %+v", s)
	}
	if _, err := DecodeDescribed([]byte(`{"pagination":{"total":1},"data":[{"node_id":3,"description":{"future":true}}],"more":1}`)); err != nil {
		t.Errorf("unknown fields rejected: %v", err)
	}
	h, err := DecodeNymAPIHealth([]byte(`{"status":"up","uptime":1}`))
	if err != nil || h.ChainStatus.State != "" {
		t.Errorf("health without chain_status: %+v, %v", h, err)
	}
}

func TestParseNymTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339, "" for an error
	}{
		{"2026-05-15 11:05:12.748012664 +00:00:00", "2026-05-15T11:05:12.748012664Z"},
		{"2026-05-15 11:05:12 +00:00:00", "2026-05-15T11:05:12Z"},
		{"2026-05-15 13:05:12.5 +02:00:00", "2026-05-15T11:05:12.5Z"},
		{"2026-05-15 06:05:12.1 -05:00:00", "2026-05-15T11:05:12.1Z"},
		{"2026-05-15 11:05:12.748 +00:00", "2026-05-15T11:05:12.748Z"},
		{"2026-05-15T11:05:12.748012664Z", "2026-05-15T11:05:12.748012664Z"},
		{"2026-05-15T13:05:12+02:00", "2026-05-15T11:05:12Z"},
		{"2026-05-15", ""},
		{"yesterday", ""},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseNymTime(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("parsed %q as %v, want error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := dtTime(t, tc.want); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v UTC", got, want)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"0.98", 0.98, false},
		{"1", 1, false},
		{"0", 0, false},
		{"1.000000000000000000", 1, false},
		{"0.000000000000000001", 1e-18, false},
		{"1.01", 0, true},
		{"-0.1", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"98%", 0, true},
		{"", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePercent(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNodeRoleUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want NodeRole
		err  bool
	}{
		{`"EntryGateway"`, NodeRole{Role: probes.RoleEntryGateway}, false},
		{`"ExitGateway"`, NodeRole{Role: probes.RoleExitGateway}, false},
		{`"Standby"`, NodeRole{Role: probes.RoleStandby}, false},
		{`"Inactive"`, NodeRole{Role: probes.RoleInactive}, false},
		{`{"Mixnode":{"layer":1}}`, NodeRole{Role: probes.RoleMixnode, Layer: 1}, false},
		{`{"Mixnode":{"layer":3}}`, NodeRole{Role: probes.RoleMixnode, Layer: 3}, false},
		{`{"Mixnode":{"layer":0}}`, NodeRole{}, true},
		{`{"Mixnode":{}}`, NodeRole{}, true},
		{`{"Gateway":{}}`, NodeRole{}, true},
		{`"entryGateway"`, NodeRole{}, true}, // DisplayRole spelling is a different enum
		{`3`, NodeRole{}, true},
		{`null`, NodeRole{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var r NodeRole
			err := r.UnmarshalJSON([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if r != tc.want {
				t.Errorf("got %+v, want %+v", r, tc.want)
			}
		})
	}
}

func TestErrBadShapeIsWrapped(t *testing.T) {
	_, err := DecodeDescribed([]byte(`{"data":null}`))
	if !errors.Is(err, ErrBadShape) {
		t.Errorf("err = %v, want ErrBadShape", err)
	}
}
