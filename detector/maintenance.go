package detector

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
	"github.com/nymwatch/nymwatch/probes"
)

// MaintenanceWindow is a planned maintenance declared by a human (policy
// II: "operational improvements during routine maintenance" are internal).
// While it is active (Start <= now < End), failures of what it matches are
// recorded as internal and not paged; security is never suppressed.
type MaintenanceWindow struct {
	ID string
	// What it matches; at least one entry in all. Components are detector
	// component names ("service/nym-api", "exit_gateways", "country/DE",
	// "node/1011", ...); Services are services[].name; Nodes are node ids.
	Components []string
	Services   []string
	Nodes      []uint32
	Start, End time.Time // End is the effective end (an early end applied)
	Reason     string
	Who        string
}

// Empty reports whether the window matches nothing.
func (w *MaintenanceWindow) Empty() bool {
	return len(w.Components) == 0 && len(w.Services) == 0 && len(w.Nodes) == 0
}

func (w *MaintenanceWindow) activeAt(now int64) bool {
	return unixms.From(w.Start) <= now && now < unixms.From(w.End)
}

// maintMark remembers, on an open anomaly, the window it was recorded
// under, so that once the window is over the anomaly says it preceded.
type maintMark struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Who    string `json:"who"`
	End    int64  `json:"end"`             // the window's effective end as last seen
	Ended  int64  `json:"ended,omitempty"` // set once the anomaly is no longer covered
}

// SetMaintenance replaces the maintenance windows. Pass active and upcoming
// windows and those ended recently (so an anomaly still open can name the
// window that preceded it); the next Evaluate applies them.
func (d *Detector) SetMaintenance(ws []MaintenanceWindow) {
	cp := make([]MaintenanceWindow, 0, len(ws))
	for _, w := range ws {
		if w.Empty() || w.ID == "" {
			continue // a window matching nothing (or everything) is never applied
		}
		w.Components = slices.Clone(w.Components)
		w.Services = slices.Clone(w.Services)
		w.Nodes = slices.Clone(w.Nodes)
		cp = append(cp, w)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.maint = cp
}

const whyMaintenance = "internal: operational improvements during routine maintenance (policy II); recorded, not paged"

// maintReason is the reason text of a failure inside a window.
func maintReason(w *MaintenanceWindow) string {
	return fmt.Sprintf("planned maintenance %s: %s (by %s, until %s)", w.ID, oneLineText(w.Reason), oneLineText(w.Who),
		w.End.UTC().Format("2006-01-02 15:04 UTC"))
}

// applyMaintenance runs after the findings are classified and before they
// are reconciled. A finding covered by an active window is internal,
// unless it is security (a window never suppresses security). A finding
// whose open anomaly was recorded under a window that is over follows the
// normal path, and its reason says the window preceded it.
func (d *Detector) applyMaintenance(findings map[string]*finding, now int64) {
	var active []*MaintenanceWindow
	for i := range d.maint {
		if d.maint[i].activeAt(now) {
			active = append(active, &d.maint[i])
		}
	}
	for comp, f := range findings {
		var w *MaintenanceWindow
		if len(active) > 0 {
			w = d.coveringWindow(f, active)
		}
		st := d.anoms[comp]
		switch {
		case w != nil && f.Class == ClassSecurity:
			f.Frags = append(f.Frags, fmt.Sprintf("maintenance window %s is active, but a window never suppresses security", w.ID))
		case w != nil:
			f.Class = ClassInternal
			f.Frags = append(f.Frags, maintReason(w))
			f.Why = []string{whyMaintenance}
			f.maint = &maintMark{ID: w.ID, Reason: oneLineText(w.Reason), Who: oneLineText(w.Who), End: unixms.From(w.End)}
			delete(d.holds, comp)
		case st != nil && st.Maint != nil:
			m := st.Maint
			if m.Ended == 0 {
				m.Ended = min(m.End, now)
				for i := range d.maint {
					if d.maint[i].ID == m.ID {
						m.Ended = min(unixms.From(d.maint[i].End), now)
					}
				}
			}
			f.Frags = append(f.Frags, fmt.Sprintf("failing since %s during maintenance window %s (ended %s)",
				unixms.Time(unixms.From(st.A.FirstSeen)).Format("2006-01-02 15:04 UTC"), m.ID, unixms.Time(m.Ended).Format("2006-01-02 15:04 UTC")))
		}
	}
}

// noteMaintenance records on st the window its finding was covered by.
func noteMaintenance(st *anomState, f *finding) {
	if f.maint == nil {
		return
	}
	if st.Maint == nil || st.Maint.ID != f.maint.ID || st.Maint.Ended != 0 || st.Maint.End != f.maint.End {
		m := *f.maint
		st.Maint = &m
	}
}

// coveringWindow returns the active window that covers f: one matching its
// component, or windows covering every one of its failing contributors.
// A group with one covered and one uncovered failure is not covered (an
// unplanned failure is never hidden by a planned one).
func (d *Detector) coveringWindow(f *finding, active []*MaintenanceWindow) *MaintenanceWindow {
	for _, w := range active {
		if d.windowMatchesComponent(w, f.Component) {
			return w
		}
	}
	cs := f.Contribs
	if slices.ContainsFunc(cs, func(c contributor) bool { return c.Recovered == 0 }) {
		cs = slices.DeleteFunc(slices.Clone(cs), func(c contributor) bool { return c.Recovered != 0 })
	}
	var first *MaintenanceWindow
	for _, c := range cs {
		var hit *MaintenanceWindow
		for _, w := range active {
			if (c.target != nil && d.windowCoversTarget(w, c.target)) || d.windowCoversAlert(w, c.ID) {
				hit = w
				break
			}
		}
		if hit == nil {
			return nil
		}
		if first == nil {
			first = hit
		}
	}
	return first
}

// windowMatchesComponent: a component matcher names it; a service matcher
// covers "service/<name>"; a node matcher covers "node/<id>".
func (d *Detector) windowMatchesComponent(w *MaintenanceWindow, comp string) bool {
	if slices.Contains(w.Components, comp) {
		return true
	}
	if name, ok := strings.CutPrefix(comp, svcPrefix); ok {
		if slices.Contains(w.Services, name) {
			return true
		}
	}
	if id, ok := strings.CutPrefix(comp, nodePrefix); ok {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil && slices.Contains(w.Nodes, uint32(n)) {
			return true
		}
	}
	return false
}

// windowCoversTarget: the target is in a component the window names (its
// role group or its country), is a service it names, or is a node it
// names. A service matcher for a service of kind nym-api also covers
// nymwatch's own directory fetch from the same nym-api URL.
func (d *Detector) windowCoversTarget(w *MaintenanceWindow, ts *targetState) bool {
	if ts.group != "" && d.windowMatchesComponent(w, ts.group) {
		return true
	}
	if ts.country != "" && slices.Contains(w.Components, ts.country) {
		return true
	}
	if ts.isNode() && slices.Contains(w.Nodes, ts.nodeID()) {
		return true
	}
	if s := ts.Target.Service; s != nil && s.Kind == probes.ServiceKindNymAPI {
		names := slices.Clone(w.Services)
		for _, c := range w.Components {
			if name, ok := strings.CutPrefix(c, svcPrefix); ok {
				names = append(names, name)
			}
		}
		for _, name := range names {
			if u := d.serviceURL(name, probes.ServiceKindNymAPI); u != "" && u == trimURL(s.URL) {
				return true
			}
		}
	}
	return false
}

// windowCoversAlert: an Alertmanager alert (contributor "alert/<fingerprint>")
// is covered by a window naming its component, its alert/<alertname>, or
// the service in its `service` label. (Its class still decides: a security
// alert is never suppressed.)
func (d *Detector) windowCoversAlert(w *MaintenanceWindow, contribID string) bool {
	fp, ok := strings.CutPrefix(contribID, alertPrefix)
	if !ok {
		return false
	}
	st := d.alerts[fp]
	if st == nil {
		return false
	}
	if d.windowMatchesComponent(w, st.Component) || slices.Contains(w.Components, alertPrefix+safeName(st.Alert.Name())) {
		return true
	}
	svc := st.Alert.Labels["service"]
	return svc != "" && slices.Contains(w.Services, svc)
}

// serviceURL is the URL of the service target named name of the given
// kind, or "".
func (d *Detector) serviceURL(name, kind string) string {
	for _, ts := range d.targets {
		if s := ts.Target.Service; s != nil && s.Name == name && s.Kind == kind {
			return trimURL(s.URL)
		}
	}
	return ""
}

func trimURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// oneLineText bounds a human's text for a reason line: control characters
// become spaces, and it is cut at 200 runes.
func oneLineText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return clip(strings.Join(strings.Fields(s), " "), 200)
}

