package disclosure

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/detector"
)

// Report holds the section IV fields of an incident report, as Markdown
// fragments. Generated drafts are recomputed from the incident's current data
// on every read (so the timeline fills in as the incident develops) until a
// human edits a field; from then on the human's text is kept as written.
type Report struct {
	Summary             string `json:"summary"`
	Timeline            string `json:"timeline"`
	RootCause           string `json:"root_cause"`
	ArchitectureContext string `json:"architecture_context"`
	PrivacyImpact       string `json:"privacy_impact"`
	Acknowledgments     string `json:"acknowledgments"`
	Remediation         string `json:"remediation"`
	UserActions         string `json:"user_actions"`
}

// ToBeFilled starts every placeholder a human must replace before
// publishing; Report.Unfilled finds them.
const ToBeFilled = "[TO BE FILLED"

// reportField is one human-editable field: its PATCH name, its column and
// its section IV heading (empty for the title, which is the report's H1).
type reportField struct {
	name    string
	column  string
	heading string
	ptr     func(inc *Incident) *string
}

// reportFields lists the editable fields in report order.
func reportFields() []reportField {
	return []reportField{
		{"title", "report_title", "", func(i *Incident) *string { return &i.Title }},
		{"summary", "report_summary", "Headline summary", func(i *Incident) *string { return &i.Report.Summary }},
		{"timeline", "report_timeline", "Timeline", func(i *Incident) *string { return &i.Report.Timeline }},
		{"root_cause", "report_root_cause", "Root cause", func(i *Incident) *string { return &i.Report.RootCause }},
		{"architecture_context", "report_architecture_context", "Architecture context", func(i *Incident) *string { return &i.Report.ArchitectureContext }},
		{"privacy_impact", "report_privacy_impact", "Privacy impact assessment", func(i *Incident) *string { return &i.Report.PrivacyImpact }},
		{"acknowledgments", "report_acknowledgments", "User and community acknowledgment", func(i *Incident) *string { return &i.Report.Acknowledgments }},
		{"remediation", "report_remediation", "Remediation actions", func(i *Incident) *string { return &i.Report.Remediation }},
		{"user_actions", "report_user_actions", "What users should do", func(i *Incident) *string { return &i.Report.UserActions }},
	}
}

// ReportFieldNames lists the field names PATCH accepts, in report order.
func ReportFieldNames() []string {
	var names []string
	for _, f := range reportFields() {
		names = append(names, f.name)
	}
	return names
}

func lookupField(name string) (reportField, bool) {
	for _, f := range reportFields() {
		if f.name == name {
			return f, true
		}
	}
	return reportField{}, false
}

// Unfilled lists the fields that still hold a placeholder (or, for the
// acknowledgment, nothing): what a human must write before publishing.
func (r Report) Unfilled() []string {
	var out []string
	inc := Incident{Report: r}
	for _, f := range reportFields() {
		if f.name == "title" {
			continue
		}
		v := *f.ptr(&inc)
		if strings.Contains(v, ToBeFilled) || strings.TrimSpace(v) == "" {
			out = append(out, f.name)
		}
	}
	return out
}

// maxEvidenceLines bounds the evidence listed per anomaly; the rest is
// summarised (the incident JSON has all of it).
const maxEvidenceLines = 25

// maxNodesListed bounds the node IDs named in the architecture context.
const maxNodesListed = 30

// generateTitle names the event after its first anomaly.
func generateTitle(as []detector.Anomaly) string {
	if len(as) == 0 {
		return "Incident"
	}
	t := mdPlain(as[0].Title, 200)
	if t == "" {
		t = capitalize(describeComponent(as[0].Component)) + " failing"
	}
	if n := len(as) - 1; n > 0 {
		t += fmt.Sprintf(" (and %d related %s)", n, plural(n, "component", "components"))
	}
	return t
}

// generateReport drafts every section IV field from the incident's data.
// inc must carry its derived fields (class, times, components, affected).
func generateReport(inc *Incident, as []detector.Anomaly) Report {
	return Report{
		Summary:             draftSummary(inc),
		Timeline:            draftTimeline(inc, as),
		RootCause:           draftRootCause(inc, as),
		ArchitectureContext: draftArchitecture(inc, as),
		PrivacyImpact:       draftPrivacy(inc),
		Acknowledgments:     "",
		Remediation:         draftRemediation(),
		UserActions:         draftUserActions(inc),
	}
}

