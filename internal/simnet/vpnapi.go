package simnet

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

type vpnASN struct {
	ASN    string `json:"asn"`
	Name   string `json:"name"`
	Domain string `json:"domain"`
	Route  string `json:"route"`
	Kind   string `json:"kind"`
}

type vpnLocation struct {
	TwoLetterISOCountryCode string  `json:"two_letter_iso_country_code"`
	Latitude                float64 `json:"latitude"`
	Longitude               float64 `json:"longitude"`
	City                    string  `json:"city"`
	Region                  string  `json:"region"`
	Org                     string  `json:"org"`
	Postal                  string  `json:"postal"`
	Timezone                string  `json:"timezone"`
	ASN                     *vpnASN `json:"asn"`
}

type asEntry struct {
	CanConnect bool `json:"can_connect"`
	CanRoute   bool `json:"can_route"`
}

type asExit struct {
	CanConnect           bool `json:"can_connect"`
	CanRouteIPV4         bool `json:"can_route_ip_v4"`
	CanRouteIPExternalV4 bool `json:"can_route_ip_external_v4"`
	CanRouteIPV6         bool `json:"can_route_ip_v6"`
	CanRouteIPExternalV6 bool `json:"can_route_ip_external_v6"`
}

type wgOutcome struct {
	CanRegister                    bool    `json:"can_register"`
	CanHandshake                   bool    `json:"can_handshake"`
	CanResolveDNS                  bool    `json:"can_resolve_dns"`
	PingHostsPerformance           float64 `json:"ping_hosts_performance"`
	PingIPsPerformance             float64 `json:"ping_ips_performance"`
	CanQueryMetadataV4             bool    `json:"can_query_metadata_v4"`
	CanHandshakeV4                 bool    `json:"can_handshake_v4"`
	CanResolveDNSV4                bool    `json:"can_resolve_dns_v4"`
	PingHostsPerformanceV4         float64 `json:"ping_hosts_performance_v4"`
	PingIPsPerformanceV4           float64 `json:"ping_ips_performance_v4"`
	CanHandshakeV6                 bool    `json:"can_handshake_v6"`
	CanResolveDNSV6                bool    `json:"can_resolve_dns_v6"`
	PingHostsPerformanceV6         float64 `json:"ping_hosts_performance_v6"`
	PingIPsPerformanceV6           float64 `json:"ping_ips_performance_v6"`
	DownloadDurationSecV4          int     `json:"download_duration_sec_v4"`
	DownloadDurationMillisecondsV4 int     `json:"download_duration_milliseconds_v4"`
	DownloadedFileSizeBytesV4      int     `json:"downloaded_file_size_bytes_v4"`
	DownloadedFileV4               string  `json:"downloaded_file_v4"`
	DownloadErrorV4                string  `json:"download_error_v4"`
	DownloadDurationSecV6          int     `json:"download_duration_sec_v6"`
	DownloadDurationMillisecondsV6 int     `json:"download_duration_milliseconds_v6"`
	DownloadedFileSizeBytesV6      int     `json:"downloaded_file_size_bytes_v6"`
	DownloadedFileV6               string  `json:"downloaded_file_v6"`
	DownloadErrorV6                string  `json:"download_error_v6"`
}

type socks5Outcome struct {
	CanProxyHTTPS bool     `json:"can_proxy_https"`
	Score         string   `json:"score"`
	Errors        []string `json:"errors"`
}

type lpOutcome struct {
	CanConnect   bool    `json:"can_connect"`
	CanHandshake bool    `json:"can_handshake"`
	CanRegister  bool    `json:"can_register"`
	Error        *string `json:"error"`
}

type probeOutcome struct {
	AsEntry *asEntry       `json:"as_entry"`
	AsExit  *asExit        `json:"as_exit"`
	WG      *wgOutcome     `json:"wg"`
	Socks5  *socks5Outcome `json:"socks5"`
	LP      *lpOutcome     `json:"lp"`
}

type vpnProbe struct {
	LastUpdatedUTC string       `json:"last_updated_utc"`
	Outcome        probeOutcome `json:"outcome"`
}

type perfV2 struct {
	LastUpdatedUTC              string  `json:"last_updated_utc"`
	Score                       string  `json:"score"`
	MixnetScore                 string  `json:"mixnet_score"`
	Load                        string  `json:"load"`
	UptimePercentageLast24Hours float64 `json:"uptime_percentage_last_24_hours"`
}

