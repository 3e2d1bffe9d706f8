package webui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// reportLayout is where each editable field sits in the output of
// disclosure.RenderMarkdown. It is learned once from a probe incident whose
// fields hold markers, so the page can put each field's edit form under its
// own section without this package copying the report format. If the
// format ever stops matching (ok false), the page shows the report whole
// and the edit forms after it.
type reportLayout struct {
	ok       bool
	order    []string          // field names that have a section, in report order
	headings map[string]string // field name → section heading
	leads    map[string]string // text the report puts before the field's own ("All times are UTC.")
}

func learnReportLayout() reportLayout {
	names := disclosure.ReportFieldNames()
	markers := map[string]string{}
	for i, n := range names {
		markers[n] = fmt.Sprintf("nymwatchfieldmarker%dx", i)
	}
	// Report's JSON names are the field names; "title" is the incident's.
	var rep disclosure.Report
	b, err := json.Marshal(markers)
	if err != nil || json.Unmarshal(b, &rep) != nil {
		return reportLayout{}
	}
	md := disclosure.RenderMarkdown(&disclosure.Incident{
		ID: "INC-00000000-0000", Class: detector.ClassOperational, State: disclosure.StateConfirmed,
		Architecture: detector.ArchDecentralized, Title: markers["title"], Report: rep,
	})
	l := reportLayout{headings: map[string]string{}, leads: map[string]string{}}
	last := -1
	for _, n := range names {
		if n == "title" {
			continue
		}
		i := strings.Index(md, markers[n])
		if i <= last {
			return reportLayout{}
		}
		h := strings.LastIndex(md[:i], "\n## ")
		if h <= last {
			return reportLayout{} // two fields under one heading: cannot split
		}
		end := strings.IndexByte(md[h+4:], '\n')
		if end <= 0 {
			return reportLayout{}
		}
		l.headings[n] = md[h+4 : h+4+end]
		bodyStart := h + 4 + end + 2 // after the heading line and the blank line
		if bodyStart > i || md[h+4+end:bodyStart] != "\n\n" {
			return reportLayout{}
		}
		l.leads[n] = md[bodyStart:i]
		l.order = append(l.order, n)
		last = i
	}
	l.ok = true
	return l
}

// fieldValue is the current text of a report field (by PATCH name).
func fieldValue(inc *disclosure.Incident, name string) string {
	if name == "title" {
		return inc.Title
	}
	b, err := json.Marshal(inc.Report)
	if err != nil {
		return ""
	}
	var m map[string]string
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	return m[name]
}

// reportChunk is one piece of the rendered report: the preface (title,
// banners, the incident line) or one field's section.
type reportChunk struct {
	Field string // "" for the preface
	HTML  template.HTML
}

// split cuts md (RenderMarkdown's output for inc) into the preface and one
// chunk per field section. The chunks concatenate to md exactly; each
// field's heading is searched for after the previous field's text, so a
// heading line a human typed into a field is not taken for the next
// section.
func (l reportLayout) split(md string, inc *disclosure.Incident) ([]string, bool) {
	if !l.ok {
		return nil, false
	}
	var starts []int
	pos := 0
	for _, n := range l.order {
		hdr := "\n## " + l.headings[n] + "\n\n"
		i := strings.Index(md[pos:], hdr)
		if i < 0 {
			return nil, false
		}
		start := pos + i
		starts = append(starts, start)
		bodyStart := start + len(hdr)
		body := l.leads[n] + strings.TrimSpace(fieldValue(inc, n))
		switch {
		case strings.HasPrefix(md[bodyStart:], body):
			pos = bodyStart + len(body)
		case strings.HasPrefix(md[bodyStart:], l.leads[n]):
			pos = bodyStart + len(l.leads[n]) // e.g. a placeholder for an empty field
		default:
			return nil, false
		}
	}
	parts := []string{md[:starts[0]]}
	for k, s := range starts {
		end := len(md)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		part := md[s:end]
		if v := strings.TrimSpace(fieldValue(inc, l.order[k])); !strings.Contains(part, v) {
			return nil, false
		}
		parts = append(parts, part)
	}
	return parts, true
}

// reportHeadingShift puts the report's "#" title at <h3> and its "##"
// sections at <h4>, under the page's <h1> and the "Report" <h2>.
const reportHeadingShift = 2

// renderReport renders the report for the page, in chunks when the layout
// allows.
func (l reportLayout) renderReport(inc *disclosure.Incident) (md string, chunks []reportChunk, split bool) {
	md = disclosure.RenderMarkdown(inc)
	parts, ok := l.split(md, inc)
	if !ok {
		return md, []reportChunk{{HTML: renderMarkdown(md, reportHeadingShift)}}, false
	}
	chunks = append(chunks, reportChunk{HTML: renderMarkdown(parts[0], reportHeadingShift)})
	for k, p := range parts[1:] {
		chunks = append(chunks, reportChunk{Field: l.order[k], HTML: renderMarkdown(p, reportHeadingShift)})
	}
	return md, chunks, true
}

// fieldLabel names a field in the edit forms: its section heading.
func (l reportLayout) fieldLabel(name string) string {
	if name == "title" {
		return "Title"
	}
	if h, ok := l.headings[name]; ok {
		return h
	}
	return titleCase(name)
}
