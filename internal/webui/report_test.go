package webui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// disclosureTestdata holds the one copy of the golden reports (the
// console's own goldens are the HTML renderings of them).
const disclosureTestdata = "../../disclosure/testdata"

func TestFieldLabels(t *testing.T) {
	// The labels are the policy's section IV headings.
	for name, h := range map[string]string{"title": "Title", "summary": "Headline summary",
		"privacy_impact": "Privacy impact assessment", "user_actions": "What users should do"} {
		if got := fieldLabel(name); got != h {
			t.Errorf("label of %s = %q, want %q", name, got, h)
		}
	}
}

// TestReportChunksFromModel: the page's chunks come from the report model,
// one per field section in report order, each starting with its own
// heading, and concatenate to exactly report.md, even when human text
// looks like the report's own headings.
func TestReportChunksFromModel(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(gatewayAnomaly("exit_gateways", t0, 1400, 3), t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	tricky := map[string]string{
		"summary":    "Gateways failed.\n\n## Timeline\n\n## Root cause\n\nNot really headings of the report.",
		"timeline":   "- 10:00 first failures\n\n## Root cause",
		"root_cause": "",
	}
	var want []string
	for _, n := range disclosure.ReportFieldNames() {
		if n != "title" {
			want = append(want, n)
		}
	}
	for _, changes := range []map[string]string{nil, tricky} {
		if changes != nil {
			m := map[string]*string{}
			for k, v := range changes {
				m[k] = &v
			}
			if _, err := e.svc.Edit(t.Context(), id, m, disclosure.Actor{Name: "operator"}, t0.Add(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		inc := e.get(id)
		md, fields, parts := reportChunks(inc)
		if md != disclosure.RenderMarkdown(inc) {
			t.Fatal("the page's Markdown is not report.md")
		}
		if strings.Join(parts, "") != md {
			t.Fatal("chunks do not concatenate to the report")
		}
		if fields[0] != "" || !strings.HasPrefix(parts[0], "# ") || !strings.Contains(parts[0], "## "+disclosure.StillToFill) {
			t.Errorf("preface chunk %q: %q", fields[0], parts[0])
		}
		if !slices.Equal(fields[1:], want) {
			t.Fatalf("chunk fields %v, want %v", fields[1:], want)
		}
		for k, name := range fields[1:] {
			part := parts[k+1]
			if !strings.HasPrefix(part, "\n## "+fieldLabel(name)+"\n\n") {
				t.Errorf("chunk of %s starts %q", name, part[:min(len(part), 40)])
			}
			if v := strings.TrimSpace(fieldValue(inc, name)); !strings.Contains(part, v) {
				t.Errorf("chunk of %s lacks its text", name)
			}
		}
		// The summary's fake headings stay in the summary's chunk.
		if changes != nil && !strings.Contains(parts[1], "Not really headings") {
			t.Errorf("summary chunk: %q", parts[1])
		}
		// Rendered chunk by chunk, the page shows what rendering the whole
		// report shows (the console's golden HTML is the whole rendering).
		_, chunks := renderReport(inc)
		var html strings.Builder
		for _, c := range chunks {
			html.WriteString(string(c.HTML))
		}
		if whole := string(renderMarkdown(md, reportHeadingShift)); html.String() != whole {
			t.Errorf("chunked rendering differs from the whole report's:\n%s\n--- whole\n%s", html.String(), whole)
		}
	}
}

// TestFieldValue reads every field through the model's accessor.
func TestFieldValue(t *testing.T) {
	inc := &disclosure.Incident{Title: "T", Report: disclosure.Report{Summary: "S", UserActions: "U"}}
	for name, want := range map[string]string{"title": "T", "summary": "S", "user_actions": "U", "timeline": "", "no_such_field": ""} {
		if got := fieldValue(inc, name); got != want {
			t.Errorf("fieldValue(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestTimeline(t *testing.T) {
	inc := &disclosure.Incident{
		ID: "INC-1", State: disclosure.StateDraft,
		LastHealthy: t0.Add(-30 * time.Second), FirstSeen: t0, DetectedAt: t0.Add(time.Second),
	}
	v := buildTimeline(inc, t0.Add(time.Hour))
	if len(v.Events) != 5 || !v.ShowNow || !v.Outage || v.OutLabel != "ongoing 1h 0m" {
		t.Fatalf("timeline %+v", v)
	}
	lh, fs, det := v.Events[0], v.Events[1], v.Events[2]
	// To scale: first seen 30s after last healthy on an hour-and-a-half bar.
	if !(v.BarX1 == lh.BarX && lh.BarX < fs.BarX && fs.BarX < det.BarX && v.NowX == v.BarX2) {
		t.Errorf("positions %v %v %v now %v", lh.BarX, fs.BarX, det.BarX, v.NowX)
	}
	// Markers closer than tlTagGap are put on different rows.
	if det.BarX-fs.BarX < tlTagGap && det.TagY == fs.TagY {
		t.Errorf("clustered markers overlap: %v/%v at %v", fs.BarX, det.BarX, det.TagY)
	}
	if v.Events[3].Known || v.Events[3].Note != "pending: waiting for a decision" || v.Events[4].Known {
		t.Errorf("unknown moments: %+v %+v", v.Events[3], v.Events[4])
	}
	if lh.Relative != "−30s" || det.Relative != "+1s" || fs.Relative != "" {
		t.Errorf("offsets %q %q %q", lh.Relative, fs.Relative, det.Relative)
	}
	if !strings.Contains(v.Desc, "Users first experienced issues 2026-11-25T10:00:00.123Z") || !strings.Contains(v.Desc, "Service restored not yet restored") {
		t.Errorf("desc %q", v.Desc)
	}
	for i := 1; i < len(v.Events); i++ {
		if v.Events[i].RowY <= v.Events[i-1].RowY || v.Events[i].RowY > float64(v.Height) {
			t.Errorf("rows out of order or outside the chart: %v", v.Events[i].RowY)
		}
	}

	// Resolved: the outage ends at resolved_at and there is no "now".
	inc.AcknowledgedAt, inc.ResolvedAt, inc.State = t0.Add(10*time.Minute), t0.Add(40*time.Minute), disclosure.StateConfirmed
	v = buildTimeline(inc, t0.Add(5*time.Hour))
	if v.ShowNow || v.OutLabel != "outage 40m 0s" || v.Events[4].BarX != v.BarX2 || v.Events[4].Relative != "+40m 0s" {
		t.Errorf("resolved timeline: now %v, %q, restored at %v", v.ShowNow, v.OutLabel, v.Events[4].BarX)
	}

	// Nothing known yet: no division by zero, markers centred.
	v = buildTimeline(&disclosure.Incident{ID: "INC-2", FirstSeen: t0}, t0)
	if v.Events[1].BarX != (v.BarX1+v.BarX2)/2 {
		t.Errorf("single moment at %v", v.Events[1].BarX)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m 1s",
		3*time.Hour + 20*time.Minute + 59*time.Second: "3h 20m", 50 * time.Hour: "2d 2h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDeadline(t *testing.T) {
	inc := &disclosure.Incident{State: disclosure.StateDraft, FirstSeen: t0, DetectedAt: t0.Add(time.Minute), CreatedAt: t0.Add(time.Minute)}
	w := waitFor(inc, time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC))
	if w.Deadline != time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) || w.Left != "1h 30m left" || w.Urgency != urgencySoon {
		t.Errorf("%+v", w)
	}
	inc.State = disclosure.StateConfirmed
	if waitFor(inc, t0) != nil {
		t.Error("a confirmed incident is not waiting")
	}
}

// A security incident's console timeline says contained/resolved, never
// "service restored" (issue 10 item 7), as its report does.
func TestTimelineSecuritySaysContained(t *testing.T) {
	inc := &disclosure.Incident{
		ID: "INC-20261125-0001", Class: detector.ClassSecurity, State: disclosure.StateDraft,
		FirstSeen: t0, DetectedAt: t0.Add(time.Second),
	}
	v := buildTimeline(inc, t0.Add(time.Hour))
	if !strings.Contains(v.Desc, "Contained / resolved not yet") || strings.Contains(v.Desc, "restored") {
		t.Errorf("open security timeline: %q", v.Desc)
	}
	inc.ResolvedAt = t0.Add(30 * time.Minute)
	v = buildTimeline(inc, t0.Add(time.Hour))
	if v.Events[4].Label != "Contained / resolved" || !v.Events[4].Known {
		t.Errorf("resolved security timeline: %+v", v.Events[4])
	}
}