type stakingData struct {
	TotalStake       uint64 `json:"total_stake"`
	TotalDelegations uint64 `json:"total_delegations"`
	TotalBond        uint64 `json:"total_bond"`
	Delegations      int    `json:"delegations"`
}

// vpnGateway is NymDirectoryGateway.
type vpnGateway struct {
	IdentityKey          string          `json:"identity_key"`
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	IPPacketRouter       *addrDetails    `json:"ip_packet_router"`
	Authenticator        *addrDetails    `json:"authenticator"`
	Location             vpnLocation     `json:"location"`
	LastProbe            *vpnProbe       `json:"last_probe"`
	IPAddresses          []string        `json:"ip_addresses"`
	MixPort              uint16          `json:"mix_port"`
	Role                 nodeRole        `json:"role"`
	Entry                entryDetails    `json:"entry"`
	Bridges              any             `json:"bridges"`
	Performance          string          `json:"performance"`
	PerformanceV2        *perfV2         `json:"performance_v2"`
	LewesProtocolDetails *lewesProtocol  `json:"lewes_protocol_details"`
	BuildInformation     json.RawMessage `json:"build_information"`
	StakingData          *stakingData    `json:"staking_data"`
	FamilyData           any             `json:"family_data"`
}

const downloadFile = "https://proof.ovh.net/files/10Mb.dat"

func okWG() *wgOutcome {
	return &wgOutcome{
		CanRegister: true, CanHandshake: true, CanResolveDNS: true,
		PingHostsPerformance: 1, PingIPsPerformance: 1,
		CanQueryMetadataV4: true, CanHandshakeV4: true, CanResolveDNSV4: true,
		PingHostsPerformanceV4: 1, PingIPsPerformanceV4: 1,
		CanHandshakeV6: true, CanResolveDNSV6: true,
		PingHostsPerformanceV6: 0.9, PingIPsPerformanceV6: 0.9,
		DownloadDurationSecV4: 2, DownloadDurationMillisecondsV4: 2870,
		DownloadedFileSizeBytesV4: 10485760, DownloadedFileV4: downloadFile,
		DownloadDurationSecV6: 4, DownloadDurationMillisecondsV6: 4120,
		DownloadedFileSizeBytesV6: 10485760, DownloadedFileV6: downloadFile,
	}
}

func failedWG() *wgOutcome {
	return &wgOutcome{DownloadErrorV4: "handshake did not complete", DownloadErrorV6: "handshake did not complete"}
}

func mixnetScore(p int) string {
	switch {
	case p > 80:
		return "high"
	case p > 60:
		return "medium"
	case p > 10:
		return "low"
	}
	return "offline"
}

