package nymapi

// Wire types and decoders for the nym-api endpoints the directory reads.
// Shapes follow nymtech/nym nym-api/nym-api-requests (models/described,
// nym_nodes.rs, pagination.rs) at 2026.9-venaco. Unknown fields are ignored, so a
// newer nym-api that adds fields keeps working; a body of the wrong shape
// (not JSON, not an object, a missing "data"/"nodes" list, an unknown role)
// is an error that says which endpoint and what was wrong.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// ErrBadShape marks a nym-api body that is JSON but not the expected shape.
var ErrBadShape = errors.New("unexpected response shape")

// NymPagination is nym-api's pagination block. nym-api ignores page/per_page
// and always returns everything (total == size, page == 0).
type NymPagination struct {
	Total int `json:"total"`
	Page  int `json:"page"`
	Size  int `json:"size"`
}

// nymPaginated is the {"pagination":…, "data":[…]} wrapper. Data is a
// pointer so that a missing "data" key is told apart from an empty list.
type nymPaginated[T any] struct {
	Pagination *NymPagination `json:"pagination"`
	Data       *[]T           `json:"data"`
}

// decodeNymPaginated decodes the pagination wrapper and returns its items.
func decodeNymPaginated[T any](what string, body []byte) ([]T, error) {
	if err := nymRequireObject(what, body); err != nil {
		return nil, err
	}
	var p nymPaginated[T]
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	if p.Data == nil {
		return nil, fmt.Errorf("decode %s: no \"data\" list: %w", what, ErrBadShape)
	}
	return *p.Data, nil
}

// nymRequireObject rejects bodies that are not a JSON object up front, with a
// message that helps when nym-api (or a proxy in front of it) answers with
// text or HTML.
func nymRequireObject(what string, body []byte) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return fmt.Errorf("decode %s: empty body: %w", what, ErrBadShape)
	}
	if b[0] != '{' {
		if b[0] == '[' {
			return fmt.Errorf("decode %s: got a JSON array, want an object: %w", what, ErrBadShape)
		}
		if !json.Valid(b) {
			return fmt.Errorf("decode %s: not JSON (starts %q)", what, nymSnippet(b, 40))
		}
		return fmt.Errorf("decode %s: got a JSON scalar, want an object: %w", what, ErrBadShape)
	}
	return nil
}

// nymSnippet returns at most n bytes of b for error messages, with control
// characters replaced so a hostile body cannot forge log lines.
func nymSnippet(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(bytes.ToValidUTF8(b, []byte("?"))))
}

// NymTime is a nym-api timestamp. nym-api writes last_polled/refreshed_at in
// time-rs's human format ("2026-05-15 11:05:12.748012664 +00:00:00"); RFC 3339
// is accepted as well. JSON null gives the zero time. Values are UTC.
type NymTime struct{ time.Time }

// nymTimeLayouts are tried in order. The fractional second is optional in
// every layout: Go accepts it after the seconds field when parsing.
var nymTimeLayouts = [...]string{
	"2006-01-02 15:04:05 -07:00:00", // time-rs human format, offset with seconds
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 Z07:00",
	time.RFC3339Nano,
}

// ParseNymTime parses a nym-api timestamp (human format or RFC 3339) into UTC.
func ParseNymTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range nymTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid nym-api time %q", nymSnippet([]byte(s), 64))
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *NymTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("nym-api time: %w", err)
	}
	v, err := ParseNymTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON writes RFC 3339 (or null for the zero time).
func (t NymTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// Percent is a cosmwasm Percent: a decimal in [0,1], sent by nym-api as a JSON
// string ("0.98", "1", "0"). A bare JSON number is tolerated.
type Percent float64

// ParsePercent parses a Percent string into a float64 in [0,1].
func ParsePercent(s string) (float64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid percent %q", nymSnippet([]byte(s), 40))
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("percent %q out of range [0,1]", nymSnippet([]byte(s), 40))
	}
	return v, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Percent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("percent: empty value")
	}
	var s string
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("percent: %w", err)
		}
	} else {
		s = string(b)
	}
	v, err := ParsePercent(s)
	if err != nil {
		return err
	}
	*p = Percent(v)
	return nil
}

