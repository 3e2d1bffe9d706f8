package simnet

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Role is a node's role in the current epoch. The values match
// probes.Role, so a caller converts with a plain type conversion.
type Role string

const (
	RoleEntryGateway Role = "entry_gateway"
	RoleExitGateway  Role = "exit_gateway"
	RoleMixnode      Role = "mixnode" // NodeInfo.Layer says which layer (1–3)
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

// Gateway reports whether the node runs gateway tasks (and so a client
// websocket port).
func (d DeclaredRoles) Gateway() bool { return d.Entry }

// ExitCapable is nym-api's "exit": both the NR and the IPR.
func (d DeclaredRoles) ExitCapable() bool { return d.ExitNR && d.ExitIPR }

// NodeInfo is one simulated nym-node as a test sees it.
type NodeInfo struct {
	ID       uint32
	Identity string // ed25519 identity, base58
	Role     Role
	Layer    int // 1–3 for RoleMixnode, else 0
	Declared DeclaredRoles
	Country  string
	IP       netip.Addr
	HTTPPort uint16
	MixPort  uint16
	WSPort   uint16 // 0 unless Declared.Gateway()
}

// HTTPURL is the base URL of the node's HTTP API.
func (ni NodeInfo) HTTPURL() string {
	return "http://" + net.JoinHostPort(ni.IP.String(), strconv.Itoa(int(ni.HTTPPort)))
}

// MixAddr is the node's mix port as host:port.
func (ni NodeInfo) MixAddr() string { return netip.AddrPortFrom(ni.IP, ni.MixPort).String() }

// WSAddr is the node's client websocket port as host:port, "" for mixnodes.
func (ni NodeInfo) WSAddr() string {
	if ni.WSPort == 0 {
		return ""
	}
	return netip.AddrPortFrom(ni.IP, ni.WSPort).String()
}

// nodePort is one of a node's listening ports.
type nodePort uint8

const (
	portHTTP nodePort = iota
	portMix
	portWS
	numNodePorts
)

func (p nodePort) String() string {
	switch p {
	case portHTTP:
		return "http"
	case portMix:
		return "mix"
	case portWS:
		return "ws"
	}
	return "port(" + strconv.Itoa(int(p)) + ")"
}

// node is the static description of one nym-node plus its flap counters.
type node struct {
	idx      int
	id       uint32
	role     Role
	layer    int
	declared DeclaredRoles
	country  country
	ip       netip.Addr

	identity, sphinx, noise, wgKey, lewesKey, lewesSig string
	key                                                ed25519.PrivateKey // identity's private key
	nrAddr, iprAddr, authAddr                          string

	version       string
	perf          int // whole percent, 0–100
	load          [3]string
	owner         string
	pledge        uint64
	delegates     uint64
	delegations   int
	bondingHeight uint64
	moniker       string
	uptimeBase    time.Duration // uptime before the network started
	probeAge      time.Duration // age of the VPN directory's probe of it
	polledAgo     time.Duration // how long before a refresh nym-api described it

	// flaps counts connections per port, for per-connection Flap.
	flaps [numNodePorts]atomic.Uint64
}

// country is enough of a geolocation for the VPN directory.
type country struct {
	code, city, region, timezone, postal string
	lat, lon                             float64
}

func countryTable() []country {
	return []country{
		{"DE", "Frankfurt am Main", "Hesse", "Europe/Berlin", "60313", 50.1155, 8.6842},
		{"NL", "Amsterdam", "North Holland", "Europe/Amsterdam", "1012", 52.3740, 4.8897},
		{"US", "Ashburn", "Virginia", "America/New_York", "20147", 39.0438, -77.4874},
		{"CH", "Zürich", "Zurich", "Europe/Zurich", "8001", 47.3769, 8.5417},
		{"SE", "Stockholm", "Stockholm", "Europe/Stockholm", "111 20", 59.3293, 18.0686},
		{"FR", "Paris", "Île-de-France", "Europe/Paris", "75001", 48.8566, 2.3522},
		{"GB", "London", "England", "Europe/London", "EC1A", 51.5072, -0.1276},
		{"FI", "Helsinki", "Uusimaa", "Europe/Helsinki", "00100", 60.1699, 24.9384},
		{"CA", "Montreal", "Quebec", "America/Toronto", "H2Y", 45.5019, -73.5674},
		{"SG", "Singapore", "Singapore", "Asia/Singapore", "018989", 1.2897, 103.8501},
		{"JP", "Tokyo", "Tokyo", "Asia/Tokyo", "100-0001", 35.6762, 139.6503},
		{"BR", "São Paulo", "São Paulo", "America/Sao_Paulo", "01000-000", -23.5558, -46.6396},
		{"PL", "Warsaw", "Mazovia", "Europe/Warsaw", "00-001", 52.2297, 21.0122},
		{"CZ", "Prague", "Prague", "Europe/Prague", "110 00", 50.0755, 14.4378},
		{"AT", "Vienna", "Vienna", "Europe/Vienna", "1010", 48.2082, 16.3738},
		{"ES", "Madrid", "Madrid", "Europe/Madrid", "28001", 40.4168, -3.7038},
		{"IT", "Milan", "Lombardy", "Europe/Rome", "20121", 45.4642, 9.1900},
		{"PT", "Lisbon", "Lisbon", "Europe/Lisbon", "1100-148", 38.7223, -9.1393},
		{"RO", "Bucharest", "Bucharest", "Europe/Bucharest", "010011", 44.4268, 26.1025},
		{"NO", "Oslo", "Oslo", "Europe/Oslo", "0150", 59.9139, 10.7522},
		{"IE", "Dublin", "Leinster", "Europe/Dublin", "D01", 53.3498, -6.2603},
		{"IS", "Reykjavík", "Capital Region", "Atlantic/Reykjavik", "101", 64.1466, -21.9426},
		{"AU", "Sydney", "New South Wales", "Australia/Sydney", "2000", -33.8688, 151.2093},
		{"IN", "Mumbai", "Maharashtra", "Asia/Kolkata", "400001", 19.0760, 72.8777},
		{"ZA", "Johannesburg", "Gauteng", "Africa/Johannesburg", "2001", -26.2041, 28.0473},
		{"KR", "Seoul", "Seoul", "Asia/Seoul", "04524", 37.5665, 126.9780},
		{"HK", "Hong Kong", "Hong Kong", "Asia/Hong_Kong", "999077", 22.3193, 114.1694},
		{"LT", "Vilnius", "Vilnius County", "Europe/Vilnius", "01001", 54.6872, 25.2797},
		{"UA", "Kyiv", "Kyiv City", "Europe/Kyiv", "01001", 50.4501, 30.5234},
		{"BG", "Sofia", "Sofia City", "Europe/Sofia", "1000", 42.6977, 23.3219},
	}
}

func defaultCountries() []string {
	table := countryTable()[:12]
	out := make([]string, len(table))
	for i, c := range table {
		out[i] = c.code
	}
	return out
}

func lookupCountry(code string) country {
	for _, c := range countryTable() {
		if c.code == code {
			return c
		}
	}
	// Unknown to the table: still a valid code, with a neutral location.
	return country{code: code, city: code, region: code, timezone: "UTC", postal: ""}
}

// nextIP returns the address after ip, skipping .0 and .255 last octets,
// and false when it would leave 127/8.
func nextIP(ip netip.Addr) (netip.Addr, bool) {
	for {
		ip = ip.Next()
		b := ip.As4()
		if b[0] != 127 || (b[1] == 255 && b[2] == 255 && b[3] == 255) {
			return netip.Addr{}, false
		}
		if b[3] != 0 && b[3] != 255 {
			return ip, true
		}
	}
}

type roleSlot struct {
	role     Role
	layer    int
	declared DeclaredRoles
	country  country
}

// generate builds the node set deterministically from o.Seed.
func generate(o Options) ([]*node, error) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	countries := make([]country, len(o.Countries))
	for i, cc := range o.Countries {
		countries[i] = lookupCountry(cc)
	}
	entry := DeclaredRoles{Entry: true}
	exit := DeclaredRoles{Entry: true, ExitNR: true, ExitIPR: true}
	mix := DeclaredRoles{Mixnode: true}

	var slots []roleSlot
	// Each role group is spread round-robin over its own seeded permutation
	// of the countries, so every country gets its share of every role.
	group := func(n int, slotAt func(i int) roleSlot) {
		perm := rng.Perm(len(countries))
		for i := range n {
			s := slotAt(i)
			s.country = countries[perm[i%len(perm)]]
			slots = append(slots, s)
		}
	}
	group(o.EntryGateways, func(int) roleSlot { return roleSlot{role: RoleEntryGateway, declared: entry} })
	group(o.ExitGateways, func(int) roleSlot { return roleSlot{role: RoleExitGateway, declared: exit} })
	for l := range 3 {
		group(o.Mixnodes[l], func(int) roleSlot { return roleSlot{role: RoleMixnode, layer: l + 1, declared: mix} })
	}
	group(o.Standby, func(int) roleSlot { return roleSlot{role: RoleStandby, declared: mix} })
	group(o.Inactive, func(i int) roleSlot {
		if i%2 == 0 {
			return roleSlot{role: RoleInactive, declared: exit}
		}
		return roleSlot{role: RoleInactive, declared: mix}
	})
	// Ids and addresses must not give roles away.
	rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })

	nodes := make([]*node, len(slots))
	ip := o.BaseIP
	id := uint32(100 + rng.IntN(400))
	for i, s := range slots {
		var ok bool
		if ip, ok = nextIP(ip); !ok {
			return nil, fmt.Errorf("simnet: %d nodes do not fit in 127/8 after %s", len(slots), o.BaseIP)
		}
		id += uint32(1 + rng.IntN(5))
		n := &node{
			idx:      i,
			id:       id,
			role:     s.role,
			layer:    s.layer,
			declared: s.declared,
			country:  s.country,
			ip:       ip,
		}
		// A real key pair, so host-information can be signed and checked.
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(rng.UintN(256))
		}
		n.key = ed25519.NewKeyFromSeed(seed)
		n.identity = base58(n.key.Public().(ed25519.PublicKey))
		n.sphinx = key58(rng, 32)
		n.noise = key58(rng, 32)
		n.wgKey = key58(rng, 32)
		n.lewesKey = key58(rng, 32)
		n.lewesSig = key58(rng, 64)
		n.nrAddr = key58(rng, 32) + "." + key58(rng, 32) + "@" + n.identity
		n.iprAddr = key58(rng, 32) + "." + key58(rng, 32) + "@" + n.identity
		n.authAddr = key58(rng, 32) + "." + key58(rng, 32) + "@" + n.identity
		switch r := rng.IntN(100); {
		case r < 80:
			n.version = "1.31.0"
		case r < 95:
			n.version = "1.30.0"
		default:
			n.version = "1.29.0"
		}
		if rng.IntN(100) < 6 {
			n.perf = 40 + rng.IntN(40)
		} else {
			n.perf = 85 + rng.IntN(16)
		}
		loads := [...]string{"negligible", "low", "low", "medium", "high"}
		n.load = [3]string{loads[rng.IntN(len(loads))], loads[rng.IntN(len(loads))], loads[rng.IntN(len(loads))]}
		n.owner = "n1" + bech32ish(rng, 38)
		n.pledge = 100_000_000 + uint64(rng.IntN(10))*50_000_000
		n.delegations = rng.IntN(60)
		n.delegates = uint64(n.delegations) * uint64(1_000_000_000+rng.IntN(5_000_000_000))
		n.bondingHeight = 12_000_000 + uint64(rng.IntN(5_000_000))
		n.uptimeBase = time.Duration(1+rng.IntN(60))*24*time.Hour + time.Duration(rng.IntN(86400))*time.Second
		n.probeAge = 20*time.Second + time.Duration(rng.IntN(280))*time.Second
		n.polledAgo = time.Duration(rng.IntN(30_000)) * time.Millisecond
		n.moniker = fmt.Sprintf("sim-%s-%s-%d", shortRole(s.role, s.declared), strings.ToLower(s.country.code), id)
		nodes[i] = n
	}
	return nodes, nil
}

func shortRole(r Role, d DeclaredRoles) string {
	switch {
	case r == RoleEntryGateway:
		return "entry"
	case r == RoleExitGateway:
		return "exit"
	case d.Gateway():
		return "gw"
	default:
		return "mix"
	}
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// key58 is n random bytes in base58, the encoding of Nym keys.
func key58(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return base58(b)
}

// base58 encodes b with the Bitcoin alphabet.
func base58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.37
	digits := make([]byte, 0, len(b)*137/100+1)
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	out := make([]byte, zeros+len(digits))
	for i := range zeros {
		out[i] = base58Alphabet[0]
	}
	for i, d := range digits {
		out[len(out)-1-i] = base58Alphabet[d]
	}
	return string(out)
}

func bech32ish(rng *rand.Rand, n int) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	b := make([]byte, n)
	for i := range b {
		b[i] = charset[rng.IntN(len(charset))]
	}
	return string(b)
}
