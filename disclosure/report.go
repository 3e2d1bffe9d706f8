package disclosure

import (
	"fmt"
	"maps"
	"regexp"
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

// generateReport drafts every section IV field from the incident's data,
// and the proposals a human must confirm. inc must carry its derived
// fields (class, times, components, affected).
func generateReport(inc *Incident, as []detector.Anomaly, in reportInputs) (Report, map[string]string) {
	f := measureFacts(inc, as, in)
	privacy, proposal := draftPrivacy(inc)
	var proposals map[string]string
	if proposal != "" {
		proposals = map[string]string{"privacy_impact": proposal}
	}
	return Report{
		Summary:             draftSummary(inc),
		Timeline:            draftTimeline(inc, as, in),
		RootCause:           draftRootCause(inc, as, f),
		ArchitectureContext: draftArchitecture(inc, as, f),
		PrivacyImpact:       privacy,
		Acknowledgments:     "",
		Remediation:         draftRemediation(),
		UserActions:         draftUserActions(inc),
	}, proposals
}

// maxLocalizedNodes is the most affected nodes a failure may have to be
// called "localized to specific operators" (section VI), and only if no
// outage threshold was crossed.
const maxLocalizedNodes = 3

// reportFacts are what the report's judgments are made from, all measured.
type reportFacts struct {
	in    reportInputs
	nodes []uint32
	// outage: an anomaly is or was operational (an outage threshold was
	// crossed); disclosable: any anomaly is or was security or operational.
	outage, disclosable bool
	// overlapping lists disclosable incidents of the same side that share
	// an affected target (their failure crossed a threshold).
	overlapping []Related
}

func measureFacts(inc *Incident, as []detector.Anomaly, in reportInputs) reportFacts {
	f := reportFacts{in: in, overlapping: sameSideDisclosable(inc, in.related)}
	f.nodes, _ = nodesAndCountries(as)
	note := func(c detector.Class) {
		f.outage = f.outage || c == detector.ClassOperational
		f.disclosable = f.disclosable || c.Disclosable()
	}
	note(inc.Class)
	for _, a := range as {
		note(a.Class)
		for _, p := range a.Promotions {
			note(p.To)
		}
	}
	return f
}

// localized: a few nodes, below every outage threshold, and not part of a
// disclosable failure of the same targets.
func (f reportFacts) localized() bool {
	return len(f.nodes) > 0 && len(f.nodes) <= maxLocalizedNodes && !f.outage && len(f.overlapping) == 0
}

// whyNotLocalized says, measured, why a failure is not called localized.
func (f reportFacts) whyNotLocalized() string {
	switch {
	case len(f.overlapping) > 0:
		return "its targets were also part of " + incidentRefs(f.overlapping) + ", which crossed a disclosure threshold"
	case f.outage:
		return fmt.Sprintf("%d %s affected and an outage threshold was crossed", len(f.nodes), plural(len(f.nodes), "node", "nodes"))
	case len(f.nodes) > maxLocalizedNodes:
		return fmt.Sprintf("%d nodes affected, more than %d", len(f.nodes), maxLocalizedNodes)
	default:
		return "no node is named in the evidence"
	}
}

// beforeUserImpact: no disclosure threshold was crossed, by this incident
// or by one sharing its targets.
func (f reportFacts) beforeUserImpact() bool {
	return !f.disclosable && len(f.overlapping) == 0
}

func (f reportFacts) whyUserImpact() string {
	if len(f.overlapping) > 0 {
		return "its targets were also part of " + incidentRefs(f.overlapping)
	}
	return "a disclosure threshold was crossed"
}

// Phrases of the detector's classification reasons that the report only
// repeats when its own measurement supports them.
var (
	reLocalized  = regexp.MustCompile(`(?:network node issues are )?localized to (?:specific operators|its operator)(?: \(policy VI\))?`)
	reBeforeUser = regexp.MustCompile(`(resolved|recovered) before user impact`)
	// A failure's age as the detector wrote it ("unreachable for 1m1s"):
	// frozen when the reason last changed, so rewritten at render time.
	reAge = regexp.MustCompile(`((?:unreachable|failing)(?: from [^ ;,]+)? for )((?:\d+h)?(?:\d+m)?(?:\d+(?:\.\d+)?(?:ms|s))?)`)
)

// measuredReason is the detector's reason with its durations current (up
// to now while the anomaly is open, fixed at its resolution) and with
// "localized" and "before user impact" replaced where the report's own
// measurement contradicts them. The result is plain text: escape it.
func measuredReason(reason string, inc *Incident, as []detector.Anomaly, f reportFacts) string {
	first, resolved := inc.FirstSeen, inc.ResolvedAt
	for _, a := range as {
		if a.Reason == reason {
			first, resolved = a.FirstSeen, a.ResolvedAt
			break
		}
	}
	if !first.IsZero() {
		end := resolved
		if end.IsZero() {
			end = f.in.now
		}
		age := formatAge(end.Sub(first))
		reason = reAge.ReplaceAllStringFunc(reason, func(m string) string {
			sub := reAge.FindStringSubmatch(m)
			if sub[2] == "" {
				return m
			}
			return sub[1] + age
		})
	}
	if !f.localized() {
		reason = reLocalized.ReplaceAllLiteralString(reason, "not localized to specific operators ("+f.whyNotLocalized()+")")
	}
	if !f.beforeUserImpact() {
		reason = reBeforeUser.ReplaceAllString(reason, "$1, not before user impact ("+f.whyUserImpact()+")")
	}
	return reason
}

// formatAge is a duration as the detector writes one (whole seconds).
func formatAge(d time.Duration) string {
	if d < time.Second {
		return max(d, 0).Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
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
		fmt.Fprintf(&b, "Internal issue (no public disclosure required): %s.", strings.TrimSuffix(mdInline(inc.Title, 200), "."))
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
		fmt.Fprintf(&b, "Status: the triggering condition cleared at %s; whether the issue is contained is a human's assessment.", FormatTime(inc.ResolvedAt))
	case !inc.ResolvedAt.IsZero():
		fmt.Fprintf(&b, "Status: resolved; service was restored at %s, %s after users first experienced issues.",
			FormatTime(inc.ResolvedAt), formatDuration(inc.ResolvedAt.Sub(inc.FirstSeen)))
	default:
		b.WriteString("Status: ongoing; the Nym team is investigating.")
	}
	return b.String()
}

func draftTimeline(inc *Incident, as []detector.Anomaly, in reportInputs) string {
	var b strings.Builder
	ts := func(t time.Time, unknown string) string {
		if t.IsZero() {
			return unknown
		}
		return FormatTime(t)
	}
	security := inc.Class == detector.ClassSecurity
	fmt.Fprintf(&b, "- Last healthy observation: %s\n", ts(inc.LastHealthy, "unknown (never observed healthy)"))
	fmt.Fprintf(&b, "- Users first experienced issues: %s\n", ts(inc.FirstSeen, "unknown"))
	fmt.Fprintf(&b, "- Detected by nymwatch monitoring: %s\n", ts(inc.DetectedAt, "unknown"))
	pending := "pending (awaiting confirmation by the on-call team)"
	if inc.State == StateInternal {
		pending = "not applicable (internal record, no disclosure workflow)"
	}
	fmt.Fprintf(&b, "- Nym team became aware: %s\n", ts(inc.AcknowledgedAt, pending))
	if security {
		// Monitoring sees a condition clear, not a threat contained.
		fmt.Fprintf(&b, "- Contained / resolved: %s\n", ts(inc.ResolvedAt, "not yet (the triggering condition is still observed)"))
	} else {
		fmt.Fprintf(&b, "- Service restored: %s\n", ts(inc.ResolvedAt, "not yet restored"))
	}
	switch {
	case !inc.ResolvedAt.IsZero() && !inc.FirstSeen.IsZero():
		fmt.Fprintf(&b, "- Total time to resolution: %s\n", formatDuration(inc.ResolvedAt.Sub(inc.FirstSeen)))
	case !inc.FirstSeen.IsZero() && !in.now.IsZero():
		fmt.Fprintf(&b, "- Ongoing for: %s (as of %s)\n", formatDuration(in.now.Sub(inc.FirstSeen)), FormatTime(in.now))
	}
	if len(as) > 1 {
		done := "restored"
		if security {
			done = "cleared"
		}
		b.WriteString("\nPer component:\n")
		for _, a := range as {
			fmt.Fprintf(&b, "- %s (%s): first failing %s, %s %s\n",
				mdInline(a.Title, 200), mdCode(a.Component), ts(a.FirstSeen, "unknown"), done, ts(a.ResolvedAt, "not yet"))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func draftRootCause(inc *Incident, as []detector.Anomaly, f reportFacts) string {
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
	if r := mdInline(measuredReason(inc.Reason, inc, as, f), 600); r != "" {
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

func draftArchitecture(inc *Incident, as []detector.Anomaly, f reportFacts) string {
	var b strings.Builder
	if inc.Architecture == detector.ArchCentralized {
		fmt.Fprintf(&b, "Centralized NymVPN services (operated by Nym: account management, payments, API): affected: %s.\n\n", componentsPhrase(inc))
		b.WriteString("Decentralized Nym network (600+ independent node operators running gateways and mix nodes, and distributed zk-nym credential issuance). ")
		b.WriteString(otherSideStatement(inc, f))
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
	b.WriteString("\n\nCentralized NymVPN services (account management, payments, API). ")
	b.WriteString(otherSideStatement(inc, f))
	b.WriteString("\n\n")
	if f.localized() {
		fmt.Fprintf(&b, "The failure was localized to specific operators: %d %s, below every outage threshold. ", len(f.nodes), plural(len(f.nodes), "node", "nodes"))
	} else if len(f.nodes) > 0 {
		fmt.Fprintf(&b, "The failure was not localized to specific operators: %s. ", f.whyNotLocalized())
	}
	b.WriteString("Nym cannot control node operators; the network is designed to penalize repeatedly badly performing node operators.")
	return strings.TrimSpace(b.String())
}

// otherSideStatement says what nymwatch measured on the other architecture
// side while this incident lasted: the concurrent incidents there, or that
// none failed (naming what was probed), or, when nothing there is probed,
// a placeholder for a human.
func otherSideStatement(inc *Incident, f reportFacts) string {
	failed, below := otherSide(inc, f.in.related)
	central := inc.Architecture != detector.ArchCentralized // the other side is the centralized one
	during, asOf := "during this incident", ""
	if inc.ResolvedAt.IsZero() {
		during, asOf = "since this incident began", "; as of "+FormatTime(f.in.now)
	}
	if len(failed) > 0 {
		who := "The decentralized network"
		if central {
			who = "Centralized services"
		}
		return who + " also failed " + during + ": see " + incidentRefs(failed) + "."
	}
	var what string
	switch {
	case f.in.measured == nil:
	case central && len(f.in.measured.Services) > 0:
		var names []string
		for _, s := range f.in.measured.Services {
			names = append(names, mdInline(s, 60))
		}
		what = "measured by nymwatch: " + strings.Join(names, ", ")
	case !central && f.in.measured.Nodes > 0:
		what = fmt.Sprintf("measured by nymwatch: %d %s probed", f.in.measured.Nodes, plural(f.in.measured.Nodes, "node", "nodes"))
	}
	if what == "" {
		side := "the decentralized network's nodes"
		if central {
			side = "any centralized service"
		}
		return ToBeFilled + ": nymwatch does not probe " + side + ", so it cannot tell whether that side was affected; state it, or that it was not affected.]"
	}
	what += asOf
	switch {
	case central && len(below) > 0:
		return "No centralized service failed past a disclosure threshold " + during + " (" + what + "); failures below it were recorded as " + incidentRefs(below) + "."
	case central:
		return "No centralized service failed " + during + " (" + what + ")."
	case len(below) > 0:
		return "No failure of the network's nodes crossed a disclosure threshold " + during + " (" + what + "); failures below it were recorded as " + incidentRefs(below) + "."
	default:
		return "No node failure was detected " + during + " (" + what + ")."
	}
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

// privacyPlaceholder is the generated privacy field of a disclosable
// operational incident: nymwatch measures availability, not privacy, so
// it proposes the paragraphs and a human confirms them.
const privacyPlaceholder = ToBeFilled + ": confirm the privacy impact. nymwatch measured availability only, not what user data was affected or which guarantees held; a proposed text is listed under \"Still to be filled in before publishing\". Edit this field to confirm it.]"

// draftPrivacy returns the privacy field and, for operational incidents,
// the proposed text a human confirms by writing it into the field.
func draftPrivacy(inc *Incident) (field, proposal string) {
	switch {
	case inc.Class == detector.ClassSecurity:
		return ToBeFilled + ": human assessment required. Security incidents require a detailed impact assessment: state what user data or activity was potentially affected, and which privacy guarantees remained intact (unlinkability of payments to VPN usage, multi-layer encryption). Do not publish before this is complete.]", ""
	case inc.Class == detector.ClassInternal:
		return "Not assessed: internal record, no public disclosure required. nymwatch measured availability only.", ""
	case inc.Architecture == detector.ArchCentralized:
		return privacyPlaceholder, "What was potentially affected: availability only. While " + componentsPhrase(inc) +
			" failed, users could be unable to log in, obtain credentials or establish new connections. This operational incident did not expose user data.\n\n" +
			"What remained intact: API outages affect login and connection but do not compromise the privacy of existing connections. " + privacyIntact
	default:
		return privacyPlaceholder, "What was potentially affected: availability only. Users whose traffic went through the affected " + componentsPhrase(inc) +
			" could see failed connections or degraded performance until their client used other nodes. This operational incident did not expose user data.\n\n" +
			"What remained intact: node failures do not compromise the fundamental privacy architecture. " + privacyIntact
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
		return "No action required. If you could not log in or connect during the outage, try again."
	default:
		return "No action required. If your connection dropped, reconnect: your client can choose another gateway."
	}
}

// StillToFill is the heading of the part listing what a human must write
// before publishing, with nymwatch's proposals.
const StillToFill = "Still to be filled in before publishing"

// RenderMarkdown renders the report with the policy's section IV headings,
// ready for the blog or status page: ReportSections written out.
// Timestamps are UTC, RFC 3339 with milliseconds. Human-edited fields are
// written as given (they are Markdown); generated text escapes what it
// copies from the network.
func RenderMarkdown(inc *Incident) string {
	return RenderSections(inc.ReportSections())
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