// NodeRole is nym-api's NodeRole, an externally tagged enum:
// "EntryGateway", "ExitGateway", {"Mixnode":{"layer":N}}, "Standby", "Inactive".
type NodeRole struct {
	Role  probes.Role
	Layer int // 1–3 for probes.RoleMixnode
}

// UnmarshalJSON implements json.Unmarshaler. Unknown variants are errors:
// guessing a role would silently misgroup nodes.
func (r *NodeRole) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("node role: empty value")
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("node role: %w", err)
		}
		switch s {
		case "EntryGateway":
			*r = NodeRole{Role: probes.RoleEntryGateway}
		case "ExitGateway":
			*r = NodeRole{Role: probes.RoleExitGateway}
		case "Standby":
			*r = NodeRole{Role: probes.RoleStandby}
		case "Inactive":
			*r = NodeRole{Role: probes.RoleInactive}
		default:
			return fmt.Errorf("node role: unknown variant %q", nymSnippet([]byte(s), 40))
		}
		return nil
	case '{':
		var m struct {
			Mixnode *struct {
				Layer *int `json:"layer"`
			} `json:"Mixnode"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("node role: %w", err)
		}
		if m.Mixnode == nil || m.Mixnode.Layer == nil {
			return fmt.Errorf("node role: unknown variant %s", nymSnippet(b, 60))
		}
		if l := *m.Mixnode.Layer; l < 1 || l > 3 {
			return fmt.Errorf("node role: mixnode layer %d out of range 1–3", l)
		}
		*r = NodeRole{Role: probes.RoleMixnode, Layer: *m.Mixnode.Layer}
		return nil
	default:
		return fmt.Errorf("node role: unexpected %s", nymSnippet(b, 40))
	}
}

// NymNodeDescription is one item of /v2/nym-nodes/described
// (NymNodeDescriptionV2) or /v1/nym-nodes/described (V1: the same without
// lewes_protocol). Only the fields nymwatch uses are typed.
type NymNodeDescription struct {
	NodeID           uint32       `json:"node_id"`
	ContractNodeType string       `json:"contract_node_type"`
	Description      *NymNodeData `json:"description"`
}

// NymNodeData is the self-described part (NymNodeDataV2).
type NymNodeData struct {
	LastPolled      NymTime `json:"last_polled"`
	HostInformation struct {
		IPAddress []string `json:"ip_address"`
		Hostname  *string  `json:"hostname"`
		Keys      struct {
			Ed25519 string `json:"ed25519"`
		} `json:"keys"`
	} `json:"host_information"`
	DeclaredRole     probes.DeclaredRoles `json:"declared_role"`
	AuxiliaryDetails struct {
		Location      *string `json:"location"`
		AnnouncePorts struct {
			VerlocPort *uint16 `json:"verloc_port"`
			MixPort    *uint16 `json:"mix_port"`
		} `json:"announce_ports"`
		AcceptedOperatorTermsAndConditions bool `json:"accepted_operator_terms_and_conditions"`
	} `json:"auxiliary_details"`
	BuildInformation struct {
		BinaryName   string `json:"binary_name"`
		BuildVersion string `json:"build_version"`
	} `json:"build_information"`
	Wireguard *struct {
		TunnelPort uint16 `json:"tunnel_port"`
		PublicKey  string `json:"public_key"`
	} `json:"wireguard"`
	MixnetWebsockets *struct {
		WSPort  uint16  `json:"ws_port"`
		WSSPort *uint16 `json:"wss_port"`
	} `json:"mixnet_websockets"`
	// LewesProtocol is V2 only; kept raw since nymwatch does not probe it.
	LewesProtocol json.RawMessage `json:"lewes_protocol,omitempty"`
}

// DecodeDescribed decodes a /v{1,2}/nym-nodes/described body. It checks the
// shape only; DirectoryClient validates each node when it builds Nodes.
func DecodeDescribed(body []byte) ([]NymNodeDescription, error) {
	items, err := decodeNymPaginated[NymNodeDescription]("described nodes", body)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].Description == nil {
			return nil, fmt.Errorf("decode described nodes: item %d (node_id %d) has no description: %w", i, items[i].NodeID, ErrBadShape)
		}
	}
	return items, nil
}

// NymBondedNode is the part of /v1/nym-nodes/bonded (NymNodeDetails) the
// directory needs: the bonded host and custom HTTP port (§2.3 port order).
type NymBondedNode struct {
	NodeID         uint32
	IdentityKey    string
	Host           string
	CustomHTTPPort uint16 // 0 if none
	IsUnbonding    bool
}

// DecodeBonded decodes a /v1/nym-nodes/bonded body.
func DecodeBonded(body []byte) ([]NymBondedNode, error) {
	type wire struct {
		BondInformation *struct {
			NodeID      uint32 `json:"node_id"`
			IsUnbonding bool   `json:"is_unbonding"`
			Node        struct {
				Host           string  `json:"host"`
				CustomHTTPPort *uint16 `json:"custom_http_port"`
				IdentityKey    string  `json:"identity_key"`
			} `json:"node"`
		} `json:"bond_information"`
	}
	items, err := decodeNymPaginated[wire]("bonded nodes", body)
	if err != nil {
		return nil, err
	}
	out := make([]NymBondedNode, 0, len(items))
	for i, it := range items {
		if it.BondInformation == nil {
			return nil, fmt.Errorf("decode bonded nodes: item %d has no bond_information: %w", i, ErrBadShape)
		}
		b := NymBondedNode{
			NodeID:      it.BondInformation.NodeID,
			IdentityKey: it.BondInformation.Node.IdentityKey,
			Host:        strings.TrimSpace(it.BondInformation.Node.Host),
			IsUnbonding: it.BondInformation.IsUnbonding,
		}
		if p := it.BondInformation.Node.CustomHTTPPort; p != nil {
			b.CustomHTTPPort = *p
		}
		out = append(out, b)
	}
	return out, nil
}

// NymSkimmedNode is SkimmedNodeV1, the routing view with role and performance.
type NymSkimmedNode struct {
	NodeID         uint32               `json:"node_id"`
	Identity       string               `json:"ed25519_identity_pubkey"`
	IPAddresses    []string             `json:"ip_addresses"`
	MixPort        uint16               `json:"mix_port"`
	SphinxKey      string               `json:"x25519_sphinx_pubkey"`
	Role           *NodeRole            `json:"role"`
	SupportedRoles probes.DeclaredRoles `json:"supported_roles"`
	Entry          *struct {
		Hostname *string `json:"hostname"`
		WSPort   uint16  `json:"ws_port"`
		WSSPort  *uint16 `json:"wss_port"`
	} `json:"entry"`
	Performance Percent `json:"performance"`
}

// NymSkimmed is a decoded skimmed (or semi-skimmed) response.
type NymSkimmed struct {
	// Status is "" (null: the unfiltered route), "no-updates" (epoch_id
	// given and unchanged) or "fresh" (role-filtered routes; Fresh is set).
	Status          string
	Fresh           *NymAPIInterval
	AbsoluteEpochID uint32
	RotationID      uint32
	RefreshedAt     time.Time
	Nodes           []NymSkimmedNode
}

// DecodeSkimmed decodes /v2/unstable/nym-nodes/skimmed[/…] and tolerates the
// related shapes: the deprecated v1 wrapper {status, refreshed_at, nodes},
// the unpaginated {refreshed_at, nodes:[…]}, and semi-skimmed v2/v3 items
// ({basic:<skimmed>, …}).
func DecodeSkimmed(body []byte) (NymSkimmed, error) {
	const what = "skimmed nodes"
	if err := nymRequireObject(what, body); err != nil {
		return NymSkimmed{}, err
	}
	var raw struct {
		Metadata *struct {
			Status          json.RawMessage `json:"status"`
			AbsoluteEpochID uint32          `json:"absolute_epoch_id"`
			RotationID      uint32          `json:"rotation_id"`
			RefreshedAt     NymTime         `json:"refreshed_at"`
		} `json:"metadata"`
		Status      json.RawMessage `json:"status"`       // v1 wrapper
		RefreshedAt NymTime         `json:"refreshed_at"` // v1 wrapper
		Nodes       json.RawMessage `json:"nodes"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return NymSkimmed{}, fmt.Errorf("decode %s: %w", what, err)
	}
	var out NymSkimmed
	status := raw.Status
	out.RefreshedAt = raw.RefreshedAt.Time
	if m := raw.Metadata; m != nil {
		status = m.Status
		out.AbsoluteEpochID = m.AbsoluteEpochID
		out.RotationID = m.RotationID
		out.RefreshedAt = m.RefreshedAt.Time
	}
	var err error
	if out.Status, out.Fresh, err = decodeSkimmedStatus(status); err != nil {
		return NymSkimmed{}, fmt.Errorf("decode %s: %w", what, err)
	}

	nodes := bytes.TrimSpace(raw.Nodes)
	var items []json.RawMessage
	switch {
	case len(nodes) == 0 || string(nodes) == "null":
		return NymSkimmed{}, fmt.Errorf("decode %s: no \"nodes\": %w", what, ErrBadShape)
	case nodes[0] == '[':
		if err := json.Unmarshal(nodes, &items); err != nil {
			return NymSkimmed{}, fmt.Errorf("decode %s: %w", what, err)
		}
	default:
		if items, err = decodeNymPaginated[json.RawMessage](what, nodes); err != nil {
			return NymSkimmed{}, err
		}
	}
	out.Nodes = make([]NymSkimmedNode, 0, len(items))
	for i, it := range items {
		n, err := decodeSkimmedItem(it)
		if err != nil {
			return NymSkimmed{}, fmt.Errorf("decode %s: item %d: %w", what, i, err)
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out, nil
}

func decodeSkimmedItem(it json.RawMessage) (NymSkimmedNode, error) {
	var semi struct {
		Basic *NymSkimmedNode `json:"basic"`
	}
	if err := json.Unmarshal(it, &semi); err != nil {
		return NymSkimmedNode{}, err
	}
	n := semi.Basic
	if n == nil {
		n = new(NymSkimmedNode)
		if err := json.Unmarshal(it, n); err != nil {
			return NymSkimmedNode{}, err
		}
	}
	if n.Role == nil {
		return NymSkimmedNode{}, fmt.Errorf("node %d has no role: %w", n.NodeID, ErrBadShape)
	}
	return *n, nil
}

func decodeSkimmedStatus(raw json.RawMessage) (string, *NymAPIInterval, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", nil, fmt.Errorf("metadata status: %w", err)
		}
		return s, nil, nil
	case '{':
		var f struct {
			Fresh *NymAPIInterval `json:"fresh"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			return "", nil, fmt.Errorf("metadata status: %w", err)
		}
		if f.Fresh == nil {
			return "", nil, fmt.Errorf("metadata status: unknown variant %s: %w", nymSnippet(raw, 60), ErrBadShape)
		}
		return "fresh", f.Fresh, nil
	default:
		return "", nil, fmt.Errorf("metadata status: unexpected %s: %w", nymSnippet(raw, 40), ErrBadShape)
	}
}

// NymRewardedSet is /v1/nym-nodes/rewarded-set: this epoch's active set.
type NymRewardedSet struct {
	EpochID       uint32   `json:"epoch_id"`
	EntryGateways []uint32 `json:"entry_gateways"`
	ExitGateways  []uint32 `json:"exit_gateways"`
	Layer1        []uint32 `json:"layer1"`
	Layer2        []uint32 `json:"layer2"`
	Layer3        []uint32 `json:"layer3"`
	Standby       []uint32 `json:"standby"`
}

// Roles maps node_id to its role in the set; nodes absent from it are
// inactive.
func (s NymRewardedSet) Roles() map[uint32]NodeRole {
	m := make(map[uint32]NodeRole, len(s.EntryGateways)+len(s.ExitGateways)+len(s.Layer1)+len(s.Layer2)+len(s.Layer3)+len(s.Standby))
	add := func(ids []uint32, r NodeRole) {
		for _, id := range ids {
			if _, dup := m[id]; !dup { // first listing wins; nym-api never repeats ids
				m[id] = r
			}
		}
	}
	add(s.EntryGateways, NodeRole{Role: probes.RoleEntryGateway})
	add(s.ExitGateways, NodeRole{Role: probes.RoleExitGateway})
	add(s.Layer1, NodeRole{Role: probes.RoleMixnode, Layer: 1})
	add(s.Layer2, NodeRole{Role: probes.RoleMixnode, Layer: 2})
	add(s.Layer3, NodeRole{Role: probes.RoleMixnode, Layer: 3})
	add(s.Standby, NodeRole{Role: probes.RoleStandby})
	return m
}

// DecodeRewardedSet decodes /v1/nym-nodes/rewarded-set. Every active-set list
// must be present (standby may be missing) and at least one node listed.
func DecodeRewardedSet(body []byte) (NymRewardedSet, error) {
	const what = "rewarded set"
	if err := nymRequireObject(what, body); err != nil {
		return NymRewardedSet{}, err
	}
	var raw struct {
		EpochID       uint32    `json:"epoch_id"`
		EntryGateways *[]uint32 `json:"entry_gateways"`
		ExitGateways  *[]uint32 `json:"exit_gateways"`
		Layer1        *[]uint32 `json:"layer1"`
		Layer2        *[]uint32 `json:"layer2"`
		Layer3        *[]uint32 `json:"layer3"`
		Standby       []uint32  `json:"standby"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return NymRewardedSet{}, fmt.Errorf("decode %s: %w", what, err)
	}
	if raw.EntryGateways == nil || raw.ExitGateways == nil || raw.Layer1 == nil || raw.Layer2 == nil || raw.Layer3 == nil {
		return NymRewardedSet{}, fmt.Errorf("decode %s: missing entry_gateways/exit_gateways/layer1..3: %w", what, ErrBadShape)
	}
	s := NymRewardedSet{
		EpochID:       raw.EpochID,
		EntryGateways: *raw.EntryGateways,
		ExitGateways:  *raw.ExitGateways,
		Layer1:        *raw.Layer1,
		Layer2:        *raw.Layer2,
		Layer3:        *raw.Layer3,
		Standby:       raw.Standby,
	}
	if len(s.Roles()) == 0 {
		return NymRewardedSet{}, fmt.Errorf("decode %s: the set is empty: %w", what, ErrBadShape)
	}
	return s, nil
}