func componentsPhrase(inc *Incident) string {
	var ws []string
	for _, c := range inc.Components {
		ws = append(ws, mdInline(describeComponent(c), 100))
	}
	if len(ws) == 0 {
		ws = []string{mdInline(describeComponent(inc.Component), 100)}
	}
	return joinWords(ws)
}

func draftSummary(inc *Incident) string {
	var b strings.Builder
	what := componentsPhrase(inc)
	verb := "were"
	if len(inc.Components) <= 1 && strings.HasPrefix(what, "the ") {
		verb = "was"
	}
	switch {
	case inc.Class == detector.ClassSecurity:
		fmt.Fprintf(&b, "Security incident: %s, detected at %s. The impact assessment is in progress.",
			strings.TrimSuffix(mdInline(inc.Title, 200), "."), FormatTime(inc.DetectedAt))
	case inc.Class == detector.ClassInternal:
		fmt.Fprintf(&b, "Internal issue (no public disclosure required): %s. %s",
			strings.TrimSuffix(mdInline(inc.Title, 200), "."), capitalize(sentence(mdInline(inc.Reason, 500))))
	case inc.Architecture == detector.ArchCentralized:
		fmt.Fprintf(&b, "From %s, %s (centralized NymVPN services) %s failing, so users could be unable to log in or to establish new connections.",
			FormatTime(inc.FirstSeen), what, verb)
	default:
		fmt.Fprintf(&b, "From %s, %s of the decentralized Nym network %s failing", FormatTime(inc.FirstSeen), what, verb)
		if n := len(inc.Affected); n > 0 {
			fmt.Fprintf(&b, " (%d %s affected)", n, plural(n, "target", "targets"))
		}
		b.WriteString(", so some users could not connect or saw degraded service.")
	}
	b.WriteString(" ")
	switch {
	case !inc.ResolvedAt.IsZero() && inc.Class == detector.ClassSecurity:
		fmt.Fprintf(&b, "Status: the triggering condition cleared at %s.", FormatTime(inc.ResolvedAt))
	case !inc.ResolvedAt.IsZero():
		fmt.Fprintf(&b, "Status: resolved; service was restored at %s, %s after users first experienced issues.",
			FormatTime(inc.ResolvedAt), formatDuration(inc.ResolvedAt.Sub(inc.FirstSeen)))
	default:
		b.WriteString("Status: ongoing; the Nym team is investigating.")
	}
	return b.String()
}

