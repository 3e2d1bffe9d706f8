package simnet

import (
	"net/http"
	"time"
)

type nodeHealth struct {
	Status string `json:"status"`
	Uptime int64  `json:"uptime"`
}

type nodeRoles struct {
	MixnodeEnabled          bool `json:"mixnode_enabled"`
	GatewayEnabled          bool `json:"gateway_enabled"`
	NetworkRequesterEnabled bool `json:"network_requester_enabled"`
	IPPacketRouterEnabled   bool `json:"ip_packet_router_enabled"`
}

type nodeLoad struct {
	Total   string `json:"total"`
	Machine string `json:"machine"`
	Network string `json:"network"`
}

type nodeDescription struct {
	Moniker         string `json:"moniker"`
	Website         string `json:"website"`
	SecurityContact string `json:"security_contact"`
	Details         string `json:"details"`
}

type clientInterfaces struct {
	Wireguard        *wireguardDetails `json:"wireguard"`
	MixnetWebsockets *websockets       `json:"mixnet_websockets"`
}

type nodeGateway struct {
	EnforcesZkNyms   bool             `json:"enforces_zk_nyms"`
	ClientInterfaces clientInterfaces `json:"client_interfaces"`
}

func (nd *node) description() nodeDescription {
	details := "Simulated mix node."
	switch {
	case nd.declared.ExitCapable():
		details = "Simulated exit gateway with WireGuard."
	case nd.declared.Gateway():
		details = "Simulated entry gateway."
	}
	return nodeDescription{
		Moniker:         nd.moniker,
		Website:         "https://simnet.invalid/" + nd.moniker,
		SecurityContact: "security@simnet.invalid",
		Details:         details,
	}
}

// nodeHandler serves every node's HTTP API; the connection's local address
// says which node is asked.
func (n *Network) nodeHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, h func(w http.ResponseWriter, nd *node)) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			sc := connFrom(r.Context())
			if sc == nil || sc.t.node == nil {
				nodeErrorBody(w, http.StatusInternalServerError, "simnet: no node for this connection")
				return
			}
			h(w, sc.t.node)
		})
	}
	handle("/api/v1/health", func(w http.ResponseWriter, nd *node) {
		writeJSON(w, nodeHealth{Status: "up", Uptime: int64((nd.uptimeBase + n.uptime()) / time.Second)})
	})
	handle("/api/v1/roles", func(w http.ResponseWriter, nd *node) {
		writeJSON(w, nodeRoles{
			MixnodeEnabled:          nd.declared.Mixnode,
			GatewayEnabled:          nd.declared.Entry,
			NetworkRequesterEnabled: nd.declared.ExitNR,
			IPPacketRouterEnabled:   nd.declared.ExitIPR,
		})
	})
	handle("/api/v1/build-information", func(w http.ResponseWriter, nd *node) {
		writeJSONBytes(w, n.tmpl.nodeBuild[nd.version])
	})
	handle("/api/v1/auxiliary-details", func(w http.ResponseWriter, nd *node) {
		cc, mix := nd.country.code, n.ports[portMix]
		writeJSON(w, auxDetails{Location: &cc, AnnouncePorts: announcePorts{MixPort: &mix}, AcceptedOperatorTermsAndConditions: true})
	})
	handle("/api/v1/load", func(w http.ResponseWriter, nd *node) {
		writeJSON(w, nodeLoad{Total: nd.load[0], Machine: nd.load[1], Network: nd.load[2]})
	})
	handle("/api/v1/description", func(w http.ResponseWriter, nd *node) {
		writeJSON(w, nd.description())
	})
	handle("/api/v1/gateway", func(w http.ResponseWriter, nd *node) {
		if !nd.declared.Gateway() {
			// What nym-node answers when the detail is absent.
			w.WriteHeader(http.StatusNotImplemented)
			return
		}
		writeJSON(w, nodeGateway{EnforcesZkNyms: true, ClientInterfaces: clientInterfaces{
			Wireguard:        &wireguardDetails{Port: 51822, TunnelPort: 51822, MetadataPort: 51830, PublicKey: nd.wgKey},
			MixnetWebsockets: &websockets{WSPort: n.ports[portWS]},
		}})
	})
	mux.HandleFunc("GET /api/v1/host-information", func(w http.ResponseWriter, r *http.Request) {
		sc := connFrom(r.Context())
		if sc == nil || sc.t.node == nil {
			nodeErrorBody(w, http.StatusInternalServerError, "simnet: no node for this connection")
			return
		}
		writeJSONBytes(w, n.signedHostInformation(sc.t.node, faultFrom(r.Context()).Kind))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		nodeErrorBody(w, http.StatusNotFound, "not found")
	})
	return mux
}
