package disclosure

import (
	"slices"
	"strings"
	"testing"

	"github.com/nymwatch/nymwatch/internal/mdcheck"
)

// TestReportSectionsModel: for every golden scenario the model has the
// sections in report order, writes out to the golden report, and its
// blocks say honestly where their text comes from: no generated or format
// block holds a placeholder, every field still to fill has a to-fill
// block, human blocks are only in edited fields, proposals only under
// "Still to be filled in".
func TestReportSectionsModel(t *testing.T) {
	for name, build := range incReportScenarios() {
		t.Run(name, func(t *testing.T) {
			e := newIncEnv(t)
			measuring(e, reportMeasured)
			inc := e.get(t, build(t, e))
			secs := inc.ReportSections()
			if got := RenderSections(secs); got != RenderMarkdown(inc) {
				t.Fatal("RenderSections differs from RenderMarkdown")
			}
			var ids []string
			for _, s := range secs {
				ids = append(ids, s.ID)
			}
			want := []string{SectionPreface}
			if len(inc.Report.Unfilled()) > 0 && inc.State != StateInternal {
				want = append(want, SectionStillToFill)
			}
			for _, n := range ReportFieldNames() {
				if n != "title" {
					want = append(want, n)
				}
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("sections %v, want %v", ids, want)
			}
			if secs[0].Level != 1 || secs[0].Field != "title" || !strings.HasPrefix(RenderMarkdown(inc), "# "+secs[0].Heading+"\n") {
				t.Errorf("preface %+v", secs[0])
			}
			unfilled := inc.Report.Unfilled()
			for _, s := range secs {
				kinds := map[BlockKind]bool{}
				for _, b := range s.Blocks {
					kinds[b.Kind] = true
					if (b.Kind == BlockGenerated || b.Kind == BlockFormat) && strings.Contains(b.Markdown, ToBeFilled) {
						t.Errorf("%s: a %s block holds a placeholder: %q", s.ID, b.Kind, b.Markdown)
					}
					if b.Kind == BlockProposal && s.ID != SectionStillToFill {
						t.Errorf("%s: a proposal outside %s", s.ID, SectionStillToFill)
					}
					if b.Kind == BlockHuman && s.Field != "" && !slices.Contains(inc.Edited, s.Field) && s.ID != SectionPreface {
						t.Errorf("%s: a human block in a field no human edited", s.ID)
					}
				}
				if s.Field == "" || s.Field == "title" {
					continue
				}
				if got := slices.Contains(unfilled, s.Field); got != kinds[BlockToFill] {
					t.Errorf("%s: unfilled %v but to-fill block %v", s.ID, got, kinds[BlockToFill])
				}
				if h, _ := ReportFieldHeading(s.Field); s.Heading != h || s.Level != 2 {
					t.Errorf("%s: heading %q level %d", s.ID, s.Heading, s.Level)
				}
			}
			for field, p := range inc.Proposals {
				if !slices.Contains(unfilled, field) {
					continue
				}
				first := "> " + strings.SplitN(p, "\n", 2)[0]
				if !slices.ContainsFunc(secs[1].Blocks, func(b Block) bool {
					return b.Kind == BlockProposal && strings.HasPrefix(b.Markdown, first)
				}) {
					t.Errorf("proposal for %s not quoted under %s", field, StillToFill)
				}
			}
		})
	}
}

// TestReportSectionsKinds pins the kinds of a few blocks a reader relies
// on: a security root cause is a placeholder followed by observations,
// a human's acknowledgment is human, the timeline starts with its note.
func TestReportSectionsKinds(t *testing.T) {
	byID := func(secs []Section, id string) Section {
		for _, s := range secs {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no section %s", id)
		return Section{}
	}
	kinds := func(s Section) []BlockKind {
		var out []BlockKind
		for _, b := range s.Blocks {
			out = append(out, b.Kind)
		}
		return out
	}
	build := func(name string) []Section {
		e := newIncEnv(t)
		measuring(e, reportMeasured)
		return e.get(t, incReportScenarios()[name](t, e)).ReportSections()
	}

	sec := build("security")
	rc := kinds(byID(sec, "root_cause"))
	if len(rc) < 2 || rc[0] != BlockToFill || !slices.Contains(rc[1:], BlockGenerated) || slices.Contains(rc[1:], BlockToFill) {
		t.Errorf("security root cause kinds %v", rc)
	}
	if k := kinds(byID(sec, "privacy_impact")); !slices.Equal(k, []BlockKind{BlockToFill}) {
		t.Errorf("security privacy kinds %v", k)
	}

	op := build("decentralized_operational")
	ack := byID(op, "acknowledgments")
	if !slices.Equal(kinds(ack), []BlockKind{BlockHuman}) || !strings.HasPrefix(ack.Blocks[0].Markdown, "Thanks to community members") {
		t.Errorf("acknowledgment %+v", ack)
	}
	tl := byID(op, "timeline")
	if tl.Blocks[0] != (Block{BlockFormat, "All times are UTC."}) || tl.Blocks[1].Kind != BlockGenerated {
		t.Errorf("timeline %+v", tl.Blocks[:2])
	}

	draft := build("centralized_draft")
	if k := kinds(byID(draft, SectionStillToFill)); !slices.Equal(k, []BlockKind{BlockToFill, BlockProposal, BlockProposal}) {
		t.Errorf("still to fill kinds %v", k)
	}
	if k := kinds(byID(draft, "acknowledgments")); !slices.Equal(k, []BlockKind{BlockToFill}) {
		t.Errorf("empty acknowledgment kinds %v", k)
	}
}

// checkSectionsInert: each section on its own (as the console renders it)
// has exactly one live element, its own heading, whatever node text it
// holds.
func checkSectionsInert(t *testing.T, in string, inc *Incident) {
	t.Helper()
	known := reportHeadings()
	for i, s := range inc.ReportSections() {
		md := s.Markdown()
		els := mdcheck.Live(md)
		if len(els) != 1 || els[0].Kind != "heading" || (i > 0 && !slices.Contains(known, els[0].Text)) {
			t.Fatalf("node text %q: section %s has live elements %v:\n%s", in, s.ID, els, md)
		}
	}
}

// TestReportSectionsHumanText: a human's text is one block, kept as
// written, and still to fill while it keeps a placeholder or is empty.
func TestReportSectionsHumanText(t *testing.T) {
	inc := &Incident{ID: "INC-1", Title: "[x](https://e)", State: StateConfirmed,
		Edited: []string{"title", "summary", "remediation", "root_cause"},
		Report: Report{Summary: "Para one.\n\nPara two.", Remediation: "- Fixed: " + ToBeFilled + "]"}}
	got := map[string][]Block{}
	for _, s := range inc.ReportSections() {
		got[s.ID] = s.Blocks
		if s.ID == SectionPreface && s.Heading != "[x](https://e)" {
			t.Errorf("a human's title is kept as written: %q", s.Heading)
		}
	}
	for id, want := range map[string][]Block{
		"summary":     {{BlockHuman, "Para one.\n\nPara two."}},
		"remediation": {{BlockToFill, "- Fixed: " + ToBeFilled + "]"}},
		"root_cause":  {{BlockToFill, ""}},
	} {
		if !slices.Equal(got[id], want) {
			t.Errorf("%s: %+v, want %+v", id, got[id], want)
		}
	}
	// A generated title is escaped.
	inc.Edited = nil
	if h := inc.ReportSections()[0].Heading; h == "[x](https://e)" {
		t.Errorf("generated title not escaped: %q", h)
	}
}
