package simnet

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// ListenMode says how node ports are bound.
type ListenMode uint8

const (
	// ListenAuto is ListenPerAddress up to PerAddressMax nodes, else ListenWildcard.
	ListenAuto ListenMode = iota
	// ListenPerAddress binds each node's ports on the node's own address.
	ListenPerAddress
	// ListenWildcard binds one 0.0.0.0 socket per port kind and demultiplexes
	// by the connection's local address.
	ListenWildcard
)

// PerAddressMax is the largest network ListenAuto binds per address.
const PerAddressMax = 256

func (m ListenMode) String() string {
	switch m {
	case ListenAuto:
		return "auto"
	case ListenPerAddress:
		return "per-address"
	case ListenWildcard:
		return "wildcard"
	}
	return fmt.Sprintf("ListenMode(%d)", uint8(m))
}

// Defaults.
const (
	DefaultCacheTTL       = 30 * time.Second
	DefaultHangLimit      = 10 * time.Minute
	DefaultIdleTimeout    = time.Minute
	DefaultControlTargets = 2
)

// defaultBaseIP is where a network's services live; nodes follow it.
func defaultBaseIP() netip.Addr { return netip.AddrFrom4([4]byte{127, 10, 0, 1}) }

// Options describe a network. The zero value is not a network: give at least
// one node.
type Options struct {
	// Nodes by role in the current epoch.
	EntryGateways int
	ExitGateways  int
	Mixnodes      [3]int // per layer 1–3
	Standby       int    // mixnodes in the standby set
	// Inactive nodes are bonded but not in the rewarded set; half of them
	// (alternately) are exit-capable gateways, the others mixnodes.
	Inactive int

	// Countries nodes are spread over (ISO 3166 alpha-2). Default: 12
	// European, American and Asian countries.
	Countries []string
	// Seed makes identities, ids, countries and performances reproducible.
	Seed uint64

	// BaseIP hosts the services; node addresses follow it. Default
	// 127.10.0.1. Must be in 127/8 and outside 127.0.0.0/24.
	BaseIP netip.Addr
	Listen ListenMode

	// ControlTargets is the number of plain "200 OK" servers (default 2).
	ControlTargets int
	// CacheTTL is how long rendered directory responses are reused, like
	// nym-api's own caches (default 30s). Fault changes invalidate the
	// NymVPN directory at once.
	CacheTTL time.Duration
	// HangLimit bounds how long a hanging connection is held (default 10m).
	HangLimit time.Duration
	// IdleTimeout bounds idle healthy mix and websocket connections
	// (default 1m).
	IdleTimeout time.Duration

	// Now is the network's clock for every timestamp it serves and for
	// periodic flaps (default time.Now). Delays (Slow) use real timers.
	Now    func() time.Time
	Logger *slog.Logger
}

// DemoOptions is the network `nymwatch demo` runs: small enough to bind per
// address, big enough that 40% of the exit gateways is a clear outage.
func DemoOptions() Options {
	return Options{
		EntryGateways: 8,
		ExitGateways:  10,
		Mixnodes:      [3]int{4, 4, 4},
		Standby:       2,
		Inactive:      4,
		Seed:          1,
	}
}

func (o Options) total() int {
	return o.EntryGateways + o.ExitGateways + o.Mixnodes[0] + o.Mixnodes[1] + o.Mixnodes[2] + o.Standby + o.Inactive
}

// withDefaults validates o and fills the defaults.
func (o Options) withDefaults() (Options, error) {
	counts := []int{o.EntryGateways, o.ExitGateways, o.Mixnodes[0], o.Mixnodes[1], o.Mixnodes[2], o.Standby, o.Inactive}
	for _, c := range counts {
		if c < 0 {
			return o, errors.New("simnet: negative node count")
		}
	}
	if o.total() == 0 {
		return o, errors.New("simnet: no nodes: set at least one role count")
	}
	if len(o.Countries) == 0 {
		o.Countries = defaultCountries()
	}
	seen := make(map[string]bool, len(o.Countries))
	for _, cc := range o.Countries {
		if !validCountry(cc) {
			return o, fmt.Errorf("simnet: country %q is not an upper-case ISO 3166 alpha-2 code", cc)
		}
		if seen[cc] {
			return o, fmt.Errorf("simnet: country %q listed twice", cc)
		}
		seen[cc] = true
	}
	if !o.BaseIP.IsValid() {
		o.BaseIP = defaultBaseIP()
	}
	if !o.BaseIP.Is4() || o.BaseIP.As4()[0] != 127 {
		return o, fmt.Errorf("simnet: base IP %s is not in 127.0.0.0/8", o.BaseIP)
	}
	if b := o.BaseIP.As4(); b[1] == 0 && b[2] == 0 {
		return o, fmt.Errorf("simnet: base IP %s is in 127.0.0.0/24, which other local services use", o.BaseIP)
	}
	switch o.Listen {
	case ListenAuto:
		if o.total() <= PerAddressMax {
			o.Listen = ListenPerAddress
		} else {
			o.Listen = ListenWildcard
		}
	case ListenPerAddress, ListenWildcard:
	default:
		return o, fmt.Errorf("simnet: unknown listen mode %d", o.Listen)
	}
	if o.ControlTargets < 0 {
		return o, errors.New("simnet: negative control target count")
	}
	if o.ControlTargets == 0 {
		o.ControlTargets = DefaultControlTargets
	}
	if o.CacheTTL < 0 || o.HangLimit < 0 || o.IdleTimeout < 0 {
		return o, errors.New("simnet: negative duration option")
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.HangLimit == 0 {
		o.HangLimit = DefaultHangLimit
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func validCountry(cc string) bool {
	return len(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'
}
