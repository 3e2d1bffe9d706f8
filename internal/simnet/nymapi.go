package simnet

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// humanTimeLayout is time-rs's Display for OffsetDateTime, which nym-api
// uses for last_polled and refreshed_at.
const humanTimeLayout = "2006-01-02 15:04:05.000000000 -07:00:00"

func humanTime(t time.Time) string { return t.UTC().Format(humanTimeLayout) }

// cacheColdMsg is nym-api's 503 body just after a restart.
const cacheColdMsg = "relevant cache hasn't been initialised yet"

// chainStallThreshold is nym-api's CHAIN_STALL_THRESHOLD: a stall is
// reported once the latest block is older than this.
const chainStallThreshold = 5 * time.Minute

// epochGenesis is when epoch 0 began; epochs last an hour, 720 to an interval.
func epochGenesis() time.Time { return time.Date(2022, 8, 10, 9, 0, 4, 512903311, time.UTC) }

type pagination struct {
	Total int `json:"total"`
	Page  int `json:"page"`
	Size  int `json:"size"`
}

// paged is nym-api's pagination wrapper; paging parameters are ignored, as
// nym-api does: everything is returned.
type paged[T any] struct {
	Pagination pagination `json:"pagination"`
	Data       []T        `json:"data"`
}

func newPaged[T any](items []T) paged[T] {
	if items == nil {
		items = []T{}
	}
	return paged[T]{Pagination: pagination{Total: len(items), Page: 0, Size: len(items)}, Data: items}
}

