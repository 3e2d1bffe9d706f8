package simnet

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// FaultKind is what a fault does; see the package documentation for how
// each one looks to a client.
type FaultKind uint8

const (
	KindNone FaultKind = iota
	KindRefuse
	KindHang
	KindSlow
	KindHTTP5xx
	KindGarbage
	KindFlap
	// Service-specific kinds.
	KindChainStalled   // nym-api: health reports chain_status stalled
	KindCacheCold      // nym-api: data routes answer 503 "relevant cache hasn't been initialised yet"
	KindStaleDirectory // nymvpn-api: probe results in the directory are old
	KindEmptyDirectory // nymvpn-api: the directory lists no gateway
	// Node security kinds (host-information only; everything else healthy).
	KindImpersonate  // another ed25519 key, validly signed by it
	KindBadSignature // the bonded key, with a signature that does not verify
	KindRedirect     // every HTTP request answered 302 to Fault.Location
)

func (k FaultKind) String() string {
	switch k {
	case KindNone:
		return "none"
	case KindRefuse:
		return "refuse"
	case KindHang:
		return "hang"
	case KindSlow:
		return "slow"
	case KindHTTP5xx:
		return "http5xx"
	case KindGarbage:
		return "garbage"
	case KindFlap:
		return "flap"
	case KindChainStalled:
		return "chain_stalled"
	case KindCacheCold:
		return "cache_cold"
	case KindStaleDirectory:
		return "stale_directory"
	case KindEmptyDirectory:
		return "empty_directory"
	case KindImpersonate:
		return "impersonate"
	case KindBadSignature:
		return "bad_signature"
	case KindRedirect:
		return "redirect"
	}
	return fmt.Sprintf("FaultKind(%d)", uint8(k))
}

// Fault is a failure mode switched on for a node or a service. Build one
// with the constructors (None, Refuse, Slow, …); the zero value is None.
type Fault struct {
	Kind FaultKind
	// Delay is how long Slow holds each HTTP response.
	Delay time.Duration
	// Status is the HTTP5xx status (500–599; 0 means 500).
	Status int
	// Period: for Flap, 0 alternates on every connection; otherwise the
	// fault fails for Period, is healthy for Period, and so on, from when it
	// was set (on the network's clock).
	Period time.Duration
	// FailAs is how Flap fails: KindRefuse (the default for KindNone),
	// KindHang, KindHTTP5xx (with Status) or KindGarbage.
	FailAs FaultKind
	// Age is how old StaleDirectory makes probe results (0 means 3h).
	Age time.Duration
	// Location is where Redirect points.
	Location string
}

// None is no fault: healthy.
func None() Fault { return Fault{} }

// Refuse refuses (or resets) every connection.
func Refuse() Fault { return Fault{Kind: KindRefuse} }

// Hang accepts connections and never answers.
func Hang() Fault { return Fault{Kind: KindHang} }

// Slow answers each HTTP request after d.
func Slow(d time.Duration) Fault { return Fault{Kind: KindSlow, Delay: d} }

// HTTP5xx answers every HTTP request with status (0 means 500).
func HTTP5xx(status int) Fault { return Fault{Kind: KindHTTP5xx, Status: status} }

// Garbage answers 200 with a body that is not JSON.
func Garbage() Fault { return Fault{Kind: KindGarbage} }

// Flap alternates healthy and refused: per connection when period is 0,
// else every period.
func Flap(period time.Duration) Fault { return Fault{Kind: KindFlap, Period: period} }

// FlapWith is Flap failing the way fail does (Refuse, Hang, HTTP5xx or Garbage).
func FlapWith(period time.Duration, fail Fault) Fault {
	return Fault{Kind: KindFlap, Period: period, FailAs: fail.Kind, Status: fail.Status}
}

// ChainStalled makes nym-api report its chain stalled.
func ChainStalled() Fault { return Fault{Kind: KindChainStalled} }

// CacheCold makes nym-api's data routes answer 503, as just after a restart.
func CacheCold() Fault { return Fault{Kind: KindCacheCold} }

