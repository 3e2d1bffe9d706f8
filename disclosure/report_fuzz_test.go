package disclosure

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/mdcheck"
)

// nodeTextReport drafts and renders, without a database, the report of an
// incident in which s is everything a node, an alert or a directory
// supplies: error details, reasons, titles, target ids, roles, countries,
// alert labels, service names and the titles of concurrent incidents.
func nodeTextReport(s string, class detector.Class, concurrent bool) (*Incident, string) {
	at := incAt(0)
	a := detector.Anomaly{
		ID: "country/" + s + "@1", Component: "country/" + s, Class: class, Architecture: detector.ArchDecentralized,
		Title: s, Reason: s + "; unreachable for 1m1s " + s, Source: s, Affected: []string{"node/7/" + s},
		Labels:    map[string]string{s: s, "alertname": s},
		FirstSeen: at, DetectedAt: at.Add(time.Minute), LastHealthy: at.Add(-time.Minute),
		Evidence: []detector.Evidence{{TargetID: s, NodeID: 7, Role: s, Country: s, Reason: s, Detail: s, Since: at}},
	}
	b := a
	b.ID, b.Component, b.Title = "alert/"+s+"@1", "alert/"+s, "Alert "+s
	as := []detector.Anomaly{a, b}
	inc := &Incident{
		ID: "INC-20261125-0001", Class: class, State: StateDraft, Component: a.Component,
		Components: []string{a.Component, b.Component}, Architecture: detector.ArchDecentralized,
		Reason: a.Reason, Affected: a.Affected, FirstSeen: at, DetectedAt: at.Add(time.Minute), LastHealthy: at.Add(-time.Minute),
	}
	inc.Title = generateTitle(as)
	in := reportInputs{
		now:      at.Add(time.Hour),
		measured: &Measured{Services: []string{s, "nym-api"}, Nodes: 3},
		related: []Related{
			{ID: "INC-20261125-0002", Title: s, Class: detector.ClassOperational, State: StateDraft, Component: "service/x",
				Architecture: detector.ArchCentralized, FirstSeen: at},
			{ID: "INC-20261125-0003", Title: s, Class: detector.ClassOperational, State: StateConfirmed, Component: "entry_gateways",
				Architecture: detector.ArchDecentralized, FirstSeen: at, Affected: a.Affected},
		},
	}
	if !concurrent {
		in.related = nil
	}
	inc.Report, inc.Proposals = generateReport(inc, as, in)
	inc.Concurrent = concurrentOf(inc, in.related)
	return inc, RenderMarkdown(inc)
}

// reportHeadings are the only level-2 headings a report may have.
func reportHeadings() []string {
	hs := []string{StillToFill}
	for _, f := range reportFields() {
		if f.heading != "" {
			hs = append(hs, f.heading)
		}
	}
	return hs
}

// checkNodeTextInert fails unless md's only live elements are the
// report's own headings: its title first, then known section headings.
func checkNodeTextInert(t *testing.T, in, md string) {
	t.Helper()
	known := reportHeadings()
	els := mdcheck.Live(md)
	if len(els) == 0 || els[0].Kind != "heading" {
		t.Fatalf("node text %q: the report does not start with its title: %v\n%s", in, els, md)
	}
	for _, el := range els[1:] {
		if el.Kind != "heading" || !slices.Contains(known, el.Text) {
			t.Fatalf("node text %q produced a live %s in the report:\n%s", in, el, md)
		}
	}
	if want := strings.Count(md, "\n## "); len(els)-1 != want {
		t.Fatalf("node text %q: %d headings parsed, the report writes %d:\n%s", in, len(els)-1, want, md)
	}
}

// FuzzReportNodeText: no text a node (or an alert, or the directory)
// supplies can produce a link, an image, an autolink, raw HTML, a table or
// a heading in the report's Markdown, as an independent CommonMark + GFM
// parser reads it. Seeds are in testdata/fuzz/FuzzReportNodeText.
func FuzzReportNodeText(f *testing.F) {
	for _, s := range []string{
		"[Nym official fix](https://phish.example/fix)",
		"![x](https://phish.example/p.png)",
		"<https://phish.example> <a href=x>y</a> <!-- c -->",
		"www.phish.example http://phish.example user@phish.example",
		"\n# heading\n===\n---\n> quote\n- item\n1. item",
		"[ref]: https://phish.example\n[ref]",
		"| a | b |\n|---|---|\n| c | d |",
		"&lt;script&gt; &#x5b;x&#x5d;(https://e) \\[x\\](https://e)",
		"`code` ``x`` *a* _b_ ~~c~~ [^1]",
		"\u202e[x](https://e)\u200b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, class := range []detector.Class{detector.ClassOperational, detector.ClassInternal} {
			for _, concurrent := range []bool{false, true} {
				inc, md := nodeTextReport(s, class, concurrent)
				checkNodeTextInert(t, s, md)
				checkSectionsInert(t, s, inc)
			}
		}
	})
}

// TestNodeTextReportIsRealistic guards the fuzz target: the hostile text
// really reaches each part of the report it is meant to test, so the
// fuzzer cannot pass by testing nothing.
func TestNodeTextReportIsRealistic(t *testing.T) {
	const mark = "nodetextmark"
	_, md := nodeTextReport(mark, detector.ClassOperational, true)
	_, alone := nodeTextReport(mark, detector.ClassOperational, false)
	md += alone
	for _, part := range []string{
		"# nodetextmark (and 1 related component)", "- Alert nodetextmark (`alert/nodetextmark`)", "Classification (operational): nodetextmark", "`nodetextmark` (node 7, nodetextmark, nodetextma…): nodetextmark (nodetextmark)",
		"nodetextmark=nodetextmark", "INC-20261125-0002 (nodetextmark)", "(measured by nymwatch: nodetextmark, nym-api;", "gateways in nodetextmark",
	} {
		if !strings.Contains(md, part) {
			t.Errorf("report lacks %q:\n%s", part, md)
		}
	}
	// And the checker is able to fail: unescaped text is caught.
	if els := mdcheck.Live("text [Nym official fix](https://phish.example/fix) www.phish.example"); len(els) != 2 {
		t.Errorf("the checker misses live links: %v", els)
	}
}
