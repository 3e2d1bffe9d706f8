package simnet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Network is a simulated Nym network. Create it with New, then Start it.
// All methods are safe for concurrent use.
type Network struct {
	opts  Options
	log   *slog.Logger
	nodes []*node
	byID  map[uint32]*node
	byIP  map[netip.Addr]*node
	tmpl  templates

	faults   *faultState
	svcFlaps [svcControl + 1]atomic.Uint64
	caches   map[string]*renderCache

	// syncMu serialises socket changes: Start, Close and fault syncing.
	syncMu    sync.Mutex
	started   bool
	closed    bool
	slots     []*slot
	fronts    [numListenerKinds]*front
	ports     [numNodePorts]uint16
	nymAPI    netip.AddrPort
	nymVPN    netip.AddrPort
	controls  []netip.AddrPort
	startedAt atomic.Int64 // unix nanoseconds on the network's clock

	connMu  sync.Mutex
	closing bool
	held    map[net.Conn]struct{}
	wg      sync.WaitGroup
	done    chan struct{}
}

// New builds the network's nodes; nothing listens until Start.
func New(opts Options) (*Network, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	tmpl, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	nodes, err := generate(o)
	if err != nil {
		return nil, err
	}
	n := &Network{
		opts:   o,
		log:    o.Logger,
		nodes:  nodes,
		byID:   make(map[uint32]*node, len(nodes)),
		byIP:   make(map[netip.Addr]*node, len(nodes)),
		tmpl:   tmpl,
		faults: newFaultState(),
		caches: make(map[string]*renderCache),
		held:   make(map[net.Conn]struct{}),
		done:   make(chan struct{}),
	}
	for _, nd := range nodes {
		n.byID[nd.id] = nd
		n.byIP[nd.ip] = nd
	}
	for _, name := range cacheNames() {
		n.caches[name] = &renderCache{}
	}
	n.startedAt.Store(o.Now().UnixNano())
	return n, nil
}

// Start binds every socket and serves until Close or until ctx ends.
func (n *Network) Start(ctx context.Context) error {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	if n.started {
		return errors.New("simnet: already started")
	}
	if n.closed {
		return errors.New("simnet: closed")
	}
	n.started = true
	n.startedAt.Store(n.opts.Now().UnixNano())

	n.fronts[lkNodeHTTP] = n.newFront(n.guard(nodeErrorBody, n.nodeHandler()))
	n.fronts[lkNodeWS] = n.newFront(n.guard(nodeErrorBody, http.HandlerFunc(n.serveWS)))
	n.fronts[lkNymAPI] = n.newFront(n.guard(nodeErrorBody, n.nymAPIHandler()))
	n.fronts[lkNymVPNAPI] = n.newFront(n.guard(vpnErrorBody, n.vpnHandler()))
	n.fronts[lkControl] = n.newFront(n.guard(nodeErrorBody, http.HandlerFunc(serveControl)))

	if err := n.bindAllLocked(ctx); err != nil {
		n.shutdownLocked()
		n.wg.Wait()
		return err
	}
	for _, f := range n.fronts {
		if f != nil {
			n.wg.Go(func() { _ = f.srv.Serve(f.ln) })
		}
	}
	if err := n.syncSlotsLocked(ctx); err != nil {
		n.log.Warn("simnet: applying faults set before start", "err", err)
	}
	go func() {
		select {
		case <-ctx.Done():
			n.Close()
		case <-n.done:
		}
	}()
	n.log.Info("simnet: started",
		"nodes", len(n.nodes), "mode", n.opts.Listen.String(),
		"nym_api", serviceURL(n.nymAPI, "/api"), "nymvpn_api", serviceURL(n.nymVPN, "/api"),
		"http_port", n.ports[portHTTP], "mix_port", n.ports[portMix], "ws_port", n.ports[portWS])
	return nil
}