// StaleDirectory makes the NymVPN directory's probe results age old (0 means 3h).
func StaleDirectory(age time.Duration) Fault { return Fault{Kind: KindStaleDirectory, Age: age} }

// EmptyDirectory makes the NymVPN directory list no gateway.
func EmptyDirectory() Fault { return Fault{Kind: KindEmptyDirectory} }

// Impersonate makes a node's /api/v1/host-information present another
// ed25519 identity than its bond, correctly signed by that other key (an
// impersonator, or a compromised host re-keyed). The node is otherwise
// healthy.
func Impersonate() Fault { return Fault{Kind: KindImpersonate} }

// Redirect answers every HTTP request with 302 Found to location (a node
// trying to point the monitor at something else, e.g. an internal URL).
func Redirect(location string) Fault { return Fault{Kind: KindRedirect, Location: location} }

// BadSignature makes a node's /api/v1/host-information carry its bonded
// identity with a well-formed signature that does not verify.
func BadSignature() Fault { return Fault{Kind: KindBadSignature} }

func (f Fault) String() string {
	switch f.Kind {
	case KindSlow:
		return "slow(" + f.Delay.String() + ")"
	case KindHTTP5xx:
		return fmt.Sprintf("http%d", f.status())
	case KindFlap:
		return fmt.Sprintf("flap(%s, %s)", f.Period, f.failFault())
	case KindStaleDirectory:
		return "stale_directory(" + f.age().String() + ")"
	}
	return f.Kind.String()
}

func (f Fault) status() int {
	if f.Status == 0 {
		return 500
	}
	return f.Status
}

func (f Fault) age() time.Duration {
	if f.Age == 0 {
		return 3 * time.Hour
	}
	return f.Age
}

// failFault is what a Flap does while failing.
func (f Fault) failFault() Fault {
	k := f.FailAs
	if k == KindNone {
		k = KindRefuse
	}
	return Fault{Kind: k, Status: f.Status}
}

// validate checks f for a node (svc == "") or the named service.
func (f Fault) validate(svc service) error {
	if f.Status != 0 && (f.Status < 500 || f.Status > 599) {
		return fmt.Errorf("simnet: fault status %d is not 5xx", f.Status)
	}
	if f.Delay < 0 || f.Period < 0 || f.Age < 0 {
		return fmt.Errorf("simnet: fault %s has a negative duration", f.Kind)
	}
	switch f.Kind {
	case KindNone, KindRefuse, KindHang, KindHTTP5xx, KindGarbage:
		return nil
	case KindRedirect:
		if f.Location == "" {
			return fmt.Errorf("simnet: redirect fault needs a location")
		}
		return nil
	case KindImpersonate, KindBadSignature:
		if svc == svcNone {
			return nil
		}
		return fmt.Errorf("simnet: fault %s applies to a node, not to %s", f.Kind, svc)
	case KindSlow:
		if f.Delay == 0 {
			return fmt.Errorf("simnet: slow fault needs a delay")
		}
		return nil
	case KindFlap:
		switch f.FailAs {
		case KindNone, KindRefuse, KindHang, KindHTTP5xx, KindGarbage:
			return nil
		}
		return fmt.Errorf("simnet: flap cannot fail as %s", f.FailAs)
	case KindChainStalled, KindCacheCold:
		if svc == svcNymAPI {
			return nil
		}
	case KindStaleDirectory, KindEmptyDirectory:
		if svc == svcNymVPNAPI {
			return nil
		}
	default:
		return fmt.Errorf("simnet: unknown fault kind %d", f.Kind)
	}
	if svc == svcNone {
		return fmt.Errorf("simnet: fault %s applies to a service, not to a node", f.Kind)
	}
	return fmt.Errorf("simnet: fault %s does not apply to %s", f.Kind, svc)
}

// service is one of the network's central services.
type service uint8

const (
	svcNone service = iota
	svcNymAPI
	svcNymVPNAPI
	svcControl
)

