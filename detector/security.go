package detector

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nymwatch/nymwatch/probes"
)

// First-hand security signals from the probes (issue 10.2) and node
// addresses refused as non-public (issue 11.2).
//
// A node presenting another identity than its bond, a host-information
// signature that does not verify, or a centralized service whose TLS
// certificate fails verification or matches none of its pins is a per-target
// SUSPECTED SECURITY anomaly: its own component, never averaged into a
// group's outage ratio nor into the vantage check. Only a well-formed
// measurement is such a signal (probes decide that: Reason.Security); a
// host-information endpoint that is down or answers garbage is not.
// The signal holds until a good observation of the same target clears it:
// a node that goes silent after presenting a foreign key has not proven
// anything.
//
// A node target refused for a non-public address is taken out of its
// groups (like staging nodes it says nothing about the network's users)
// and recorded as an internal anomaly: never paged.

// Component prefixes.
const (
	identityPfx = "identity/" // identity/node/<id>
	tlsPfx      = "tls/"      // tls/service/<name>
	addressPfx  = "address/"  // address/node/<id>
	secKey      = "sec/"      // contributor id prefix: sec/<target id>
	nonPubKey   = "nonpublic/"
)

// securityComponent reports whether c is a first-hand security component:
// measured, not inferred, so it is judged even while the vantage point is
// cut off.
func securityComponent(c string) bool {
	return strings.HasPrefix(c, identityPfx) || strings.HasPrefix(c, tlsPfx)
}

// securityComponentKind maps these components onto the bounded metric
// kinds (a node's or a service's).
func securityComponentKind(c string) (string, bool) {
	switch {
	case strings.HasPrefix(c, identityPfx), strings.HasPrefix(c, addressPfx):
		return "node", true
	case strings.HasPrefix(c, tlsPfx):
		return "service", true
	}
	return "", false
}

// outsideGroups reports whether a target never counts toward group ratios,
// baselines or the vantage check: identity checks, and node targets whose
// address was refused as non-public.
func (ts *targetState) outsideGroups() bool {
	return ts.Target.Kind == probes.KindIdentity || ts.NonPublic
}

// observeSecurity updates the security and non-public state from one
// result (called by Observe after the hysteresis).
func (ts *targetState) observeSecurity(r *probes.Result, at int64) {
	switch {
	case r.Reason.Security():
		if ts.SecSince == 0 {
			ts.SecSince, ts.SecHealthy = at, ts.LastGoodAt
		}
		ts.SecReason, ts.SecDetail = string(r.Reason), clip(r.Detail, maxDetail)
	case r.OK && ts.SecSince != 0:
		ts.SecSince, ts.SecHealthy, ts.SecReason, ts.SecDetail = 0, 0, "", ""
		ts.SecClearedAt = at
	}
	np := r.Reason == probes.ReasonPrivateAddress
	if np {
		if !ts.NonPublic {
			ts.NonPublicSince = at
		}
		ts.NonPublicDetail = clip(r.Detail, maxDetail)
	} else if ts.NonPublic {
		ts.NonPublicClearedAt = at
	}
	if np != ts.NonPublic {
		ts.NonPublic = np
		ts.classify() // in or out of its groups
	}
}