func (n *Network) bindAllLocked(ctx context.Context) error {
	base := n.opts.BaseIP
	bindSvc := func(kind listenerKind, svc service) (netip.AddrPort, error) {
		s := &slot{kind: kind, fixed: true, t: target{svc: svc}, addr: netip.AddrPortFrom(base, 0)}
		if err := n.bindSlotLocked(ctx, s); err != nil {
			return netip.AddrPort{}, err
		}
		n.slots = append(n.slots, s)
		return s.addr, nil
	}
	var err error
	if n.nymAPI, err = bindSvc(lkNymAPI, svcNymAPI); err != nil {
		return err
	}
	if n.nymVPN, err = bindSvc(lkNymVPNAPI, svcNymVPNAPI); err != nil {
		return err
	}
	for range n.opts.ControlTargets {
		ap, err := bindSvc(lkControl, svcControl)
		if err != nil {
			return err
		}
		n.controls = append(n.controls, ap)
	}

	if n.opts.Listen == ListenWildcard {
		for _, kind := range []listenerKind{lkNodeHTTP, lkNodeMix, lkNodeWS} {
			s := &slot{kind: kind, addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}
			if err := n.bindSlotLocked(ctx, s); err != nil {
				return err
			}
			n.slots = append(n.slots, s)
			n.ports[kind.nodePort()] = s.addr.Port()
		}
		return nil
	}
	// Per address: the first node to bind a port kind picks the number, the
	// others must get the same. Another process may own it on a later
	// address; then start over with fresh numbers.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		nodeSlots, ports, err := n.bindNodesLocked(ctx)
		if err == nil {
			n.slots = append(n.slots, nodeSlots...)
			n.ports = ports
			return nil
		}
		for _, s := range nodeSlots {
			n.closeSlotLocked(s)
		}
		if attempt == attempts || !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
		n.log.Debug("simnet: port taken on a node address, retrying", "err", err)
	}
}

func (n *Network) bindNodesLocked(ctx context.Context) ([]*slot, [numNodePorts]uint16, error) {
	var ports [numNodePorts]uint16
	var slots []*slot
	for _, nd := range n.nodes {
		kinds := []listenerKind{lkNodeHTTP, lkNodeMix}
		if nd.declared.Gateway() {
			kinds = append(kinds, lkNodeWS)
		}
		for _, kind := range kinds {
			p := kind.nodePort()
			s := &slot{kind: kind, fixed: true, t: target{node: nd, port: p}, addr: netip.AddrPortFrom(nd.ip, ports[p])}
			if err := n.bindSlotLocked(ctx, s); err != nil {
				return slots, ports, err
			}
			slots = append(slots, s)
			ports[p] = s.addr.Port()
		}
	}
	return slots, ports, nil
}

// Close stops everything and waits for the network's goroutines. It is
// idempotent.
func (n *Network) Close() {
	n.syncMu.Lock()
	if n.closed {
		n.syncMu.Unlock()
		return
	}
	n.shutdownLocked()
	n.syncMu.Unlock()
	n.wg.Wait()
}

func (n *Network) shutdownLocked() {
	n.closed = true
	close(n.done)
	for _, s := range n.slots {
		n.closeSlotLocked(s)
	}
	for _, f := range n.fronts {
		if f != nil {
			_ = f.srv.Close()
			_ = f.ln.Close()
		}
	}
	n.connMu.Lock()
	n.closing = true
	for c := range n.held {
		_ = c.Close()
	}
	n.connMu.Unlock()
}

// syncSlots brings the sockets of fixed slots in line with the faults:
// closed (kernel refusal) when refused for everyone, listening otherwise.
func (n *Network) syncSlots() error {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	if !n.started || n.closed {
		return nil
	}
	return n.syncSlotsLocked(context.Background())
}