// Service names for SetServiceFault.
const (
	ServiceNymAPI    = "nym-api"
	ServiceNymVPNAPI = "nymvpn-api"
	ServiceControl   = "control" // all control targets together
)

func (s service) String() string {
	switch s {
	case svcNymAPI:
		return ServiceNymAPI
	case svcNymVPNAPI:
		return ServiceNymVPNAPI
	case svcControl:
		return ServiceControl
	}
	return "node"
}

func parseService(name string) (service, error) {
	switch name {
	case ServiceNymAPI:
		return svcNymAPI, nil
	case ServiceNymVPNAPI:
		return svcNymVPNAPI, nil
	case ServiceControl:
		return svcControl, nil
	}
	return svcNone, fmt.Errorf("simnet: unknown service %q (want %s, %s or %s)", name, ServiceNymAPI, ServiceNymVPNAPI, ServiceControl)
}

// target is what a connection reaches: a node's port or a service.
type target struct {
	node *node // nil for a service
	port nodePort
	svc  service
}

// faultEntry is a fault and when it was set (for periodic flaps and the
// stall length).
type faultEntry struct {
	f     Fault
	since time.Time
}

// faultState is the switchboard. Lookups happen on every connection, so it
// is read-locked; writers bump gen so caches of fault-dependent responses
// can tell.
type faultState struct {
	mu         sync.RWMutex
	gen        uint64
	node       map[int]faultEntry
	nodeFrom   map[netip.Addr]map[int]faultEntry
	svc        map[service]faultEntry
	svcFrom    map[netip.Addr]map[service]faultEntry
	cutoff     bool
	cutoffFrom map[netip.Addr]bool
}

func newFaultState() *faultState {
	fs := &faultState{}
	fs.resetLocked()
	return fs
}

func (fs *faultState) resetLocked() {
	fs.node = make(map[int]faultEntry)
	fs.nodeFrom = make(map[netip.Addr]map[int]faultEntry)
	fs.svc = make(map[service]faultEntry)
	fs.svcFrom = make(map[netip.Addr]map[service]faultEntry)
	fs.cutoff = false
	fs.cutoffFrom = make(map[netip.Addr]bool)
	fs.gen++
}

// lookup returns the fault a connection from src to t is subject to, and
// whether src is cut off (which overrides everything).
func (fs *faultState) lookup(t target, src netip.Addr) (faultEntry, bool) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	if fs.cutoff || (len(fs.cutoffFrom) > 0 && fs.cutoffFrom[src]) {
		return faultEntry{}, true
	}
	if t.node != nil {
		if m := fs.nodeFrom[src]; m != nil {
			if fe, ok := m[t.node.idx]; ok {
				return fe, false
			}
		}
		return fs.node[t.node.idx], false
	}
	if m := fs.svcFrom[src]; m != nil {
		if fe, ok := m[t.svc]; ok {
			return fe, false
		}
	}
	return fs.svc[t.svc], false
}

// global is the fault every client without an override sees (for the VPN
// directory's view of a gateway, which does not depend on our vantage).
func (fs *faultState) global(t target) faultEntry {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	if t.node != nil {
		return fs.node[t.node.idx]
	}
	return fs.svc[t.svc]
}

// kernelRefused reports whether t should be refused by closing its socket:
// refused for everybody, with no per-source rule that would need to see
// the connection.
func (fs *faultState) kernelRefused(t target) bool {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	if fs.cutoff || len(fs.cutoffFrom) > 0 {
		return false
	}
	var fe faultEntry
	if t.node != nil {
		fe = fs.node[t.node.idx]
		for _, m := range fs.nodeFrom {
			if _, ok := m[t.node.idx]; ok {
				return false
			}
		}
	} else {
		fe = fs.svc[t.svc]
		for _, m := range fs.svcFrom {
			if _, ok := m[t.svc]; ok {
				return false
			}
		}
	}
	return fe.f.Kind == KindRefuse
}

func (fs *faultState) generation() uint64 {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.gen
}
