package disclosure

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nymwatch/nymwatch/detector"
)

// The report model. ReportSections is the one description of a section IV
// report: RenderMarkdown writes it out, and the console renders the same
// sections one by one (each with its field's edit form), so no consumer
// has to find where a section starts in rendered text.

// BlockKind says where a block of a report comes from: the report
// format, nymwatch's own generation, a human, or nothing yet.
type BlockKind string

const (
	// BlockFormat is the report format's own text: the state banner, the
	// incident line, "All times are UTC.".
	BlockFormat BlockKind = "format"
	// BlockGenerated is written by nymwatch from what it measured (and the
	// policy's fixed wording); text from the network in it is escaped.
	BlockGenerated BlockKind = "generated"
	// BlockHuman is text a human wrote (an edited field, a dismissal
	// reason): Markdown as given.
	BlockHuman BlockKind = "human"
	// BlockToFill is for a human to fill in before publishing: it holds a
	// placeholder starting with ToBeFilled, is empty, or lists such fields.
	BlockToFill BlockKind = "to_fill"
	// BlockProposal is text nymwatch proposes but did not measure; a human
	// confirms it by saving it, edited as needed, into the field.
	BlockProposal BlockKind = "proposal"
)

// Block is one paragraph-level piece of a section, as Markdown that is
// safe to render: network text in it is already escaped.
type Block struct {
	Kind     BlockKind
	Markdown string
}

// Section IDs of the sections that are not a field of their own.
const (
	SectionPreface     = "preface"       // the title, the state banner and the incident line
	SectionStillToFill = "still_to_fill" // what a human must write, with proposals
)

// Section is one headed part of a report, in report order.
type Section struct {
	// ID is SectionPreface, SectionStillToFill or the field's name.
	ID string
	// Field is the editable field (PATCH name) whose text the section
	// holds: "title" for the preface, "" for SectionStillToFill.
	Field string
	// Level is the heading's level: 1 for the title, 2 for the rest.
	Level int
	// Heading is the heading's text as inline Markdown (the title is
	// escaped unless a human wrote it).
	Heading string
	Blocks  []Block
}

// Markdown is the section as written in the report: its heading line, a
// blank line, its blocks separated by blank lines, and a final newline.
func (s Section) Markdown() string {
	var b strings.Builder
	b.WriteString(strings.Repeat("#", max(s.Level, 1)) + " " + s.Heading + "\n\n")
	for i, bl := range s.Blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(bl.Markdown)
	}
	b.WriteString("\n")
	return b.String()
}

// RenderSections writes sections as one Markdown document, separated by
// blank lines.
func RenderSections(ss []Section) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Markdown()
	}
	return strings.Join(parts, "\n")
}

// ReportSections is the incident's report: the preface, the list of what
// is still to be filled in (unless none, or an internal record), and one
// section per field with the policy's section IV heading.
func (inc *Incident) ReportSections() []Section {
	title := strings.TrimSpace(inc.Title)
	if !slices.Contains(inc.Edited, "title") {
		title = mdInline(title, maxTitleRunes) // generated from the network's text
	}
	pre := Section{ID: SectionPreface, Field: "title", Level: 1, Heading: title}
	switch inc.State {
	case StateDraft:
		pre.Blocks = append(pre.Blocks, Block{BlockFormat, "> DRAFT: not yet confirmed for publication."})
	case StateDismissed:
		pre.Blocks = append(pre.Blocks, Block{BlockHuman, "> DISMISSED: internal record, not for publication. Reason: " + oneLine(inc.DismissReason)})
	case StateInternal:
		pre.Blocks = append(pre.Blocks, Block{BlockFormat, "> INTERNAL: no public disclosure required (internal knowledge base)."})
	}
	arch := "decentralized Nym network"
	if inc.Architecture == detector.ArchCentralized {
		arch = "centralized NymVPN services"
	}
	pre.Blocks = append(pre.Blocks, Block{BlockFormat,
		fmt.Sprintf("Incident %s · %s incident · %s", inc.ID, capitalize(string(inc.Class)), arch)})
	out := []Section{pre}
	if u := inc.Report.Unfilled(); len(u) > 0 && inc.State != StateInternal {
		out = append(out, stillToFillSection(inc, u))
	}
	for _, f := range reportFields() {
		if f.heading != "" {
			out = append(out, fieldSection(inc, f))
		}
	}
	return out
}