// NymAPIInterval is the mixnet contract Interval (/v1/epoch/current and the
// skimmed "fresh" status).
type NymAPIInterval struct {
	ID                 uint32    `json:"id"`
	EpochsInInterval   uint32    `json:"epochs_in_interval"`
	CurrentEpochStart  time.Time `json:"current_epoch_start"` // RFC 3339
	CurrentEpochID     uint32    `json:"current_epoch_id"`    // index within the interval
	TotalElapsedEpochs uint32    `json:"total_elapsed_epochs"`
	EpochLength        struct {
		Secs  uint64 `json:"secs"`
		Nanos uint32 `json:"nanos"`
	} `json:"epoch_length"`
}

// Length is the epoch length as a Duration, saturated at the longest
// Duration: the secs come from nym-api and must not wrap to a negative.
func (iv NymAPIInterval) Length() time.Duration {
	const maxSecs = uint64(math.MaxInt64 / int64(time.Second))
	secs, nanos := iv.EpochLength.Secs, time.Duration(iv.EpochLength.Nanos)
	if secs > maxSecs {
		return math.MaxInt64
	}
	d := time.Duration(secs) * time.Second //nolint:gosec // secs <= maxSecs: no overflow
	if d > math.MaxInt64-nanos {
		return math.MaxInt64
	}
	return d + nanos
}