func draftTimeline(inc *Incident, as []detector.Anomaly) string {
	var b strings.Builder
	ts := func(t time.Time, unknown string) string {
		if t.IsZero() {
			return unknown
		}
		return FormatTime(t)
	}
	fmt.Fprintf(&b, "- Last healthy observation: %s\n", ts(inc.LastHealthy, "unknown (never observed healthy)"))
	fmt.Fprintf(&b, "- Users first experienced issues: %s\n", ts(inc.FirstSeen, "unknown"))
	fmt.Fprintf(&b, "- Detected by nymwatch monitoring: %s\n", ts(inc.DetectedAt, "unknown"))
	pending := "pending (awaiting confirmation by the on-call team)"
	if inc.State == StateInternal {
		pending = "not applicable (internal record, no disclosure workflow)"
	}
	fmt.Fprintf(&b, "- Nym team became aware: %s\n", ts(inc.AcknowledgedAt, pending))
	fmt.Fprintf(&b, "- Service restored: %s\n", ts(inc.ResolvedAt, "not yet restored"))
	if !inc.ResolvedAt.IsZero() && !inc.FirstSeen.IsZero() {
		fmt.Fprintf(&b, "- Total time to resolution: %s\n", formatDuration(inc.ResolvedAt.Sub(inc.FirstSeen)))
	}
	if len(as) > 1 {
		b.WriteString("\nPer component:\n")
		for _, a := range as {
			fmt.Fprintf(&b, "- %s (%s): first failing %s, restored %s\n",
				mdInline(a.Title, 200), mdCode(a.Component), ts(a.FirstSeen, "unknown"), ts(a.ResolvedAt, "not yet"))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func draftRootCause(inc *Incident, as []detector.Anomaly) string {
	var b strings.Builder
	if inc.Class == detector.ClassSecurity {
		b.WriteString(ToBeFilled + ": the attack vector and how it occurred. Security incidents need a human analysis; the observations below are only what monitoring saw.]\n\n")
	} else {
		var comps []string
		for _, c := range inc.Components {
			comps = append(comps, mdInline(describeComponent(c), 100)+" ("+mdCode(c)+")")
		}
		fmt.Fprintf(&b, "Infrastructure component that failed: %s.\n\n", joinWords(comps))
	}
	if r := mdInline(inc.Reason, 500); r != "" {
		fmt.Fprintf(&b, "Classification (%s): %s\n\n", inc.Class, sentence(r))
	}
	b.WriteString("What nymwatch observed:\n")
	for _, a := range as {
		n := len(a.Affected)
		fmt.Fprintf(&b, "- %s (%s, %d affected %s", mdInline(a.Title, 200), mdCode(a.Component), n, plural(n, "target", "targets"))
		if a.Source != "" {
			fmt.Fprintf(&b, ", source %s", mdInline(a.Source, 40))
		}
		b.WriteString(")\n")
		if len(a.Labels) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
				kv = append(kv, mdInline(k, 60)+"="+mdInline(a.Labels[k], 200))
			}
			fmt.Fprintf(&b, "  - Alert labels: %s\n", strings.Join(kv, ", "))
		}
		for i, e := range a.Evidence {
			if i == maxEvidenceLines {
				rest := len(a.Evidence) - maxEvidenceLines
				fmt.Fprintf(&b, "  - and %d more %s (listed in the incident's anomalies)\n", rest, plural(rest, "target", "targets"))
				break
			}
			b.WriteString("  - " + evidenceLine(e) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func evidenceLine(e detector.Evidence) string {
	var who []string
	if e.NodeID != 0 {
		who = append(who, "node "+strconv.FormatUint(uint64(e.NodeID), 10))
	}
	if e.Role != "" {
		who = append(who, mdInline(strings.ReplaceAll(e.Role, "_", " "), 40))
	}
	if e.Country != "" {
		who = append(who, mdInline(e.Country, 10))
	}
	s := mdCode(e.TargetID)
	if len(who) > 0 {
		s += " (" + strings.Join(who, ", ") + ")"
	}
	s += ": " + mdInline(e.Reason, 100)
	if d := mdInline(e.Detail, 300); d != "" {
		s += " (" + d + ")"
	}
	if !e.Since.IsZero() {
		s += ", failing since " + FormatTime(e.Since)
	}
	return s
}

func draftArchitecture(inc *Incident, as []detector.Anomaly) string {
	var b strings.Builder
	if inc.Architecture == detector.ArchCentralized {
		fmt.Fprintf(&b, "Centralized NymVPN services (operated by Nym: account management, payments, API): affected: %s.\n\n", componentsPhrase(inc))
		b.WriteString("Decentralized Nym network (600+ independent node operators running gateways and mix nodes, and distributed zk-nym credential issuance): not part of this incident.")
		return b.String()
	}
	fmt.Fprintf(&b, "Decentralized Nym network: affected: %s. The network is run by 600+ independent node operators running gateways and mix nodes, and doing distributed zk-nym credential issuance.", componentsPhrase(inc))
	nodes, countries := nodesAndCountries(as)
	if len(nodes) > 0 {
		listed := nodes
		if len(listed) > maxNodesListed {
			listed = listed[:maxNodesListed]
		}
		var ids []string
		for _, n := range listed {
			ids = append(ids, strconv.FormatUint(uint64(n), 10))
		}
		fmt.Fprintf(&b, " Affected %s: %s", plural(len(nodes), "node", "nodes"), strings.Join(ids, ", "))
		if rest := len(nodes) - len(listed); rest > 0 {
			fmt.Fprintf(&b, " and %d more", rest)
		}
		if len(countries) > 0 {
			fmt.Fprintf(&b, " (%s: %s)", plural(len(countries), "country", "countries"), strings.Join(countries, ", "))
		}
		b.WriteString(".")
	}
	b.WriteString("\n\nCentralized NymVPN services (account management, payments, API): not part of this incident.\n\n")
	b.WriteString("Network node issues are localized to specific operators. Nym cannot control node operators; the network is designed to penalize repeatedly badly performing node operators.")
	return b.String()
}

func nodesAndCountries(as []detector.Anomaly) ([]uint32, []string) {
	nodes := map[uint32]bool{}
	countries := map[string]bool{}
	for _, a := range as {
		for _, e := range a.Evidence {
			if e.NodeID != 0 {
				nodes[e.NodeID] = true
			}
			if c := mdInline(e.Country, 10); c != "" {
				countries[c] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(nodes)), slices.Sorted(maps.Keys(countries))
}

const privacyIntact = "Nym's zero-knowledge credential system means payments remain unlinkable to VPN usage, and even when a centralized API fails, privacy guarantees persist. Multi-layer encryption remained intact."

func draftPrivacy(inc *Incident) string {
	switch {
	case inc.Class == detector.ClassSecurity:
		return ToBeFilled + ": human assessment required. Security incidents require a detailed impact assessment: state what user data or activity was potentially affected, and which privacy guarantees remained intact (unlinkability of payments to VPN usage, multi-layer encryption). Do not publish before this is complete.]"
	case inc.Class == detector.ClassInternal:
		return "Internal issue: no user impact requiring disclosure was established. " + privacyIntact
	case inc.Architecture == detector.ArchCentralized:
		return "What was potentially affected: availability only. While " + componentsPhrase(inc) +
			" failed, users could be unable to log in, obtain credentials or establish new connections. This operational incident did not expose user data.\n\n" +
			"What remained intact: API outages affect login and connection but do not compromise the privacy of existing connections. " + privacyIntact
	default:
		return "What was potentially affected: availability only. Users whose traffic went through the affected " + componentsPhrase(inc) +
			" could see failed connections or degraded performance until their client used other nodes. This operational incident did not expose user data.\n\n" +
			"What remained intact: node issues are localized to specific operators and do not compromise the fundamental privacy architecture. " + privacyIntact
	}
}

func draftRemediation() string {
	return "- Immediate fixes deployed: " + ToBeFilled + "]\n" +
		"- Additional resources or infrastructure changes: " + ToBeFilled + "]\n" +
		"- Long-term prevention measures: " + ToBeFilled + "]"
}

func draftUserActions(inc *Incident) string {
	switch {
	case inc.Class == detector.ClassSecurity:
		return ToBeFilled + ": the clear actions users must take to stay secure (for example update the app or rotate credentials), or state that no action is required.]"
	case inc.Class == detector.ClassInternal:
		return "No action required."
	case inc.Architecture == detector.ArchCentralized:
		return "No action required. If you could not log in or connect during the outage, try again; existing connections and your privacy were not affected."
	default:
		return "No action required. If your connection dropped, reconnect: your client can choose another gateway."
	}
}

// RenderMarkdown renders the report with the policy's section IV headings,
// ready for the blog or status page. Timestamps are UTC, RFC 3339 with
// milliseconds. Human-edited fields are written as given (they are
// Markdown); generated text escapes what it copies from the network.
func RenderMarkdown(inc *Incident) string {
	var b strings.Builder
	title := strings.TrimSpace(inc.Title)
	if !slices.Contains(inc.Edited, "title") {
		title = mdInline(title, maxTitleRunes) // generated from the network's text
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	switch inc.State {
	case StateDraft:
		b.WriteString("> DRAFT: not yet confirmed for publication.\n\n")
	case StateDismissed:
		fmt.Fprintf(&b, "> DISMISSED: internal record, not for publication. Reason: %s\n\n", oneLine(inc.DismissReason))
	case StateInternal:
		b.WriteString("> INTERNAL: no public disclosure required (internal knowledge base).\n\n")
	}
	if u := inc.Report.Unfilled(); len(u) > 0 && inc.State != StateInternal {
		fmt.Fprintf(&b, "> Still to be filled in before publishing: %s.\n\n", strings.Join(u, ", "))
	}
	arch := "decentralized Nym network"
	if inc.Architecture == detector.ArchCentralized {
		arch = "centralized NymVPN services"
	}
	fmt.Fprintf(&b, "Incident %s · %s incident · %s\n", inc.ID, capitalize(string(inc.Class)), arch)
	for _, f := range reportFields() {
		if f.heading == "" {
			continue
		}
		v := strings.TrimSpace(*f.ptr(inc))
		if f.name == "timeline" {
			v = "All times are UTC.\n\n" + v
		}
		if f.name == "acknowledgments" && v == "" {
			v = ToBeFilled + ": credit the users who reported this issue (Discord, Telegram, support channels, X), or say that Nym's monitoring detected it first.]"
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", f.heading, v)
	}
	return b.String()
}

// oneLine flattens a human's text onto one line (for the banner).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func joinWords(ws []string) string {
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	case 2:
		return ws[0] + " and " + ws[1]
	default:
		return strings.Join(ws[:len(ws)-1], ", ") + " and " + ws[len(ws)-1]
	}
}

// formatDuration is a readable duration: milliseconds under a minute,
// seconds above.
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
