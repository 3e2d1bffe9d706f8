// Package probes discovers the Nym network's targets and probes them from the
// outside, the way users' clients reach them. It knows nothing of incidents:
// it only emits Results.
package probes

import (
	"context"
	"net/http"
	"time"
)

// Role is a node's role in the current epoch, as nym-api's NodeRole says it,
// flattened for grouping.
type Role string

const (
	RoleEntryGateway Role = "entry_gateway"
	RoleExitGateway  Role = "exit_gateway"
	RoleMixnode      Role = "mixnode" // Node.Layer says which layer (1–3)
	RoleStandby      Role = "standby"
	RoleInactive     Role = "inactive" // bonded, not in the rewarded set
)

// DeclaredRoles is what a node says it can do (nym-api DeclaredRoles).
type DeclaredRoles struct {
	Mixnode bool `json:"mixnode"`
	Entry   bool `json:"entry"`
	ExitNR  bool `json:"exit_nr"`
	ExitIPR bool `json:"exit_ipr"`
}

// Node is one nym-node as the directory describes it.
type Node struct {
	NodeID   uint32        `json:"node_id"`
	Identity string        `json:"identity"` // ed25519 identity, base58
	Role     Role          `json:"role"`
	Layer    int           `json:"layer,omitempty"` // 1–3 for active mixnodes
	Declared DeclaredRoles `json:"declared"`
	Country  string        `json:"country,omitempty"` // ISO alpha-2, "" if unknown
	// Hosts are the node's addresses (IPs first, then hostname if any).
	Hosts    []string `json:"hosts"`
	Hostname string   `json:"hostname,omitempty"`
	// HTTPPorts is the candidate order for the node's HTTP API (nym-api §2.3):
	// custom_http_port if bonded with one, then 8080. (https/http on 443/80
	// are tried by the prober as URL schemes, not listed here.)
	HTTPPorts []uint16 `json:"http_ports"`
	MixPort   uint16   `json:"mix_port"`
	WSPort    uint16   `json:"ws_port,omitempty"`  // client websocket, gateways only
	WSSPort   uint16   `json:"wss_port,omitempty"` // announced wss, if any
	Version   string   `json:"version,omitempty"`
	Staging   bool     `json:"staging,omitempty"` // marked staging/pre-production in config
	// Performance is nym-api's skimmed performance in [0,1] (0 if unknown;
	// nym-api itself reports 0 for nodes without data).
	Performance float64 `json:"performance,omitempty"`
	// Undescribed: still bonded but absent from nym-api's last describe run
	// (nym-api could not reach it); the node is carried over from an earlier
	// directory so that an outage does not silently remove it from probing.
	Undescribed bool `json:"undescribed,omitempty"`
}

// Kind is what a probe checks.
type Kind string

const (
	KindNodeHTTP Kind = "node_http" // GET /api/v1/health on the node's HTTP API
	KindMixPort  Kind = "mix_tcp"   // TCP connect to the mix port, then a short watch for a reset or garbage
	KindWSPort   Kind = "ws_tcp"    // WebSocket upgrade on the client websocket port
	KindService  Kind = "service"   // a centralized service (services[])
	KindControl  Kind = "control"   // a control target (control_targets[])
	// KindIdentity fetches the node's signed /api/v1/host-information and
	// checks its ed25519 identity against the bond; probed every
	// Settings.KindIntervals[KindIdentity], not every interval.
	KindIdentity Kind = "identity"
)

// Target is one thing probed once per interval.
type Target struct {
	// ID is stable across directory refreshes and restarts:
	// "node/<node_id>/<kind>", "service/<name>", "control/<url>".
	ID      string `json:"id"`
	Kind    Kind   `json:"kind"`
	Address string `json:"address"` // host:port for TCP, URL for HTTP
	Node    *Node  `json:"node,omitempty"`
	// Service is set for KindService.
	Service *Service `json:"service,omitempty"`
	Staging bool     `json:"staging,omitempty"`
}

// Service is a centralized service from config.
type Service struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Kind: "nym-api", "nymvpn-api" or "http".
	Kind string `json:"kind"`
	// LatencyThreshold, if set, overrides ProberOptions.LatencyThreshold:
	// a correct answer slower than this is a failure with ReasonSlow.
	LatencyThreshold time.Duration `json:"latency_threshold,omitempty"`
	// TLSPinSHA256 are base64 SHA-256 hashes of acceptable certificate
	// public keys (SPKI, as curl --pinnedpubkey); empty means no pinning.
	TLSPinSHA256 []string `json:"tls_pin_sha256,omitempty"`
	// Client, if set, probes this service instead of the prober's own
	// client: built by NewServiceHTTPClient from its http_config.
	Client *http.Client `json:"-"`
}

// Reason is why a probe failed, from a small fixed vocabulary so that metrics
// and reports stay bounded.
type Reason string

const (
	ReasonNone       Reason = ""
	ReasonRefused    Reason = "refused"
	ReasonTimeout    Reason = "timeout"
	ReasonDNS        Reason = "dns"
	ReasonTLS        Reason = "tls"
	ReasonHTTPStatus Reason = "http_status"
	ReasonBadBody    Reason = "bad_body"
	ReasonUnhealthy  Reason = "unhealthy" // answered, but says it is not well (e.g. chain stalled)
	ReasonStale      Reason = "stale"     // data too old (e.g. VPN directory probes > 60 min)
	ReasonSlow       Reason = "slow"      // answered correctly but over its latency limit
	ReasonNetwork    Reason = "network"   // other connection errors (reset, unreachable)
	// ReasonRedirect: answered with a 3xx; redirects are never followed.
	ReasonRedirect Reason = "redirect"
	// ReasonPrivateAddress: a node address in a non-public range, not probed
	// (network.allow_private_addresses is false).
	ReasonPrivateAddress Reason = "private_address"
	// Security reasons (suspected: a human must confirm). A node presenting
	// another identity than its bond, or a host-information signature that
	// does not verify; a service certificate failing verification, or
	// matching none of its pins.
	ReasonIdentityMismatch Reason = "identity_mismatch"
	ReasonBadSignature     Reason = "bad_signature"
	ReasonTLSUntrusted     Reason = "tls_untrusted"
	ReasonTLSPinMismatch   Reason = "tls_pin_mismatch"
)

// Security reports whether r is a first-hand security signal.
func (r Reason) Security() bool {
	switch r {
	case ReasonIdentityMismatch, ReasonBadSignature, ReasonTLSUntrusted, ReasonTLSPinMismatch:
		return true
	}
	return false
}

// Result is one observation of one target.
type Result struct {
	Target  *Target       `json:"target"`
	OK      bool          `json:"ok"`
	Latency time.Duration `json:"latency"`
	Reason  Reason        `json:"reason,omitempty"`
	Detail  string        `json:"detail,omitempty"` // human-readable, bounded length
	At      time.Time     `json:"at"`               // when the probe started, UTC
}

// Prober checks one target with exactly one attempt; ctx carries the timeout.
// It never retries: a probe's own success and latency must be what users see.
type Prober interface {
	Probe(ctx context.Context, t *Target) Result
}
