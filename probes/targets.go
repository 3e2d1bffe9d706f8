package probes

import (
	"cmp"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Target ID prefixes. IDs are stable across refreshes and restarts, so the
// scheduler and detector can key per-target history by them.
const (
	targetPrefixNode    = "node/"
	targetPrefixService = "service/"
	targetPrefixControl = "control/"
)

// NodeTargetID is the ID of one of a node's targets; suffix is "http", "mix",
// "ws" or "identity".
func NodeTargetID(nodeID uint32, suffix string) string {
	return targetPrefixNode + strconv.FormatUint(uint64(nodeID), 10) + "/" + suffix
}

// BuildTargets derives the probe targets, in a deterministic order: nodes by
// id (http, mix, then ws), then services by name, then control URLs sorted.
//
//   - node/<id>/http: the node's HTTP API, Address = first host : first HTTP port
//     (the prober tries Node.HTTPPorts in §2.3 order);
//   - node/<id>/mix: TCP to first host : mix port;
//   - node/<id>/ws: TCP to first host : client websocket port, only for nodes
//     that declare the entry (gateway) role;
//   - node/<id>/identity: the node's signed host-information on the same
//     HTTP address, for nodes with a bonded identity (probed on its own,
//     longer cadence);
//   - service/<name>: Address = the service URL;
//   - control/<url>: Address = the URL.
//
// staging marks targets as staging/pre-production; a key matches a node's id
// (decimal), its identity, or any full target ID. Nodes without a host are
// skipped, as are duplicate IDs (the first wins).
func BuildTargets(nodes []Node, services []Service, controls []string, staging map[string]bool) []*Target {
	sorted := make([]*Node, 0, len(nodes))
	for i := range nodes {
		if len(nodes[i].Hosts) == 0 || nodes[i].Hosts[0] == "" {
			continue
		}
		n := nodes[i] // copy: targets get their own Node, with Staging set
		n.Hosts = slices.Clone(n.Hosts)
		n.HTTPPorts = slices.Clone(n.HTTPPorts)
		sorted = append(sorted, &n)
	}
	slices.SortStableFunc(sorted, func(a, b *Node) int { return cmp.Compare(a.NodeID, b.NodeID) })

	out := make([]*Target, 0, 4*len(sorted)+len(services)+len(controls))
	seen := make(map[string]bool, cap(out))
	add := func(t *Target) {
		if seen[t.ID] {
			return
		}
		seen[t.ID] = true
		out = append(out, t)
	}
	for _, n := range sorted {
		idStr := strconv.FormatUint(uint64(n.NodeID), 10)
		n.Staging = n.Staging || staging[idStr] || (n.Identity != "" && staging[n.Identity])
		host := n.Hosts[0]
		mk := func(suffix string, k Kind, port uint16) {
			id := NodeTargetID(n.NodeID, suffix)
			add(&Target{
				ID:      id,
				Kind:    k,
				Address: dirHostPort(host, port),
				Node:    n,
				Staging: n.Staging || staging[id],
			})
		}
		httpPort := uint16(DefaultNodeHTTPPort)
		if len(n.HTTPPorts) > 0 && n.HTTPPorts[0] != 0 {
			httpPort = n.HTTPPorts[0]
		}
		mk("http", KindNodeHTTP, httpPort)
		if n.Identity != "" {
			mk("identity", KindIdentity, httpPort)
		}
		if n.MixPort != 0 {
			mk("mix", KindMixPort, n.MixPort)
		}
		if n.Declared.Entry && n.WSPort != 0 {
			mk("ws", KindWSPort, n.WSPort)
		}
	}

	svcs := slices.Clone(services)
	slices.SortStableFunc(svcs, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	for i := range svcs {
		s := svcs[i]
		if s.Name == "" {
			continue
		}
		id := targetPrefixService + s.Name
		add(&Target{ID: id, Kind: KindService, Address: s.URL, Service: &s, Staging: staging[s.Name] || staging[id]})
	}

	ctl := slices.Clone(controls)
	slices.Sort(ctl)
	for _, u := range ctl {
		if u == "" {
			continue
		}
		id := targetPrefixControl + u
		add(&Target{ID: id, Kind: KindControl, Address: u, Staging: staging[id]})
	}
	return out
}

// TargetDiff is what changed between two target sets, keyed by Target.ID.
type TargetDiff struct {
	Added   []*Target // in next only
	Removed []*Target // in old only
	// Changed holds the new version of targets whose probe-relevant fields
	// (kind, address, staging, node addresses/ports/role, service) changed;
	// their history is kept, since the ID is the same.
	Changed   []*Target
	Unchanged []*Target // the new version of targets that did not change
}

// Empty reports whether nothing was added, removed or changed.
func (d TargetDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// DiffTargets compares two target lists by ID. Results keep the order of
// next (Added, Changed, Unchanged) and old (Removed).
func DiffTargets(old, next []*Target) TargetDiff {
	prev := make(map[string]*Target, len(old))
	for _, t := range old {
		prev[t.ID] = t
	}
	var d TargetDiff
	inNew := make(map[string]bool, len(next))
	for _, t := range next {
		inNew[t.ID] = true
		o, ok := prev[t.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, t)
		case sameTarget(o, t):
			d.Unchanged = append(d.Unchanged, t)
		default:
			d.Changed = append(d.Changed, t)
		}
	}
	for _, t := range old {
		if !inNew[t.ID] {
			d.Removed = append(d.Removed, t)
		}
	}
	return d
}

// sameTarget compares what affects probing or grouping; the node's
// performance and version move all the time and are ignored.
func sameTarget(a, b *Target) bool {
	if a.Kind != b.Kind || a.Address != b.Address || a.Staging != b.Staging {
		return false
	}
	if (a.Service == nil) != (b.Service == nil) || (a.Service != nil && !reflect.DeepEqual(*a.Service, *b.Service)) {
		return false
	}
	if (a.Node == nil) != (b.Node == nil) {
		return false
	}
	if a.Node == nil {
		return true
	}
	x, y := *a.Node, *b.Node
	x.Performance, y.Performance = 0, 0
	x.Version, y.Version = "", ""
	return reflect.DeepEqual(x, y)
}