// securityFindings adds one finding per target with a security signal and
// one per node announcing a non-public address.
func (d *Detector) securityFindings(out map[string]*finding) {
	ids := make([]string, 0)
	if d.fullEval {
		for id, ts := range d.targets {
			if ts.SecSince != 0 || ts.NonPublic {
				ids = append(ids, id)
			}
		}
	} else {
		d.syncIndex()
		for id := range d.ix.sec {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ts := d.targets[id]
		if ts.SecSince != 0 {
			if f := d.securityFinding(ts); f != nil {
				mergeFinding(out, f)
			}
		}
		if ts.NonPublic && ts.isNode() {
			mergeFinding(out, d.nonPublicFinding(ts))
		}
	}
}

// mergeFinding adds f, or its contributors to the finding already there
// (one node's several targets make one component).
func mergeFinding(out map[string]*finding, f *finding) {
	prev := out[f.Component]
	if prev == nil {
		out[f.Component] = f
		return
	}
	prev.Contribs = append(prev.Contribs, f.Contribs...)
	prev.Frags = dedup(append(prev.Frags, f.Frags...))
}

const whySuspected = "security (suspected, to be confirmed by a human): policy II, compromise of user data, privacy or cryptographic systems"

func (d *Detector) securityFinding(ts *targetState) *finding {
	f := &finding{Source: "probe", Class: ClassSecurity, Why: []string{whySuspected}}
	what := ""
	switch probes.Reason(ts.SecReason) {
	case probes.ReasonIdentityMismatch, probes.ReasonBadSignature:
		n := ts.nodeID()
		f.Component = identityPfx + nodePrefix + strconv.FormatUint(uint64(n), 10)
		f.Arch = ArchDecentralized
		f.Kind = "node"
		if ts.SecReason == string(probes.ReasonIdentityMismatch) {
			f.Title = fmt.Sprintf("Node %d presents another identity than its bond: possible key compromise or impersonation", n)
			what = "identity mismatch"
		} else {
			f.Title = fmt.Sprintf("Node %d host-information signature does not verify: possible tampering or impersonation", n)
			what = "bad signature"
		}
	case probes.ReasonTLSUntrusted, probes.ReasonTLSPinMismatch:
		name := strings.TrimPrefix(ts.group, svcPrefix)
		if name == "" {
			name = strings.TrimPrefix(ts.Target.ID, svcPrefix)
		}
		f.Component = tlsPfx + svcPrefix + name
		f.Arch = ArchCentralized
		f.Kind = "service"
		if ts.SecReason == string(probes.ReasonTLSPinMismatch) {
			f.Title = fmt.Sprintf("Service %s presents a certificate matching none of its pins: possible interception", name)
			what = "TLS pin mismatch"
		} else {
			f.Title = fmt.Sprintf("Service %s presents a certificate that fails verification: possible interception", name)
			what = "untrusted TLS certificate"
		}
	default:
		return nil
	}
	f.Frags = []string{fmt.Sprintf("%s measured by nymwatch's probe of %s since %s: %s",
		what, ts.Target.ID, clock(ts.SecSince), ts.SecDetail)}
	if ts.staging() {
		// A staging target's key still matters, but says nothing public.
		f.Class = ClassInternal
		f.Why = []string{whyStaging}
	}
	f.Contribs = []contributor{{ID: secKey + ts.Target.ID, Since: ts.SecSince, LastHealthy: ts.SecHealthy,
		Ev: ts.evidence(ts.SecReason, ts.SecDetail, ts.SecSince)}}
	return f
}

func (d *Detector) nonPublicFinding(ts *targetState) *finding {
	n := ts.nodeID()
	return &finding{
		Component: addressPfx + nodePrefix + strconv.FormatUint(uint64(n), 10),
		Kind:      "node", Arch: ArchDecentralized, Source: "probe", Class: ClassInternal,
		Title: fmt.Sprintf("Node %d announces a non-public address: not probed", n),
		Frags: []string{fmt.Sprintf("%s: %s", ts.Target.ID, ts.NonPublicDetail)},
		Why: []string{"internal: the node's operator announces a non-public address (loopback, private, link-local, CGNAT, ULA, unspecified or multicast); " +
			"nymwatch does not probe it (network.allow_private_addresses is false) and does not count it toward any threshold"},
		Contribs: []contributor{{ID: nonPubKey + ts.Target.ID, Since: ts.NonPublicSince,
			Ev: ts.evidence(string(probes.ReasonPrivateAddress), ts.NonPublicDetail, ts.NonPublicSince)}},
	}
}

// leaveSecurity says when and why a security or non-public contributor
// left its anomaly; ok is false for other contributors.
func (d *Detector) leaveSecurity(id string, ci contribInfo) (at int64, why string, ok bool) {
	var tid string
	var sec bool
	switch {
	case strings.HasPrefix(id, secKey):
		tid, sec = strings.TrimPrefix(id, secKey), true
	case strings.HasPrefix(id, nonPubKey):
		tid = strings.TrimPrefix(id, nonPubKey)
	default:
		return 0, "", false
	}
	ts := d.targets[tid]
	switch {
	case ts == nil:
		return 0, leftForgotten, true
	case sec && ts.SecSince == 0 && ts.SecClearedAt >= ci.Since:
		return ts.SecClearedAt, leftRecovered, true
	case !sec && !ts.NonPublic && ts.NonPublicClearedAt >= ci.Since:
		return ts.NonPublicClearedAt, leftRecovered, true
	}
	return 0, leftMoved, true
}