func (n *Network) syncSlotsLocked(ctx context.Context) error {
	var errs []error
	for _, s := range n.slots {
		if !s.fixed {
			continue
		}
		want := n.faults.kernelRefused(s.t)
		switch {
		case want && s.ln != nil:
			if err := n.refuseSlotLocked(s); err != nil {
				errs = append(errs, err)
			}
		case !want && s.ln == nil:
			if err := n.bindSlotLocked(ctx, s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		n.log.Error("simnet: syncing sockets with faults", "err", err)
		return err
	}
	return nil
}

func (n *Network) now() time.Time { return n.opts.Now().UTC() }

func (n *Network) uptime() time.Duration {
	return max(0, n.opts.Now().Sub(time.Unix(0, n.startedAt.Load())))
}

// connFault is the fault a new connection from src to t gets, with Flap
// resolved (and its counter advanced).
func (n *Network) connFault(t target, src netip.Addr) (Fault, bool) {
	fe, cut := n.faults.lookup(t, src)
	if cut {
		return Hang(), false
	}
	if fe.f.Kind != KindFlap {
		return fe.f, false
	}
	if n.flapFailing(t, fe, true) {
		return fe.f.failFault(), true
	}
	return None(), false
}

// requestFault is the fault an HTTP request on sc gets now. Flap keeps the
// decision taken when the connection was accepted.
func (n *Network) requestFault(sc *simConn) Fault {
	fe, cut := n.faults.lookup(sc.t, sc.src)
	if cut {
		return Hang()
	}
	if fe.f.Kind == KindFlap {
		if sc.flapFail {
			return fe.f.failFault()
		}
		return None()
	}
	return fe.f
}

// flapFailing says whether a Flap is in its failing phase. Per-connection
// flaps fail on odd connections (the first one fails); without advancing,
// it reports whether the latest connection failed.
func (n *Network) flapFailing(t target, fe faultEntry, advance bool) bool {
	if fe.f.Period > 0 {
		elapsed := max(0, n.opts.Now().Sub(fe.since))
		return (elapsed/fe.f.Period)%2 == 0
	}
	ctr := n.flapCounter(t)
	if advance {
		return ctr.Add(1)%2 == 1
	}
	return ctr.Load()%2 == 1
}

func (n *Network) flapCounter(t target) *atomic.Uint64 {
	if t.node != nil {
		return &t.node.flaps[t.port]
	}
	return &n.svcFlaps[t.svc]
}

// nodeDown is how the NymVPN directory's own prober sees a gateway: failing
// under any fault but Slow, whatever our vantage point sees.
func (n *Network) nodeDown(nd *node) bool {
	fe := n.faults.global(target{node: nd})
	switch fe.f.Kind {
	case KindNone, KindSlow:
		return false
	case KindFlap:
		if fe.f.Period > 0 {
			return n.flapFailing(target{node: nd}, fe, false)
		}
		for p := range numNodePorts {
			if n.flapFailing(target{node: nd, port: p}, fe, false) {
				return true
			}
		}
		return false
	}
	return true
}

// ---- fault API ----

func (n *Network) nodeByID(id uint32) (*node, error) {
	nd := n.byID[id]
	if nd == nil {
		return nil, fmt.Errorf("simnet: no node %d", id)
	}
	return nd, nil
}

func resetFlaps(nd *node) {
	for p := range numNodePorts {
		nd.flaps[p].Store(0)
	}
}

// SetFault sets the fault every client sees on node nodeID (all its ports).
// None clears it.
func (n *Network) SetFault(nodeID uint32, f Fault) error {
	return n.setNodeFaults([]uint32{nodeID}, f)
}

func (n *Network) setNodeFaults(ids []uint32, f Fault) error {
	if err := f.validate(svcNone); err != nil {
		return err
	}
	nds := make([]*node, 0, len(ids))
	for _, id := range ids {
		nd, err := n.nodeByID(id)
		if err != nil {
			return err
		}
		nds = append(nds, nd)
	}
	now := n.opts.Now()
	n.faults.mu.Lock()
	for _, nd := range nds {
		if f.Kind == KindNone {
			delete(n.faults.node, nd.idx)
		} else {
			n.faults.node[nd.idx] = faultEntry{f: f, since: now}
		}
		if f.Kind == KindFlap {
			resetFlaps(nd)
		}
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// NodeFault is the fault every client sees on node nodeID.
func (n *Network) NodeFault(nodeID uint32) (Fault, error) {
	nd, err := n.nodeByID(nodeID)
	if err != nil {
		return Fault{}, err
	}
	return n.faults.global(target{node: nd}).f, nil
}

// SetFaultFrom overrides node nodeID's fault for clients whose source
// address is src (conn.RemoteAddr): f applies to them instead of the node's
// fault, even when f is None. ClearFaultFrom removes the override.
func (n *Network) SetFaultFrom(src netip.Addr, nodeID uint32, f Fault) error {
	if err := f.validate(svcNone); err != nil {
		return err
	}
	if !src.IsValid() {
		return errors.New("simnet: invalid source address")
	}
	nd, err := n.nodeByID(nodeID)
	if err != nil {
		return err
	}
	src = src.Unmap()
	n.faults.mu.Lock()
	m := n.faults.nodeFrom[src]
	if m == nil {
		m = make(map[int]faultEntry)
		n.faults.nodeFrom[src] = m
	}
	m[nd.idx] = faultEntry{f: f, since: n.opts.Now()}
	if f.Kind == KindFlap {
		resetFlaps(nd)
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// ClearFaultFrom removes src's override for node nodeID.
func (n *Network) ClearFaultFrom(src netip.Addr, nodeID uint32) error {
	nd, err := n.nodeByID(nodeID)
	if err != nil {
		return err
	}
	src = src.Unmap()
	n.faults.mu.Lock()
	if m := n.faults.nodeFrom[src]; m != nil {
		delete(m, nd.idx)
		if len(m) == 0 {
			delete(n.faults.nodeFrom, src)
		}
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// SetServiceFault sets the fault of a service: ServiceNymAPI,
// ServiceNymVPNAPI or ServiceControl. None clears it.
func (n *Network) SetServiceFault(name string, f Fault) error {
	svc, err := parseService(name)
	if err != nil {
		return err
	}
	if err := f.validate(svc); err != nil {
		return err
	}
	n.faults.mu.Lock()
	if f.Kind == KindNone {
		delete(n.faults.svc, svc)
	} else {
		n.faults.svc[svc] = faultEntry{f: f, since: n.opts.Now()}
	}
	if f.Kind == KindFlap {
		n.svcFlaps[svc].Store(0)
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// SetServiceFaultFrom overrides a service's fault for clients from src,
// like SetFaultFrom.
func (n *Network) SetServiceFaultFrom(src netip.Addr, name string, f Fault) error {
	svc, err := parseService(name)
	if err != nil {
		return err
	}
	if err := f.validate(svc); err != nil {
		return err
	}
	if !src.IsValid() {
		return errors.New("simnet: invalid source address")
	}
	src = src.Unmap()
	n.faults.mu.Lock()
	m := n.faults.svcFrom[src]
	if m == nil {
		m = make(map[service]faultEntry)
		n.faults.svcFrom[src] = m
	}
	m[svc] = faultEntry{f: f, since: n.opts.Now()}
	if f.Kind == KindFlap {
		n.svcFlaps[svc].Store(0)
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// ClearServiceFaultFrom removes src's override for a service.
func (n *Network) ClearServiceFaultFrom(src netip.Addr, name string) error {
	svc, err := parseService(name)
	if err != nil {
		return err
	}
	src = src.Unmap()
	n.faults.mu.Lock()
	if m := n.faults.svcFrom[src]; m != nil {
		delete(m, svc)
		if len(m) == 0 {
			delete(n.faults.svcFrom, src)
		}
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// FailRole sets f on a fraction (0–1, rounded up) of the nodes with role,
// chosen reproducibly from the seed, and returns their ids in ascending
// order.
func (n *Network) FailRole(role Role, fraction float64, f Fault) ([]uint32, error) {
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return nil, fmt.Errorf("simnet: fraction %v is not in [0,1]", fraction)
	}
	var members []uint32
	for _, nd := range n.nodes {
		if nd.role == role {
			members = append(members, nd.id)
		}
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("simnet: no node has role %q", role)
	}
	k := int(math.Ceil(fraction*float64(len(members)) - 1e-9))
	h := fnv.New64a()
	_, _ = h.Write([]byte(role))
	rng := rand.New(rand.NewPCG(n.opts.Seed, h.Sum64()))
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	chosen := slices.Clone(members[:k])
	slices.Sort(chosen)
	return chosen, n.setNodeFaults(chosen, f)
}

// FailCountry sets f on every node in country cc and returns their ids.
func (n *Network) FailCountry(cc string, f Fault) ([]uint32, error) {
	var ids []uint32
	for _, nd := range n.nodes {
		if nd.country.code == cc {
			ids = append(ids, nd.id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("simnet: no node in country %q", cc)
	}
	slices.Sort(ids)
	return ids, n.setNodeFaults(ids, f)
}

// CutOff simulates the loss of our own uplink: while on, every connection
// to every node, service and control target hangs.
func (n *Network) CutOff(on bool) error {
	n.faults.mu.Lock()
	n.faults.cutoff = on
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// CutOffFrom cuts off only clients whose source address is src, as when
// one vantage point of several loses its uplink.
func (n *Network) CutOffFrom(src netip.Addr, on bool) error {
	if !src.IsValid() {
		return errors.New("simnet: invalid source address")
	}
	n.faults.mu.Lock()
	if on {
		n.faults.cutoffFrom[src.Unmap()] = true
	} else {
		delete(n.faults.cutoffFrom, src.Unmap())
	}
	n.faults.gen++
	n.faults.mu.Unlock()
	return n.syncSlots()
}

// Reset clears every fault, override and cut-off.
func (n *Network) Reset() error {
	n.faults.mu.Lock()
	n.faults.resetLocked()
	n.faults.mu.Unlock()
	for _, nd := range n.nodes {
		resetFlaps(nd)
	}
	for i := range n.svcFlaps {
		n.svcFlaps[i].Store(0)
	}
	return n.syncSlots()
}

// ---- accessors ----

func serviceURL(ap netip.AddrPort, path string) string {
	if !ap.IsValid() {
		return ""
	}
	return "http://" + net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port()))) + path
}

// NymAPIURL is the nym-api base URL, like https://validator.nymtech.net/api
// (routes are under it: <base>/v1/api-status/health). "" before Start.
func (n *Network) NymAPIURL() string {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	return serviceURL(n.nymAPI, "/api")
}

// NymVPNAPIURL is the NymVPN API base URL, like https://nymvpn.com/api
// (<base>/public/v1/health). "" before Start.
func (n *Network) NymVPNAPIURL() string {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	return serviceURL(n.nymVPN, "/api")
}

// ControlURL is the first control target's URL. "" before Start.
func (n *Network) ControlURL() string {
	urls := n.ControlURLs()
	if len(urls) == 0 {
		return ""
	}
	return urls[0]
}

// ControlURLs are all control targets' URLs.
func (n *Network) ControlURLs() []string {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	out := make([]string, len(n.controls))
	for i, ap := range n.controls {
		out[i] = serviceURL(ap, "/")
	}
	return out
}

// Ports are the HTTP, mix and websocket port numbers all nodes share
// (0 before Start).
func (n *Network) Ports() (httpPort, mixPort, wsPort uint16) {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	return n.ports[portHTTP], n.ports[portMix], n.ports[portWS]
}

// ListenMode is the mode in use (never ListenAuto).
func (n *Network) ListenMode() ListenMode { return n.opts.Listen }

// BaseIP is the services' address; nodes follow it.
func (n *Network) BaseIP() netip.Addr { return n.opts.BaseIP }

func (n *Network) info(nd *node, ports [numNodePorts]uint16) NodeInfo {
	ni := NodeInfo{
		ID:       nd.id,
		Identity: nd.identity,
		Role:     nd.role,
		Layer:    nd.layer,
		Declared: nd.declared,
		Country:  nd.country.code,
		IP:       nd.ip,
		HTTPPort: ports[portHTTP],
		MixPort:  ports[portMix],
	}
	if nd.declared.Gateway() {
		ni.WSPort = ports[portWS]
	}
	return ni
}

// Nodes lists every node in address order.
func (n *Network) Nodes() []NodeInfo {
	n.syncMu.Lock()
	ports := n.ports
	n.syncMu.Unlock()
	out := make([]NodeInfo, len(n.nodes))
	for i, nd := range n.nodes {
		out[i] = n.info(nd, ports)
	}
	return out
}

// NodesByRole lists the nodes with role, in address order.
func (n *Network) NodesByRole(role Role) []NodeInfo {
	var out []NodeInfo
	for _, ni := range n.Nodes() {
		if ni.Role == role {
			out = append(out, ni)
		}
	}
	return out
}

// Node returns one node by id.
func (n *Network) Node(id uint32) (NodeInfo, bool) {
	nd := n.byID[id]
	if nd == nil {
		return NodeInfo{}, false
	}
	n.syncMu.Lock()
	ports := n.ports
	n.syncMu.Unlock()
	return n.info(nd, ports), true
}

// sortedGateways are the gateway-capable nodes by (country, identity), the
// order of the dVPN directory.
func (n *Network) sortedGateways() []*node {
	var gws []*node
	for _, nd := range n.nodes {
		if nd.declared.Gateway() {
			gws = append(gws, nd)
		}
	}
	slices.SortFunc(gws, func(a, b *node) int {
		return cmp.Or(cmp.Compare(a.country.code, b.country.code), cmp.Compare(a.identity, b.identity))
	})
	return gws
}
