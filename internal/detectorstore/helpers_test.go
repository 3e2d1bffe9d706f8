package detectorstore

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/probes"
)

// Fake time only: every result carries an explicit At, every Evaluate an
// explicit now. The helpers mirror detector's own test harness.
var t0 = time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC)

const step = 30 * time.Second

func nid(id uint32) string { return fmt.Sprintf("node/%d/node_http", id) }

func nodeT(id uint32, role probes.Role, layer int, cc string) *probes.Target {
	return &probes.Target{ID: nid(id), Kind: probes.KindNodeHTTP, Address: fmt.Sprintf("http://192.0.2.%d:8080", id%250),
		Node: &probes.Node{NodeID: id, Role: role, Layer: layer, Country: cc}}
}

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

func nids(ids ...uint32) []string {
	var out []string
	for _, id := range ids {
		out = append(out, nid(id))
	}
	return out
}

func firingAlert(name string, labels map[string]string, start time.Time, c detector.Class) detector.Alert {
	l := map[string]string{"alertname": name}
	for k, v := range labels {
		l[k] = v
	}
	return detector.Alert{Status: detector.AlertFiring, Labels: l, StartsAt: start, Class: c, ClassSource: "label"}
}

func resolvedCopy(a detector.Alert, end time.Time) detector.Alert {
	a.Status, a.EndsAt = detector.AlertResolved, end
	return a
}

// outcome is what one target answers in one round.
type outcome struct {
	ok      bool
	reason  probes.Reason
	latency time.Duration
}

var (
	up   = outcome{ok: true, latency: 40 * time.Millisecond}
	down = outcome{reason: probes.ReasonTimeout, latency: 5 * time.Second}
)

func allUp(*probes.Target) outcome { return up }

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

type harness struct {
	t       *testing.T
	d       *detector.Detector
	targets []*probes.Target
	at      time.Time
	byID    map[string]detector.Anomaly
	order   []string
	log     []detector.Anomaly
}

func newHarness(t *testing.T, o detector.Options, targets []*probes.Target) *harness {
	t.Helper()
	h := &harness{t: t, d: detector.New(o), targets: targets, at: t0, byID: map[string]detector.Anomaly{}}
	h.d.SetTargets(targets)
	return h
}

// round probes every target at h.at, evaluates one second later and moves
// h.at one step on.
func (h *harness) round(fn func(*probes.Target) outcome) {
	for _, t := range h.targets {
		o := fn(t)
		h.d.Observe(probes.Result{Target: t, OK: o.ok, Reason: o.reason, Latency: o.latency, Detail: string(o.reason), At: h.at})
	}
	h.eval(h.at.Add(time.Second))
	h.at = h.at.Add(step)
}

func (h *harness) rounds(n int, fn func(*probes.Target) outcome) {
	for range n {
		h.round(fn)
	}
}

func (h *harness) eval(now time.Time) []detector.Anomaly {
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

func (h *harness) one(c string) detector.Anomaly {
	h.t.Helper()
	var as []detector.Anomaly
	for _, id := range h.order {
		if a := h.byID[id]; a.Component == c {
			as = append(as, a)
		}
	}
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

// snapDiff compares two snapshots row by row (sorted), "" if equal.
func snapDiff(a, b detector.Snapshot) string {
	if a.Version != b.Version || !a.SavedAt.Equal(b.SavedAt) {
		return fmt.Sprintf("version/saved_at %d %v != %d %v", a.Version, a.SavedAt, b.Version, b.SavedAt)
	}
	sortSnap(&a)
	sortSnap(&b)
	if len(a.Targets) != len(b.Targets) {
		return fmt.Sprintf("%d targets != %d", len(a.Targets), len(b.Targets))
	}
	for i := range a.Targets {
		x, y := a.Targets[i], b.Targets[i]
		if x.ID != y.ID || x.Failing != y.Failing || x.Since != y.Since || x.LastHealthy != y.LastHealthy ||
			x.LastAt != y.LastAt || !bytes.Equal(x.State, y.State) {
			return fmt.Sprintf("target %s:\n%s\n!=\n%s", x.ID, x.State, y.State)
		}
	}
	if len(a.Anomalies) != len(b.Anomalies) {
		return fmt.Sprintf("%d anomalies != %d", len(a.Anomalies), len(b.Anomalies))
	}
	for i := range a.Anomalies {
		x, y := a.Anomalies[i], b.Anomalies[i]
		if x.ID != y.ID || x.Component != y.Component || x.Class != y.Class || x.LastHealthy != y.LastHealthy ||
			x.FirstSeen != y.FirstSeen || x.Detected != y.Detected || !bytes.Equal(x.State, y.State) {
			return fmt.Sprintf("anomaly %s:\n%s\n!=\n%s", x.ID, x.State, y.State)
		}
	}
	if len(a.Components) != len(b.Components) {
		return fmt.Sprintf("%d components != %d", len(a.Components), len(b.Components))
	}
	for i := range a.Components {
		if a.Components[i].Component != b.Components[i].Component || !bytes.Equal(a.Components[i].State, b.Components[i].State) {
			return fmt.Sprintf("component %s:\n%s\n!=\n%s", a.Components[i].Component, a.Components[i].State, b.Components[i].State)
		}
	}
	if fmt.Sprint(a.Meta) != fmt.Sprint(b.Meta) {
		return fmt.Sprintf("meta %v != %v", a.Meta, b.Meta)
	}
	return ""
}

func sortSnap(s *detector.Snapshot) {
	s.Targets = append([]detector.TargetRow(nil), s.Targets...)
	s.Anomalies = append([]detector.AnomalyRow(nil), s.Anomalies...)
	s.Components = append([]detector.ComponentRow(nil), s.Components...)
	sort.Slice(s.Targets, func(i, j int) bool { return s.Targets[i].ID < s.Targets[j].ID })
	sort.Slice(s.Anomalies, func(i, j int) bool { return s.Anomalies[i].ID < s.Anomalies[j].ID })
	sort.Slice(s.Components, func(i, j int) bool { return s.Components[i].Component < s.Components[j].Component })
}

// roundAt is the probe time of round i (0-based).
func roundAt(i int) time.Time { return t0.Add(time.Duration(i) * step) }