// maintenanceResolution is the resolution note of an anomaly recorded
// under a window: it crossed no user-impact threshold outside it.
func maintenanceResolution(m *maintMark) string {
	return fmt.Sprintf("recorded under planned maintenance %s (by %s): internal per policy II, not paged", m.ID, m.Who)
}

// ValidMaintenanceComponent reports whether c names a component a window
// may match: entry_gateways, exit_gateways, standby_nodes,
// mixnodes_layer1..3, country/XX (ISO 3166 alpha-2), service/<name>,
// node/<id> or alert/<alertname>. Match-alls are refused.
func ValidMaintenanceComponent(c string) error {
	switch c {
	case compEntry, compExit, compStandby, mixPrefix + "1", mixPrefix + "2", mixPrefix + "3":
		return nil
	}
	pfx, rest, ok := strings.Cut(c, "/")
	if !ok || rest == "" {
		return fmt.Errorf("unknown component %q: want entry_gateways, exit_gateways, standby_nodes, mixnodes_layer1..3, country/XX, service/NAME, node/ID or alert/NAME", clip(c, 80))
	}
	switch pfx + "/" {
	case countryPfx:
		if countryCode(rest) != rest {
			return fmt.Errorf("component %q: the country must be an upper-case ISO 3166 alpha-2 code such as country/DE", clip(c, 80))
		}
		return nil
	case nodePrefix:
		if _, err := strconv.ParseUint(rest, 10, 32); err != nil {
			return fmt.Errorf("component %q: the node id must be a number", clip(c, 80))
		}
		return nil
	case svcPrefix, alertPrefix:
		if strings.ContainsAny(rest, "*?") || strings.TrimSpace(rest) != rest {
			return fmt.Errorf("component %q: no wildcards or surrounding spaces", clip(c, 80))
		}
		return nil
	}
	return fmt.Errorf("unknown component %q: want entry_gateways, exit_gateways, standby_nodes, mixnodes_layer1..3, country/XX, service/NAME, node/ID or alert/NAME", clip(c, 80))
}

// maintResolutionNote: an anomaly resolved while still under its window
// did not resolve "before user impact"; it was planned.
func maintResolutionNote(st *anomState, note string) string {
	if st.Maint == nil || st.Maint.Ended != 0 {
		return note
	}
	note, _, _ = strings.Cut(note, "; resolved before user impact")
	return note + "; " + maintenanceResolution(st.Maint)
}