// CurrentEpochEnd is when the current epoch is due to end.
func (iv NymAPIInterval) CurrentEpochEnd() time.Time {
	return iv.CurrentEpochStart.Add(iv.Length())
}

// DecodeNymAPIInterval decodes /v1/epoch/current.
func DecodeNymAPIInterval(body []byte) (NymAPIInterval, error) {
	const what = "current epoch"
	if err := nymRequireObject(what, body); err != nil {
		return NymAPIInterval{}, err
	}
	var raw struct {
		NymAPIInterval
		CurrentEpochStart *time.Time `json:"current_epoch_start"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return NymAPIInterval{}, fmt.Errorf("decode %s: %w", what, err)
	}
	if raw.CurrentEpochStart == nil {
		return NymAPIInterval{}, fmt.Errorf("decode %s: no current_epoch_start: %w", what, ErrBadShape)
	}
	iv := raw.NymAPIInterval
	iv.CurrentEpochStart = raw.CurrentEpochStart.UTC()
	return iv, nil
}

// NymAPIChainStatus is the chain_status of /v1/api-status/health: "synced",
// "unknown" (chain query failed) or {"stalled":{"approximate_amount":"7m 41s"}}.
type NymAPIChainStatus struct {
	State      string // "synced", "unknown", "stalled", another variant verbatim, or "" if absent
	StalledFor string // humantime text, for "stalled"
}

// Synced reports whether nym-api sees a live chain.
func (c NymAPIChainStatus) Synced() bool { return c.State == "synced" }

// UnmarshalJSON implements json.Unmarshaler.
func (c *NymAPIChainStatus) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = NymAPIChainStatus{}
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("chain status: %w", err)
		}
		*c = NymAPIChainStatus{State: s}
		return nil
	case b[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("chain status: %w", err)
		}
		if len(m) != 1 {
			return fmt.Errorf("chain status: want one variant, got %d", len(m))
		}
		for k, v := range m {
			*c = NymAPIChainStatus{State: k}
			if k == "stalled" {
				var s struct {
					ApproximateAmount string `json:"approximate_amount"`
				}
				if err := json.Unmarshal(v, &s); err != nil {
					return fmt.Errorf("chain status stalled: %w", err)
				}
				c.StalledFor = s.ApproximateAmount
			}
		}
		return nil
	default:
		return fmt.Errorf("chain status: unexpected %s", nymSnippet(b, 40))
	}
}

// NymAPIHealth is /v1/api-status/health.
type NymAPIHealth struct {
	Status      string            `json:"status"` // only ever "up"
	ChainStatus NymAPIChainStatus `json:"chain_status"`
	Uptime      uint64            `json:"uptime"` // seconds; a drop means a restart
}

// DecodeNymAPIHealth decodes /v1/api-status/health; a missing status is an
// error, an absent chain_status (older nym-api) is not.
func DecodeNymAPIHealth(body []byte) (NymAPIHealth, error) {
	const what = "nym-api health"
	if err := nymRequireObject(what, body); err != nil {
		return NymAPIHealth{}, err
	}
	var h NymAPIHealth
	if err := json.Unmarshal(body, &h); err != nil {
		return NymAPIHealth{}, fmt.Errorf("decode %s: %w", what, err)
	}
	if h.Status == "" {
		return NymAPIHealth{}, fmt.Errorf("decode %s: no status: %w", what, ErrBadShape)
	}
	return h, nil
}