// ackPlaceholder stands for an empty acknowledgment: nymwatch cannot know
// who reported the issue.
const ackPlaceholder = ToBeFilled + ": credit the users who reported this issue (Discord, Telegram, support channels, X), or say that Nym's monitoring detected it first.]"

// fieldSection is one field's section. A generated field is split into
// its paragraphs so each says whether it is measured or to be filled in;
// a human's text is one block, kept as written.
func fieldSection(inc *Incident, f reportField) Section {
	s := Section{ID: f.name, Field: f.name, Level: 2, Heading: f.heading}
	if f.name == "timeline" {
		s.Blocks = append(s.Blocks, Block{BlockFormat, "All times are UTC."})
	}
	v := strings.TrimSpace(*f.ptr(inc))
	switch {
	case v == "" && f.name == "acknowledgments":
		s.Blocks = append(s.Blocks, Block{BlockToFill, ackPlaceholder})
	case v == "":
		s.Blocks = append(s.Blocks, Block{BlockToFill, ""})
	case slices.Contains(inc.Edited, f.name):
		kind := BlockHuman
		if strings.Contains(v, ToBeFilled) {
			kind = BlockToFill
		}
		s.Blocks = append(s.Blocks, Block{kind, v})
	default:
		for _, p := range strings.Split(v, "\n\n") {
			kind := BlockGenerated
			if strings.Contains(p, ToBeFilled) {
				kind = BlockToFill
			}
			s.Blocks = append(s.Blocks, Block{kind, p})
		}
	}
	return s
}

// stillToFillSection lists the unfilled fields by heading and quotes each
// proposal nymwatch has for them: text a human confirms (edited as needed)
// by writing it into the field, never asserted by the draft itself.
func stillToFillSection(inc *Incident, unfilled []string) Section {
	s := Section{ID: SectionStillToFill, Level: 2, Heading: StillToFill}
	var list []string
	for _, name := range unfilled {
		f, _ := lookupField(name)
		line := fmt.Sprintf("- %s (`%s`)", f.heading, name)
		if _, ok := inc.Proposals[name]; ok {
			line += ": proposed text below"
		}
		list = append(list, line)
	}
	s.Blocks = append(s.Blocks, Block{BlockToFill, strings.Join(list, "\n")})
	for _, name := range unfilled {
		p, ok := inc.Proposals[name]
		if !ok {
			continue
		}
		f, _ := lookupField(name)
		s.Blocks = append(s.Blocks, Block{BlockProposal, fmt.Sprintf(
			"Proposed %s (not measured by nymwatch: a human confirms it by saving it, edited as needed, as the `%s` field):",
			strings.ToLower(f.heading), name)})
		lines := strings.Split(p, "\n")
		for i, line := range lines {
			if line == "" {
				lines[i] = ">"
			} else {
				lines[i] = "> " + line
			}
		}
		s.Blocks = append(s.Blocks, Block{BlockProposal, strings.Join(lines, "\n")})
	}
	return s
}

// ReportField is the current text of a report field by its PATCH name
// (false for an unknown name).
func (inc *Incident) ReportField(name string) (string, bool) {
	f, ok := lookupField(name)
	if !ok {
		return "", false
	}
	return *f.ptr(inc), true
}

// ReportFieldHeading is the section IV heading of a field ("" for the
// title, which is the report's H1; false for an unknown name).
func ReportFieldHeading(name string) (string, bool) {
	f, ok := lookupField(name)
	return f.heading, ok
}
