package detector

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/probes"
)

// Fake time only: every result carries an explicit At, every Evaluate an
// explicit now.
var t0 = time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC)

const step = 30 * time.Second

func nid(id uint32) string { return fmt.Sprintf("node/%d/node_http", id) }

func nodeT(id uint32, role probes.Role, layer int, cc string) *probes.Target {
	return &probes.Target{ID: nid(id), Kind: probes.KindNodeHTTP, Address: fmt.Sprintf("http://192.0.2.%d:8080", id%250),
		Node: &probes.Node{NodeID: id, Role: role, Layer: layer, Country: cc}}
}

// gateways returns n gateway targets with ids from first, all in cc.
func gateways(first uint32, n int, role probes.Role, cc string) []*probes.Target {
	var out []*probes.Target
	for i := range n {
		out = append(out, nodeT(first+uint32(i), role, 0, cc))
	}
	return out
}

func mixnodes(first uint32, n, layer int) []*probes.Target {
	var out []*probes.Target
	for i := range n {
		out = append(out, nodeT(first+uint32(i), probes.RoleMixnode, layer, "NL"))
	}
	return out
}

func svcT(name string) *probes.Target {
	return &probes.Target{ID: "service/" + name, Kind: probes.KindService, Address: "https://" + name + ".example/health",
		Service: &probes.Service{Name: name, URL: "https://" + name + ".example", Kind: "http"}}
}

func ctrlT(host string) *probes.Target {
	return &probes.Target{ID: "control/https://" + host, Kind: probes.KindControl, Address: "https://" + host}
}

func join(lists ...[]*probes.Target) []*probes.Target {
	var out []*probes.Target
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// outcome is what one target answers in one round.
type outcome struct {
	ok      bool
	reason  probes.Reason
	latency time.Duration
}

var (
	up      = outcome{ok: true, latency: 40 * time.Millisecond}
	down    = outcome{reason: probes.ReasonTimeout, latency: 5 * time.Second}
	slowAns = outcome{reason: probes.ReasonSlow, latency: 3 * time.Second}
)

type harness struct {
	t       *testing.T
	d       *Detector
	targets []*probes.Target
	at      time.Time // the next round's probe time
	byID    map[string]Anomaly
	order   []string
	log     []Anomaly // every emission, in order
}

func newHarness(t *testing.T, o Options, targets []*probes.Target) *harness {
	t.Helper()
	h := &harness{t: t, d: New(o), targets: targets, at: t0, byID: map[string]Anomaly{}}
	h.d.SetTargets(targets)
	return h
}

// round probes every target at h.at (fn says how each answers), then
// evaluates one second later and moves h.at one step on.
func (h *harness) round(fn func(*probes.Target) outcome) []Anomaly {
	h.t.Helper()
	for _, t := range h.targets {
		o := fn(t)
		h.d.Observe(probes.Result{Target: t, OK: o.ok, Reason: o.reason, Latency: o.latency,
			Detail: string(o.reason), At: h.at})
	}
	out := h.eval(h.at.Add(time.Second))
	h.at = h.at.Add(step)
	return out
}

func (h *harness) rounds(n int, fn func(*probes.Target) outcome) {
	h.t.Helper()
	for range n {
		h.round(fn)
	}
}

func (h *harness) eval(now time.Time) []Anomaly {
	h.t.Helper()
	out := h.d.Evaluate(now)
	for _, a := range out {
		if _, ok := h.byID[a.ID]; !ok {
			h.order = append(h.order, a.ID)
		}
		h.byID[a.ID] = a
		h.log = append(h.log, a)
	}
	return out
}

// roundAt is the probe time of round i (0-based).
func roundAt(i int) time.Time { return t0.Add(time.Duration(i) * step) }

func allUp(*probes.Target) outcome { return up }

// failing makes the listed target ids fail and every other target answer.
func failing(ids ...string) func(*probes.Target) outcome {
	set := map[string]bool{}
	for _, id := range ids {
		set[id] = true
	}
	return func(t *probes.Target) outcome {
		if set[t.ID] {
			return down
		}
		return up
	}
}

func nids(ids ...uint32) []string {
	var out []string
	for _, id := range ids {
		out = append(out, nid(id))
	}
	return out
}

func idRange(first uint32, n int) []string {
	var out []string
	for i := range n {
		out = append(out, nid(first+uint32(i)))
	}
	return out
}

// byComponent returns the anomalies seen for component, in first-emission order.
func (h *harness) byComponent(c string) []Anomaly {
	var out []Anomaly
	for _, id := range h.order {
		if a := h.byID[id]; a.Component == c {
			out = append(out, a)
		}
	}
	return out
}

func (h *harness) one(c string) Anomaly {
	h.t.Helper()
	as := h.byComponent(c)
	if len(as) != 1 {
		h.t.Fatalf("want exactly one anomaly for %s, got %d; all: %s", c, len(as), h.dump())
	}
	return as[0]
}

func (h *harness) dump() string {
	var lines []string
	for _, id := range h.order {
		a := h.byID[id]
		lines = append(lines, fmt.Sprintf("\n  %s [%s/%s open=%v] %s", a.ID, a.Class, a.Architecture, a.Open(), a.Reason))
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

// disclosable lists every disclosable anomaly seen, except those of the
// given components.
func (h *harness) disclosable(except ...string) []string {
	skip := map[string]bool{}
	for _, c := range except {
		skip[c] = true
	}
	var out []string
	for _, id := range h.order {
		a := h.byID[id]
		if a.Class.Disclosable() && !skip[a.Component] {
			out = append(out, a.ID)
		}
	}
	return out
}

func containsAll(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}