type epochLength struct {
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

type interval struct {
	ID                 uint32      `json:"id"`
	EpochsInInterval   uint32      `json:"epochs_in_interval"`
	CurrentEpochStart  string      `json:"current_epoch_start"`
	CurrentEpochID     uint32      `json:"current_epoch_id"`
	EpochLength        epochLength `json:"epoch_length"`
	TotalElapsedEpochs uint32      `json:"total_elapsed_epochs"`
}

func epochAt(now time.Time) interval {
	g := epochGenesis()
	total := uint32(0)
	if now.After(g) {
		total = uint32(now.Sub(g) / time.Hour)
	}
	start := g.Add(time.Duration(total) * time.Hour)
	return interval{
		ID:                 total / 720,
		EpochsInInterval:   720,
		CurrentEpochStart:  start.Format(time.RFC3339Nano),
		CurrentEpochID:     total % 720,
		EpochLength:        epochLength{Secs: 3600},
		TotalElapsedEpochs: total,
	}
}

// rotationID is the key rotation in force: keys rotate every 24 epochs.
func rotationID(iv interval) uint32 { return iv.TotalElapsedEpochs / 24 }

// nodeRole is nym-api's NodeRole, an externally tagged enum.
type nodeRole struct {
	role  Role
	layer int
}

func (r nodeRole) MarshalJSON() ([]byte, error) {
	switch r.role {
	case RoleEntryGateway:
		return []byte(`"EntryGateway"`), nil
	case RoleExitGateway:
		return []byte(`"ExitGateway"`), nil
	case RoleMixnode:
		return []byte(`{"Mixnode":{"layer":` + strconv.Itoa(r.layer) + `}}`), nil
	case RoleStandby:
		return []byte(`"Standby"`), nil
	case RoleInactive:
		return []byte(`"Inactive"`), nil
	}
	return nil, fmt.Errorf("simnet: no NodeRole for %q", r.role)
}

// percent renders a whole percent as cosmwasm Decimal does: "1", "0.98", "0.9".
func percent(p int) string {
	switch {
	case p >= 100:
		return "1"
	case p <= 0:
		return "0"
	}
	return strings.TrimRight(fmt.Sprintf("0.%02d", p), "0")
}

// humanDuration is humantime's format, truncated to milliseconds:
// "7m 41s 312ms", "1day 2h".
func humanDuration(d time.Duration) string {
	d = d.Truncate(time.Millisecond)
	if d <= 0 {
		return "0s"
	}
	var parts []string
	if days := d / (24 * time.Hour); days > 0 {
		unit := "days"
		if days == 1 {
			unit = "day"
		}
		parts = append(parts, strconv.FormatInt(int64(days), 10)+unit)
		d -= days * 24 * time.Hour
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if v := d / u.d; v > 0 {
			parts = append(parts, strconv.FormatInt(int64(v), 10)+u.name)
			d -= v * u.d
		}
	}
	return strings.Join(parts, " ")
}

// ---- described ----

type sphinxKey struct {
	RotationID uint32 `json:"rotation_id"`
	PublicKey  string `json:"public_key"`
}

type noiseKey struct {
	SupportedVersion int    `json:"supported_version"`
	X25519Pubkey     string `json:"x25519_pubkey"`
}

type hostKeys struct {
	Ed25519                     string     `json:"ed25519"`
	X25519                      string     `json:"x25519"`
	CurrentX25519SphinxKey      sphinxKey  `json:"current_x25519_sphinx_key"`
	PreAnnouncedX25519SphinxKey *sphinxKey `json:"pre_announced_x25519_sphinx_key"`
	X25519VersionedNoise        noiseKey   `json:"x25519_versioned_noise"`
}

type hostInformation struct {
	IPAddress []string `json:"ip_address"`
	Hostname  *string  `json:"hostname"`
	Keys      hostKeys `json:"keys"`
}

type announcePorts struct {
	VerlocPort *uint16 `json:"verloc_port"`
	MixPort    *uint16 `json:"mix_port"`
}

type auxDetails struct {
	Location                           *string       `json:"location"`
	AnnouncePorts                      announcePorts `json:"announce_ports"`
	AcceptedOperatorTermsAndConditions bool          `json:"accepted_operator_terms_and_conditions"`
}

type nrDetails struct {
	Address        string `json:"address"`
	UsesExitPolicy bool   `json:"uses_exit_policy"`
}

type addrDetails struct {
	Address string `json:"address"`
}

type wireguardDetails struct {
	Port         uint16 `json:"port"`
	TunnelPort   uint16 `json:"tunnel_port"`
	MetadataPort uint16 `json:"metadata_port"`
	PublicKey    string `json:"public_key"`
}

type websockets struct {
	WSPort  uint16  `json:"ws_port"`
	WSSPort *uint16 `json:"wss_port"`
}

type lewesContent struct {
	Enabled     bool            `json:"enabled"`
	ControlPort uint16          `json:"control_port"`
	DataPort    uint16          `json:"data_port"`
	X25519      string          `json:"x25519"`
	KemKeys     json.RawMessage `json:"kem_keys"`
}

type lewesProtocol struct {
	Content   lewesContent `json:"content"`
	Signature string       `json:"signature"`
}

type nodeDataV1 struct {
	LastPolled       string            `json:"last_polled"`
	HostInformation  hostInformation   `json:"host_information"`
	DeclaredRole     DeclaredRoles     `json:"declared_role"`
	AuxiliaryDetails auxDetails        `json:"auxiliary_details"`
	BuildInformation json.RawMessage   `json:"build_information"`
	NetworkRequester *nrDetails        `json:"network_requester"`
	IPPacketRouter   *addrDetails      `json:"ip_packet_router"`
	Authenticator    *addrDetails      `json:"authenticator"`
	Wireguard        *wireguardDetails `json:"wireguard"`
	MixnetWebsockets *websockets       `json:"mixnet_websockets"`
}

type nodeDataV2 struct {
	nodeDataV1
	LewesProtocol *lewesProtocol `json:"lewes_protocol"`
}

type describedNode[T any] struct {
	NodeID           uint32 `json:"node_id"`
	ContractNodeType string `json:"contract_node_type"`
	Description      T      `json:"description"`
}

func (n *Network) nodeDataV1(nd *node, at time.Time, rot uint32) nodeDataV1 {
	mix := n.ports[portMix]
	cc := nd.country.code
	d := nodeDataV1{
		LastPolled: humanTime(at.Add(-nd.polledAgo)),
		HostInformation: hostInformation{
			IPAddress: []string{nd.ip.String()},
			Keys: hostKeys{
				Ed25519:                nd.identity,
				X25519:                 nd.sphinx,
				CurrentX25519SphinxKey: sphinxKey{RotationID: rot, PublicKey: nd.sphinx},
				X25519VersionedNoise:   noiseKey{SupportedVersion: 1, X25519Pubkey: nd.noise},
			},
		},
		DeclaredRole: nd.declared,
		AuxiliaryDetails: auxDetails{
			Location:                           &cc,
			AnnouncePorts:                      announcePorts{MixPort: &mix},
			AcceptedOperatorTermsAndConditions: true,
		},
		BuildInformation: n.tmpl.nodeBuild[nd.version],
		NetworkRequester: &nrDetails{Address: nd.nrAddr, UsesExitPolicy: true},
		IPPacketRouter:   &addrDetails{Address: nd.iprAddr},
		Authenticator:    &addrDetails{Address: nd.authAddr},
	}
	if nd.declared.Gateway() {
		d.Wireguard = &wireguardDetails{Port: 51822, TunnelPort: 51822, MetadataPort: 51830, PublicKey: nd.wgKey}
		d.MixnetWebsockets = &websockets{WSPort: n.ports[portWS]}
	}
	return d
}

func (n *Network) lewes(nd *node) *lewesProtocol {
	if !nd.declared.Gateway() {
		return nil
	}
	return &lewesProtocol{
		Content: lewesContent{
			Enabled:     nd.declared.ExitCapable(),
			ControlPort: 41264,
			DataPort:    51264,
			X25519:      nd.lewesKey,
			KemKeys:     n.tmpl.kemKeys,
		},
		Signature: nd.lewesSig,
	}
}

func (n *Network) renderDescribed(v2 bool, at time.Time) ([]byte, error) {
	rot := rotationID(epochAt(at))
	if v2 {
		items := make([]describedNode[nodeDataV2], len(n.nodes))
		for i, nd := range n.nodes {
			items[i] = describedNode[nodeDataV2]{NodeID: nd.id, ContractNodeType: "nym_node",
				Description: nodeDataV2{nodeDataV1: n.nodeDataV1(nd, at, rot), LewesProtocol: n.lewes(nd)}}
		}
		return json.Marshal(newPaged(items))
	}
	items := make([]describedNode[nodeDataV1], len(n.nodes))
	for i, nd := range n.nodes {
		items[i] = describedNode[nodeDataV1]{NodeID: nd.id, ContractNodeType: "nym_node", Description: n.nodeDataV1(nd, at, rot)}
	}
	return json.Marshal(newPaged(items))
}

// ---- bonded ----

type coin struct {
	Denom  string `json:"denom"`
	Amount string `json:"amount"`
}

type bondedHost struct {
	Host           string  `json:"host"`
	CustomHTTPPort *uint16 `json:"custom_http_port"`
	IdentityKey    string  `json:"identity_key"`
}

type bondInformation struct {
	NodeID         uint32     `json:"node_id"`
	Owner          string     `json:"owner"`
	OriginalPledge coin       `json:"original_pledge"`
	BondingHeight  uint64     `json:"bonding_height"`
	IsUnbonding    bool       `json:"is_unbonding"`
	Node           bondedHost `json:"node"`
}

type costParams struct {
	ProfitMarginPercent   string `json:"profit_margin_percent"`
	IntervalOperatingCost coin   `json:"interval_operating_cost"`
}

type rewardingDetails struct {
	CostParams        costParams `json:"cost_params"`
	Operator          string     `json:"operator"`
	Delegates         string     `json:"delegates"`
	TotalUnitReward   string     `json:"total_unit_reward"`
	UnitDelegation    string     `json:"unit_delegation"`
	LastRewardedEpoch uint32     `json:"last_rewarded_epoch"`
	UniqueDelegations int        `json:"unique_delegations"`
}

type pendingChanges struct {
	PledgeChange     *uint32 `json:"pledge_change"`
	CostParamsChange *uint32 `json:"cost_params_change"`
}

type bondedNode struct {
	BondInformation  bondInformation  `json:"bond_information"`
	RewardingDetails rewardingDetails `json:"rewarding_details"`
	PendingChanges   pendingChanges   `json:"pending_changes"`
}

func (n *Network) renderBonded(at time.Time) ([]byte, error) {
	httpPort := n.ports[portHTTP]
	last := epochAt(at).TotalElapsedEpochs
	if last > 0 {
		last--
	}
	items := make([]bondedNode, len(n.nodes))
	for i, nd := range n.nodes {
		items[i] = bondedNode{
			BondInformation: bondInformation{
				NodeID:         nd.id,
				Owner:          nd.owner,
				OriginalPledge: coin{Denom: "unym", Amount: strconv.FormatUint(nd.pledge, 10)},
				BondingHeight:  nd.bondingHeight,
				Node:           bondedHost{Host: nd.ip.String(), CustomHTTPPort: &httpPort, IdentityKey: nd.identity},
			},
			RewardingDetails: rewardingDetails{
				CostParams: costParams{
					ProfitMarginPercent:   "0.2",
					IntervalOperatingCost: coin{Denom: "unym", Amount: "400000000"},
				},
				Operator:          strconv.FormatUint(nd.pledge+nd.pledge/3, 10) + ".000000000000000000",
				Delegates:         strconv.FormatUint(nd.delegates, 10) + ".000000000000000000",
				TotalUnitReward:   "27.781022513301456712",
				UnitDelegation:    "1000000000",
				LastRewardedEpoch: last,
				UniqueDelegations: nd.delegations,
			},
		}
	}
	return json.Marshal(newPaged(items))
}

// ---- rewarded set ----

type rewardedSet struct {
	EpochID       uint32   `json:"epoch_id"`
	EntryGateways []uint32 `json:"entry_gateways"`
	ExitGateways  []uint32 `json:"exit_gateways"`
	Layer1        []uint32 `json:"layer1"`
	Layer2        []uint32 `json:"layer2"`
	Layer3        []uint32 `json:"layer3"`
	Standby       []uint32 `json:"standby"`
}

func (n *Network) renderRewardedSet(at time.Time) ([]byte, error) {
	rs := rewardedSet{
		EpochID:       epochAt(at).TotalElapsedEpochs,
		EntryGateways: []uint32{}, ExitGateways: []uint32{},
		Layer1: []uint32{}, Layer2: []uint32{}, Layer3: []uint32{}, Standby: []uint32{},
	}
	for _, nd := range n.nodes {
		switch nd.role {
		case RoleEntryGateway:
			rs.EntryGateways = append(rs.EntryGateways, nd.id)
		case RoleExitGateway:
			rs.ExitGateways = append(rs.ExitGateways, nd.id)
		case RoleStandby:
			rs.Standby = append(rs.Standby, nd.id)
		case RoleMixnode:
			switch nd.layer {
			case 1:
				rs.Layer1 = append(rs.Layer1, nd.id)
			case 2:
				rs.Layer2 = append(rs.Layer2, nd.id)
			case 3:
				rs.Layer3 = append(rs.Layer3, nd.id)
			}
		}
	}
	return json.Marshal(rs)
}

// ---- skimmed ----

type entryDetails struct {
	Hostname *string `json:"hostname"`
	WSPort   uint16  `json:"ws_port"`
	WSSPort  *uint16 `json:"wss_port"`
}

type skimmedNode struct {
	NodeID                uint32        `json:"node_id"`
	Ed25519IdentityPubkey string        `json:"ed25519_identity_pubkey"`
	IPAddresses           []string      `json:"ip_addresses"`
	MixPort               uint16        `json:"mix_port"`
	X25519SphinxPubkey    string        `json:"x25519_sphinx_pubkey"`
	Role                  nodeRole      `json:"role"`
	SupportedRoles        DeclaredRoles `json:"supported_roles"`
	Entry                 *entryDetails `json:"entry"`
	Performance           string        `json:"performance"`
}

type skimmedMetadata struct {
	Status          any    `json:"status"` // null, "no-updates" or {"fresh": Interval}
	AbsoluteEpochID uint32 `json:"absolute_epoch_id"`
	RotationID      uint32 `json:"rotation_id"`
	RefreshedAt     string `json:"refreshed_at"`
}

type skimmedResponse struct {
	Metadata skimmedMetadata    `json:"metadata"`
	Nodes    paged[skimmedNode] `json:"nodes"`
}

func (n *Network) skimmed(nd *node) skimmedNode {
	s := skimmedNode{
		NodeID:                nd.id,
		Ed25519IdentityPubkey: nd.identity,
		IPAddresses:           []string{nd.ip.String()},
		MixPort:               n.ports[portMix],
		X25519SphinxPubkey:    nd.sphinx,
		Role:                  nodeRole{role: nd.role, layer: nd.layer},
		SupportedRoles:        nd.declared,
		Performance:           percent(nd.perf),
	}
	if nd.declared.Entry {
		s.Entry = &entryDetails{WSPort: n.ports[portWS]}
	}
	return s
}

// skimmedFilter is one of the skimmed routes: which nodes, and whether it
// is a role-filtered route (which carries status "fresh" and honours
// epoch_id).
type skimmedFilter struct {
	cache    string
	filtered bool
	keep     func(*node) bool
}

func (n *Network) renderSkimmed(sf skimmedFilter, at time.Time, noUpdates bool) ([]byte, error) {
	iv := epochAt(at)
	meta := skimmedMetadata{AbsoluteEpochID: iv.TotalElapsedEpochs, RotationID: rotationID(iv), RefreshedAt: humanTime(at)}
	var items []skimmedNode
	switch {
	case noUpdates:
		meta.Status = "no-updates"
	default:
		if sf.filtered {
			meta.Status = map[string]interval{"fresh": iv}
		}
		for _, nd := range n.nodes {
			if sf.keep(nd) {
				items = append(items, n.skimmed(nd))
			}
		}
	}
	return json.Marshal(skimmedResponse{Metadata: meta, Nodes: newPaged(items)})
}

// ---- handler ----

type apiHealth struct {
	Status      string `json:"status"`
	ChainStatus any    `json:"chain_status"`
	Uptime      int64  `json:"uptime"`
}

func (n *Network) nymAPIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/api-status/health", func(w http.ResponseWriter, r *http.Request) {
		h := apiHealth{Status: "up", ChainStatus: "synced", Uptime: int64(n.uptime() / time.Second)}
		if f := faultFrom(r.Context()); f.Kind == KindChainStalled {
			fe := n.faults.global(target{svc: svcNymAPI})
			stalled := chainStallThreshold + 41*time.Second + 312*time.Millisecond + max(0, n.opts.Now().Sub(fe.since))
			h.ChainStatus = map[string]any{"stalled": map[string]string{"approximate_amount": humanDuration(stalled)}}
		}
		writeJSON(w, h)
	})
	mux.HandleFunc("GET /api/v1/api-status/build-information", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBytes(w, n.tmpl.apiBuild)
	})
	data := func(name string, render func(at time.Time) ([]byte, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if faultFrom(r.Context()).Kind == KindCacheCold {
				nodeErrorBody(w, http.StatusServiceUnavailable, cacheColdMsg)
				return
			}
			b, at := n.bucket(n.now())
			n.serveCached(w, name, cacheKey{bucket: b}, func() ([]byte, error) { return render(at) })
		}
	}
	mux.HandleFunc("GET /api/v1/nym-nodes/described", data("described-v1", func(at time.Time) ([]byte, error) { return n.renderDescribed(false, at) }))
	mux.HandleFunc("GET /api/v2/nym-nodes/described", data("described-v2", func(at time.Time) ([]byte, error) { return n.renderDescribed(true, at) }))
	mux.HandleFunc("GET /api/v1/nym-nodes/bonded", data("bonded", n.renderBonded))
	mux.HandleFunc("GET /api/v1/nym-nodes/rewarded-set", data("rewarded-set", n.renderRewardedSet))
	mux.HandleFunc("GET /api/v1/epoch/current", func(w http.ResponseWriter, r *http.Request) {
		if faultFrom(r.Context()).Kind == KindCacheCold {
			nodeErrorBody(w, http.StatusServiceUnavailable, cacheColdMsg)
			return
		}
		writeJSON(w, epochAt(n.now()))
	})
	for path, sf := range map[string]skimmedFilter{
		"":                {cache: "skimmed", keep: func(*node) bool { return true }},
		"/entry-gateways": {cache: "skimmed-entry", filtered: true, keep: func(nd *node) bool { return nd.declared.Entry }},
		"/exit-gateways":  {cache: "skimmed-exit", filtered: true, keep: func(nd *node) bool { return nd.declared.ExitCapable() }},
		"/mixnodes/active": {cache: "skimmed-mix-active", filtered: true, keep: func(nd *node) bool {
			return nd.role == RoleMixnode
		}},
		"/mixnodes/all": {cache: "skimmed-mix-all", filtered: true, keep: func(nd *node) bool { return nd.declared.Mixnode }},
	} {
		mux.HandleFunc("GET /api/v2/unstable/nym-nodes/skimmed"+path, func(w http.ResponseWriter, r *http.Request) {
			if faultFrom(r.Context()).Kind == KindCacheCold {
				nodeErrorBody(w, http.StatusServiceUnavailable, cacheColdMsg)
				return
			}
			now := n.now()
			// nym-api compares epoch_id with the id within the interval.
			if q := r.URL.Query().Get("epoch_id"); sf.filtered && q != "" {
				if id, err := strconv.ParseUint(q, 10, 32); err == nil && uint32(id) == epochAt(now).CurrentEpochID {
					body, err := n.renderSkimmed(sf, now, true)
					if err != nil {
						nodeErrorBody(w, http.StatusInternalServerError, err.Error())
						return
					}
					writeJSONBytes(w, body)
					return
				}
			}
			b, at := n.bucket(now)
			n.serveCached(w, sf.cache, cacheKey{bucket: b}, func() ([]byte, error) { return n.renderSkimmed(sf, at, false) })
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		nodeErrorBody(w, http.StatusNotFound, "not found")
	})
	return mux
}