// vpnGateway renders nd as the directory shows it: its probe is probeAge
// old (plus age when the directory is stale) and fails when nd is down.
func (n *Network) vpnGateway(nd *node, now time.Time, age time.Duration, down bool) vpnGateway {
	probedAt := now.Add(-nd.probeAge - age).Truncate(time.Second).Format(time.RFC3339)
	cc := nd.country
	asn := fmt.Sprintf("AS%d", 64496+int(nd.id)%16) // documentation ASNs
	g := vpnGateway{
		IdentityKey:    nd.identity,
		Name:           nd.moniker,
		Description:    nd.description().Details,
		IPPacketRouter: &addrDetails{Address: nd.iprAddr},
		Authenticator:  &addrDetails{Address: nd.authAddr},
		Location: vpnLocation{
			TwoLetterISOCountryCode: cc.code, Latitude: cc.lat, Longitude: cc.lon,
			City: cc.city, Region: cc.region, Org: asn + " Simulated Hosting " + cc.code,
			Postal: cc.postal, Timezone: cc.timezone,
			ASN: &vpnASN{ASN: asn, Name: "Simulated Hosting " + cc.code, Domain: "hosting.simnet.invalid", Route: nd.ip.String() + "/32", Kind: "other"},
		},
		IPAddresses:          []string{nd.ip.String()},
		MixPort:              n.ports[portMix],
		Role:                 nodeRole{role: nd.role, layer: nd.layer},
		Entry:                entryDetails{WSPort: n.ports[portWS]},
		Performance:          percent(nd.perf),
		LewesProtocolDetails: n.lewes(nd),
		BuildInformation:     n.tmpl.nodeBuild[nd.version],
		StakingData: &stakingData{
			TotalStake: nd.pledge + nd.delegates, TotalDelegations: nd.delegates,
			TotalBond: nd.pledge, Delegations: nd.delegations,
		},
	}
	exit := nd.declared.ExitCapable()
	out := probeOutcome{
		AsEntry: &asEntry{CanConnect: true, CanRoute: true},
		WG:      okWG(),
		Socks5:  &socks5Outcome{CanProxyHTTPS: exit, Score: "high"},
		LP:      &lpOutcome{CanConnect: true, CanHandshake: true, CanRegister: true},
	}
	if exit {
		out.AsExit = &asExit{CanConnect: true, CanRouteIPV4: true, CanRouteIPExternalV4: true, CanRouteIPV6: true, CanRouteIPExternalV6: true}
	} else {
		out.Socks5.Score = "offline"
	}
	perf := &perfV2{
		LastUpdatedUTC: probedAt, Score: "high", MixnetScore: mixnetScore(nd.perf), Load: "low",
		UptimePercentageLast24Hours: float64(nd.perf) / 100,
	}
	if nd.perf <= 80 {
		perf.Score = "medium"
	}
	if down {
		refused := "connection refused"
		out.AsEntry = &asEntry{}
		if exit {
			out.AsExit = &asExit{}
		}
		out.WG = failedWG()
		out.Socks5 = &socks5Outcome{Score: "offline", Errors: []string{"timed out waiting for SOCKS5 connection"}}
		out.LP = &lpOutcome{Error: &refused}
		perf.Score, perf.Load = "offline", "offline"
	}
	g.LastProbe = &vpnProbe{LastUpdatedUTC: probedAt, Outcome: out}
	g.PerformanceV2 = perf
	return g
}

// vpnList is one of the directory's lists.
type vpnList uint8

const (
	vpnAll vpnList = iota
	vpnEntry
	vpnExit
)

func (l vpnList) keep(g *vpnGateway) bool {
	o := g.LastProbe.Outcome
	switch l {
	case vpnEntry:
		return o.AsEntry != nil && o.AsEntry.CanConnect && o.AsEntry.CanRoute
	case vpnExit:
		return o.AsExit != nil && o.AsExit.CanRouteIPExternalV4 && o.AsExit.CanRouteIPExternalV6
	}
	return true
}

func (n *Network) directory(list vpnList, f Fault, now time.Time) []vpnGateway {
	out := []vpnGateway{}
	if f.Kind == KindEmptyDirectory {
		return out
	}
	var age time.Duration
	if f.Kind == KindStaleDirectory {
		age = f.age()
	}
	for _, nd := range n.sortedGateways() {
		g := n.vpnGateway(nd, now, age, n.nodeDown(nd))
		if list.keep(&g) {
			out = append(out, g)
		}
	}
	return out
}

func countries(gws []vpnGateway) []string {
	out := []string{}
	for _, g := range gws {
		out = append(out, g.Location.TwoLetterISOCountryCode)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func vpnCacheName(l vpnList, asCountries bool) string {
	return fmt.Sprintf("vpn-%d-%t", l, asCountries)
}

func (n *Network) vpnHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/public/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, struct {
			Status       string `json:"status"`
			TimestampUTC string `json:"timestampUtc"`
		}{Status: "ok", TimestampUTC: n.now().Format("2006-01-02T15:04:05.000Z07:00")})
	})
	route := func(path string, list vpnList, asCountries bool) {
		name := vpnCacheName(list, asCountries)
		mux.HandleFunc("GET /api/public/v1/directory/gateways"+path, func(w http.ResponseWriter, r *http.Request) {
			f := faultFrom(r.Context())
			now := n.now()
			b, _ := n.bucket(now)
			key := cacheKey{bucket: b, gen: n.faults.generation(), variant: f.String()}
			n.serveCached(w, name, key, func() ([]byte, error) {
				gws := n.directory(list, f, now)
				if asCountries {
					return json.Marshal(countries(gws))
				}
				return json.Marshal(gws)
			})
		})
	}
	route("", vpnAll, false)
	route("/entry", vpnEntry, false)
	route("/exit", vpnExit, false)
	route("/countries", vpnAll, true)
	route("/entry/countries", vpnEntry, true)
	route("/exit/countries", vpnExit, true)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		vpnErrorBody(w, http.StatusNotFound, "Not found")
	})
	return mux
}
