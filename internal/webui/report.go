package webui

import (
	"html/template"

	"github.com/nymwatch/nymwatch/disclosure"
)

// fieldValue is the current text of a report field (by PATCH name).
func fieldValue(inc *disclosure.Incident, name string) string {
	v, _ := inc.ReportField(name)
	return v
}

// reportChunk is one piece of the rendered report: the preface (title,
// banners, the incident line, what is still to be filled in) or one
// field's section, under which the page puts that field's edit form.
type reportChunk struct {
	Field string // "" for the preface
	HTML  template.HTML
}

// reportHeadingShift puts the report's "#" title at <h3> and its "##"
// sections at <h4>, under the page's <h1> and the "Report" <h2>.
const reportHeadingShift = 2

// reportChunks cuts the report model into the Markdown of the page's
// chunks: the sections before the first field section (the title's
// preface and the list of what is still to fill) make one chunk, then
// each field section its own. The chunks concatenate to md, the report
// exactly as report.md serves it.
func reportChunks(inc *disclosure.Incident) (md string, fields []string, parts []string) {
	secs := inc.ReportSections()
	md = disclosure.RenderSections(secs)
	for i, s := range secs {
		sep := ""
		if i > 0 {
			sep = "\n" // RenderSections' separator, kept so the chunks add up to md
		}
		if s.Field == "" || s.Field == "title" {
			if len(parts) == 0 {
				fields, parts = append(fields, ""), append(parts, "")
			}
			parts[len(parts)-1] += sep + s.Markdown()
			continue
		}
		fields, parts = append(fields, s.Field), append(parts, sep+s.Markdown())
	}
	return md, fields, parts
}

// renderReport renders the report for the page, one chunk per field
// section.
func renderReport(inc *disclosure.Incident) (md string, chunks []reportChunk) {
	md, fields, parts := reportChunks(inc)
	for i, p := range parts {
		chunks = append(chunks, reportChunk{Field: fields[i], HTML: renderMarkdown(p, reportHeadingShift)})
	}
	return md, chunks
}

// fieldLabel names a field in the edit forms: its section heading.
func fieldLabel(name string) string {
	if name == "title" {
		return "Title"
	}
	if h, ok := disclosure.ReportFieldHeading(name); ok && h != "" {
		return h
	}
	return titleCase(name)
}
